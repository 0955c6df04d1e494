"""Locks on the doors: mutual TLS on both ports, bearer tokens scoped infer/admin, health open,
reflection off; tritonclient with ssl=True and an authorization header."""

from __future__ import annotations

import json
import ssl
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import grpc
import numpy as np
import pytest
import tritonclient.grpc as triton

from tests.hardening.test_batch_isolation import _vqa_inputs
from tests.support.server import running_server

INFER_TOKEN = "infer-token-0123456789abcdef"
ADMIN_TOKEN = "admin-token-0123456789abcdef"


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _issue(name: str, folder: Path, extension: str) -> None:
    """`name`.key and `name`.pem, signed by the test CA, with `extension` (subjectAltName...)."""
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=folder)
    (folder / f"{name}.ext").write_text(extension + "\n")
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-days", "2", "-out", f"{name}.pem", "-extfile", f"{name}.ext",
             cwd=folder)


@pytest.fixture(scope="module")
def certificates(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("certificates")
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj",
             "/CN=striate test CA", cwd=folder)
    _issue("server", folder, "subjectAltName=IP:127.0.0.1,DNS:localhost")
    _issue("client", folder, "extendedKeyUsage=clientAuth")
    return folder


@pytest.fixture(scope="module")
def locked_server(hardening_repository, certificates, tmp_path_factory):
    tokens = tmp_path_factory.mktemp("tokens") / "tokens.txt"
    tokens.write_text(f"# token scopes\n{INFER_TOKEN} infer\n{ADMIN_TOKEN} admin\n")
    with running_server(hardening_repository, "--model-control-mode", "explicit",
                        "--load-model", "easyvqa", "--load-model", "total",
                        "--tls-cert", str(certificates / "server.pem"),
                        "--tls-key", str(certificates / "server.key"),
                        "--tls-client-ca", str(certificates / "ca.pem"),
                        "--token-file", str(tokens), "--no-reflection") as server:
        yield server


def _client(server, certificates: Path, with_certificate: bool = True):
    return triton.InferenceServerClient(
        server.grpc_url, ssl=True, root_certificates=str(certificates / "ca.pem"),
        private_key=str(certificates / "client.key") if with_certificate else None,
        certificate_chain=str(certificates / "client.pem") if with_certificate else None)


def _bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def test_tritonclient_over_mutual_tls_with_a_token(locked_server, certificates):
    with _client(locked_server, certificates) as client:
        assert client.is_server_live()  # health stays open
        result = client.infer("easyvqa", _vqa_inputs(np.ones(12, np.int64)),
                              headers=_bearer(INFER_TOKEN))
        assert result.as_numpy("probabilities").shape == (1, 13)


def test_calls_without_a_token_or_with_the_wrong_scope_are_refused(locked_server, certificates):
    with _client(locked_server, certificates) as client:
        with pytest.raises(triton.InferenceServerException) as error:
            client.infer("easyvqa", _vqa_inputs(np.ones(12, np.int64)))
        assert error.value.status() == "StatusCode.UNAUTHENTICATED"
        assert "Bearer" in error.value.message()
        with pytest.raises(triton.InferenceServerException) as error:
            client.get_model_metadata("easyvqa", headers=_bearer("not-a-token-at-all-xx"))
        assert error.value.status() == "StatusCode.UNAUTHENTICATED"
        with pytest.raises(triton.InferenceServerException) as error:
            client.unload_model("total", headers=_bearer(INFER_TOKEN))
        assert error.value.status() == "StatusCode.PERMISSION_DENIED"
        assert client.is_model_ready("total", headers=_bearer(INFER_TOKEN))
        client.unload_model("total", headers=_bearer(ADMIN_TOKEN))
        assert not client.is_model_ready("total", headers=_bearer(INFER_TOKEN))
        client.load_model("total", headers=_bearer(ADMIN_TOKEN))
        assert client.get_model_metadata("easyvqa", headers=_bearer(ADMIN_TOKEN)).name == "easyvqa"


def test_a_client_without_a_certificate_cannot_connect(locked_server, certificates):
    with _client(locked_server, certificates, with_certificate=False) as client:
        with pytest.raises(triton.InferenceServerException) as error:
            client.is_server_live()
        assert error.value.status() == "StatusCode.UNAVAILABLE"
    assert locked_server.process.poll() is None


def test_reflection_can_be_turned_off(locked_server, certificates):
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    credentials = grpc.ssl_channel_credentials(
        (certificates / "ca.pem").read_bytes(), (certificates / "client.key").read_bytes(),
        (certificates / "client.pem").read_bytes())
    with grpc.secure_channel(locked_server.grpc_url, credentials) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        with pytest.raises(grpc.RpcError) as error:
            list(stub.ServerReflectionInfo(iter([request]),
                                           metadata=[("authorization", f"Bearer {ADMIN_TOKEN}")]))
        assert error.value.code() == grpc.StatusCode.UNIMPLEMENTED


def _https(server, certificates: Path, path: str, token: str | None = None):
    context = ssl.create_default_context(cafile=str(certificates / "ca.pem"))
    context.load_cert_chain(str(certificates / "client.pem"), str(certificates / "client.key"))
    request = urllib.request.Request(f"https://127.0.0.1:{server.http_port}{path}",
                                     headers=_bearer(token) if token else {})
    try:
        with urllib.request.urlopen(request, context=context, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_http_over_mutual_tls_with_tokens(locked_server, certificates):
    assert _https(locked_server, certificates, "/v2/health/ready")[0] == 200
    assert _https(locked_server, certificates, "/metrics")[0] == 200
    status, body = _https(locked_server, certificates, "/v2/models/easyvqa")
    assert status == 401 and "Bearer" in json.loads(body)["error"]
    status, body = _https(locked_server, certificates, "/v2/models/easyvqa", INFER_TOKEN)
    assert status == 200 and json.loads(body)["name"] == "easyvqa"
    plain = urllib.request.Request(f"http://127.0.0.1:{locked_server.http_port}/v2/health/live")
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        urllib.request.urlopen(plain, timeout=10)


def test_websockets_need_a_token_too(locked_server, certificates):
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    context = ssl.create_default_context(cafile=str(certificates / "ca.pem"))
    context.load_cert_chain(str(certificates / "client.pem"), str(certificates / "client.key"))
    url = f"wss://127.0.0.1:{locked_server.http_port}/tasks/classify/live"
    with pytest.raises(InvalidStatus) as refused:
        with connect(url, ssl=context, open_timeout=30):
            pass
    assert refused.value.response.status_code == 403  # closed before the handshake completes
    with connect(url, ssl=context, open_timeout=30,
                 additional_headers=_bearer(INFER_TOKEN)) as websocket:
        assert websocket.protocol.state.name == "OPEN"
