"""Build a Mininet network from a topology (topologies.model) with P4Runtime switches.

Hosts get the topology's addresses, MACs and start-up commands; switches run
the chosen P4Runtime switch (``topologies.p4switch``) with gRPC ports from
``grpc_base`` upwards and device ids from 0; links get their bandwidth with
Mininet's TCLink (htb) and their delay from netem where the kernel has it,
otherwise from the p4lite switch's per-port egress delay. ``WanDelay`` says
which one was used, so that the launcher and benchmarks can report it.

May import mininet, p4lite.toolchain, topologies and the standard library.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from functools import partial
from pathlib import Path
from typing import Any

from mininet.link import TCLink
from mininet.net import Mininet
from mininet.node import Host

from p4lite import toolchain
from topologies.model import Topology
from topologies.p4switch import P4RuntimeSwitch

# Importing Mininet makes its singleton console logger the class of every logger made
# afterwards (mininet.log: logging.setLoggerClass): a module imported later would log
# through Mininet's console handler under Mininet's name, whatever handlers its own
# logger is given. Loggers made from here on are plain ones again.
logging.setLoggerClass(logging.Logger)

log = logging.getLogger(__name__)


class HtbQuantumNote(logging.Filter):
    """Keeps tc's "sch_htb: quantum of class ... is big" off the console.

    Mininet shapes a link's bandwidth with one HTB class and prints whatever tc
    says as "*** Error:"; at rates above about 16 Mbit/s the kernel notes that the
    class's quantum (its rate over r2q) is big. That matters only for sharing
    between HTB classes, of which such a link has one: the rate holds. The note
    goes to this module's debug log instead.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """False (dropped, logged at debug here) for the quantum note; True otherwise."""
        message = record.getMessage()
        if "sch_htb: quantum of class" in message:
            log.debug("tc: %s", message.strip().removeprefix("*** Error: "))
            return False
        return True


logging.getLogger("mininet").addFilter(HtbQuantumNote())


class NetworkError(RuntimeError):
    """A part of the network (a host process, a link) could not be set up."""


class WanDelay(Enum):
    """How link delays are emulated."""

    NETEM = "netem"
    SWITCH_PORT_DELAY = "p4lite per-port egress delay"
    NONE = "none (no link has a delay)"
    UNAVAILABLE = "NOT emulated: no netem in this kernel, and the real switch has no port delay"


@functools.cache
def netem_available() -> bool:
    """Whether the kernel has the netem qdisc (tried inside a throw-away namespace)."""
    ns = f"din-netem-probe-{uuid.uuid4().hex[:8]}"
    try:
        subprocess.run(["ip", "netns", "add", ns], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        return False
    try:
        probe = subprocess.run(
            [
                "ip",
                "netns",
                "exec",
                ns,
                "tc",
                "qdisc",
                "add",
                "dev",
                "lo",
                "root",
                "netem",
                "delay",
                "1ms",
            ],
            capture_output=True,
            check=False,
        )
        return probe.returncode == 0
    finally:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)


class DinHost(Host):  # type: ignore[misc]
    """A Mininet host whose interface is ``eth0`` and computes its own checksums.

    Offloads are off because frames cross a user-space switch through raw
    sockets: a checksum left for the NIC to fill would arrive wrong.
    """

    def config(self, **params: Any) -> Any:
        """Rename the interface to eth0, turn offloads and IPv6 off."""
        result = super().config(**params)
        self.defaultIntf().rename("eth0")
        for off in ("rx", "tx", "sg"):
            self.cmd(f"ethtool --offload eth0 {off} off")
        self.cmd("sysctl -qw net.ipv6.conf.all.disable_ipv6=1")
        return result


@dataclass(frozen=True, slots=True)
class SwitchInfo:
    """Where a running switch listens, for the controller."""

    name: str
    device_id: int
    grpc_addr: str
    log_file: Path


@dataclass
class Network:
    """A started Mininet network and what the controller needs to reach its switches."""

    net: Any  # mininet.net.Mininet (untyped)
    topology: Topology
    switches: dict[str, SwitchInfo]
    wan_delay: WanDelay


def _delay_mode(topology: Topology, tool: toolchain.Tool) -> WanDelay:
    if not any(link.delay_ms for link in topology.links):
        return WanDelay.NONE
    if netem_available():
        return WanDelay.NETEM
    if tool.real:
        log.warning("link delays are not emulated: %s", WanDelay.UNAVAILABLE.value)
        return WanDelay.UNAVAILABLE
    return WanDelay.SWITCH_PORT_DELAY


def build(
    topology: Topology,
    *,
    json_path: Path | None,
    log_dir: Path,
    pcap_dir: Path | None = None,
    grpc_base: int = 50051,
    cpu_port: int | None = 255,
) -> Network:
    """Create (but do not start) the Mininet network for ``topology``."""
    tool = toolchain.switch()
    mode = _delay_mode(topology, tool)
    port_delays: dict[str, dict[int, float]] = {s: {} for s in topology.switches}
    if mode is WanDelay.SWITCH_PORT_DELAY:
        # Each direction of a delayed link is delayed once, at the switch port it leaves by.
        for link in topology.links:
            if link.delay_ms:
                for end in (link.a, link.b):
                    if end.port is not None:
                        port_delays[end.node][end.port] = link.delay_ms
    net = Mininet(topo=None, build=False, controller=None, link=TCLink, autoSetMacs=False)
    infos: dict[str, SwitchInfo] = {}
    for device_id, name in enumerate(sorted(topology.switches, key=_natural)):
        grpc_port = grpc_base + device_id
        node = net.addSwitch(
            name,
            cls=partial(
                P4RuntimeSwitch,
                json_path=json_path,
                grpc_port=grpc_port,
                device_id=device_id,
                cpu_port=cpu_port,
                log_dir=log_dir,
                pcap_dir=pcap_dir,
                port_delays_ms=port_delays[name],
                tool=tool,
            ),
        )
        infos[name] = SwitchInfo(name, device_id, f"127.0.0.1:{grpc_port}", node.log_file)
    for host in topology.hosts.values():
        net.addHost(host.name, cls=DinHost, ip=host.ip, mac=host.mac)
    for link in topology.links:
        params: dict[str, Any] = {}
        if link.bw_mbps is not None:
            params["bw"] = link.bw_mbps
        if link.delay_ms and mode is WanDelay.NETEM:
            params["delay"] = f"{link.delay_ms:g}ms"
        net.addLink(
            link.a.node,
            link.b.node,
            port1=link.a.port,
            port2=link.b.port,
            **params,
        )
    return Network(net, topology, infos, mode)


def _natural(name: str) -> tuple[str, int]:
    head = name.rstrip("0123456789")
    tail = name[len(head) :]
    return head, int(tail) if tail else 0


@contextmanager
def running(network: Network) -> Iterator[Network]:
    """Start the network, run the hosts' commands, and always stop it (by PID) afterwards."""
    try:
        network.net.start()
        hosts = list(network.topology.hosts.values())
        for host in hosts:
            node = network.net.get(host.name)
            for command in host.commands:
                out = node.cmd(command)
                if out.strip():
                    log.info("%s: %s: %s", host.name, command, out.strip())
            # Neighbours on the same subnet are static too: the switches answer no ARP.
            subnet = ipaddress.IPv4Interface(host.ip).network
            for peer in hosts:
                if peer is not host and ipaddress.IPv4Address(peer.address) in subnet:
                    node.cmd(f"ip neigh replace {peer.address} lladdr {peer.mac} dev eth0")
        yield network
    finally:
        network.net.stop()
