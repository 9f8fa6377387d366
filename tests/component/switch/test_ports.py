"""Ports: the CPU-port header codec, pcap capture and the data-plane loop over
in-memory ports."""

from __future__ import annotations

import time

import pytest

from p4lite.switch.ports import (
    DataPlane,
    MemoryPort,
    PcapSet,
    PortError,
    controller_header,
    read_pcap,
)


def _wait(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.001)


def test_controller_header_round_trip_unaligned_fields() -> None:
    header = controller_header([(1, "ingress_port", 9), (2, "pad", 7), (3, "flag", 8)])
    assert header.size == 3
    raw = header.encode({1: 0x1FF, 3: 0xA5})
    assert raw == bytes([0xFF, 0x80, 0xA5])
    values, rest = header.decode(raw + b"payload")
    assert values == {1: 0x1FF, 2: 0, 3: 0xA5}
    assert rest == b"payload"


def test_controller_header_errors() -> None:
    header = controller_header([(1, "port", 9)])
    with pytest.raises(PortError, match="512"):
        header.encode({1: 512})
    with pytest.raises(PortError, match="unknown metadata id 7"):
        header.encode({7: 1})
    with pytest.raises(PortError, match="shorter"):
        header.decode(b"\x01")


def test_no_controller_header_passes_frames_through() -> None:
    header = controller_header([])
    assert header.encode({}) == b""
    assert header.decode(b"abc") == ({}, b"abc")


def test_pcap_files_are_named_like_bmv2(tmp_path) -> None:
    pcap = PcapSet(tmp_path)
    pcap.record_in("s1-eth1", b"\x01\x02")
    pcap.record_out("s1-eth1", b"\x03")
    pcap.record_out("s1-eth1", b"\x04\x05\x06")
    pcap.close()
    assert read_pcap(tmp_path / "s1-eth1_in.pcap") == [b"\x01\x02"]
    assert read_pcap(tmp_path / "s1-eth1_out.pcap") == [b"\x03", b"\x04\x05\x06"]


@pytest.fixture
def bridge(tmp_path):
    """Ports 0 and 1 bridged; frames starting with 0xcc go to the CPU port 9."""
    ports = [MemoryPort(0), MemoryPort(1)]
    to_cpu: list[bytes] = []

    def process(port: int, frame: bytes) -> list[tuple[int, bytes]]:
        if frame.startswith(b"\xee"):
            raise ValueError("malformed on purpose")
        if frame.startswith(b"\xcc"):
            return [(9, frame)]
        if frame.startswith(b"\xdd"):
            return [(7, frame)]
        return [(1 - port if port in (0, 1) else 0, frame)]

    plane = DataPlane(
        ports,
        process,
        cpu_port=9,
        on_cpu_packet=to_cpu.append,
        pcap=PcapSet(tmp_path),
        delays={0: 0.2},
    )
    plane.start()
    try:
        yield plane, ports, to_cpu
    finally:
        plane.stop()


def test_dataplane_forwards_and_captures(bridge, tmp_path) -> None:
    plane, (p0, p1), _ = bridge
    p1.inject(b"\x01hello")
    p0.inject(b"\x02world")
    # Port 0 has a 200 ms egress delay, port 1 none.
    assert p1.take() == b"\x02world"
    assert p0.take(timeout=5) == b"\x01hello"
    assert read_pcap(tmp_path / "mem0_in.pcap") == [b"\x02world"]
    assert read_pcap(tmp_path / "mem1_out.pcap") == [b"\x02world"]
    assert plane.stats.per_port_rx == {0: 1, 1: 1}


def test_dataplane_delay_holds_frames_back(bridge) -> None:
    plane, (p0, p1), _ = bridge
    p1.inject(b"\x01late")
    _wait(lambda: plane.stats.processed == 1)
    assert p0.take(timeout=0.01) is None
    assert p0.take(timeout=5) == b"\x01late"


def test_dataplane_cpu_port_and_inject(bridge) -> None:
    plane, (_, p1), to_cpu = bridge
    p1.inject(b"\xccto-cpu")
    _wait(lambda: to_cpu == [b"\xccto-cpu"])
    # Frames injected from another thread (PacketOut) are processed as received on port 0.
    plane.inject(0, b"\x05from-cpu")
    assert p1.take() == b"\x05from-cpu"


def test_dataplane_survives_bad_frames(bridge) -> None:
    plane, (p0, p1), _ = bridge
    p0.inject(b"\xeebad")
    p0.inject(b"\xddnowhere")
    p0.inject(b"\x07good")
    assert p1.take() == b"\x07good"
    assert plane.stats.errors == 1
    assert plane.stats.dropped_no_port == 1


@pytest.fixture
def fast_bridge():
    """The `bridge` without capture: the loop's burst path (no per-frame logging or pcap)."""
    ports = [MemoryPort(0), MemoryPort(1)]
    to_cpu: list[bytes] = []

    def process(port: int, frame: bytes) -> list[tuple[int, bytes]]:
        if frame.startswith(b"\xee"):
            raise ValueError("malformed on purpose")
        if frame.startswith(b"\xcc"):
            return [(9, frame)]
        if frame.startswith(b"\xdd"):
            return [(7, frame)]
        if frame.startswith(b"\xaa"):
            return [(0, frame), (1, frame)]
        return [(1 - port if port in (0, 1) else 0, frame)]

    plane = DataPlane(
        ports, process, cpu_port=9, on_cpu_packet=to_cpu.append, delays={0: 0.2, 1: 0.0}
    )
    plane.start()
    try:
        yield plane, ports, to_cpu
    finally:
        plane.stop()


def test_burst_path_forwards_delays_and_counts(fast_bridge) -> None:
    plane, (p0, p1), to_cpu = fast_bridge
    frames = [b"\x01" + i.to_bytes(2, "big") for i in range(300)]
    for frame in frames:
        p0.inject(frame)
    assert p1.take_all(timeout=0.5) == frames
    p1.inject(b"\x02late")
    assert p0.take(timeout=0.01) is None  # port 0 delays by 200 ms
    assert p0.take(timeout=5) == b"\x02late"
    p1.inject(b"\xccto-cpu")
    p1.inject(b"\xeebad")
    p1.inject(b"\xddnowhere")
    p1.inject(b"\xaaboth")
    assert p1.take() == b"\xaaboth"
    assert p0.take(timeout=5) == b"\xaaboth"
    _wait(lambda: plane.stats.processed == 305)
    stats = plane.stats
    assert to_cpu == [b"\xccto-cpu"]
    assert (stats.received, stats.sent, stats.to_cpu) == (305, 303, 1)
    assert (stats.errors, stats.dropped_no_port) == (1, 1)
    assert stats.per_port_rx == {0: 300, 1: 5}
    assert stats.per_port_tx == {0: 2, 1: 301}


def test_duplicate_and_cpu_port_numbers_are_refused() -> None:
    a, b = MemoryPort(1), MemoryPort(1, "other")
    try:
        with pytest.raises(PortError, match="given twice"):
            DataPlane([a, b])
        with pytest.raises(PortError, match="CPU port"):
            DataPlane([a], cpu_port=1)
        with pytest.raises(PortError, match="invalid port number"):
            MemoryPort(511)
    finally:
        a.close()
        b.close()
