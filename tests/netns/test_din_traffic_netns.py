"""din.p4 in a switch process between two network namespaces: one flow of every
workload class, sent by ``python -m traffic.send`` and received by ``python -m
traffic.recv``, crosses the switch; the flow classifier installed over P4Runtime
reports every flow in a digest whose class is the one the installed entries give
(``controller.entries.simulator``) for the flow's first packet, and the per-class
counters add up to the frames sent.

Needs root. Every namespace, veth and process the test makes is removed (by name
or PID) in ``finally``.
"""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from controller.entries.classifier import forest_entries, phase_entries
from controller.entries.simulator import TableSim, classify
from controller.entries.steering import Route, route_entries
from controller.install import install
from controller.models.synthetic import flow_dataset
from controller.models.trees import train_flow_classifier
from controller.p4rt.client import DigestList, SwitchConnection
from controller.p4rt.entities import CounterEntry, DigestEntry
from controller.p4rt.p4info import P4InfoIndex
from p4lite import toolchain
from traffic.frames import Endpoints
from traffic.pcap import read_pcap
from traffic.workloads import WORKLOADS, build_frames, generate

pytestmark = [pytest.mark.netns, pytest.mark.root]

ROOT = Path(__file__).resolve().parents[2]
SWITCH_MAC = "00:00:0a:00:00:fe"
H1 = ("10.0.1.1", "00:00:0a:00:01:01")
H2 = ("10.0.2.2", "00:00:0a:00:02:02")
# Durations that give each class a few to a few hundred frames (see traffic.workloads).
DURATIONS = {
    "llm_chat": 1.0,
    "video_upload": 0.3,
    "iot_sensor": 0.3,
    "industrial_control": 0.3,
    "web": 3.0,
    "bulk": 0.05,
}
CLS_MODEL = 1
SEED = 0


def _run(*argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, check=True, capture_output=True, text=True, timeout=timeout, env=_env()
    )


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "switch exited early"
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.02)
    raise TimeoutError(f"gRPC port {port} never accepted")


def _first_packet_features(frame: bytes) -> list[int]:
    """The 12 features din.p4 computes at a flow's first packet (no timing involved)."""
    total_len = struct.unpack_from("!H", frame, 16)[0]
    proto = frame[23]
    sport, dport = struct.unpack_from("!HH", frame, 34)
    flags = frame[47] if proto == 6 else 0
    # pkt_len service_port iat pkts bytes duration iat_min iat_max iat_ewma
    # size_min size_max tcp_flags
    return [total_len, min(sport, dport), 0, 1, total_len, 0, 0, 0, 0, total_len, total_len, flags]


