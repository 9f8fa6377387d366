"""Per-flow features as the data plane computes them, from a flow's packet list.

The integer semantics follow ``MyIngress.classifier`` in p4src (see
p4src/README.md, "Flow features") and live in ``flow_features`` alone, so that
a change on either side changes one function. Imports the standard library only.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from controller.models.errors import ModelError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    """One flow feature: its name (as in the P4 tables) and its width in bits."""

    name: str
    bits: int

    @property
    def max_value(self) -> int:
        """Largest value the feature holds (features saturate there)."""
        return (1 << self.bits) - 1


# Order and names of the data plane's features (meta.feat.*, tables quant_<name>).
FLOW_FEATURES: tuple[FeatureSpec, ...] = (
    FeatureSpec("pkt_len", 16),
    FeatureSpec("service_port", 16),
    FeatureSpec("iat", 32),
    FeatureSpec("pkts", 32),
    FeatureSpec("bytes", 32),
    FeatureSpec("duration", 32),
    FeatureSpec("iat_min", 32),
    FeatureSpec("iat_max", 32),
    FeatureSpec("iat_ewma", 32),
    FeatureSpec("size_min", 16),
    FeatureSpec("size_max", 16),
    FeatureSpec("tcp_flags", 8),
)
FEATURE_NAMES = tuple(f.name for f in FLOW_FEATURES)
EWMA_SHIFT = 3  # IAT_EWMA_SHIFT in p4src/include/headers.p4
FLOW_IDLE_US = 10_000_000  # a longer gap starts a new flow (FLOW_IDLE_US)
U32_MAX = 0xFFFFFFFF

# (timestamp_us, length, tcp_flags): length is the IPv4 total_len, flags 0 for UDP.
Packet = tuple[int, int, int]


def flow_features(packets: Sequence[Packet], service_port: int = 0) -> tuple[int, ...]:
    """Features (``FEATURE_NAMES`` order) a switch computes at the last of ``packets``.

    ``service_port`` is min(source port, destination port), 0 for other protocols.
    Per packet, as the data plane does:
    - a flow starts at the first packet and again after a gap > ``FLOW_IDLE_US``:
      iat = iat_min = iat_max = iat_ewma = duration = 0, pkts 1, bytes = size
      min = size max = length, tcp_flags = the packet's;
    - otherwise iat = gap; pkts, bytes add (saturating at 2^32-1); duration =
      now - first (saturating); the second packet sets iat_min, iat_max and
      iat_ewma to its iat; later ones take min, max and
      ``ewma - (ewma >> 3) + (iat >> 3)`` (all unsigned, 32 bits); sizes take
      min and max; tcp_flags ORs;
    - pkt_len is the last packet's length.
    Timestamps must not decrease; lengths, flags and the port must fit their widths.
    """
    if not packets:
        raise ModelError("flow features: expected at least one packet, got an empty flow")
    if not 0 <= service_port <= 0xFFFF:
        raise ModelError(f"flow features: service port {service_port!r}: expected 0..65535")
    prev_ts = first_ts = 0
    pkts = total = iat = iat_min = iat_max = ewma = 0
    size_min = size_max = flags = 0
    for index, (ts, length, tcp_flags) in enumerate(packets):
        if ts < (prev_ts if index else 0):
            raise ModelError(
                f"flow features: packet {index} timestamp {ts!r}: expected a value >= "
                f"{prev_ts if index else 0} (timestamps must not decrease)"
            )
        if not 0 <= length <= 0xFFFF:
            raise ModelError(f"flow features: packet {index} length {length!r}: expected 0..65535")
        if not 0 <= tcp_flags <= 0xFF:
            raise ModelError(
                f"flow features: packet {index} tcp_flags {tcp_flags!r}: expected 0..255"
            )
        if index == 0 or ts - prev_ts > FLOW_IDLE_US:
            first_ts = ts
            pkts, total, iat, iat_min, iat_max, ewma = 1, length, 0, 0, 0, 0
            size_min = size_max = length
            flags = tcp_flags
        else:
            iat = ts - prev_ts  # at most FLOW_IDLE_US here, so it fits 32 bits
            if pkts == 1:
                iat_min = iat_max = ewma = iat
            else:
                iat_min = min(iat_min, iat)
                iat_max = max(iat_max, iat)
                ewma = (ewma - (ewma >> EWMA_SHIFT) + (iat >> EWMA_SHIFT)) & U32_MAX
            pkts = min(pkts + 1, U32_MAX)
            total = min(total + length, U32_MAX)
            size_min = min(size_min, length)
            size_max = max(size_max, length)
            flags |= tcp_flags
        prev_ts = ts
    duration = min(prev_ts - first_ts, U32_MAX)
    return (
        packets[-1][1],
        service_port,
        iat,
        pkts,
        total,
        duration,
        iat_min,
        iat_max,
        ewma,
        size_min,
        size_max,
        flags,
    )
