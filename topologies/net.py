"""Bring up the DIN testbed: network, pipelines, routes, inference nodes, then the CLI.

Called by ``topologies.launch`` (``make run``) once every piece is present:

1. the topology (``topologies/<name>.json``; ``leaf-spine`` may also be built
   with ``--leaves/--spines/--hosts-per-leaf``);
2. the Mininet network with one P4Runtime switch per topology switch
   (``topologies.network``), each switch's log in ``<logs>/<switch>.log``;
3. the controller: one P4Runtime connection per switch, the pipeline
   (``<build>/din.json`` + P4Info) pushed to all of them at once, and
   shortest-path IPv4 routes installed so that ordinary traffic flows;
4. inference nodes on the hosts the topology marks ``kind: inference-node``,
   when model files are present in ``<build>/models``;
5. a map of what runs where, then the Mininet CLI (``interactive``), or a
   ``pingall`` and exit (``check``).

Everything started here is stopped in ``finally``, by PID; the launcher's own
PID is recorded in ``<logs>/launcher.pids`` for ``make stop``.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import logging
import os
import selectors
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from controller.p4rt.client import SwitchConnection
from controller.p4rt.entities import EntityBuilder, inserts
from controller.p4rt.multi import Fabric
from controller.p4rt.p4info import P4InfoIndex
from controller.steering.routes import HostAttachment, SwitchLink, shortest_routes
from p4lite import toolchain
from topologies import model, network

log = logging.getLogger(__name__)

TOPOLOGY_DIR = Path(__file__).resolve().parent
PID_FILE = "launcher.pids"


def load_topology(name: str) -> model.Topology:
    """The named topology from ``topologies/<name>.json``."""
    return model.load(TOPOLOGY_DIR / f"{name}.json")


def route_plan(topo: model.Topology) -> dict[str, list[Any]]:
    """Shortest-path /32 routes per switch for every host of the topology."""
    links: list[SwitchLink] = []
    hosts: list[HostAttachment] = []
    gateways: dict[str, str] = {}
    for link in topo.links:
        a, b = link.a, link.b
        if a.port is not None and b.port is not None:
            links += [
                SwitchLink(a.node, a.port, b.node, b.port),
                SwitchLink(b.node, b.port, a.node, a.port),
            ]
            continue
        host_end, switch_end = (a, b) if a.port is None else (b, a)
        if switch_end.port is None:
            raise model.TopologyError(f"{topo.name}: host {host_end.node} linked to a host")
        host = topo.hosts[host_end.node]
        hosts.append(
            HostAttachment(host.name, host.address, host.mac, switch_end.node, switch_end.port)
        )
        for command in host.commands:
            words = command.split()
            if words[:3] == ["ip", "neigh", "replace"] and "lladdr" in words:
                gateways[host.name] = words[words.index("lladdr") + 1]
    return dict(shortest_routes(sorted(topo.switches), links, hosts, gateways))


def install(net: network.Network, compiled: toolchain.Compiled) -> Fabric:
    """Connect to every switch, push the pipeline and install the routes."""
    index = P4InfoIndex.load(compiled.p4info)
    device_config = compiled.json.read_bytes()
    fabric = Fabric(
        SwitchConnection(info.grpc_addr, name=name, device_id=info.device_id, index=index)
        for name, info in net.switches.items()
    )
    fabric.connect_all(timeout=15)
    fabric.run(lambda c: c.set_pipeline(index, device_config), label="set pipeline")
    build = EntityBuilder(index)
    updates = {
        switch: inserts(
            build.table_entry(
                "MyIngress.ipv4_lpm",
                {"hdr.ipv4.dst_addr": f"{r.prefix}/{r.prefix_len}"},
                "MyIngress.ipv4_forward",
                {"dst_mac": r.dst_mac, "src_mac": r.src_mac, "port": r.port},
            )
            for r in routes
        )
        for switch, routes in route_plan(net.topology).items()
    }
    fabric.write_all(updates)
    return fabric


NODE_READY_TIMEOUT_S = 30.0


def start_nodes(net: network.Network, models: Path, logs: Path) -> dict[str, Any]:
    """Start an inference node on every ``kind: inference-node`` host; wait for each to be ready.

    Returns host name -> process. Each node serves the partitioned MLP (model id 1),
    the large model for escalations, and advertises its metrics to its gateway.
    """
    base, large = models / "digits-mlp.npz", models / "digits-large.npz"
    if not base.is_file():
        log.warning("no models in %s (make models): inference nodes not started", models)
        return {}
    started: dict[str, Any] = {}
    instance = 0
    try:
        for host in net.topology.hosts.values():
            if host.extra.get("kind") != "inference-node":
                continue
            instance += 1
            gateway = str(ipaddress.IPv4Interface(host.ip).network.broadcast_address - 1)
            argv = [
                sys.executable, "-m", "nodes", "--instance-id", str(instance),
                "--model", f"1={base}", "--advertise-to", gateway,
                "--log-file", str(logs / f"{host.name}-node.log"),
            ]  # fmt: skip
            if large.is_file():
                argv += ["--escalation-model", f"1={large}"]
            proc = net.net.get(host.name).popen(argv, stdout=subprocess.PIPE, text=True)
            started[host.name] = proc
            _wait_ready(host.name, proc)
    except BaseException:
        stop_nodes(started)
        raise
    return started


def _wait_ready(name: str, proc: Any) -> None:
    deadline = time.monotonic() + NODE_READY_TIMEOUT_S
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise network.NetworkError(
                    f"inference node on {name} exited with {proc.returncode}"
                )
            if sel.select(timeout=0.5) and proc.stdout.readline().startswith("ready"):
                return
    raise network.NetworkError(f"inference node on {name} was not ready in time")


def stop_nodes(nodes: dict[str, Any]) -> None:
    """Stop node processes by PID (SIGTERM, then SIGKILL)."""
    for proc in nodes.values():
        if proc.poll() is None:
            proc.terminate()
    for proc in nodes.values():
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def check(net: network.Network, nodes: dict[str, Any], models: Path) -> int:
    """The ``check`` scenario: pingall, then requests from a client to every node."""
    loss = net.net.pingAll(timeout="2")
    print(f"pingall: {loss:.0f}% dropped")
    failed = loss != 0
    client = next(h for h in net.topology.hosts.values() if h.extra.get("kind") == "client")
    for name in nodes:
        address = net.topology.hosts[name].address
        out = net.net.get(client.name).cmd(
            f"{sys.executable} -m nodes.client --to {address} --model {models / 'digits-mlp.npz'}"
            " --count 50 --json"
        )
        try:
            report = json.loads(out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            print(f"requests {client.name} -> {name}: no report: {out.strip()!r}")
            failed = True
            continue
        served = report["answered"] - report["busy"]
        ok = report["answered"] == report["sent"] and report["agree_with_reference"] == served
        failed |= not ok
        print(
            f"requests {client.name} -> {name}: {report['answered']}/{report['sent']} answered, "
            f"{report['agree_with_reference']}/{served} as the integer reference, "
            f"p50 {report['latency_us_p50'] or 0:.0f} us"
        )
    return 1 if failed else 0


def print_map(net: network.Network, compiled: toolchain.Compiled) -> None:
    """What runs where, in a few lines."""
    sw = toolchain.switch()
    name = net.topology.name.removesuffix(".json")
    print(
        f"DIN testbed '{name}': {len(net.switches)} switches ({sw.name}), "
        f"{len(net.topology.hosts)} hosts; pipeline {compiled.json}"
    )
    print(f"link delays: {net.wan_delay.value}")
    for name, info in net.switches.items():
        role = net.topology.switches[name].extra.get("role", "-")
        print(
            f"  {name:<4} {role:<14} gRPC {info.grpc_addr}  device {info.device_id}  "
            f"log {info.log_file}"
        )
    for host in net.topology.hosts.values():
        kind = host.extra.get("kind", "host")
        print(f"  {host.name:<6} {kind:<15} {host.ip:<15} {host.mac}")


def print_nodes(nodes: dict[str, Any]) -> None:
    """Which inference nodes run, with their PIDs."""
    for name, proc in nodes.items():
        print(f"  inference node on {name}: pid {proc.pid}, UDP 7350")


def run(args: argparse.Namespace) -> int:
    """Start the testbed described by the launcher's arguments; return an exit status."""
    topo = load_topology(args.topo)
    compiled = toolchain.Compiled(
        Path("p4src/din.p4"), args.build / "din.json", args.build / "din.p4info.txtpb"
    )
    args.logs.mkdir(parents=True, exist_ok=True)
    (args.logs / PID_FILE).write_text(f"{os.getpid()}\n", encoding="utf-8")
    net = network.build(topo, json_path=compiled.json, log_dir=args.logs, pcap_dir=None)
    try:
        with network.running(net):
            start = time.monotonic()
            fabric = install(net, compiled)
            nodes: dict[str, Any] = {}
            try:
                nodes = start_nodes(net, args.build / "models", args.logs)
                print_map(net, compiled)
                print_nodes(nodes)
                print(f"pipelines and routes installed in {time.monotonic() - start:.1f} s")
                if args.scenario == "check":
                    return check(net, nodes, args.build / "models")
                from mininet.cli import CLI  # noqa: PLC0415  (interactive scenario only)

                CLI(net.net, stdin=sys.stdin)
                return 0
            finally:
                stop_nodes(nodes)
                fabric.close()
    finally:
        (args.logs / PID_FILE).unlink(missing_ok=True)
