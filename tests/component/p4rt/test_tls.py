"""TLS and mutual TLS between SwitchConnection and the fake server.

Certificates are made in a temporary folder with the ``openssl`` command.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest

from controller.p4rt.client import SwitchConnection, TLSConfig
from controller.p4rt.errors import ArbitrationError, SwitchConnectionError

OPENSSL = shutil.which("openssl")
pytestmark = pytest.mark.skipif(
    OPENSSL is None, reason="the openssl command is not on PATH; cannot make test certificates"
)


def openssl(*args: str, cwd: Path) -> None:
    assert OPENSSL is not None
    subprocess.run([OPENSSL, *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def issue(cwd: Path, name: str, cn: str, ext: str) -> None:
    """Make NAME.key and NAME.crt signed by ca.key, with extensions ``ext``."""
    openssl(
        "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={cn}", cwd=cwd,
    )  # fmt: skip
    (cwd / f"{name}.ext").write_text(ext)
    openssl(
        "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", f"{name}.crt", "-days", "1", "-extfile", f"{name}.ext",
        cwd=cwd,
    )  # fmt: skip


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("pki")
    openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", "ca.key", "-out", "ca.crt", "-days", "1", "-subj", "/CN=din-test-ca", cwd=d,
    )  # fmt: skip
    issue(d, "server", "switch.test", "subjectAltName=DNS:switch.test,IP:127.0.0.1\n")
    issue(d, "client", "controller", "extendedKeyUsage=clientAuth\n")
    return d


def server_credentials(certs: Path, mutual: bool) -> grpc.ServerCredentials:
    return grpc.ssl_server_credentials(
        [((certs / "server.key").read_bytes(), (certs / "server.crt").read_bytes())],
        root_certificates=(certs / "ca.crt").read_bytes() if mutual else None,
        require_client_auth=mutual,
    )


def test_server_tls(certs: Path, make_fake: Callable[..., Any]) -> None:
    fake = make_fake(server_credentials(certs, mutual=False))
    tls = TLSConfig.from_files(root_cert=certs / "ca.crt", server_name="switch.test")
    with SwitchConnection(fake.address, tls=tls, timeout=10) as c:
        assert c.connect().is_primary


def test_mutual_tls(certs: Path, make_fake: Callable[..., Any]) -> None:
    fake = make_fake(server_credentials(certs, mutual=True))
    tls = TLSConfig.from_files(
        root_cert=certs / "ca.crt",
        cert_chain=certs / "client.crt",
        private_key=certs / "client.key",
        server_name="switch.test",
    )
    with SwitchConnection(fake.address, tls=tls, timeout=10) as c:
        assert c.connect().is_primary


def test_mutual_tls_without_client_cert_is_refused(
    certs: Path, make_fake: Callable[..., Any]
) -> None:
    fake = make_fake(server_credentials(certs, mutual=True))
    tls = TLSConfig.from_files(root_cert=certs / "ca.crt", server_name="switch.test")
    with (
        SwitchConnection(fake.address, tls=tls, timeout=10) as c,
        pytest.raises(ArbitrationError, match="UNAVAILABLE"),
    ):
        c.connect(timeout=0.3)


def test_untrusted_server_is_refused(certs: Path, make_fake: Callable[..., Any]) -> None:
    fake = make_fake(server_credentials(certs, mutual=False))
    tls = TLSConfig.from_files(root_cert=certs / "client.crt", server_name="switch.test")
    with (
        SwitchConnection(fake.address, tls=tls, timeout=10) as c,
        pytest.raises(ArbitrationError, match="UNAVAILABLE"),
    ):
        c.connect(timeout=0.3)


def test_tls_config_file_errors(certs: Path) -> None:
    with pytest.raises(SwitchConnectionError, match="needs both cert_chain and private_key"):
        TLSConfig.from_files(root_cert=certs / "ca.crt", cert_chain=certs / "client.crt")
    with pytest.raises(SwitchConnectionError, match="cannot read TLS file"):
        TLSConfig.from_files(root_cert=certs / "missing.crt")
