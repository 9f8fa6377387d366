"""The DIN wire format as plain struct codecs (no scapy), for fast frame building.

Mirrors p4src/include/headers.p4 and p4src/README.md byte for byte. Imports the
standard library only.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

logger = logging.getLogger(__name__)

DIN_UDP_PORT = 7350
DIN_VERSION = 1
VECTOR_LEN = 16
COMMON_LEN = 24
VECTOR_BYTES = 16
ADVERT_LEN = 16
STAGE_DONE = 0xFF

FLAG_SWITCH_ANSWER = 0x01
FLAG_FAILOVER = 0x02
FLAG_POLICY = 0x04

# version/type, flags, model_id, model_version, stage, tenant_id, sensitivity,
# hop_count, request_id, result_class, confidence, instance_id, ts high 16, ts low 32
_COMMON = struct.Struct("!BBHBBHBBIBBHHI")
# instance_id, layer_first, layer_last, queue_len, utilisation, pad, req_rate, capacity
_ADVERT = struct.Struct("!HBBHBBII")
_VECTOR = struct.Struct("!16B")

assert _COMMON.size == COMMON_LEN
assert _ADVERT.size == ADVERT_LEN


class MsgType(IntEnum):
    """DIN message types (the low nibble of the first byte)."""

    REQUEST = 1
    RESPONSE = 2
    ESCALATION = 3
    ADVERTISE = 4


class DinFormatError(ValueError):
    """A DIN message or field that does not fit the wire format."""


def _check(name: str, value: int, bits: int) -> None:
    if not 0 <= value < (1 << bits):
        raise DinFormatError(f"DIN field {name!r}: {value!r} does not fit {bits} unsigned bits")


@dataclass(frozen=True, slots=True)
class DinHeader:
    """The 24-byte DIN common header."""

    msg_type: int = MsgType.REQUEST
    version: int = DIN_VERSION
    flags: int = 0
    model_id: int = 0
    model_version: int = 0
    stage: int = 0
    tenant_id: int = 0
    sensitivity: int = 0
    hop_count: int = 0
    request_id: int = 0
    result_class: int = 0
    confidence: int = 0
    instance_id: int = 0
    ingress_ts: int = 0

    def pack(self) -> bytes:
        """The header's 24 bytes."""
        widths = {
            "version": 4,
            "msg_type": 4,
            "flags": 8,
            "model_id": 16,
            "model_version": 8,
            "stage": 8,
            "tenant_id": 16,
            "sensitivity": 8,
            "hop_count": 8,
            "request_id": 32,
            "result_class": 8,
            "confidence": 8,
            "instance_id": 16,
            "ingress_ts": 48,
        }
        for name, bits in widths.items():
            _check(name, int(getattr(self, name)), bits)
        return _COMMON.pack(
            (self.version << 4) | int(self.msg_type),
            self.flags,
            self.model_id,
            self.model_version,
            self.stage,
            self.tenant_id,
            self.sensitivity,
            self.hop_count,
            self.request_id,
            self.result_class,
            self.confidence,
            self.instance_id,
            self.ingress_ts >> 32,
            self.ingress_ts & 0xFFFFFFFF,
        )

    @classmethod
    def unpack(cls, data: bytes) -> DinHeader:
        """Decode the first 24 bytes of `data`."""
        if len(data) < COMMON_LEN:
            raise DinFormatError(f"DIN header: {len(data)!r} bytes, expected at least {COMMON_LEN}")
        f = _COMMON.unpack_from(data)
        return cls(
            version=f[0] >> 4,
            msg_type=f[0] & 0x0F,
            flags=f[1],
            model_id=f[2],
            model_version=f[3],
            stage=f[4],
            tenant_id=f[5],
            sensitivity=f[6],
            hop_count=f[7],
            request_id=f[8],
            result_class=f[9],
            confidence=f[10],
            instance_id=f[11],
            ingress_ts=(f[12] << 32) | f[13],
        )


@dataclass(frozen=True, slots=True)
class DinAdvert:
    """The 16-byte node advertisement body (CATS metrics)."""

    instance_id: int
    layer_first: int = 0
    layer_last: int = 0
    queue_len: int = 0
    utilisation: int = 0
    req_rate: int = 0
    capacity: int = 0

    def pack(self) -> bytes:
        """The advertisement's 16 bytes."""
        widths = {
            "instance_id": 16,
            "layer_first": 8,
            "layer_last": 8,
            "queue_len": 16,
            "utilisation": 8,
            "req_rate": 32,
            "capacity": 32,
        }
        for name, bits in widths.items():
            _check(name, int(getattr(self, name)), bits)
        return _ADVERT.pack(
            self.instance_id,
            self.layer_first,
            self.layer_last,
            self.queue_len,
            self.utilisation,
            0,
            self.req_rate,
            self.capacity,
        )

    @classmethod
    def unpack(cls, data: bytes) -> DinAdvert:
        """Decode the first 16 bytes of `data`."""
        if len(data) < ADVERT_LEN:
            raise DinFormatError(
                f"DIN advertisement: {len(data)!r} bytes, expected at least {ADVERT_LEN}"
            )
        f = _ADVERT.unpack_from(data)
        return cls(
            instance_id=f[0],
            layer_first=f[1],
            layer_last=f[2],
            queue_len=f[3],
            utilisation=f[4],
            req_rate=f[6],
            capacity=f[7],
        )


def pack_vector(values: Sequence[int]) -> bytes:
    """The 16-byte value vector; shorter sequences are padded with zeros."""
    if len(values) > VECTOR_LEN:
        raise DinFormatError(f"DIN vector: {len(values)!r} values, expected at most {VECTOR_LEN}")
    for i, v in enumerate(values):
        _check(f"v{i}", int(v), 8)
    padded = [int(v) for v in values] + [0] * (VECTOR_LEN - len(values))
    return _VECTOR.pack(*padded)


def encode(header: DinHeader, body: Sequence[int] | DinAdvert) -> bytes:
    """A whole DIN message: common header, then the vector or the advertisement."""
    is_advert = header.msg_type == MsgType.ADVERTISE
    if is_advert != isinstance(body, DinAdvert):
        raise DinFormatError(
            f"DIN message type {header.msg_type!r} with body {type(body).__name__!r}: "
            "expected an advertisement body exactly for type 4"
        )
    tail = body.pack() if isinstance(body, DinAdvert) else pack_vector(body)
    return header.pack() + tail


@dataclass(frozen=True, slots=True)
class DinMessage:
    """A decoded DIN message: header, vector or advertisement, and trailing bytes."""

    header: DinHeader
    vector: tuple[int, ...] | None
    advert: DinAdvert | None
    rest: bytes = b""


def decode(data: bytes) -> DinMessage:
    """Decode a DIN message (the UDP payload)."""
    header = DinHeader.unpack(data)
    if header.version != DIN_VERSION:
        raise DinFormatError(f"DIN version {header.version!r}, expected {DIN_VERSION}")
    body = data[COMMON_LEN:]
    if header.msg_type == MsgType.ADVERTISE:
        return DinMessage(header, None, DinAdvert.unpack(body), body[ADVERT_LEN:])
    if header.msg_type in (MsgType.REQUEST, MsgType.RESPONSE, MsgType.ESCALATION):
        if len(body) < VECTOR_BYTES:
            raise DinFormatError(
                f"DIN vector: {len(body)!r} bytes, expected at least {VECTOR_BYTES}"
            )
        return DinMessage(header, _VECTOR.unpack_from(body), None, body[VECTOR_BYTES:])
    raise DinFormatError(f"DIN message type {header.msg_type!r}, expected 1..4")