def test_every_workload_class_crosses_the_switch_and_is_classified(tmp_path: Path) -> None:
    tag = f"{os.getpid() % 100000}"
    ns1, ns2 = f"dint{tag}a", f"dint{tag}b"
    sw1, sw2 = f"dint{tag}s1", f"dint{tag}s2"
    compiled = toolchain.compile_program(ROOT / "p4src" / "din.p4", tmp_path / "build")
    # A model of flows seen at their first packet: the classes it gives first packets
    # differ from flow to flow, so the digests below check more than one class.
    split = flow_dataset(60, seed=3, packet_limit=1)
    model = train_flow_classifier(split, seed=3, trees=3, max_depth=5)
    entries = [*forest_entries(model, CLS_MODEL), *phase_entries(CLS_MODEL, 1, None)]
    sim = TableSim(entries)

    flows: dict[str, tuple[Endpoints, list[bytes]]] = {}
    for n, name in enumerate(sorted(DURATIONS)):
        ep = Endpoints(H1[1], SWITCH_MAC, H1[0], H2[0], 41000 + n, WORKLOADS[name].server_port)
        frames = build_frames(name, generate(name, DURATIONS[name], SEED), ep)
        assert frames, f"{name}: no frames in {DURATIONS[name]} s"
        flows[name] = (ep, frames)

    made_ns: list[str] = []
    made_links: list[str] = []
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for ns in (ns1, ns2):
            _run("ip", "netns", "add", ns)
            made_ns.append(ns)
        for ns, sw, (addr, mac) in ((ns1, sw1, H1), (ns2, sw2, H2)):
            _run("ip", "link", "add", sw, "type", "veth", "peer", "name", "eth0", "netns", ns)
            made_links.append(sw)
            _run("sysctl", "-qw", f"net.ipv6.conf.{sw}.disable_ipv6=1")
            _run("ip", "link", "set", sw, "up")
            _run("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
            _run("ip", "-n", ns, "link", "set", "eth0", "address", mac)
            _run("ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", "eth0")
            _run("ip", "-n", ns, "link", "set", "eth0", "up")

        grpc_port = _free_port()
        switch = subprocess.Popen(
            [
                *toolchain.switch().argv,
                "--no-p4",
                "-i", f"1@{sw1}",
                "-i", f"2@{sw2}",
                "--",
                "--grpc-server-addr", f"127.0.0.1:{grpc_port}",
                "--cpu-port", "255",
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )  # fmt: skip
        procs.append(switch)
        _wait_listening(grpc_port, switch)

        index = P4InfoIndex.load(compiled.p4info)
        digests: list[DigestList] = []
        got_digest = threading.Condition()
        with SwitchConnection(f"127.0.0.1:{grpc_port}", name="s1", index=index) as conn:

            def on_digest(d: DigestList) -> None:
                conn.ack_digest(d)
                with got_digest:
                    digests.append(d)
                    got_digest.notify_all()

            conn.add_digest_listener(on_digest)
            conn.connect(timeout=10)
            conn.set_pipeline(index, compiled.json.read_bytes())
            routes = [
                Route(f"{H1[0]}/32", H1[1], SWITCH_MAC, 1),
                Route(f"{H2[0]}/32", H2[1], SWITCH_MAC, 2),
            ]
            install(conn, [*route_entries(routes), *entries])
            conn.insert([DigestEntry("flow_class_digest_t")])

            pcap = tmp_path / "received.pcap"
            total = sum(len(frames) for _, frames in flows.values())
            receiver = subprocess.Popen(
                [
                    "ip", "netns", "exec", ns2, sys.executable, "-m", "traffic.recv",
                    "-i", "eth0", "--count", str(total), "--timeout", "30",
                    "--pcap-out", str(pcap),
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=_env(),
            )  # fmt: skip
            procs.append(receiver)
            time.sleep(0.5)  # the receiver opens its socket before the first frame
            for name in sorted(DURATIONS):
                ep, _ = flows[name]
                _run(
                    "ip", "netns", "exec", ns1, sys.executable, "-m", "traffic.send",
                    "--workload", name, "--duration", str(DURATIONS[name]),
                    "--seed", str(SEED), "-i", "eth0",
                    "--src-mac", ep.src_mac, "--dst-mac", ep.dst_mac,
                    "--src-ip", ep.src_ip, "--dst-ip", ep.dst_ip,
                    "--sport", str(ep.src_port), "--dport", str(ep.dst_port),
                )  # fmt: skip
            _, err = receiver.communicate(timeout=60)
            assert receiver.returncode == 0, err

            with got_digest:
                got_digest.wait_for(lambda: len(digests) >= len(flows), timeout=10)
            classes = [
                e.packet_count
                for e in conn.read_entities([CounterEntry("MyIngress.class_packets")])
                if isinstance(e, CounterEntry)
            ]

        # Every frame of every class arrived, IPv4 TTL decremented, MACs rewritten.
        arrived = Counter[int]()
        for _, frame in read_pcap(pcap):
            assert frame[:6] == bytes.fromhex(H2[1].replace(":", ""))
            arrived[struct.unpack_from("!H", frame, 34)[0]] += 1
        sent = {ep.src_port: len(frames) for ep, frames in flows.values()}
        assert dict(arrived) == sent
        assert sum(classes) == total

        # Each flow's first report is the class of its first packet by the entries.
        first: dict[int, dict[str, int]] = {}
        for d in digests:
            assert d.digest == "flow_class_digest_t"
            for values in d.data:
                first.setdefault(values["src_port"], dict(values))
        for name, (ep, frames) in flows.items():
            report = first.get(ep.src_port)
            assert report is not None, f"{name}: no flow-class digest"
            assert report["pkts"] == 1, f"{name}: first report at packet {report['pkts']}"
            expected = classify(sim, _first_packet_features(frames[0]))
            assert (report["cls_model"], report["flow_class"], report["confidence"]) == (
                CLS_MODEL,
                expected.flow_class,
                expected.confidence,
            ), name
        assert len({r["flow_class"] for r in first.values()}) > 1
        switch.terminate()
        assert switch.wait(timeout=15) == 0
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=15)
        for link in made_links:
            subprocess.run(["ip", "link", "del", link], capture_output=True, check=False)
        for ns in made_ns:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
