"""Node advertisements as the controller receives them: from digests and packet-ins.

Every switch an advertisement crosses sends an ``advertisement_digest_t``
digest (p4src/README.md "Counters, registers, digests"); an advertisement with
no route onwards also comes as a packet-in with reason 1, whose payload is the
whole Ethernet frame. Both decode to one :class:`Advertisement`. The
controller relays an advertisement to a switch it did not cross by a
packet-out with ``mode = 1`` (the switch records it and drops it), so that
every switch that steers to an instance sees it alive: :func:`advert_frame`
builds that frame.

Pure: imports the standard library and ``controller.steering.errors`` only.
"""

from __future__ import annotations

import ipaddress
import logging
import struct
from collections.abc import Mapping
from dataclasses import dataclass

from controller.steering.errors import SteeringError

log = logging.getLogger(__name__)

DIN_UDP_PORT = 7350
DIN_VERSION = 1
MSG_ADVERTISE = 4
MAX_INSTANCE_ID = 63  # the instance registers and the policy bitmap have 64 cells
LAYER_LAST_LARGE = 0xFF  # layer_last of a large (escalation) model
DIGEST_NAME = "advertisement_digest_t"
PUNT_ADVERTISE = 1  # packet_in reason of an advertisement with no route

ETH_HLEN = 14
ETHERTYPE_IPV4 = 0x0800
PROTO_UDP = 17
IPV4_HLEN = 20
UDP_HLEN = 8
DIN_COMMON_LEN = 24
DIN_ADVERT_LEN = 16
ADVERT_PAYLOAD = DIN_COMMON_LEN + DIN_ADVERT_LEN

_ETH = struct.Struct("!6s6sH")
_IPV4 = struct.Struct("!BBHHHBBH4s4s")
_UDP = struct.Struct("!HHHH")
# version/type, flags, model_id, model_version, stage, tenant_id, sensitivity,
# hop_count, request_id, result_class, confidence, instance_id, ts (16 + 32)
_COMMON = struct.Struct("!BBHBBHBBIBBHHI")
# instance_id, layer_first, layer_last, queue_len, utilisation, pad, req_rate, capacity
_ADVERT = struct.Struct("!HBBHBBII")

_FIELDS = (
    ("instance_id", 16),
    ("model_id", 16),
    ("model_version", 8),
    ("layer_first", 8),
    ("layer_last", 8),
    ("queue_len", 16),
    ("utilisation", 8),
    ("req_rate", 32),
    ("capacity", 32),
)


@dataclass(frozen=True, slots=True)
class Advertisement:
    """One node advertisement: an instance's CATS metrics for one model it serves.

    ``switch`` names the switch that reported it ("" when decoded directly);
    ``switch_ts_us`` is that switch's ingress timestamp (digests only, else 0).
    """

    instance_id: int
    addr: str
    model_id: int
    model_version: int = 0
    layer_first: int = 0
    layer_last: int = 0
    queue_len: int = 0
    utilisation: int = 0
    req_rate: int = 0
    capacity: int = 0
    switch: str = ""
    switch_ts_us: int = 0

    def __post_init__(self) -> None:
        """Check every field against the wire format's widths."""
        where = f"advertisement of instance {self.instance_id!r}"
        if not 1 <= self.instance_id <= MAX_INSTANCE_ID:
            raise SteeringError(f"{where}: instance id: expected 1..{MAX_INSTANCE_ID}")
        for name, bits in _FIELDS[1:]:
            value = getattr(self, name)
            if not isinstance(value, int) or not 0 <= value < 1 << bits:
                raise SteeringError(f"{where}: {name} {value!r}: expected 0..2^{bits}-1")
        if self.utilisation > 100:
            raise SteeringError(f"{where}: utilisation {self.utilisation!r}: expected 0..100")
        try:
            ipaddress.IPv4Address(self.addr)
        except ValueError:
            raise SteeringError(f"{where}: address {self.addr!r}: expected a dotted quad") from None

    @property
    def large(self) -> bool:
        """Whether the advertised model is a large model for escalations."""
        return self.layer_last == LAYER_LAST_LARGE


def from_digest(values: Mapping[str, int], switch: str = "") -> Advertisement:
    """An ``advertisement_digest_t`` message (members by P4Info name) as an Advertisement."""
    missing = [n for n in ("src_addr", *(f for f, _ in _FIELDS)) if n not in values]
    if missing:
        raise SteeringError(
            f"advertisement digest from {switch!r}: members {missing!r} missing: "
            f"expected the fields of {DIGEST_NAME}, got {sorted(values)!r}"
        )
    return Advertisement(
        addr=str(ipaddress.IPv4Address(values["src_addr"] & 0xFFFFFFFF)),
        switch=switch,
        switch_ts_us=int(values.get("ts", 0)),
        **{name: int(values[name]) for name, _ in _FIELDS},
    )


