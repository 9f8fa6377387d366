"""The gRPC server with TLS (--grpc-server-ssl) and client authentication."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
from p4.v1 import p4runtime_pb2, p4runtime_pb2_grpc

from p4lite.switch.server import ServerError, ServerOptions, SwitchServer, TlsOptions

ROOT = Path(__file__).resolve().parents[3]

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


def test_tls_without_client_auth(tmp_path) -> None:
    key, cert = _self_signed(tmp_path, "server")
    server = SwitchServer(ServerOptions(grpc_address="127.0.0.1:0", tls=TlsOptions(cert, key)))
    port = server.start()
    try:
        trusted = grpc.ssl_channel_credentials(root_certificates=cert.read_bytes())
        assert _capabilities(port, trusted)
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = p4runtime_pb2_grpc.P4RuntimeStub(channel)
            with pytest.raises(grpc.RpcError):
                stub.Capabilities(p4runtime_pb2.CapabilitiesRequest(), timeout=5)
    finally:
        server.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_switch_process_with_simple_switch_grpc_tls_flags(tmp_path) -> None:
    server_key, server_cert = _self_signed(tmp_path, "server")
    client_key, client_cert = _self_signed(tmp_path, "client")
    port = _free_port()
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "p4lite.switch", "--no-p4", "--"),
            *("--grpc-server-addr", f"127.0.0.1:{port}", "--grpc-server-ssl"),
            *("--grpc-server-cert", str(server_cert), "--grpc-server-key", str(server_key)),
            *("--grpc-server-cacert", str(client_cert), "--grpc-server-with-client-auth"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    try:
        good = grpc.ssl_channel_credentials(
            root_certificates=server_cert.read_bytes(),
            private_key=client_key.read_bytes(),
            certificate_chain=client_cert.read_bytes(),
        )
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else b""
            try:
                assert _capabilities(port, good)
                break
            except grpc.RpcError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        anonymous = grpc.ssl_channel_credentials(root_certificates=server_cert.read_bytes())
        with pytest.raises(grpc.RpcError):
            _capabilities(port, anonymous)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_ssl_flag_without_certificate_is_a_usage_error(tmp_path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "p4lite.switch", "--no-p4", "--", "--grpc-server-ssl"],
        capture_output=True,
        check=False,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 2
    assert b"--grpc-server-ssl needs --grpc-server-cert and --grpc-server-key" in result.stderr
