"""Ethernet/IPv4/UDP/TCP frames built and parsed with struct (no scapy per packet).

Imports the standard library and traffic.wire only.
"""

from __future__ import annotations

import logging
import socket
import struct
from dataclasses import dataclass

from traffic.wire import DIN_UDP_PORT

logger = logging.getLogger(__name__)

ETH_HLEN = 14
IPV4_HLEN = 20
UDP_HLEN = 8
TCP_HLEN = 20
ETHERTYPE_IPV4 = 0x0800
PROTO_TCP = 6
PROTO_UDP = 17
MIN_FRAME = 60  # Ethernet minimum without FCS, as a NIC pads it
MAX_FRAME = 1514

_ETH = struct.Struct("!6s6sH")
_IPV4 = struct.Struct("!BBHHHBBH4s4s")
_UDP = struct.Struct("!HHHH")
_TCP = struct.Struct("!HHIIBBHHH")


class FrameError(ValueError):
    """A frame or address that cannot be built or parsed."""


def mac_bytes(mac: str) -> bytes:
    """'aa:bb:cc:dd:ee:ff' as 6 bytes."""
    parts = mac.split(":")
    try:
        raw = bytes(int(p, 16) for p in parts)
    except ValueError:
        raw = b""
    if len(parts) != 6 or len(raw) != 6:
        raise FrameError(f"MAC address {mac!r}: expected six hex octets like '00:00:0a:00:01:01'")
    return raw


def ip_bytes(addr: str) -> bytes:
    """Dotted-quad IPv4 address as 4 bytes."""
    if addr.count(".") == 3:
        try:
            return socket.inet_aton(addr)
        except OSError:
            pass
    raise FrameError(f"IPv4 address {addr!r}: expected a dotted quad like '10.0.1.1'")


