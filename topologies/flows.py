"""Flows of the workload classes sent from Mininet hosts, and what the edge switch made of them.

A ``FlowSpec`` is one flow of a ``traffic.workloads`` class: seed, duration,
sending host and 5-tuple. ``plan_flows`` lays flows out from the branch hosts
to the flow sink, an unused address of the first inference node's subnet (the
switches route it to that subnet's switch, which classifies the flow on its
way in and drops it there, counted as "no route": no host answers, so no
reverse traffic muddles the classes); their source ports are chosen so that no
two flows of a plan share a register slot. ``send_flows`` runs ``python -m
traffic.send --workload`` in every sending host at once and waits.

``classify_flows`` then reports, per flow, what the classifying switch said
(its flow-class digests and its ``flow_class`` register: the class of the
flow's last packet) and checks it against the models layer on the very
features the switch used. Timestamps come from the switch's own clock, so the
check needs them from the switch: the flow's register slot is read, one more
packet of the flow (a probe) is sent, and the slot is read again; the two
reads give every feature of the probe exactly. The probe's class from the
switch must equal ``controller.models.trees.predict_int`` and the entries
simulator (``controller.entries.simulator.classify``) on those features, and
the flow's first digest must come at packet 1 with the class the simulator
gives its first packet.

May import controller, traffic, topologies and the standard library.
"""

from __future__ import annotations

import ipaddress
import logging
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from controller.entries.simulator import TableSim, classify
from controller.models.trees import ForestModel, predict_int
from topologies.deployment import CLASSIFIER_SLOT, Deployment
from topologies.model import Host
from topologies.observe import FlowKey, FlowReport, FlowState, read_flow
from topologies.testbed import Testbed, TestbedError, stop_process
from traffic.frames import ETH_HLEN, PROTO_TCP, Endpoints, frame_of_size
from traffic.pcap import write_pcap
from traffic.workloads import WORKLOADS, build_frames, generate

log = logging.getLogger(__name__)

SINK_HOST = 250  # host part of the flow sink address
FIRST_PORT = 40000
PROBE_FRAME = 100  # bytes of the probe frame
TCP_PSH_ACK = 0x18  # the flags traffic.frames gives every TCP frame
SEND_GRACE_S = 30.0
READ_TIMEOUT_S = 10.0
SETTLE_S = 0.2
SETTLE_READS = 3  # equal reads of a flow's slot, SETTLE_S apart, that mean "settled"
BRANCH_KINDS = ("client", "iot")


@dataclass(frozen=True, slots=True)
class FlowSpec:
    """One flow of a workload class from a host."""

    workload: str
    seed: int
    duration: float
    host: str
    endpoints: Endpoints

    @property
    def key(self) -> FlowKey:
        """The flow's 5-tuple."""
        ep = self.endpoints
        proto = WORKLOADS[self.workload].protocol
        return FlowKey(ep.src_ip, ep.dst_ip, proto, ep.src_port, ep.dst_port)

    def records(self) -> list[tuple[float, bytes]]:
        """The flow's frames with their send times (seconds from its start), as generated."""
        trace = generate(self.workload, self.duration, self.seed)
        frames = build_frames(self.workload, trace, self.endpoints)
        return [(t, f) for (t, _), f in zip(trace, frames, strict=True)]


def gateway_mac(host: Host) -> str:
    """The MAC of the host's default gateway, from its static neighbour command."""
    for command in host.commands:
        words = command.split()
        if words[:3] == ["ip", "neigh", "replace"] and "lladdr" in words:
            return words[words.index("lladdr") + 1]
    raise TestbedError(f"host {host.name!r}: no 'ip neigh replace ... lladdr' for its gateway")


def flow_sink(dep: Deployment) -> str:
    """Where flows go: ``.250`` of the first inference node's subnet (else the last host's)."""
    hosts = list(dep.topology.hosts.values())
    chosen = next((h for h in hosts if h.extra.get("kind") == "inference-node"), hosts[-1])
    net = ipaddress.IPv4Interface(chosen.ip).network
    sink = net.network_address + SINK_HOST
    if sink not in net or any(h.address == str(sink) for h in hosts):
        raise TestbedError(f"no free sink address {sink} in {net}")
    return str(sink)


