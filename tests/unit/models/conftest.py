"""Captures the tests write with struct (pcap, pcapng, several link types) and nDPI-like trees."""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

TCP, UDP, ICMP = 6, 17, 1
SYN, ACK, PSH, FIN = 0x02, 0x10, 0x08, 0x01


def csum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ip_int(text: str) -> int:
    return int.from_bytes(socket.inet_aton(text), "big")


@dataclass(frozen=True, slots=True)
class Pkt:
    """One IPv4 packet to write: time (us), addresses, L4, sizes and flags."""

    ts_us: int
    src: str
    dst: str
    proto: int = UDP
    sport: int = 0
    dport: int = 0
    payload: int = 0  # bytes of L4 payload
    flags: int = 0  # TCP flags
    options: bytes = b""  # IPv4 options (a multiple of 4 bytes)
    frag: int = 0  # IPv4 flags + fragment offset field
    checksum: int | None = None  # None: the right one

    def ip(self) -> bytes:
        body = bytes(self.payload)
        if self.proto == TCP:
            fields = (self.sport, self.dport, 1, 0, 0x50, self.flags, 512, 0, 0)
            l4 = struct.pack("!HHIIBBHHH", *fields) + body
        elif self.proto == UDP:
            l4 = struct.pack("!HHHH", self.sport, self.dport, 8 + len(body), 0) + body
        else:
            l4 = b"\x08\x00\x00\x00" + body
        ihl = 5 + len(self.options) // 4
        head = struct.pack(
            "!BBHHHBBH4s4s",
            0x40 | ihl,
            0,
            ihl * 4 + len(l4),
            1,
            self.frag,
            64,
            self.proto,
            0,
            socket.inet_aton(self.src),
            socket.inet_aton(self.dst),
        )
        head += self.options
        check = csum(head) if self.checksum is None else self.checksum
        return head[:10] + struct.pack("!H", check) + head[12:] + l4

    def length(self) -> int:
        return len(self.ip())


def ether(ip: bytes, vlans: Sequence[int] = (), ethertype: int = 0x0800) -> bytes:
    tags = b"".join(struct.pack("!HH", 0x8100, v) for v in vlans)
    frame = b"\x02\0\0\0\0\x01\x02\0\0\0\0\x02" + tags + struct.pack("!H", ethertype) + ip
    return frame + bytes(max(0, 60 - len(frame)))


