"""Fixtures for the controller component tests: din.p4 compiled once by p4lite, the
p4lite P4Runtime server in-process on 127.0.0.1:0 with in-memory ports (or as a
process started and stopped by PID), and small models trained once per session."""

from __future__ import annotations

import dataclasses
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from controller.models.datasets import digits16
from controller.models.files import save_model
from controller.models.mlp import train_mlp
from controller.models.quant import MLPModel
from controller.p4rt.client import SwitchConnection
from p4lite.switch.ports import MemoryPort
from p4lite.switch.server import ServerOptions, SwitchServer

if TYPE_CHECKING:
    from tests.conftest import Din

REPO = Path(__file__).resolve().parents[3]


@dataclass(frozen=True)
class Models:
    """Model files: the digits MLP (v1) and a different MLP of the same shape (v2)."""

    v1: MLPModel
    v2: MLPModel
    v1_path: Path
    v2_path: Path


@pytest.fixture(scope="session")
def models(tmp_path_factory: pytest.TempPathFactory) -> Models:
    out = tmp_path_factory.mktemp("models")
    v1 = train_mlp(digits16(0), hidden=(16, 16), seed=0, name="digits-mlp", version=1)
    # Version 2: every layer's inputs rotated, so most requests get another answer.
    layers = tuple(
        dataclasses.replace(la, weight=np.roll(la.weight, 1, axis=0)) for la in v1.layers
    )
    v2 = dataclasses.replace(v1, version=2, layers=layers)
    save_model(v1, out / "v1.npz")
    save_model(v2, out / "v2.npz")
    return Models(v1, v2, out / "v1.npz", out / "v2.npz")


class Switch:
    """A p4lite SwitchServer in-process with memory ports, and a connected client."""

    def __init__(self, din: Din, name: str, ports: tuple[int, ...] = (1, 2, 3)) -> None:
        self.ports = {n: MemoryPort(n) for n in ports}
        self.server = SwitchServer(
            ServerOptions(grpc_address="127.0.0.1:0", cpu_port=64), list(self.ports.values())
        )
        self.port = self.server.start()
        self.address = f"127.0.0.1:{self.port}"
        self.conn = SwitchConnection(self.address, name=name, index=din.index)
        self.conn.connect(timeout=10)
        self.conn.set_pipeline(din.index, din.json.read_bytes())

    def wait_processed(self, count: int, timeout: float = 20.0) -> None:
        """Poll until the data plane has handled ``count`` frames in total."""
        deadline = time.monotonic() + timeout
        while self.server.dataplane.stats.processed < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"data plane processed {self.server.dataplane.stats}")
            time.sleep(0.001)

    def close(self) -> None:
        self.conn.close()
        self.server.stop(grace=0.05)
        for p in self.ports.values():
            p.close()


@pytest.fixture
def make_switch(din: Din) -> Iterator[Callable[[str], Switch]]:
    made: list[Switch] = []

    def make(name: str = "s1") -> Switch:
        s = Switch(din, name)
        made.append(s)
        return s

    try:
        yield make
    finally:
        for s in made:
            s.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """Wait until the switch process accepts TCP connections on ``port``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"switch exited with {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"switch port {port} did not open in {timeout:.0f} s")


@pytest.fixture
def switch_process(tmp_path: Path) -> Iterator[Callable[[], str]]:
    """Start ``python -m p4lite.switch --no-p4`` processes; each stopped by PID at the end."""
    procs: list[subprocess.Popen[bytes]] = []

    def start() -> str:
        port = free_port()
        log = (tmp_path / f"switch-{port}.log").open("wb")
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "p4lite.switch",
                "--no-p4",
                "--",
                "--grpc-server-addr",
                f"127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )
        log.close()
        procs.append(proc)
        wait_port(port, proc)
        return f"127.0.0.1:{port}"

    try:
        yield start
    finally:
        for proc in procs:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


class SwitchProcess:
    """``python -m p4lite.switch --no-p4`` on a fixed port, restartable, stopped by PID."""

    def __init__(self, log_dir: Path) -> None:
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.log_dir = log_dir
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        with (self.log_dir / f"switch-{self.starts}.log").open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "p4lite.switch", "--no-p4", "--",
                 "--grpc-server-addr", self.address],
                stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
            )  # fmt: skip
        wait_port(self.port, self.proc)

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


@pytest.fixture
def restartable_switch(tmp_path: Path) -> Iterator[SwitchProcess]:
    """One switch process that a test may stop and start again on the same address."""
    sw = SwitchProcess(tmp_path)
    sw.start()
    try:
        yield sw
    finally:
        sw.stop()


def dinctl(*argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``dinctl`` in a subprocess."""
    env = dict(os.environ)
    return subprocess.run(
        [sys.executable, "-m", "controller.cli", *argv],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=timeout,
        check=False,
    )


class Kit:
    """Helpers for test modules (which cannot import conftest)."""

    dinctl = staticmethod(dinctl)
    REPO = REPO


@pytest.fixture
def kit() -> type[Kit]:
    return Kit
