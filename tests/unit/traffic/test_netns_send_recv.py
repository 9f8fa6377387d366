"""traffic.send and traffic.recv over a veth pair between two namespaces the test makes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@pytest.mark.root
@pytest.mark.netns
def test_din_requests_cross_a_veth_pair() -> None:
    tag = f"dtr{os.getpid() % 100000}"
    ns_a, ns_b = f"{tag}a", f"{tag}b"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    made: list[str] = []
    rx: subprocess.Popen[str] | None = None
    try:
        for ns in (ns_a, ns_b):
            _ip("netns", "add", ns)
            made.append(ns)
        _ip(
            "link",
            "add",
            f"{tag}x",
            "netns",
            ns_a,
            "type",
            "veth",
            "peer",
            "name",
            f"{tag}y",
            "netns",
            ns_b,
        )
        _ip("-n", ns_a, "link", "set", f"{tag}x", "up")
        _ip("-n", ns_b, "link", "set", f"{tag}y", "up")
        rx = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                ns_b,
                sys.executable,
                "-m",
                "traffic.recv",
                "-i",
                f"{tag}y",
                "--din-only",
                "--count",
                "5",
                "--timeout",
                "20",
                "--json",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
            env=env,
        )
        assert rx.stdout is not None
        # The receiver says when its socket is bound; sending earlier would lose frames.
        assert rx.stdout.readline().strip() == f"listening on {tag}y"
        sent = subprocess.run(
            [
                "ip",
                "netns",
                "exec",
                ns_a,
                sys.executable,
                "-m",
                "traffic.send",
                "-i",
                f"{tag}x",
                "--din",
                "5",
                "--rate",
                "500",
                "--model-id",
                "4",
            ],
            capture_output=True,
            text=True,
            cwd=REPO,
            env=env,
            timeout=30,
            check=False,
        )
        assert sent.returncode == 0, sent.stderr
        assert "sent 5 frames" in sent.stdout
        out, err = rx.communicate(timeout=30)
        assert rx.returncode == 0, err
        report = json.loads(out.strip().splitlines()[-1])
        assert report["din"] == 5
        assert report["din_by_type"] == {"1": 5}
        assert report["request_ids"] == [1, 2, 3, 4, 5]
    finally:
        if rx is not None and rx.poll() is None:
            rx.kill()
            rx.wait(timeout=10)
        for ns in made:
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)
