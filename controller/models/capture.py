"""Packets of pcap and pcapng captures as din.p4's parser and flow registers see them.

Reading is ``struct`` over the file's records (no per-packet scapy): classic
libpcap files (microsecond or nanosecond, either byte order) and pcapng
(section, interface, enhanced and obsolete packet blocks; per-interface link
type, ``if_tsresol`` and ``if_tsoffset``). Simple packet blocks carry no
timestamp and are skipped.

The link layer is taken off (Ethernet with any 802.1Q/802.1ad tags, BSD
loopback, raw IP, Linux cooked v1/v2, PPP, Cisco HDLC): each IPv4 packet is
then seen as din.p4 sees it arriving on an untagged Ethernet port
(p4src/README.md, "Processing, in order" and "Flow features"):

- the IPv4 header checksum: a capture often holds one the wire did not carry
  (0 where the capturing host's NIC fills it in on transmit, or a stale one
  after addresses were anonymised), so each packet is taken with the checksum
  that is right over its whole header, as on the wire, and such packets are
  only counted (``checksum_rewritten``). ``DinVerifyChecksum`` checks only
  headers without options (``ihl == 5``), so a packet with options is never
  dropped for its checksum;
- ports and TCP flags come from the L4 header only when ``ihl == 5``, the
  fragment offset is 0 and the protocol is TCP or UDP; otherwise the flow key
  has ports 0 and the flags are 0;
- a TCP or UDP header (20 or 8 bytes after the IPv4 header) longer than the
  frame is a parser error (dropped, ``drops[0]``); so is a DIN message (UDP
  port 7350) shorter than 40 bytes, and one with an unknown version or type
  is bad DIN (``drops[1]``);
- the flow's packet length is IPv4 ``total_len``; time is the capture's
  timestamp in whole microseconds (``ingress_global_timestamp``).

Lengths on the wire come from each record's original length; a packet whose
captured bytes stop before the fields needed (a short snap length) is
skipped and counted, never guessed. Imports the standard library only.
"""

from __future__ import annotations

import logging
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from controller.models.errors import ModelError

log = logging.getLogger(__name__)

IP_PROTO_TCP = 6
IP_PROTO_UDP = 17
DIN_UDP_PORT = 7350
DIN_VERSION = 1
DIN_TYPES = (1, 2, 3, 4)
DIN_MESSAGE_BYTES = 40  # common header 24 + vector or advertisement 16

LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_PPP = 9
LINKTYPE_RAW = 101
LINKTYPE_C_HDLC = 104
LINKTYPE_LOOP = 108
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_LINUX_SLL2 = 276
LINKTYPE_PPP_HDLC = 50
_RAW_LINKTYPES = (LINKTYPE_RAW, 12, 14, LINKTYPE_IPV4)  # DLT_RAW is 12 or 14 on some BSDs

_ETH_IPV4 = 0x0800
_ETH_VLAN = (0x8100, 0x88A8, 0x9100)
_PPP_IPV4 = 0x0021
_AF_INET = 2

_PCAP_US = 0xA1B2C3D4
_PCAP_NS = 0xA1B23C4D
_NG_SHB = 0x0A0D0D0A
_NG_IDB = 0x00000001
_NG_PB = 0x00000002
_NG_SPB = 0x00000003
_NG_EPB = 0x00000006
_NG_BYTE_ORDER = 0x1A2B3C4D
_NG_TSRESOL = 9
_NG_TSOFFSET = 14

# What din.p4 (or the capture) does with a packet that yields no flow update.
SKIP_REASONS = (
    "not_ipv4",  # no IPv4 packet behind the link layer (ARP, IPv6, ...): drops[7]
    "parser_error",  # a header longer than the frame: drops[0]
    "bad_din",  # UDP port 7350 but no DIN version 1 message: drops[1]
    "snapped",  # the capture cut the packet before the fields needed
    "no_timestamp",  # pcapng simple packet block
    "link_type",  # a link type this reader does not take off
)


