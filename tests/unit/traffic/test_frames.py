"""Struct-built frames: checksums and layout agree with scapy's."""

from __future__ import annotations

import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import raw

from traffic.frames import (
    PROTO_TCP,
    PROTO_UDP,
    Endpoints,
    FrameError,
    frame_of_size,
    internet_checksum,
    mac_bytes,
    parse_frame,
    tcp_frame,
    udp_frame,
)

EP = Endpoints("00:00:0a:00:01:01", "00:00:0a:00:02:02", "10.0.1.1", "10.0.2.2", 1234, 80)


def test_internet_checksum_known_value() -> None:
    # The IPv4 header example of RFC 1071 / Wikipedia: checksum 0xb861.
    header = bytes.fromhex("450000730000400040110000c0a80001c0a800c7")
    assert internet_checksum(header) == 0xB861


def test_udp_frame_checksums_are_what_scapy_computes() -> None:
    frame = udp_frame(EP, b"hello world", ttl=17, ident=99, dscp=10)
    pkt = Ether(frame)
    ip_sum, udp_sum = pkt[IP].chksum, pkt[UDP].chksum
    del pkt[IP].chksum
    del pkt[UDP].chksum
    again = Ether(raw(pkt))
    assert (again[IP].chksum, again[UDP].chksum) == (ip_sum, udp_sum)
    assert (pkt[IP].ttl, pkt[IP].id, pkt[IP].tos) == (17, 99, 40)


def test_tcp_frame_equals_scapy() -> None:
    frame = tcp_frame(EP, b"data", seq=5, ack=6, flags=0x12)
    ref = (
        Ether(src=EP.src_mac, dst=EP.dst_mac)
        / IP(src=EP.src_ip, dst=EP.dst_ip, id=0, flags="DF", ttl=64)
        / TCP(sport=1234, dport=80, seq=5, ack=6, flags="SA", window=65535)
        / b"data"
    )
    assert frame == raw(ref)


@pytest.mark.parametrize("size", [10, 60, 61, 500, 1514, 9000])
@pytest.mark.parametrize("proto", [PROTO_UDP, PROTO_TCP])
def test_frame_of_size_has_the_size_clamped(size: int, proto: int) -> None:
    frame = frame_of_size(EP, size, proto)
    assert len(frame) == max(60, min(1514, size))
    assert parse_frame(frame).protocol == proto


def test_parse_frame_reads_ports_and_payload() -> None:
    info = parse_frame(udp_frame(EP, b"xyz"))
    assert (info.src_ip, info.dst_ip, info.src_port, info.dst_port) == (
        "10.0.1.1",
        "10.0.2.2",
        1234,
        80,
    )
    assert info.l4_payload == b"xyz"
    assert not info.is_din
    din = parse_frame(udp_frame(EP.reversed(), b""))
    assert din.src_port == 80


def test_parse_frame_of_non_ipv4() -> None:
    info = parse_frame(bytes(60))
    assert info.protocol is None
    assert info.length == 60


def test_bad_addresses_are_named() -> None:
    with pytest.raises(FrameError, match="'00:11'"):
        mac_bytes("00:11")
    with pytest.raises(FrameError, match=r"'10\.0\.1'"):
        udp_frame(Endpoints(EP.src_mac, EP.dst_mac, "10.0.1", EP.dst_ip, 1, 2), b"")
    with pytest.raises(FrameError, match="protocol 1"):
        frame_of_size(EP, 100, 1)
