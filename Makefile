# Two commands: `make serve` and `make test`. Both create or update .venv themselves.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
GRPC_PORT ?= 8001
HTTP_PORT ?= 8000
MODEL_REPOSITORY ?= exported_models

.PHONY: install install-test serve test protos demo bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

$(VENV)/.server: pyproject.toml | $(PY)
	$(PIP) install -e '.[server]'
	touch $@

$(VENV)/.test: pyproject.toml $(VENV)/.server
	$(PIP) install -e '.[server,toolchain,test]'
	touch $@

install: $(VENV)/.server

install-test: $(VENV)/.test

serve: install
	$(PY) -m service --model-repository $(MODEL_REPOSITORY) --grpc-port $(GRPC_PORT) --http-port $(HTTP_PORT)

# Two pytest processes: tests/unit may import the server's v2 stubs; everything else uses
# tritonclient, whose copy of the same protos must not share a process with them.
test: install-test
	$(PY) -m ruff check .
	$(PY) -m pytest -q tests/unit
	$(PY) -m pytest -q tests --ignore=tests/unit

# With a server running (make serve): every task on the shipped samples, pictures in demo_out/
demo: install
	$(PY) -m clients.demo --server localhost:$(GRPC_PORT) --samples $(MODEL_REPOSITORY)/samples --out demo_out

protos: install-test
	$(PY) protos/generate.py

clean:
	rm -rf $(VENV)