@dataclass(frozen=True, slots=True)
class FlowKey:
    """din.p4's flow: IPv4 source, destination, protocol and L4 ports (0 when not parsed)."""

    src: int
    dst: int
    protocol: int
    sport: int
    dport: int

    @property
    def service_port(self) -> int:
        """The ``service_port`` feature: min(source port, destination port)."""
        return min(self.sport, self.dport)

    def reverse(self) -> FlowKey:
        """The other direction of the conversation."""
        return FlowKey(self.dst, self.src, self.protocol, self.dport, self.sport)


@dataclass(frozen=True, slots=True)
class DinPacket:
    """One packet as the flow registers take it: time (us), flow, ``total_len``, TCP flags."""

    ts_us: int
    key: FlowKey
    length: int
    tcp_flags: int


@dataclass(frozen=True, slots=True)
class Record:
    """One captured frame: time (ns), link type, the captured bytes, its length on the wire."""

    ts_ns: int
    linktype: int
    data: bytes
    orig_len: int


def _pcap_records(path: Path, data: bytes) -> Iterator[Record]:
    for endian in ("<", ">"):
        (magic,) = struct.unpack_from(endian + "I", data)
        if magic in (_PCAP_US, _PCAP_NS):
            break
    scale = 1 if magic == _PCAP_NS else 1000
    # The upper bits of the link type field hold FCS information (pcap spec, LinkType).
    linktype = struct.unpack_from(endian + "I", data, 20)[0] & 0x03FFFFFF
    head = struct.Struct(endian + "IIII")
    pos = 24
    while pos + head.size <= len(data):
        sec, frac, incl, orig = head.unpack_from(data, pos)
        pos += head.size
        if pos + incl > len(data):
            log.warning("%s: last record cut short (%d of %d bytes)", path, len(data) - pos, incl)
            return
        yield Record((sec * 1_000_000_000) + frac * scale, linktype, data[pos : pos + incl], orig)
        pos += incl


def _ng_ts_ns(ts: int, resol: int, offset_s: int) -> int:
    if resol & 0x80:
        ns = (ts * 1_000_000_000) >> (resol & 0x7F)
    else:
        digits = resol & 0x7F
        ns = ts * 10 ** (9 - digits) if digits <= 9 else ts // 10 ** (digits - 9)
    return ns + offset_s * 1_000_000_000


def _ng_options(body: bytes, start: int, endian: str) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    pos = start
    while pos + 4 <= len(body):
        code, length = struct.unpack_from(endian + "HH", body, pos)
        pos += 4
        if code == 0:
            break
        out.setdefault(code, body[pos : pos + length])
        pos += (length + 3) & ~3
    return out


def _pcapng_records(path: Path, data: bytes, counts: dict[str, int]) -> Iterator[Record]:
    pos = 0
    endian = "<"
    # Per interface of the current section: (link type, tsresol, tsoffset seconds).
    ifaces: list[tuple[int, int, int]] = []
    while pos + 12 <= len(data):
        if struct.unpack_from("<I", data, pos)[0] == _NG_SHB:
            (order,) = struct.unpack_from("<I", data, pos + 8)
            endian = "<" if order == _NG_BYTE_ORDER else ">"
            ifaces = []
        btype, blen = struct.unpack_from(endian + "II", data, pos)
        if blen < 12 or blen % 4 or pos + blen > len(data):
            log.warning("%s: block at byte %d has length %d: stopped there", path, pos, blen)
            return
        body = data[pos + 8 : pos + blen - 4]
        pos += blen
        if btype == _NG_IDB and len(body) >= 8:
            linktype = struct.unpack_from(endian + "H", body)[0]
            opts = _ng_options(body, 8, endian)
            resol = opts[_NG_TSRESOL][0] if len(opts.get(_NG_TSRESOL, b"")) >= 1 else 6
            raw_offset = opts.get(_NG_TSOFFSET, b"")
            offset = struct.unpack(endian + "q", raw_offset)[0] if len(raw_offset) == 8 else 0
            ifaces.append((linktype, resol, offset))
        elif btype in (_NG_EPB, _NG_PB) and len(body) >= 20:
            if btype == _NG_EPB:
                iface, high, low, incl, orig = struct.unpack_from(endian + "IIIII", body)
            else:
                iface, _drops, high, low, incl, orig = struct.unpack_from(endian + "HHIIII", body)
            if iface >= len(ifaces):
                log.warning("%s: packet of undeclared interface %d skipped", path, iface)
                continue
            linktype, resol, offset = ifaces[iface]
            frame = body[20 : 20 + incl]
            yield Record(_ng_ts_ns((high << 32) | low, resol, offset), linktype, frame, orig)
        elif btype == _NG_SPB:
            counts["no_timestamp"] = counts.get("no_timestamp", 0) + 1