def internet_checksum(data: bytes) -> int:
    """RFC 1071 ones' complement checksum."""
    if len(data) % 2:
        data += b"\x00"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return int(~total & 0xFFFF)


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Addresses of one direction of a flow."""

    src_mac: str
    dst_mac: str
    src_ip: str
    dst_ip: str
    src_port: int
    dst_port: int

    def reversed(self) -> Endpoints:
        """The opposite direction."""
        return Endpoints(
            self.dst_mac, self.src_mac, self.dst_ip, self.src_ip, self.dst_port, self.src_port
        )


def _ipv4(ep: Endpoints, proto: int, l4_len: int, *, ttl: int, ident: int, dscp: int) -> bytes:
    total = IPV4_HLEN + l4_len
    if total > 0xFFFF:
        raise FrameError(f"IPv4 packet of {total!r} bytes: expected at most 65535")
    src, dst = ip_bytes(ep.src_ip), ip_bytes(ep.dst_ip)
    head = _IPV4.pack(0x45, dscp << 2, total, ident & 0xFFFF, 0x4000, ttl, proto, 0, src, dst)
    csum = internet_checksum(head)
    return head[:10] + struct.pack("!H", csum) + head[12:]


def udp_frame(
    ep: Endpoints,
    payload: bytes,
    *,
    ttl: int = 64,
    ident: int = 0,
    dscp: int = 0,
    udp_checksum: bool = True,
) -> bytes:
    """An Ethernet/IPv4/UDP frame carrying `payload`."""
    udp_len = UDP_HLEN + len(payload)
    ip = _ipv4(ep, PROTO_UDP, udp_len, ttl=ttl, ident=ident, dscp=dscp)
    udp = _UDP.pack(ep.src_port, ep.dst_port, udp_len, 0)
    csum = 0
    if udp_checksum:
        pseudo = ip[12:20] + struct.pack("!BBH", 0, PROTO_UDP, udp_len)
        csum = internet_checksum(pseudo + udp + payload) or 0xFFFF
    udp = udp[:6] + struct.pack("!H", csum)
    eth = _ETH.pack(mac_bytes(ep.dst_mac), mac_bytes(ep.src_mac), ETHERTYPE_IPV4)
    return eth + ip + udp + payload


def tcp_frame(
    ep: Endpoints,
    payload: bytes,
    *,
    seq: int = 0,
    ack: int = 0,
    flags: int = 0x18,
    ttl: int = 64,
    ident: int = 0,
    dscp: int = 0,
) -> bytes:
    """An Ethernet/IPv4/TCP frame (no options) carrying `payload`; default flags PSH|ACK."""
    tcp_len = TCP_HLEN + len(payload)
    ip = _ipv4(ep, PROTO_TCP, tcp_len, ttl=ttl, ident=ident, dscp=dscp)
    tcp = _TCP.pack(
        ep.src_port, ep.dst_port, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4, flags, 65535, 0, 0
    )
    pseudo = ip[12:20] + struct.pack("!BBH", 0, PROTO_TCP, tcp_len)
    csum = internet_checksum(pseudo + tcp + payload)
    tcp = tcp[:16] + struct.pack("!H", csum) + tcp[18:]
    eth = _ETH.pack(mac_bytes(ep.dst_mac), mac_bytes(ep.src_mac), ETHERTYPE_IPV4)
    return eth + ip + tcp + payload


def frame_of_size(ep: Endpoints, size: int, proto: int, *, seq: int = 0, ident: int = 0) -> bytes:
    """A UDP or TCP frame of exactly `size` bytes (clamped to 60..1514), zero payload."""
    size = max(MIN_FRAME, min(MAX_FRAME, size))
    if proto == PROTO_UDP:
        return udp_frame(ep, bytes(size - ETH_HLEN - IPV4_HLEN - UDP_HLEN), ident=ident)
    if proto == PROTO_TCP:
        payload = bytes(size - ETH_HLEN - IPV4_HLEN - TCP_HLEN)
        return tcp_frame(ep, payload, seq=seq, ident=ident)
    raise FrameError(f"protocol {proto!r}: expected 6 (TCP) or 17 (UDP)")


@dataclass(frozen=True, slots=True)
class FrameInfo:
    """What a receiver needs from one frame."""

    length: int
    protocol: int | None
    src_ip: str | None
    dst_ip: str | None
    src_port: int | None
    dst_port: int | None
    l4_payload: bytes

    @property
    def is_din(self) -> bool:
        """Whether the frame is UDP to or from the DIN port."""
        return self.protocol == PROTO_UDP and DIN_UDP_PORT in (self.src_port, self.dst_port)


def parse_frame(frame: bytes) -> FrameInfo:
    """Addresses, ports and L4 payload of an Ethernet/IPv4 frame (None where absent)."""
    n = len(frame)
    if n < ETH_HLEN + IPV4_HLEN or _ETH.unpack_from(frame)[2] != ETHERTYPE_IPV4:
        return FrameInfo(n, None, None, None, None, None, b"")
    vihl, _tos, total, _id, frag, _ttl, proto, _c, src, dst = _IPV4.unpack_from(frame, ETH_HLEN)
    ihl = (vihl & 0x0F) * 4
    l4 = ETH_HLEN + ihl
    end = min(n, ETH_HLEN + total)
    sip, dip = socket.inet_ntoa(src), socket.inet_ntoa(dst)
    if frag & 0x1FFF:
        return FrameInfo(n, proto, sip, dip, None, None, b"")
    if proto == PROTO_UDP and end >= l4 + UDP_HLEN:
        sport, dport, _len, _csum = _UDP.unpack_from(frame, l4)
        return FrameInfo(n, proto, sip, dip, sport, dport, frame[l4 + UDP_HLEN : end])
    if proto == PROTO_TCP and end >= l4 + TCP_HLEN:
        sport, dport = struct.unpack_from("!HH", frame, l4)
        off = (frame[l4 + 12] >> 4) * 4
        return FrameInfo(n, proto, sip, dip, sport, dport, frame[l4 + off : end])
    return FrameInfo(n, proto, sip, dip, None, None, b"")
