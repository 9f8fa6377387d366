"""scapy layers for the DIN header, its value vector and the node advertisement.

For building and dissecting packets in tests and tools; per-packet fast paths
use traffic.wire and traffic.frames instead. Imports scapy and traffic.wire.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from scapy.fields import (
    BitEnumField,
    BitField,
    ByteField,
    IntField,
    ShortField,
    XByteField,
)
from scapy.layers.inet import UDP
from scapy.packet import Packet, Raw, bind_bottom_up, bind_layers

from traffic.wire import DIN_UDP_PORT, DIN_VERSION, VECTOR_LEN, MsgType

logger = logging.getLogger(__name__)

MSG_TYPES = {int(t): t.name.lower() for t in MsgType}


class DIN(Packet):
    """The 24-byte DIN common header."""

    name = "DIN"
    fields_desc = [
        BitField("version", DIN_VERSION, 4),
        BitEnumField("msg_type", int(MsgType.REQUEST), 4, MSG_TYPES),
        XByteField("flags", 0),
        ShortField("model_id", 0),
        ByteField("model_version", 0),
        ByteField("stage", 0),
        ShortField("tenant_id", 0),
        ByteField("sensitivity", 0),
        ByteField("hop_count", 0),
        IntField("request_id", 0),
        ByteField("result_class", 0),
        ByteField("confidence", 0),
        ShortField("instance_id", 0),
        BitField("ingress_ts", 0, 48),
    ]

    def guess_payload_class(self, payload: bytes) -> Any:
        """The vector for requests, responses and escalations; the advertisement for type 4."""
        if self.version == DIN_VERSION:
            if self.msg_type in (MsgType.REQUEST, MsgType.RESPONSE, MsgType.ESCALATION):
                return DINVector
            if self.msg_type == MsgType.ADVERTISE:
                return DINAdvert
        return Raw

    def mysummary(self) -> str:
        """One line for scapy's summary()."""
        return str(
            self.sprintf(
                "DIN %msg_type% model=%model_id%/%model_version% stage=%stage% req=%request_id%"
            )
        )


class DINVector(Packet):
    """The 16 unsigned 8-bit values of a request, response or escalation."""

    name = "DIN vector"
    fields_desc = [ByteField(f"v{i}", 0) for i in range(VECTOR_LEN)]

    @property
    def values(self) -> tuple[int, ...]:
        """The 16 values in order."""
        return tuple(int(getattr(self, f"v{i}")) for i in range(VECTOR_LEN))

    def guess_payload_class(self, payload: bytes) -> Any:
        """Whatever follows the vector is opaque."""
        return Raw


class DINAdvert(Packet):
    """The 16-byte node advertisement body (CATS metrics)."""

    name = "DIN advertisement"
    fields_desc = [
        ShortField("instance_id", 0),
        ByteField("layer_first", 0),
        ByteField("layer_last", 0),
        ShortField("queue_len", 0),
        ByteField("utilisation", 0),
        ByteField("pad", 0),
        IntField("req_rate", 0),
        IntField("capacity", 0),
    ]

    def guess_payload_class(self, payload: bytes) -> Any:
        """Whatever follows the advertisement is opaque."""
        return Raw


def vector(values: Sequence[int]) -> DINVector:
    """A DINVector holding `values` (padded with zeros to 16)."""
    if len(values) > VECTOR_LEN:
        raise ValueError(f"DIN vector: {len(values)!r} values, expected at most {VECTOR_LEN}")
    pkt = DINVector()
    for i, v in enumerate(values):
        setattr(pkt, f"v{i}", int(v))
    return pkt


# Requests go to the DIN port (also the default when building UDP()/DIN());
# answers come from it, so dissection also looks at the source port.
bind_layers(UDP, DIN, dport=DIN_UDP_PORT)
bind_bottom_up(UDP, DIN, sport=DIN_UDP_PORT)