def read_records(
    path: str | os.PathLike[str], counts: dict[str, int] | None = None
) -> Iterator[Record]:
    """Every frame of a pcap or pcapng file, in file order.

    ``counts`` (if given) gains skipped-record counts by reason. A truncated
    last record or block ends the file with a warning.
    """
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ModelError(f"capture {str(p)!r}: cannot read: {exc.strerror}") from exc
    if len(data) < 24:
        raise ModelError(f"capture {str(p)!r}: {len(data)!r} bytes: too short for a header")
    magic_le, magic_be = struct.unpack_from("<I", data)[0], struct.unpack_from(">I", data)[0]
    if magic_le == _NG_SHB:
        return _pcapng_records(p, data, {} if counts is None else counts)
    if _PCAP_US in (magic_le, magic_be) or _PCAP_NS in (magic_le, magic_be):
        return _pcap_records(p, data)
    raise ModelError(
        f"capture {str(p)!r}: magic {data[:4].hex()!r}: expected pcap (a1b2c3d4, a1b23c4d, "
        "either byte order) or pcapng (0a0d0d0a)"
    )


def ipv4_offset(linktype: int, frame: bytes) -> int | str:
    """Where the IPv4 header starts in ``frame``, or why there is none."""
    if linktype == LINKTYPE_ETHERNET:
        pos = 12
        while len(frame) >= pos + 2:
            (ethertype,) = struct.unpack_from("!H", frame, pos)
            if ethertype in _ETH_VLAN:
                pos += 4
                continue
            return pos + 2 if ethertype == _ETH_IPV4 else "not_ipv4"
        return "snapped"
    if linktype in (LINKTYPE_NULL, LINKTYPE_LOOP):
        if len(frame) < 4:
            return "snapped"
        # NULL stores the family in the writer's byte order, LOOP in network order.
        family = {struct.unpack_from("<I", frame)[0], struct.unpack_from(">I", frame)[0]}
        return 4 if _AF_INET in family else "not_ipv4"
    if linktype in _RAW_LINKTYPES:
        return 0
    if linktype == LINKTYPE_LINUX_SLL:
        if len(frame) < 16:
            return "snapped"
        return 16 if struct.unpack_from("!H", frame, 14)[0] == _ETH_IPV4 else "not_ipv4"
    if linktype == LINKTYPE_LINUX_SLL2:
        if len(frame) < 20:
            return "snapped"
        return 20 if struct.unpack_from("!H", frame, 0)[0] == _ETH_IPV4 else "not_ipv4"
    if linktype in (LINKTYPE_PPP, LINKTYPE_PPP_HDLC):
        pos = 2 if frame[:2] == b"\xff\x03" else 0
        if len(frame) < pos + 1:
            return "snapped"
        if frame[pos] & 1:  # a compressed one-byte protocol field
            return pos + 1 if frame[pos] == _PPP_IPV4 else "not_ipv4"
        if len(frame) < pos + 2:
            return "snapped"
        return pos + 2 if struct.unpack_from("!H", frame, pos)[0] == _PPP_IPV4 else "not_ipv4"
    if linktype == LINKTYPE_C_HDLC:
        if len(frame) < 4:
            return "snapped"
        return 4 if struct.unpack_from("!H", frame, 2)[0] == _ETH_IPV4 else "not_ipv4"
    return "link_type"


