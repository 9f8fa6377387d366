"""The CPU port's header codec for PacketIn and PacketOut.

The program declares its `@controller_header("packet_in")` and
`@controller_header("packet_out")` headers; P4Info lists their fields (id,
name, bitwidth) in header order. A PacketOut becomes the packet_out header
followed by the payload, injected on the CPU port; a frame the pipeline
sends to the CPU port starts with the packet_in header, which becomes
PacketIn metadata. Imports only the standard library and `ports.base`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from p4lite.switch.ports.base import PortError

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class HeaderField:
    """One controller-header field: its P4Info id, name and width in bits."""

    id: int
    name: str
    bitwidth: int


@dataclass(frozen=True, slots=True)
class ControllerHeader:
    """A controller header: its fields in order; empty if the program has none."""

    fields: tuple[HeaderField, ...] = ()

    @property
    def bitwidth(self) -> int:
        """Total width in bits."""
        return sum(f.bitwidth for f in self.fields)

    @property
    def size(self) -> int:
        """Total width in bytes (rounded up)."""
        return (self.bitwidth + 7) // 8

    def encode(self, values: Mapping[int, int]) -> bytes:
        """Header bytes for field values by id; missing fields are 0."""
        known = {f.id for f in self.fields}
        for field_id in values:
            if field_id not in known:
                raise PortError(
                    f"controller header: unknown metadata id {field_id!r}, "
                    f"expected one of {sorted(known)!r}"
                )
        acc = 0
        for f in self.fields:
            value = values.get(f.id, 0)
            if not 0 <= value < (1 << f.bitwidth):
                raise PortError(
                    f"controller header field {f.name!r}: value {value!r} "
                    f"does not fit in {f.bitwidth} bits"
                )
            acc = (acc << f.bitwidth) | value
        # Headers always are whole bytes in BMv2; pad at the end if not.
        pad = self.size * 8 - self.bitwidth
        return (acc << pad).to_bytes(self.size, "big") if self.fields else b""

    def decode(self, frame: bytes) -> tuple[dict[int, int], bytes]:
        """Field values by id and the rest of the frame."""
        if not self.fields:
            return {}, frame
        if len(frame) < self.size:
            raise PortError(
                f"controller header: frame of {len(frame)!r} bytes is shorter "
                f"than the {self.size}-byte header"
            )
        acc = int.from_bytes(frame[: self.size], "big") >> (self.size * 8 - self.bitwidth)
        values: dict[int, int] = {}
        shift = self.bitwidth
        for f in self.fields:
            shift -= f.bitwidth
            values[f.id] = (acc >> shift) & ((1 << f.bitwidth) - 1)
        return values, frame[self.size :]


def controller_header(fields: Sequence[tuple[int, str, int]]) -> ControllerHeader:
    """A ControllerHeader from (id, name, bitwidth) tuples in header order."""
    return ControllerHeader(tuple(HeaderField(i, n, w) for i, n, w in fields))
