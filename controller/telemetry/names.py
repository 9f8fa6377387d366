"""The din.p4 counters telemetry reads, and the meaning of their cells.

Mirrors p4src/README.md "Counters, registers, digests" (``din_events`` and
``drops`` indices, in that order). Imports the standard library only.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

EVENTS = "MyIngress.din_events"
DROPS = "MyIngress.drops"
CLASS_PACKETS = "MyIngress.class_packets"
INSTANCE_REQUESTS = "MyIngress.instance_requests"
POLICY_DROPS = "MyIngress.policy_drops"
COUNTERS = (EVENTS, DROPS, CLASS_PACKETS, INSTANCE_REQUESTS, POLICY_DROPS)

EVENT_NAMES = (
    "request",
    "layer",
    "early_exit",
    "escalation",
    "recirculation",
    "failover",
    "policy_resteer",
    "policy_drop",
    "advertisement",
    "flow_collision",
    "new_flow",
    "response",
    "steered",
    "exit_head_pass",
    "no_layer",
)
DROP_NAMES = (
    "parser_error",
    "bad_din",
    "ttl",
    "policy",
    "no_route",
    "too_many_passes",
    "ipv4_checksum",
    "not_ipv4",
)


def event_name(index: int) -> str:
    """The name of a ``din_events`` cell ('event_<i>' for a cell the README does not name)."""
    return EVENT_NAMES[index] if 0 <= index < len(EVENT_NAMES) else f"event_{index}"


def drop_name(index: int) -> str:
    """The name of a ``drops`` cell ('drop_<i>' for a cell the README does not name)."""
    return DROP_NAMES[index] if 0 <= index < len(DROP_NAMES) else f"drop_{index}"
