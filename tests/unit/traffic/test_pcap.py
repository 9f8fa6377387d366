"""pcap writing and reading: round trip, and interchange with scapy."""

from __future__ import annotations

from pathlib import Path

import pytest
from scapy.layers.l2 import Ether
from scapy.utils import rdpcap, wrpcap

from traffic.frames import Endpoints, udp_frame
from traffic.pcap import PcapError, read_pcap, write_pcap

EP = Endpoints("00:00:0a:00:01:01", "00:00:0a:00:02:02", "10.0.1.1", "10.0.2.2", 1, 7350)


def _records() -> list[tuple[float, bytes]]:
    return [(1.5 + i * 0.001234, udp_frame(EP, bytes([i]) * (i + 1))) for i in range(5)]


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "a.pcap"
    assert write_pcap(path, _records()) == 5
    back = read_pcap(path)
    assert [f for _, f in back] == [f for _, f in _records()]
    for (t0, _), (t1, _) in zip(back, _records(), strict=True):
        assert t0 == pytest.approx(t1, abs=1e-6)


def test_scapy_reads_what_we_write(tmp_path: Path) -> None:
    path = tmp_path / "b.pcap"
    write_pcap(path, _records())
    pkts = rdpcap(str(path))
    assert [bytes(p) for p in pkts] == [f for _, f in _records()]
    assert float(pkts[1].time) == pytest.approx(1.501234, abs=1e-6)


def test_we_read_what_scapy_writes(tmp_path: Path) -> None:
    path = tmp_path / "c.pcap"
    pkts = [Ether(f) for _, f in _records()]
    for i, p in enumerate(pkts):
        p.time = 10 + i
    wrpcap(str(path), pkts)
    back = read_pcap(path)
    assert [f for _, f in back] == [f for _, f in _records()]
    assert [t for t, _ in back] == [10.0, 11.0, 12.0, 13.0, 14.0]


def test_not_a_pcap(tmp_path: Path) -> None:
    path = tmp_path / "d.pcap"
    path.write_bytes(b"\x0a\x0d\x0d\x0a" + bytes(40))
    with pytest.raises(PcapError, match="magic '0a0d0d0a'"):
        read_pcap(path)


def test_truncated_record(tmp_path: Path) -> None:
    path = tmp_path / "e.pcap"
    write_pcap(path, _records())
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(PcapError, match="truncated"):
        read_pcap(path)
