"""nDPI result files (lines as ndpiReader -v 2 writes them) and the nDPI -> workload mapping."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from controller.models import ModelError
from controller.models.ndpi import NdpiFlow, parse_flow_line, parse_result, read_result
from controller.models.ndpi_classes import (
    BACKGROUND,
    BOTH,
    BULK,
    RULES,
    mapping_table,
    workload_of,
)
from controller.models.synthetic import FLOW_CLASSES

if TYPE_CHECKING:
    from tests.unit.models.conftest import Kit

# Lines copied in form from nDPI 4.2's tests/result files.
TLS = (
    "\t17\tTCP 192.168.5.16:53580 <-> 31.13.87.36:443 [proto: 91.119/TLS.Facebook][Encrypted]"
    "[Confidence: Match by IP][cat: SocialNetwork/6][4 pkts/2050 bytes <-> 5 pkts/2297 bytes]"
    "[Goodput ratio: 87/86][0.18 sec][bytes ratio: -0.057 (Mixed)]"
    "[Plen Bins: 0,0,20,0,0,0,0,0,0,0,0,0,0,0,0,20]"
)
SSDP_V6 = (
    "\t12\tUDP [fe80::9bd:81dd:2fdc:5750]:1900 -> [ff02::c]:1900 [proto: 12/SSDP][ClearText]"
    "[Confidence: DPI][cat: System/18][16 pkts/8921 bytes -> 0 pkts/0 bytes]"
)
ICMP = (
    "\t36\tICMP 10.24.82.188:0 -> 10.188.191.1:0 [proto: 81/ICMP][ClearText][Confidence: DPI]"
    "[cat: Network/14][1 pkts/147 bytes -> 0 pkts/0 bytes]"
)
UNKNOWN = (
    "\t1\t80 93.88.129.0:0 -> 0.7.8.0:0 [proto: 0/Unknown][ClearText][Confidence: Unknown]"
    "[4 pkts/2012 bytes -> 0 pkts/0 bytes]"
)
GTP = (
    "\t3\tTCP 10.0.0.1:1000 <-> 10.0.0.2:443 [VLAN: 12][proto: GTP:91.275/TLS.Crashlytics]"
    "[Encrypted][Confidence: DPI][cat: DataTransfer/4][1 pkts/90 bytes <-> 1 pkts/90 bytes]"
)
DOTTED = (
    "\t2\tTCP 10.0.0.3:210 <-> 10.0.0.4:40000 [proto: 209/Z39.50][ClearText]"
    "[Confidence: DPI][cat: Network/14][1 pkts/90 bytes <-> 1 pkts/90 bytes]"
)


def test_flow_lines() -> None:
    tls = parse_flow_line(TLS)
    assert tls == NdpiFlow(
        protocol=6,
        src="192.168.5.16",
        sport=53580,
        dst="31.13.87.36",
        dport=443,
        bidirectional=True,
        master="TLS",
        app="Facebook",
        category="SocialNetwork",
        tunnel="",
        vlan=0,
    )
    assert tls is not None and tls.ipv4 and tls.label == "TLS.Facebook"
    v6 = parse_flow_line(SSDP_V6)
    assert v6 is not None and not v6.ipv4 and v6.dst == "ff02::c" and not v6.bidirectional
    assert (v6.master, v6.app, v6.label) == ("SSDP", "SSDP", "SSDP")
    icmp = parse_flow_line(ICMP)
    assert icmp is not None and (icmp.protocol, icmp.sport, icmp.dport) == (1, 0, 0)
    unknown = parse_flow_line(UNKNOWN)
    assert unknown is not None
    assert (unknown.protocol, unknown.app, unknown.category) == (80, "Unknown", "")
    gtp = parse_flow_line(GTP)
    assert gtp is not None and (gtp.tunnel, gtp.vlan, gtp.app) == ("GTP", 12, "Crashlytics")
    dotted = parse_flow_line(DOTTED)
    assert dotted is not None and dotted.master == dotted.app == "Z39.50"


def test_conversations_match_in_either_direction() -> None:
    tls = parse_flow_line(TLS)
    assert tls is not None
    back = NdpiFlow(6, tls.dst, tls.dport, tls.src, tls.sport, True, "TLS", "TLS", "", "", 0)
    assert back.conversation == tls.conversation
    assert (6, frozenset({("192.168.5.16", 53580), ("31.13.87.36", 443)})) == tls.conversation


def test_other_lines_are_not_flows(kit: type[Kit], tmp_path: Path) -> None:
    text = kit.result_text([TLS, "", "Undetected flows:", UNKNOWN])
    flows = parse_result(text.splitlines(), "x.out")
    assert [f.app for f in flows] == ["Facebook", "Unknown"]
    path = tmp_path / "x.out"
    path.write_bytes(text.encode() + b"\t9\tTCP garbage \xff\xfe\n")
    assert len(read_result(str(path))) == 2
    with pytest.raises(ModelError, match=r"nDPI result .*missing\.out.*cannot read"):
        read_result(str(tmp_path / "missing.out"))


def test_bad_values_are_named() -> None:
    with pytest.raises(ModelError, match=r"a\.out:3: L4 protocol '300': expected a name or 0"):
        parse_flow_line(UNKNOWN.replace("\t80 ", "\t300 "), "a.out:3")
    with pytest.raises(ModelError, match=r"ports 70000, 443: expected 0\.\.65535"):
        parse_flow_line(TLS.replace(":53580", ":70000"))
    # A fuzzed capture's address is kept as text, and is no IPv4 flow.
    odd = parse_flow_line(SSDP_V6.replace("[ff02::c]", "[302e::3d00::8001]"))
    assert odd is not None and odd.dst == "302e::3d00::8001" and not odd.ipv4


def _flow(names: str, category: str = "", tunnel: str = "") -> NdpiFlow:
    master, _, app = names.partition(".")
    ends = ("10.0.0.1", 1, "10.0.0.2", 2)
    return NdpiFlow(6, *ends, True, master, app or master, category, tunnel, 0)


@pytest.mark.parametrize(
    ("names", "category", "workload", "direction"),
    [
        ("Modbus", "IoT-Scada", "industrial_control", BOTH),
        ("s7comm", "Network", "industrial_control", BOTH),
        ("NewScada", "IoT-Scada", "industrial_control", BOTH),  # by category
        ("MQTT", "RPC", "iot_sensor", BOTH),
        ("RTP", "Media", "video_upload", BULK),
        ("QUIC.YouTubeUpload", "Media", "video_upload", BULK),
        ("TLS.NetFlix", "Video", "video_upload", BULK),
        ("TLS.WhatsApp", "Chat", "llm_chat", BOTH),
        ("HTTP.QQ", "Chat", "llm_chat", BOTH),
        ("DNS.WhatsApp", "Chat", BACKGROUND, BOTH),  # a lookup is not chat
        ("STUN.WhatsAppCall", "VoIP", BACKGROUND, BOTH),  # a call is not chat
        ("HTTP", "Streaming", BACKGROUND, BOTH),
        ("TLS.Facebook", "SocialNetwork", BACKGROUND, BOTH),
        ("Unknown", "", None, BOTH),
    ],
)
def test_mapping(names: str, category: str, workload: str | None, direction: str) -> None:
    verdict = workload_of(_flow(names, category))
    assert (verdict.workload, verdict.direction) == (workload, direction)


def test_tunnels_are_dropped_and_rules_name_known_classes() -> None:
    assert workload_of(_flow("TLS", "Web", tunnel="GTP")).workload is None
    assert {r.workload for r in RULES} | {BACKGROUND} == set(FLOW_CLASSES)
    table = mapping_table()
    assert [row["workload"] for row in table] == [*(r.workload for r in RULES), BACKGROUND, None]
    assert all(isinstance(row["why"], str) and row["why"] for row in table)
