"""Shared pytest set-up: markers for privileged tests, paths to the project's data, din.p4.

Tests marked ``root``, ``netns`` or ``mininet`` need privileges or system tools.
Where those are missing they are skipped with the reason, and under CI
(``CI=true``, where everything must run) they fail instead, so that a
privileged test can never pass by not running.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from controller.p4rt.p4info import P4InfoIndex

REPO = Path(__file__).resolve().parent.parent
CONFORMANCE = REPO / "tests" / "conformance"


def _root() -> str | None:
    return None if os.geteuid() == 0 else "needs root (run as root, as CI does)"


@functools.cache
def _netns() -> str | None:
    if reason := _root():
        return reason
    if shutil.which("ip") is None:
        return "needs iproute2's 'ip' command (apt-get install iproute2)"
    probe = subprocess.run(["ip", "netns", "list"], capture_output=True, check=False)
    if probe.returncode != 0:
        return f"'ip netns' does not work here: {probe.stderr.decode().strip()!r}"
    return None


@functools.cache
def _mininet() -> str | None:
    if reason := _netns():
        return reason
    if shutil.which("mnexec") is None:
        return "needs Debian's mininet package (make install)"
    try:
        import mininet.net  # noqa: F401, PLC0415
    except ImportError as exc:
        return f"mininet is not importable in this venv ({exc}); run make install"
    return None


REQUIREMENTS: dict[str, Callable[[], str | None]] = {
    "root": _root,
    "netns": _netns,
    "mininet": _mininet,
}


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip (or, under CI, fail) privileged tests whose requirements are missing."""
    for marker, check in REQUIREMENTS.items():
        if item.get_closest_marker(marker) is None:
            continue
        reason = check()
        if reason is None:
            continue
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{marker} test cannot run in CI: {reason}", pytrace=False)
        pytest.skip(reason)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository's top folder."""
    return REPO


@pytest.fixture(scope="session")
def conformance_dir() -> Path:
    """The P4 conformance corpus: programs/, reference/ and README.md."""
    return CONFORMANCE


@dataclass(frozen=True)
class Din:
    """din.p4 compiled by p4lite's command line: BMv2 JSON, P4Info text and its index."""

    json: Path
    p4info: Path
    index: P4InfoIndex

    @property
    def config(self) -> str:
        """The ``--config`` value of dinctl and p4runtime-shell."""
        return f"{self.p4info},{self.json}"


@pytest.fixture(scope="session")
def din(tmp_path_factory: pytest.TempPathFactory) -> Din:
    """p4src/din.p4, compiled once for the session with ``python -m p4lite.compiler``."""
    out = tmp_path_factory.mktemp("din")
    result = subprocess.run(
        [
            sys.executable, "-m", "p4lite.compiler", str(REPO / "p4src" / "din.p4"),
            "-o", str(out / "din.json"), "--p4runtime-files", str(out / "din.p4info.txtpb"),
        ],
        capture_output=True, text=True, cwd=REPO, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    p4info = out / "din.p4info.txtpb"
    return Din(out / "din.json", p4info, P4InfoIndex.load(p4info))
