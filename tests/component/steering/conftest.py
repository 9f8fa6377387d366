"""Fixtures for the steering component tests: din.p4 compiled once by p4lite, p4lite
switch servers in-process on 127.0.0.1:0 with in-memory ports and CPU port 255, and
frame helpers (advertisements, requests) built with the traffic package's codecs."""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from controller import install
from controller.entries.steering import Route, route_entries
from controller.p4rt.client import SwitchConnection
from p4lite.switch.ports import MemoryPort
from p4lite.switch.server import ServerOptions, SwitchServer
from traffic.frames import Endpoints, udp_frame
from traffic.wire import DIN_UDP_PORT, DinAdvert, DinHeader, DinMessage, MsgType, decode, encode

if TYPE_CHECKING:
    from tests.conftest import Din

REPO = Path(__file__).resolve().parents[3]
SWITCH_MAC = "02:d1:00:01:00:00"
CPU_PORT = 255


def host_mac(port: int) -> str:
    return f"02:00:00:00:00:{port:02x}"


def host_ip(port: int) -> str:
    """The address of the host on a port: 10.0.<port>.1."""
    return f"10.0.{port}.1"


class Switch:
    """An in-process p4lite switch with memory ports 1..n, din.p4 loaded and host routes."""

    def __init__(self, din: Din, name: str, ports: int = 4) -> None:
        self.name = name
        self.ports = {n: MemoryPort(n) for n in range(1, ports + 1)}
        self.server = SwitchServer(
            ServerOptions(grpc_address="127.0.0.1:0", cpu_port=CPU_PORT),
            list(self.ports.values()),
        )
        self.address = f"127.0.0.1:{self.server.start()}"
        self.conn = SwitchConnection(self.address, name=name, index=din.index)
        self.conn.connect(timeout=10)
        self.conn.set_pipeline(din.index, din.json.read_bytes())
        routes = [Route(f"{host_ip(n)}/32", host_mac(n), SWITCH_MAC, n) for n in self.ports]
        install.install(self.conn, route_entries(routes))

    def inject(self, port: int, frame: bytes) -> None:
        self.ports[port].inject(frame)

    def take_din(self, port: int, timeout: float = 2.0) -> DinMessage | None:
        """The next DIN message the switch sent on ``port`` (other frames skipped)."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            frame = self.ports[port].take(timeout=left)
            if frame is None:
                return None
            if len(frame) > 42 and frame[23] == 17:
                return decode(frame[42:])
        return None

    def take_any(
        self, ports: tuple[int, ...], timeout: float = 2.0
    ) -> tuple[int, DinMessage] | None:
        """The next DIN message sent on any of ``ports``, with its port."""
        deadline = time.monotonic() + timeout
        while True:
            for port in ports:
                msg = self.take_din(port, timeout=0.0005)
                if msg is not None:
                    return port, msg
            if time.monotonic() > deadline:
                return None

    def drain(self) -> None:
        for p in self.ports.values():
            while p.take(timeout=0.01) is not None:
                pass

    def close(self) -> None:
        self.conn.close()
        self.server.stop(grace=0.05)
        for p in self.ports.values():
            p.close()


@pytest.fixture
def make_switch(din: Din) -> Iterator[Callable[..., Switch]]:
    made: list[Switch] = []

    def make(name: str = "s1", ports: int = 4) -> Switch:
        s = Switch(din, name, ports)
        made.append(s)
        return s

    try:
        yield make
    finally:
        for s in made:
            s.close()


def advert_frame(port: int, instance: int, *, model_id: int = 1, queue: int = 0,
                 util: int = 0, capacity: int = 1000, layers: tuple[int, int] = (0, 2),
                 to: str = "10.0.99.1") -> bytes:  # fmt: skip
    """A node's advertisement as sent from the host on ``port`` (to an address with no route)."""
    payload = encode(
        DinHeader(msg_type=MsgType.ADVERTISE, model_id=model_id, model_version=1),
        DinAdvert(instance, layers[0], layers[1], queue, util, 0, capacity),
    )
    ends = Endpoints(host_mac(port), SWITCH_MAC, host_ip(port), to, DIN_UDP_PORT, DIN_UDP_PORT)
    return udp_frame(ends, payload)


def request_frame(
    port: int,
    *,
    sport: int = 40000,
    model_id: int = 1,
    tenant: int = 0,
    sensitivity: int = 0,
    request_id: int = 1,
    stage: int = 0,
    vector: tuple[int, ...] = (0,) * 16,
    dst: str = "10.0.99.9",
) -> bytes:
    """A DIN request from the host on ``port``, UDP source port ``sport``."""
    payload = encode(
        DinHeader(
            msg_type=MsgType.REQUEST, model_id=model_id, model_version=1, stage=stage,
            tenant_id=tenant, sensitivity=sensitivity, request_id=request_id,
        ),
        list(vector),
    )  # fmt: skip
    ends = Endpoints(host_mac(port), SWITCH_MAC, host_ip(port), dst, sport, DIN_UDP_PORT)
    return udp_frame(ends, payload)


def wait_for(check: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
    """Poll ``check`` until it holds (a readiness check, not a sleep)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.005)


def load_promtext() -> Any:
    """The strict Prometheus text parser of tests/unit/telemetry (loaded by path)."""
    path = REPO / "tests" / "unit" / "telemetry" / "promtext.py"
    spec = importlib.util.spec_from_file_location("promtext", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Kit:
    """Helpers for test modules (which cannot import conftest)."""

    load_promtext = staticmethod(load_promtext)
    advert_frame = staticmethod(advert_frame)
    request_frame = staticmethod(request_frame)
    wait_for = staticmethod(wait_for)
    host_ip = staticmethod(host_ip)
    REPO = REPO


@pytest.fixture
def kit() -> type[Kit]:
    return Kit
