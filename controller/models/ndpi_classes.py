"""nDPI applications and categories -> the DIN workload classes, and why.

The table ``RULES`` is the mapping; ``workload_of`` applies it to a flow of an
nDPI result file, in this order:

1. undetected flows (``0/Unknown``) have no label: dropped;
2. flows nDPI found inside a tunnel (GTP, CAPWAP, TZSP): dropped, since a
   switch sees the tunnel's outer flow, not the line's inner one;
3. name lookups (master ``DNS``, ``MDNS``, ``LLMNR``, ``NetBIOS``) are
   ``background`` whatever application's name they look up
   (``DNS.WhatsApp`` is DNS, not chat);
4. the first rule naming the flow's application or master protocol;
5. the first rule naming the flow's category;
6. every other detected flow is ``background``.

nDPI 4.2 knows no LLM service (its captures predate them): ``llm_chat``
takes the messaging applications, whose short requests answered by short
messages at human pace are the nearest real traffic. ``video_upload`` takes
video streams and keeps only the direction that carries the video (more
bytes): the other direction of those conversations holds acknowledgements
and control, not video, and is dropped. Imports the standard library only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from controller.models.ndpi import UNKNOWN, NdpiFlow

log = logging.getLogger(__name__)

BOTH = "both"
BULK = "bulk"  # only the direction carrying more bytes keeps the label
DIRECTIONS = (BOTH, BULK)
BACKGROUND = "background"
LOOKUP_MASTERS = ("DNS", "MDNS", "LLMNR", "NetBIOS")


@dataclass(frozen=True, slots=True)
class ClassRule:
    """nDPI protocols and categories of one workload class, which directions, and why."""

    workload: str
    protocols: tuple[str, ...]  # nDPI protocol names (application or master)
    categories: tuple[str, ...]  # nDPI category names
    direction: str
    why: str


RULES: tuple[ClassRule, ...] = (
    ClassRule(
        "industrial_control",
        ("Modbus", "DNP3", "IEC60870", "s7comm", "EthernetIP", "BACnet", "OPC-UA", "Profinet_IO"),
        ("IoT-Scada",),
        BOTH,
        "cyclic polls and answers between SCADA masters, PLCs and field devices",
    ),
    ClassRule(
        "iot_sensor",
        ("MQTT", "COAP", "AMQP", "NestLogSink"),
        (),
        BOTH,
        "devices publishing small readings (MQTT, CoAP, AMQP) and Nest devices' telemetry",
    ),
    ClassRule(
        "video_upload",
        (
            "RTP",
            "RTSP",
            "RTMP",
            "MPEG_TS",
            "YouTubeUpload",
            "YouTube",
            "NetFlix",
            "Zattoo",
            "Twitch",
            "Zoom",
            "IceCast",
        ),
        ("Video",),
        BULK,
        "camera and video streams (RTP, RTSP, RTMP, MPEG-TS, YouTube uploads, video "
        "services and video calls): the video-carrying direction",
    ),
    ClassRule(
        "llm_chat",
        (
            "WhatsApp",
            "Telegram",
            "Signal",
            "WeChat",
            "QQ",
            "KakaoTalk",
            "Viber",
            "Messenger",
            "IRC",
            "Slack",
        ),
        ("Chat",),
        BOTH,
        "interactive messaging: a short request, short answers at human pace (nDPI 4.2 "
        "names no LLM service)",
    ),
)


@dataclass(frozen=True, slots=True)
class Labelled:
    """A flow's workload class (None: dropped), its direction rule and the reason."""

    workload: str | None
    direction: str
    reason: str


def workload_of(flow: NdpiFlow) -> Labelled:
    """The workload class of an nDPI flow (see the module docstring for the order)."""
    if flow.app == UNKNOWN and flow.master == UNKNOWN:
        return Labelled(None, BOTH, "undetected")
    if flow.tunnel:
        return Labelled(None, BOTH, "tunnelled")
    if flow.master in LOOKUP_MASTERS:
        return Labelled(BACKGROUND, BOTH, "name lookup")
    for rule in RULES:
        if flow.app in rule.protocols or flow.master in rule.protocols:
            return Labelled(rule.workload, rule.direction, "protocol")
    for rule in RULES:
        if flow.category in rule.categories:
            return Labelled(rule.workload, rule.direction, "category")
    return Labelled(BACKGROUND, BOTH, "other")


def mapping_table() -> list[dict[str, object]]:
    """The rules as plain data (for a data set's manifest and for documentation)."""
    rows: list[dict[str, object]] = [
        {
            "workload": r.workload,
            "protocols": list(r.protocols),
            "categories": list(r.categories),
            "direction": r.direction,
            "why": r.why,
        }
        for r in RULES
    ]
    rows.append(
        {
            "workload": BACKGROUND,
            "protocols": [f"{m}.*" for m in LOOKUP_MASTERS],
            "categories": ["every other detected flow"],
            "direction": BOTH,
            "why": "ordinary traffic; name lookups whatever name they look up",
        }
    )
    rows.append(
        {
            "workload": None,
            "protocols": ["Unknown", "<tunnel>:*"],
            "categories": [],
            "direction": BOTH,
            "why": "dropped: undetected flows, and tunnels' inner flows a switch does not see",
        }
    )
    return rows
