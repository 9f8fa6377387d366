"""The gRPC server with TLS (--grpc-server-ssl) and client authentication."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import grpc
import pytest
from p4.v1 import p4runtime_pb2, p4runtime_pb2_grpc

from p4lite.switch.server import ServerError, ServerOptions, SwitchServer, TlsOptions

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


def _self_signed(directory: Path, name: str) -> tuple[Path, Path]:
    key, cert = directory / f"{name}.key", directory / f"{name}.crt"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1",
            "-subj", f"/CN={name}", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    return key, cert


def _capabilities(port: int, credentials: grpc.ChannelCredentials) -> str:
    with grpc.secure_channel(f"localhost:{port}", credentials) as channel:
        stub = p4runtime_pb2_grpc.P4RuntimeStub(channel)
        reply = stub.Capabilities(p4runtime_pb2.CapabilitiesRequest(), timeout=10)
        return str(reply.p4runtime_api_version)


def test_tls_with_client_auth(tmp_path) -> None:
    server_key, server_cert = _self_signed(tmp_path, "server")
    client_key, client_cert = _self_signed(tmp_path, "client")
    tls = TlsOptions(cert=server_cert, key=server_key, cacert=client_cert, client_auth=True)
    server = SwitchServer(ServerOptions(grpc_address="127.0.0.1:0", tls=tls))
    port = server.start()
    try:
        good = grpc.ssl_channel_credentials(
            root_certificates=server_cert.read_bytes(),
            private_key=client_key.read_bytes(),
            certificate_chain=client_cert.read_bytes(),
        )
        assert _capabilities(port, good)
        anonymous = grpc.ssl_channel_credentials(root_certificates=server_cert.read_bytes())
        with pytest.raises(grpc.RpcError):
            _capabilities(port, anonymous)
    finally:
        server.stop()


def test_client_auth_without_ca_is_refused(tmp_path) -> None:
    key, cert = _self_signed(tmp_path, "server")
    tls = TlsOptions(cert=cert, key=key, client_auth=True)
    server = SwitchServer(ServerOptions(grpc_address="127.0.0.1:0", tls=tls))
    try:
        with pytest.raises(ServerError, match="cacert"):
            server.start()
    finally:
        server.stop()