def from_frame(frame: bytes, switch: str = "") -> Advertisement:
    """An Ethernet frame carrying a DIN advertisement (a packet-in payload)."""
    where = f"advertisement frame from {switch!r}" if switch else "advertisement frame"
    if len(frame) < ETH_HLEN + IPV4_HLEN:
        raise SteeringError(f"{where}: {len(frame)!r} bytes: too short for Ethernet and IPv4")
    _dst, _src, ethertype = _ETH.unpack_from(frame)
    if ethertype != ETHERTYPE_IPV4:
        raise SteeringError(f"{where}: ethertype {ethertype:#06x}: expected IPv4 (0x0800)")
    ver_ihl, _tos, _total, _ident, _frag, _ttl, proto, _csum, src, _dst_ip = _IPV4.unpack_from(
        frame, ETH_HLEN
    )
    ihl = (ver_ihl & 0x0F) * 4
    if ver_ihl >> 4 != 4 or ihl < IPV4_HLEN:
        raise SteeringError(f"{where}: IPv4 version/IHL byte {ver_ihl:#04x}: expected 0x45..0x4f")
    if proto != PROTO_UDP:
        raise SteeringError(f"{where}: IP protocol {proto!r}: expected UDP (17)")
    udp_at = ETH_HLEN + ihl
    din_at = udp_at + UDP_HLEN
    if len(frame) < din_at + ADVERT_PAYLOAD:
        raise SteeringError(
            f"{where}: {len(frame)!r} bytes: expected at least {din_at + ADVERT_PAYLOAD}"
        )
    sport, dport, _ulen, _ucsum = _UDP.unpack_from(frame, udp_at)
    if DIN_UDP_PORT not in (sport, dport):
        raise SteeringError(f"{where}: UDP ports {sport}->{dport}: expected {DIN_UDP_PORT}")
    common = _COMMON.unpack_from(frame, din_at)
    version, msg_type = common[0] >> 4, common[0] & 0x0F
    if version != DIN_VERSION or msg_type != MSG_ADVERTISE:
        raise SteeringError(
            f"{where}: DIN version {version!r} type {msg_type!r}: expected version "
            f"{DIN_VERSION} type {MSG_ADVERTISE} (advertisement)"
        )
    inst, first, last, queue, util, _pad, rate, cap = _ADVERT.unpack_from(
        frame, din_at + DIN_COMMON_LEN
    )
    return Advertisement(
        instance_id=inst,
        addr=str(ipaddress.IPv4Address(src)),
        model_id=common[2],
        model_version=common[3],
        layer_first=first,
        layer_last=last,
        queue_len=queue,
        utilisation=util,
        req_rate=rate,
        capacity=cap,
        switch=switch,
    )


def ipv4_checksum(data: bytes) -> int:
    """RFC 1071 ones' complement sum of an (even-length) IPv4 header."""
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return int(~total & 0xFFFF)


def advert_frame(
    adv: Advertisement,
    *,
    dst_addr: str = "255.255.255.255",
    src_mac: bytes = b"\x02\x00\x00\x00\x00\x01",
    dst_mac: bytes = b"\xff" * 6,
) -> bytes:
    """The Ethernet frame of ``adv`` as its instance sent it (source address and port 7350).

    Used to relay an advertisement by packet-out; the switch checks the IPv4
    header checksum, so it is computed; the UDP checksum is 0 (none).
    """
    din = _COMMON.pack(
        (DIN_VERSION << 4) | MSG_ADVERTISE, 0, adv.model_id, adv.model_version,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ) + _ADVERT.pack(
        adv.instance_id, adv.layer_first, adv.layer_last, adv.queue_len,
        adv.utilisation, 0, adv.req_rate, adv.capacity,
    )  # fmt: skip
    udp = _UDP.pack(DIN_UDP_PORT, DIN_UDP_PORT, UDP_HLEN + len(din), 0) + din
    src = ipaddress.IPv4Address(adv.addr).packed
    dst = ipaddress.IPv4Address(dst_addr).packed
    head = _IPV4.pack(0x45, 0, IPV4_HLEN + len(udp), 0, 0x4000, 64, PROTO_UDP, 0, src, dst)
    head = head[:10] + ipv4_checksum(head).to_bytes(2, "big") + head[12:]
    return _ETH.pack(dst_mac, src_mac, ETHERTYPE_IPV4) + head + udp
