"""Capture reading: pcap and pcapng variants, link layers, and din.p4's view of each packet."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from controller.models import ModelError
from controller.models.capture import (
    DinPacket,
    FlowKey,
    din_packets,
    din_view,
    ipv4_offset,
    read_records,
    wire_checksum,
)

if TYPE_CHECKING:
    from tests.unit.models.conftest import Kit, Pkt

A, B = "192.0.2.1", "198.51.100.7"


def _packets(path: Path) -> list[DinPacket]:
    return list(din_packets(path))


def test_pcap_variants_give_the_same_packets(kit: type[Kit], tmp_path: Path) -> None:
    pkts = [
        kit.Pkt(5_000_000, A, B, 6, 40000, 443, 100, 0x02),
        kit.Pkt(5_000_250, B, A, 6, 443, 40000, 0, 0x12),
        kit.Pkt(5_001_000, A, B, 17, 5000, 53, 30),
    ]
    frames = kit.frames(pkts)
    files = [
        kit.write_pcap(tmp_path / "us.pcap", frames),
        kit.write_pcap(tmp_path / "ns.pcap", frames, nano=True),
        kit.write_pcap(tmp_path / "be.pcap", frames, big=True),
        kit.write_pcapng(tmp_path / "le.pcapng", frames),
        kit.write_pcapng(tmp_path / "be.pcapng", frames, big=True),
        kit.write_pcapng(tmp_path / "ns.pcapng", frames, tsresol=9),
    ]
    expected = [
        DinPacket(0, FlowKey(kit.ip_int(A), kit.ip_int(B), 6, 40000, 443), 140, 0x02),
        DinPacket(250, FlowKey(kit.ip_int(B), kit.ip_int(A), 6, 443, 40000), 40, 0x12),
        DinPacket(1000, FlowKey(kit.ip_int(A), kit.ip_int(B), 17, 5000, 53), 58, 0),
    ]
    for path in files:
        assert _packets(path) == expected, path.name


def test_record_times_and_lengths(kit: type[Kit], tmp_path: Path) -> None:
    frame = kit.ether(kit.Pkt(0, A, B, 17, 1, 2, 200).ip())
    path = kit.write_pcap(tmp_path / "snap.pcap", [(1_500_000, frame)], snaplen=64)
    (rec,) = read_records(path)
    assert (rec.ts_ns, rec.linktype, len(rec.data), rec.orig_len) == (
        1_500_000_000,
        1,
        64,
        len(frame),
    )


def test_link_layers_are_taken_off(kit: type[Kit]) -> None:
    ip = kit.Pkt(0, A, B, 17, 1, 2).ip()
    assert ipv4_offset(1, kit.ether(ip)) == 14
    assert ipv4_offset(1, kit.ether(ip, vlans=(10, 20))) == 22
    assert ipv4_offset(1, kit.ether(ip, ethertype=0x86DD)) == "not_ipv4"
    assert ipv4_offset(0, struct.pack("<I", 2) + ip) == 4  # BSD loopback, host order
    assert ipv4_offset(108, struct.pack(">I", 2) + ip) == 4  # OpenBSD loop, network order
    assert ipv4_offset(0, struct.pack("<I", 30) + ip) == "not_ipv4"  # AF_INET6 on BSD
    assert ipv4_offset(101, ip) == 0
    assert ipv4_offset(113, bytes(14) + b"\x08\x00" + ip) == 16
    assert ipv4_offset(276, b"\x08\x00" + bytes(18) + ip) == 20
    assert ipv4_offset(9, b"\xff\x03\x00\x21" + ip) == 4
    assert ipv4_offset(9, b"\x21" + ip) == 1  # compressed protocol field
    assert ipv4_offset(104, b"\x0f\x00\x08\x00" + ip) == 4
    assert ipv4_offset(147, ip) == "link_type"
    assert ipv4_offset(1, b"\x00" * 12) == "snapped"


def test_other_link_types_in_files(kit: type[Kit], tmp_path: Path) -> None:
    ip = kit.Pkt(0, A, B, 17, 7, 8, 10).ip()
    key = FlowKey(kit.ip_int(A), kit.ip_int(B), 17, 7, 8)
    for linktype, frame in ((101, ip), (113, bytes(14) + b"\x08\x00" + ip)):
        path = kit.write_pcap(tmp_path / f"{linktype}.pcap", [(0, frame)], linktype=linktype)
        assert [p.key for p in din_packets(path)] == [key]
    counts: dict[str, int] = {}
    path = kit.write_pcap(tmp_path / "x.pcap", [(0, ip)], linktype=147)
    assert list(din_packets(path, counts)) == []
    assert counts == {"link_type": 1}


def test_l4_fields_only_where_din_p4_parses_them(kit: type[Kit]) -> None:
    a, b = kit.ip_int(A), kit.ip_int(B)

    def view(p: Pkt) -> DinPacket | str:
        ip = p.ip()
        return din_view(7, ip, len(ip))

    # A non-first fragment and a non-TCP/UDP protocol: ports 0, flags 0.
    frag = view(kit.Pkt(0, A, B, 6, 1, 2, 40, 0x18, frag=185))
    assert frag == DinPacket(7, FlowKey(a, b, 6, 0, 0), 80, 0)
    assert view(kit.Pkt(0, A, B, 1, payload=8)).key == FlowKey(a, b, 1, 0, 0)
    # Options: ports 0 (the L4 header is not parsed), whatever the options hold;
    # din.p4 does not verify the checksum of a header with options.
    zero = view(kit.Pkt(0, A, B, 17, 5, 6, options=b"\x00\x00\x00\x00"))
    assert isinstance(zero, DinPacket) and zero.key == FlowKey(a, b, 17, 0, 0)
    alert = view(kit.Pkt(0, A, B, 2, options=b"\x94\x04\x00\x00"))
    assert isinstance(alert, DinPacket) and alert.key == FlowKey(a, b, 2, 0, 0)


def test_short_and_din_packets(kit: type[Kit]) -> None:
    tcp = kit.Pkt(0, A, B, 6, 1, 2).ip()
    assert din_view(0, tcp[:30], 30) == "parser_error"  # the frame ends inside TCP
    assert din_view(0, tcp[:30], len(tcp)) == "snapped"  # the capture cut it
    assert din_view(0, tcp[:12], len(tcp)) == "snapped"
    ipv6 = b"\x60" + bytes(39)
    assert din_view(0, ipv6, 40) == "not_ipv4"
    din = kit.Pkt(0, A, B, 17, 40000, 7350, 40).ip()
    request = din[:28] + b"\x11" + din[29:]  # version 1, type 1
    assert isinstance(din_view(0, request, len(request)), DinPacket)
    assert din_view(0, din, len(din)) == "bad_din"  # version 0
    short = kit.Pkt(0, A, B, 17, 7350, 40000, 20).ip()
    assert din_view(0, short, len(short)) == "parser_error"


def test_checksums_as_on_the_wire(kit: type[Kit], tmp_path: Path) -> None:
    good = kit.Pkt(0, A, B, 17, 1, 2)
    offloaded = kit.Pkt(10, A, B, 17, 1, 2, checksum=0)
    assert wire_checksum(good.ip()[:20]) == struct.unpack_from("!H", good.ip(), 10)[0]
    counts: dict[str, int] = {}
    path = kit.write_pcap(tmp_path / "c.pcap", kit.frames([good, offloaded]))
    assert len(list(din_packets(path, counts))) == 2
    assert counts == {"checksum_rewritten": 1}


def test_time_is_rebased_and_never_goes_back(kit: type[Kit], tmp_path: Path) -> None:
    pkts = [kit.Pkt(t, A, B, 17, 1, 2) for t in (9_000_000, 9_000_500, 9_000_100, 9_001_000)]
    path = kit.write_pcap(tmp_path / "t.pcap", kit.frames(pkts))
    assert [p.ts_us for p in din_packets(path)] == [0, 500, 500, 1000]


def test_pcapng_details(kit: type[Kit], tmp_path: Path) -> None:
    frames = kit.frames([kit.Pkt(3, A, B, 17, 1, 2), kit.Pkt(8, A, B, 17, 1, 2)])
    counts: dict[str, int] = {}
    path = kit.write_pcapng(tmp_path / "s.pcapng", frames, tsresol=6, simple=2)
    assert [p.ts_us for p in din_packets(path, counts)] == [0, 5]
    assert counts == {"no_timestamp": 2}


def test_unreadable_files_are_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(b"\x00" * 40)
    with pytest.raises(ModelError, match=r"bad\.pcap'.*magic '00000000': expected pcap"):
        list(read_records(bad))
    bad.write_bytes(b"\xd4\xc3")
    with pytest.raises(ModelError, match=r"2 bytes: too short for a header"):
        list(read_records(bad))
    with pytest.raises(ModelError, match=r"missing\.pcap'.*cannot read"):
        list(read_records(tmp_path / "missing.pcap"))


def test_cut_files_end_early(kit: type[Kit], tmp_path: Path) -> None:
    frames = kit.frames([kit.Pkt(0, A, B, 17, 1, 2), kit.Pkt(5, A, B, 17, 1, 2)])
    path = kit.write_pcap(tmp_path / "cut.pcap", frames)
    path.write_bytes(path.read_bytes()[:-10])
    assert len(list(read_records(path))) == 1
    ng = kit.write_pcapng(tmp_path / "cut.pcapng", frames)
    ng.write_bytes(ng.read_bytes()[:-10])
    assert len(list(read_records(ng))) == 1