def plan_flows(
    dep: Deployment,
    workloads: Sequence[str],
    *,
    per_class: int = 1,
    duration: float | Mapping[str, float] = 3.0,
    seed: int = 0,
    hosts: Sequence[str] | None = None,
    sink: str | None = None,
    avoid: Sequence[FlowKey] = (),
) -> list[FlowSpec]:
    """Flows of each workload, ``per_class`` of them, spread over the sending hosts.

    ``duration`` is seconds for every flow, or per workload (others: 3 s).
    """
    topo = dep.topology
    unknown = [w for w in workloads if w not in WORKLOADS]
    if unknown:
        raise TestbedError(f"workload(s) {unknown!r}: expected some of {sorted(WORKLOADS)}")
    senders = (
        list(hosts)
        if hosts
        else [h.name for h in topo.hosts.values() if h.extra.get("kind") in BRANCH_KINDS]
    )
    if not senders:
        raise TestbedError(f"{topo.name}: no client or iot host to send flows from")
    for name in senders:
        if name not in topo.hosts:
            raise TestbedError(f"host {name!r}: unknown (known: {', '.join(sorted(topo.hosts))})")
    dst = sink or flow_sink(dep)
    used = {k.slot for k in avoid}
    port = FIRST_PORT
    out: list[FlowSpec] = []
    for n in range(per_class):
        for i, workload in enumerate(workloads):
            host = topo.hosts[senders[(n * len(workloads) + i) % len(senders)]]
            info = WORKLOADS[workload]
            while True:
                ep = Endpoints(
                    host.mac, gateway_mac(host), host.address, dst, port, info.server_port
                )
                seconds = (
                    duration if isinstance(duration, float | int) else duration.get(workload, 3.0)
                )
                spec = FlowSpec(workload, seed * 1000 + n, float(seconds), host.name, ep)
                port += 1
                if spec.key.slot not in used:
                    used.add(spec.key.slot)
                    out.append(spec)
                    break
    return out


def send_flows(testbed: Testbed, flows: Sequence[FlowSpec], work_dir: Path) -> dict[str, str]:
    """Send the flows with their own timing, all at once; wait. Returns each host's report.

    Each host's flows are merged by time into one pcap, replayed by one
    ``traffic.send --replay`` in the host: one sender per host, not per flow.
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    by_host: dict[str, list[tuple[float, bytes]]] = {}
    for spec in flows:
        by_host.setdefault(spec.host, []).extend(spec.records())
    procs: dict[str, subprocess.Popen[str]] = {}
    reports: dict[str, str] = {}
    try:
        for host, records in by_host.items():
            records.sort(key=lambda r: r[0])
            pcap = work_dir / f"flows-{host}.pcap"
            write_pcap(pcap, records)
            argv = [sys.executable, "-m", "traffic.send", "--replay", str(pcap), "-i", "eth0"]
            procs[host] = testbed.host(host).popen(
                argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            )
        longest = max((s.duration for s in flows), default=0.0)
        deadline = time.monotonic() + longest + SEND_GRACE_S
        for host, proc in procs.items():
            try:
                out, _ = proc.communicate(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                raise TestbedError(f"flows from {host}: the sender did not finish") from None
            if proc.returncode != 0:
                raise TestbedError(
                    f"flows from {host}: traffic.send exited with {proc.returncode}: "
                    f"{out.strip()[-300:]!r}"
                )
            reports[host] = out.strip()
    finally:
        for proc in procs.values():
            stop_process(proc)
    return reports


@dataclass(frozen=True, slots=True)
class FlowResult:
    """What the classifying switch made of one flow, and the model's check of it."""

    spec: FlowSpec
    switch: str
    frames: int
    packets_seen: int  # by the switch's flow registers, before the probe
    digests: tuple[FlowReport, ...]
    final_class: int | None  # the switch's class of the flow's last packet (None: none)
    first_class: int | None  # the class of the flow's first digest
    first_expected: int  # the simulator's class of the flow's first packet
    probe_features: tuple[int, ...]
    probe_switch: int | None
    probe_model: int
    probe_simulator: int

    @property
    def agrees(self) -> bool:
        """The switch classified as the model and the entries say (first packet and probe)."""
        first = self.digests[0] if self.digests else None
        return (
            first is not None
            and first.pkts == 1
            and self.first_class == self.first_expected
            and self.probe_switch == self.probe_model == self.probe_simulator
        )


def _first_packet_features(frame: bytes, key: FlowKey) -> tuple[int, ...]:
    length = int.from_bytes(frame[ETH_HLEN + 2 : ETH_HLEN + 4], "big")
    flags = TCP_PSH_ACK if key.protocol == PROTO_TCP else 0
    port = min(key.sport, key.dport)
    return (length, port, 0, 1, length, 0, 0, 0, 0, length, length, flags)