def csum16(data: bytes) -> int:
    """The Internet checksum (ones' complement of the ones' complement sum) of 16-bit words."""
    if len(data) % 2:
        data += b"\0"
    total = int(sum(struct.unpack(f"!{len(data) // 2}H", data)))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def wire_checksum(header: bytes) -> int:
    """The header checksum a sender puts on the wire: over the whole header (options too)."""
    return csum16(header[:10] + b"\0\0" + header[12:])


def din_view(ts_us: int, ip: bytes, wire_len: int) -> DinPacket | str:
    """The flow update din.p4 makes for an IPv4 packet, or the reason it makes none.

    ``ip`` holds the captured bytes from the IPv4 header on, ``wire_len`` the
    number of bytes the packet had there on the wire.
    """
    if len(ip) < 20:
        return "snapped" if wire_len >= 20 else "parser_error"
    if ip[0] >> 4 != 4:
        return "not_ipv4"
    ihl = ip[0] & 0x0F
    total_len, frag = struct.unpack_from("!H2xH", ip, 2)
    protocol = ip[9]
    src, dst = struct.unpack_from("!II", ip, 12)
    if ihl != 5 or frag & 0x1FFF or protocol not in (IP_PROTO_TCP, IP_PROTO_UDP):
        return DinPacket(ts_us, FlowKey(src, dst, protocol, 0, 0), total_len, 0)
    need = 20 if protocol == IP_PROTO_TCP else 8
    if wire_len < 20 + need:
        return "parser_error"
    if len(ip) < 20 + need:
        return "snapped"
    sport, dport = struct.unpack_from("!HH", ip, 20)
    flags = ip[33] if protocol == IP_PROTO_TCP else 0
    if protocol == IP_PROTO_UDP and DIN_UDP_PORT in (sport, dport):
        if wire_len < 28 + DIN_MESSAGE_BYTES:
            return "parser_error"
        if len(ip) < 29:
            return "snapped"
        if ip[28] >> 4 != DIN_VERSION or ip[28] & 0x0F not in DIN_TYPES:
            return "bad_din"
    return DinPacket(ts_us, FlowKey(src, dst, protocol, sport, dport), total_len, flags)


def din_packets(
    path: str | os.PathLike[str], counts: dict[str, int] | None = None
) -> Iterator[DinPacket]:
    """The packets of a capture that update din.p4's flow registers, in file order.

    Time is rebased to the capture's first record and never goes back: a record
    stamped before its predecessor takes the predecessor's time, as a replay
    sends it at once. ``counts`` gains the skipped packets by reason
    (``SKIP_REASONS``) and ``checksum_rewritten``, the packets taken whose
    captured header checksum was not the one on the wire.
    """
    tally: dict[str, int] = {} if counts is None else counts
    first: int | None = None
    last = 0
    for rec in read_records(path, tally):
        if first is None:
            first = rec.ts_ns
        now = max(last, (rec.ts_ns - first) // 1000)
        last = now
        start = ipv4_offset(rec.linktype, rec.data)
        if isinstance(start, str):
            tally[start] = tally.get(start, 0) + 1
            continue
        ip = rec.data[start:]
        if len(ip) >= 20 and ip[0] == 0x45 and wire_checksum(ip[:20]) != ip[10] << 8 | ip[11]:
            tally["checksum_rewritten"] = tally.get("checksum_rewritten", 0) + 1
        view = din_view(now, ip, rec.orig_len - start)
        if isinstance(view, str):
            tally[view] = tally.get(view, 0) + 1
            continue
        yield view