def write_pcap(
    path: Path,
    records: Iterable[tuple[int, bytes]],
    *,
    linktype: int = 1,
    nano: bool = False,
    big: bool = False,
    snaplen: int = 65535,
) -> Path:
    """A classic pcap of (time in us, frame) records."""
    e = ">" if big else "<"
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    out = [struct.pack(e + "IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype)]
    for ts, frame in records:
        sec, us = divmod(ts, 1_000_000)
        kept = frame[:snaplen]
        out.append(struct.pack(e + "IIII", sec, us * 1000 if nano else us, len(kept), len(frame)))
        out.append(kept)
    path.write_bytes(b"".join(out))
    return path


def _block(btype: int, body: bytes, e: str) -> bytes:
    body += bytes(-len(body) % 4)
    n = len(body) + 12
    return struct.pack(e + "II", btype, n) + body + struct.pack(e + "I", n)


def write_pcapng(
    path: Path,
    records: Iterable[tuple[int, bytes]],
    *,
    linktype: int = 1,
    tsresol: int | None = None,
    big: bool = False,
    simple: int = 0,
) -> Path:
    """A pcapng file: one section, one interface, enhanced packet blocks (then ``simple`` SPBs)."""
    e = ">" if big else "<"
    units = 10 ** (9 if tsresol == 9 else 6)
    out = [_block(0x0A0D0D0A, struct.pack(e + "IHHq", 0x1A2B3C4D, 1, 0, -1), e)]
    opts = b""
    if tsresol is not None:
        opts = struct.pack(e + "HHB3x", 9, 1, tsresol) + struct.pack(e + "HH", 0, 0)
    out.append(_block(1, struct.pack(e + "HHI", linktype, 0, 0) + opts, e))
    for ts, frame in records:
        t = ts * units // 1_000_000
        body = struct.pack(e + "IIIII", 0, t >> 32, t & 0xFFFFFFFF, len(frame), len(frame))
        out.append(_block(6, body + frame, e))
    for _ in range(simple):
        out.append(_block(3, struct.pack(e + "I", 60) + bytes(60), e))
    path.write_bytes(b"".join(out))
    return path


def ndpi_line(
    n: int,
    l4: str,
    src: str,
    sport: int,
    dst: str,
    dport: int,
    proto: str,
    cat: str | None = "Web/5",
    both: bool = True,
) -> str:
    """A flow line as ndpiReader -v 2 writes it (printFlow)."""
    arrow = "<->" if both else "->"
    category = f"[cat: {cat}]" if cat else ""
    return (
        f"\t{n}\t{l4} {src}:{sport} {arrow} {dst}:{dport} [proto: {proto}][ClearText]"
        f"[Confidence: DPI]{category}[3 pkts/300 bytes {arrow} 2 pkts/200 bytes]"
        "[Goodput ratio: 50/50][< 1 sec][Plen Bins: 0,100]"
    )


def result_text(lines: Sequence[str]) -> str:
    """A result file around flow lines: the header and totals ndpiReader writes first."""
    return (
        "Guessed flow protos:\t0\n\nDPI Packets (TCP):\t3\t(1.00 pkts/flow)\n"
        "Confidence DPI              : 2 (flows)\n\nHTTP\t3\t300\t1\n\n"
        "JA3 Host Stats: \n\t\t IP Address                  \t # JA3C     \n"
        "\t1\t 192.168.5.16             \t 2      \n\n\n" + "\n".join(lines) + "\n"
    )


class Kit:
    """Builders for the tests (exposed by the ``kit`` fixture)."""

    Pkt = Pkt
    ether = staticmethod(ether)
    write_pcap = staticmethod(write_pcap)
    write_pcapng = staticmethod(write_pcapng)
    ndpi_line = staticmethod(ndpi_line)
    result_text = staticmethod(result_text)
    ip_int = staticmethod(ip_int)
    csum = staticmethod(csum)

    @staticmethod
    def frames(packets: Sequence[Pkt]) -> list[tuple[int, bytes]]:
        return [(p.ts_us, ether(p.ip())) for p in packets]


@pytest.fixture
def kit() -> type[Kit]:
    return Kit


# A small nDPI-like tree: what each flow is and the packets of its capture.
CHAT = ("10.0.0.1", 40000, "10.0.0.2", 443)  # TLS.WhatsApp: llm_chat, both directions
CAMERA = ("10.0.0.3", 50000, "10.0.0.4", 554)  # RTSP: video_upload, the bulk direction only
PLC = ("10.0.0.5", 40001, "10.0.0.6", 502)  # Modbus: industrial_control
SENSOR = ("10.0.0.7", 40002, "10.0.0.8", 1883)  # MQTT: iot_sensor
WEB = ("10.0.0.9", 40003, "10.0.0.10", 80)  # HTTP: background
LOOKUP = ("10.0.0.11", 40004, "10.0.0.12", 53)  # DNS.WhatsApp: background
DARK = ("10.0.0.13", 40005, "10.0.0.14", 9999)  # 0/Unknown: dropped
STRAY = ("10.0.0.15", 40006, "10.0.0.16", 7000)  # no nDPI line: dropped


def _conversation(
    ends: tuple[str, int, str, int], proto: int, start: int, n: int, up: int, down: int
) -> list[Pkt]:
    a, ap, b, bp = ends
    out = []
    for i in range(n):
        out.append(Pkt(start + 1000 * i, a, b, proto, ap, bp, up, PSH | ACK if proto == TCP else 0))
        out.append(
            Pkt(start + 1000 * i + 300, b, a, proto, bp, ap, down, ACK if proto == TCP else 0)
        )
    return out


def sample_packets() -> list[Pkt]:
    """Packets of the sample capture, in time order."""
    packets = [
        *_conversation(CHAT, TCP, 0, 4, 120, 300),
        *_conversation(CAMERA, UDP, 100_000, 5, 1400, 40),
        *_conversation(PLC, TCP, 200_000, 3, 12, 12),
        *_conversation(SENSOR, TCP, 300_000, 3, 30, 4),
        *_conversation(WEB, TCP, 400_000, 3, 200, 1400),
        *_conversation(LOOKUP, UDP, 500_000, 1, 40, 90),
        *_conversation(DARK, UDP, 600_000, 2, 10, 10),
        *_conversation(STRAY, UDP, 700_000, 2, 10, 10),
    ]
    return sorted(packets, key=lambda p: p.ts_us)


def sample_result() -> str:
    lines = [
        ndpi_line(1, "TCP", *CHAT, proto="91.142/TLS.WhatsApp", cat="Chat/9"),
        # The server side first: nDPI's flows match in either direction.
        ndpi_line(2, "UDP", CAMERA[2], CAMERA[3], CAMERA[0], CAMERA[1], "140/RTSP", "Media/1"),
        ndpi_line(3, "TCP", *PLC, proto="180/Modbus", cat="IoT-Scada/31"),
        ndpi_line(4, "TCP", *SENSOR, proto="222/MQTT", cat="RPC/16"),
        ndpi_line(5, "TCP", *WEB, proto="7/HTTP", cat="Web/5"),
        ndpi_line(6, "UDP", *LOOKUP, proto="5.142/DNS.WhatsApp", cat="Chat/9"),
        "",
        "Undetected flows:",
        ndpi_line(1, "UDP", *DARK, proto="0/Unknown", cat=None),
    ]
    return result_text(lines)


@pytest.fixture
def ndpi_tree(tmp_path: Path) -> Path:
    """A tree laid out like nDPI's source: tests/pcap/sample.pcap and its result file."""
    root = tmp_path / "nDPI-test"
    (root / "tests" / "pcap").mkdir(parents=True)
    (root / "tests" / "result").mkdir()
    write_pcap(root / "tests" / "pcap" / "sample.pcap", Kit.frames(sample_packets()))
    (root / "tests" / "result" / "sample.pcap.out").write_text(sample_result())
    # A capture with no result file and a result with no capture are both ignored.
    write_pcap(root / "tests" / "pcap" / "unlabelled.pcap", Kit.frames(sample_packets()[:4]))
    (root / "tests" / "result" / "gone.pcap.out").write_text(sample_result())
    return root


# Per workload class: the nDPI protocol and category lines give it, and whether
# the .out line shows one direction only.
SYNTHETIC_NDPI = {
    "llm_chat": ("91.142/TLS.WhatsApp", "Chat/9"),
    "video_upload": ("87/RTP", "Media/1"),
    "iot_sensor": ("222/MQTT", "RPC/16"),
    "industrial_control": ("180/Modbus", "IoT-Scada/31"),
    "background": ("7/HTTP", "Web/5"),
}


def write_synthetic_tree(root: Path, flows_per_class: int, seed: int = 0) -> list[FlowSpec]:
    """An nDPI-like tree of one capture holding seeded synthetic flows, each labelled."""
    from controller.models.synthetic import synthetic_flows  # noqa: PLC0415

    flows = synthetic_flows(flows_per_class, seed)
    (root / "tests" / "pcap").mkdir(parents=True)
    (root / "tests" / "result").mkdir()
    packets: list[Pkt] = []
    lines: list[str] = []
    specs: list[FlowSpec] = []
    rows = zip(flows.flows, flows.ports, flows.labels, strict=True)
    for i, (flow, port, label) in enumerate(rows):
        tcp = any(f for _, _, f in flow)
        client = f"10.{1 + i // 250}.{i % 250}.1"
        server = f"10.200.{i % 250}.{1 + i // 250}"
        cport = 50000 + i  # ephemeral: above every server port, as service_port assumes
        header = 40 if tcp else 28
        for ts, length, flags in flow:
            packets.append(
                Pkt(ts, client, server, TCP if tcp else UDP, cport, port, length - header, flags)
            )
        workload = flows.classes[int(label)]
        proto, cat = SYNTHETIC_NDPI[workload]
        l4 = "TCP" if tcp else "UDP"
        lines.append(ndpi_line(i + 1, l4, client, cport, server, port, proto, cat, both=False))
        specs.append(FlowSpec(client, workload, flow, port))
    packets.sort(key=lambda p: p.ts_us)
    write_pcap(root / "tests" / "pcap" / "synthetic.pcap", Kit.frames(packets))
    (root / "tests" / "result" / "synthetic.pcap.out").write_text(result_text(lines))
    return specs


@dataclass(frozen=True, slots=True)
class FlowSpec:
    """A generated flow: its client address, class, packets (ts, length, flags) and port."""

    client: str
    workload: str
    packets: tuple[tuple[int, int, int], ...]
    port: int


@pytest.fixture
def synthetic_tree(tmp_path: Path) -> tuple[Path, list[FlowSpec]]:
    """A tree of 30 synthetic flows per class and what was written."""
    root = tmp_path / "nDPI-synthetic"
    return root, write_synthetic_tree(root, 30, seed=4)
