"""DIN wire codec and scapy layers: byte-exact against hand-written bytes."""

from __future__ import annotations

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw, raw

from traffic.din import DIN, DINAdvert, DINVector, vector
from traffic.frames import Endpoints, udp_frame
from traffic.wire import (
    DIN_UDP_PORT,
    DinAdvert,
    DinFormatError,
    DinHeader,
    MsgType,
    decode,
    encode,
    pack_vector,
)

# Every field a distinct value, so a swapped or misplaced field shows.
HEADER = DinHeader(
    msg_type=MsgType.REQUEST,
    flags=0x05,
    model_id=0x0102,
    model_version=0x03,
    stage=0x04,
    tenant_id=0x0506,
    sensitivity=0x07,
    hop_count=0x08,
    request_id=0x090A0B0C,
    result_class=0x0D,
    confidence=0x0E,
    instance_id=0x0F10,
    ingress_ts=0x111213141516,
)
HEADER_BYTES = bytes.fromhex("11 05 0102 03 04 0506 07 08 090a0b0c 0d 0e 0f10 111213141516")
ADVERT = DinAdvert(
    instance_id=0x0102,
    layer_first=3,
    layer_last=4,
    queue_len=0x0506,
    utilisation=7,
    req_rate=0x08090A0B,
    capacity=0x0C0D0E0F,
)
ADVERT_BYTES = bytes.fromhex("0102 03 04 0506 07 00 08090a0b 0c0d0e0f")


def test_port_is_7350() -> None:
    assert DIN_UDP_PORT == 7350


def test_common_header_bytes() -> None:
    assert len(HEADER_BYTES) == 24
    assert HEADER.pack() == HEADER_BYTES
    assert DinHeader.unpack(HEADER_BYTES) == HEADER


def test_vector_bytes_and_padding() -> None:
    assert pack_vector(range(16)) == bytes(range(16))
    assert pack_vector([255, 1]) == b"\xff\x01" + bytes(14)


def test_request_message_round_trip() -> None:
    data = encode(HEADER, list(range(100, 116)))
    assert data == HEADER_BYTES + bytes(range(100, 116))
    msg = decode(data + b"tail")
    assert msg.header == HEADER
    assert msg.vector == tuple(range(100, 116))
    assert msg.advert is None
    assert msg.rest == b"tail"


def test_advertisement_bytes() -> None:
    header = DinHeader(msg_type=MsgType.ADVERTISE, model_id=9, model_version=2)
    data = encode(header, ADVERT)
    common = bytes.fromhex("14 00 0009 02 00 0000 00 00 00000000 00 00 0000 000000000000")
    assert data == common + ADVERT_BYTES
    msg = decode(data)
    assert msg.advert == ADVERT
    assert msg.vector is None


def test_scapy_header_matches_wire_bytes() -> None:
    pkt = DIN(
        msg_type=1,
        flags=0x05,
        model_id=0x0102,
        model_version=3,
        stage=4,
        tenant_id=0x0506,
        sensitivity=7,
        hop_count=8,
        request_id=0x090A0B0C,
        result_class=0x0D,
        confidence=0x0E,
        instance_id=0x0F10,
        ingress_ts=0x111213141516,
    ) / vector(range(16))
    assert raw(pkt) == HEADER_BYTES + bytes(range(16))


def test_scapy_advert_matches_wire_bytes() -> None:
    pkt = DIN(msg_type=4, model_id=9, model_version=2) / DINAdvert(
        instance_id=0x0102,
        layer_first=3,
        layer_last=4,
        queue_len=0x0506,
        utilisation=7,
        req_rate=0x08090A0B,
        capacity=0x0C0D0E0F,
    )
    assert raw(pkt) == encode(DinHeader(msg_type=4, model_id=9, model_version=2), ADVERT)


def test_scapy_dissects_a_request_frame_built_by_struct() -> None:
    ep = Endpoints("00:00:0a:00:01:01", "00:00:0a:00:01:fe", "10.0.1.1", "10.0.2.2", 40000, 7350)
    frame = udp_frame(ep, encode(HEADER, range(16)))
    pkt = Ether(frame)
    assert pkt[UDP].dport == 7350
    din = pkt[DIN]
    assert (din.version, din.msg_type, din.model_id, din.request_id) == (1, 1, 0x0102, 0x090A0B0C)
    assert din.ingress_ts == 0x111213141516
    assert pkt[DINVector].values == tuple(range(16))


def test_scapy_frame_equals_struct_frame() -> None:
    ep = Endpoints("00:00:0a:00:01:01", "00:00:0a:00:01:fe", "10.0.1.1", "10.0.2.2", 40000, 7350)
    ours = udp_frame(ep, encode(HEADER, range(16)), ident=7)
    theirs = (
        Ether(src=ep.src_mac, dst=ep.dst_mac)
        / IP(src=ep.src_ip, dst=ep.dst_ip, id=7, flags="DF", ttl=64)
        / UDP(sport=40000)
        / DIN(bytes(HEADER_BYTES))
        / vector(range(16))
    )
    assert raw(theirs) == ours


def test_answers_from_the_din_port_are_dissected() -> None:
    answer = HEADER_BYTES[:1] + b"\x01" + HEADER_BYTES[2:]
    pkt = Ether(raw(Ether() / IP() / UDP(sport=7350, dport=40000) / Raw(answer + bytes(16))))
    assert pkt.haslayer(DIN)
    assert pkt[DIN].flags == 0x01


def test_other_udp_ports_are_not_din() -> None:
    pkt = Ether(raw(Ether() / IP() / UDP(sport=1000, dport=2000) / Raw(HEADER_BYTES)))
    assert not pkt.haslayer(DIN)


def test_unknown_type_leaves_the_rest_raw() -> None:
    data = bytes([0x17]) + HEADER_BYTES[1:] + bytes(16)
    pkt = DIN(data)
    assert not pkt.haslayer(DINVector)
    assert pkt.haslayer(Raw)


def test_field_too_wide_is_refused_with_its_name() -> None:
    with pytest.raises(DinFormatError, match=r"'model_id': 65536"):
        DinHeader(model_id=0x10000).pack()
    with pytest.raises(DinFormatError, match=r"'v3': 256"):
        pack_vector([0, 0, 0, 256])
    with pytest.raises(DinFormatError, match="at most 16"):
        pack_vector([0] * 17)


def test_body_must_match_type() -> None:
    with pytest.raises(DinFormatError, match="advertisement body"):
        encode(DinHeader(msg_type=MsgType.ADVERTISE), [1, 2])
    with pytest.raises(DinFormatError, match="advertisement body"):
        encode(DinHeader(msg_type=MsgType.REQUEST), ADVERT)


def test_decode_refuses_bad_input() -> None:
    with pytest.raises(DinFormatError, match="expected at least 24"):
        decode(HEADER_BYTES[:10])
    with pytest.raises(DinFormatError, match="version 2"):
        decode(bytes([0x21]) + HEADER_BYTES[1:] + bytes(16))
    with pytest.raises(DinFormatError, match="type 7"):
        decode(bytes([0x17]) + HEADER_BYTES[1:] + bytes(16))
    with pytest.raises(DinFormatError, match="vector: 3 bytes"):
        decode(HEADER_BYTES + b"abc")