def _settled(
    testbed: Testbed, switch: str, key: FlowKey, more_than: int = 0, sent: int | None = None
) -> FlowState:
    """The flow's slot once the switch has worked through its queue.

    Done at once when the slot holds every one of the ``sent`` frames;
    otherwise (frames lost on the way) once ``SETTLE_READS`` reads in a row
    agree: a switch busy with a table write holds its queue still for a while.
    """
    deadline = time.monotonic() + READ_TIMEOUT_S
    last = read_flow(testbed.fabric[switch], key)
    same = 1
    while time.monotonic() < deadline:
        if sent is not None and last.sig == key.signature and last.pkts >= sent:
            return last
        time.sleep(SETTLE_S)  # the switch may still be working through its receive queue
        state = read_flow(testbed.fabric[switch], key)
        same = same + 1 if state == last else 1
        last = state
        if same >= SETTLE_READS and (state.pkts > more_than or state.pkts == 1):
            return state
    return last


def classify_flows(testbed: Testbed, flows: Sequence[FlowSpec], work_dir: Path) -> list[FlowResult]:
    """Probe each sent flow at the classifying switch and check the switch against the model."""
    dep = testbed.deployment
    forest = dep.models.forest if dep.models is not None else None
    if forest is None or not dep.classifier_switches:
        raise TestbedError("no flow classifier deployed (make models, then make run)")
    switch = dep.classifier_switches[0]
    sim = TableSim(dep.entries[switch])
    frames = {spec: [f for _, f in spec.records()] for spec in flows}
    # The switch must be done with every frame it got before the first read.
    before = {s: _settled(testbed, switch, s.key, sent=len(frames[s])) for s in flows}
    probe_len = PROBE_FRAME - ETH_HLEN
    by_host: dict[str, list[bytes]] = {}
    for spec in flows:
        proto = WORKLOADS[spec.workload].protocol
        by_host.setdefault(spec.host, []).append(frame_of_size(spec.endpoints, PROBE_FRAME, proto))
    work_dir.mkdir(parents=True, exist_ok=True)
    for host, probe_frames in by_host.items():
        pcap = work_dir / f"probe-{host}.pcap"
        write_pcap(pcap, [(0.0, f) for f in probe_frames])
        out = testbed.host(host).cmd(
            f"{sys.executable} -m traffic.send --replay {pcap} -i eth0 --rate 1000"
        )
        if "sent" not in out:
            raise TestbedError(f"probe from {host}: {out.strip()!r}")
    results = []
    for spec in flows:
        key = spec.key
        after = _settled(testbed, switch, key, before[spec].pkts, sent=before[spec].pkts + 1)
        # After more than FLOW_IDLE_US of silence the probe starts the flow afresh (1 packet).
        if after.pkts not in (before[spec].pkts + 1, 1) or after.sig != key.signature:
            raise TestbedError(
                f"{spec.workload} flow {key}: slot {key.slot} holds {after.pkts} packets "
                f"(signature {after.sig:#x}), expected {before[spec].pkts + 1} of this flow "
                f"({key.signature:#x})"
            )
        features = after.features(probe_len, min(key.sport, key.dport), before[spec].last_ts)
        model_class, _ = predict_int(forest, np.asarray([features], dtype=np.int64))
        reports = tuple(
            r for r in testbed.observer.flow_reports(key, switch) if r.cls_model == CLASSIFIER_SLOT
        )
        first_features = _first_packet_features(frames[spec][0], key)
        results.append(
            FlowResult(
                spec=spec,
                switch=switch,
                frames=len(frames[spec]),
                packets_seen=before[spec].pkts,
                digests=reports,
                final_class=before[spec].flow_class - 1 if before[spec].flow_class else None,
                first_class=reports[0].flow_class if reports else None,
                first_expected=classify(sim, first_features).flow_class,
                probe_features=features,
                probe_switch=after.flow_class - 1 if after.flow_class else None,
                probe_model=int(model_class[0]),
                probe_simulator=classify(sim, features).flow_class,
            )
        )
    return results


def true_class(forest: ForestModel, workload: str) -> int | None:
    """The forest's index of the workload's flow class (``traffic.workloads``), if it has it."""
    names = list(forest.classes)
    wanted = WORKLOADS[workload].flow_class
    return names.index(wanted) if wanted in names else None


def class_name(forest: ForestModel, index: int | None) -> str:
    """A class index as its name ('-' for none)."""
    if index is None:
        return "-"
    return forest.classes[index] if 0 <= index < len(forest.classes) else f"class {index}"
