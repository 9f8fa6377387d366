"""Shared pytest set-up: markers for privileged tests, and paths to the project's data.

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
from collections.abc import Callable
from pathlib import Path

import pytest

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
