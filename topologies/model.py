"""Topologies as data: the p4lang/tutorials ``topology.json`` shape, validated, and builders.

A topology file looks like the tutorials' one::

    {
      "hosts": {"h1": {"ip": "10.0.1.1/24", "mac": "08:00:00:00:01:11",
                       "commands": ["ip route add default via 10.0.1.254 dev eth0"]}},
      "switches": {"s1": {"runtime_json": "s1-runtime.json", "role": "edge"}},
      "links": [["h1", "s1-p1"], ["s1-p2", "s2-p1", "20ms", 100]]
    }

A link names two endpoints (a host, or ``<switch>-p<port>``), and optionally a
one-way delay (``"20ms"``) and a bandwidth in Mbit/s. Everything else a switch
or host carries (``role``, ``premises``, ``node``) is kept in ``extra`` for the
launcher. Errors name the file and the field: ``enterprise.json:
links[3][1]: unknown node 's9' (known: h1, s1, ...)``.

This module is pure data (no Mininet), so builders and validation are testable
anywhere. May import the standard library only.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
_PORT = re.compile(r"^(?P<switch>[A-Za-z_][\w]*)-p(?P<port>[0-9]+)$")
_DELAY = re.compile(r"^(?P<value>[0-9]+(\.[0-9]+)?)(?P<unit>us|ms|s)?$")


class TopologyError(ValueError):
    """A topology file or builder argument is invalid; the message names the field."""


@dataclass(frozen=True, slots=True)
class Host:
    """A host: its address with prefix length, MAC, shell commands run at start, extras."""

    name: str
    ip: str
    mac: str
    commands: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def address(self) -> str:
        """The IPv4 address without the prefix length."""
        return self.ip.split("/", 1)[0]


@dataclass(frozen=True, slots=True)
class Switch:
    """A P4 switch: its runtime file (tutorials' sN-runtime.json) and extras such as role."""

    name: str
    runtime_json: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One end of a link: a host, or a switch port."""

    node: str
    port: int | None  # None for a host (its only interface, eth0)


@dataclass(frozen=True, slots=True)
class Link:
    """A link between two endpoints, with an optional one-way delay (ms) and bandwidth (Mbit/s)."""

    a: Endpoint
    b: Endpoint
    delay_ms: float = 0.0
    bw_mbps: float | None = None


@dataclass(frozen=True, slots=True)
class Topology:
    """A whole topology: hosts, switches and links, checked for consistency."""

    name: str
    hosts: Mapping[str, Host]
    switches: Mapping[str, Switch]
    links: tuple[Link, ...]

    def switch_ports(self, switch: str) -> list[tuple[int, Link]]:
        """The ports of a switch in port order, with the link on each."""
        ports = []
        for link in self.links:
            for end in (link.a, link.b):
                if end.node == switch and end.port is not None:
                    ports.append((end.port, link))
        return sorted(ports, key=lambda p: p[0])

    def to_json(self) -> dict[str, Any]:
        """The topology in the tutorials' JSON shape (the inverse of ``parse``)."""

        def end(e: Endpoint) -> str:
            return e.node if e.port is None else f"{e.node}-p{e.port}"

        links: list[list[Any]] = []
        for link in self.links:
            row: list[Any] = [end(link.a), end(link.b)]
            if link.delay_ms or link.bw_mbps is not None:
                row.append(f"{link.delay_ms:g}ms")
            if link.bw_mbps is not None:
                row.append(link.bw_mbps)
            links.append(row)
        return {
            "hosts": {
                h.name: {"ip": h.ip, "mac": h.mac, "commands": list(h.commands), **h.extra}
                for h in self.hosts.values()
            },
            "switches": {
                s.name: ({"runtime_json": s.runtime_json} if s.runtime_json else {}) | dict(s.extra)
                for s in self.switches.values()
            },
            "links": links,
        }


def _delay_ms(text: Any, where: str) -> float:
    if isinstance(text, int | float) and not isinstance(text, bool):
        value = float(text)
    elif isinstance(text, str) and (m := _DELAY.match(text.strip())):
        scale = {"us": 0.001, "ms": 1.0, "s": 1000.0, None: 1.0}[m["unit"]]
        value = float(m["value"]) * scale
    else:
        raise TopologyError(f"{where}: invalid delay {text!r}; use e.g. '20ms', '500us' or 0")
    if value < 0:
        raise TopologyError(f"{where}: delay must be >= 0, got {text!r}")
    return value


def _endpoint(
    text: Any, where: str, hosts: Mapping[str, Any], switches: Mapping[str, Any]
) -> Endpoint:
    if not isinstance(text, str):
        raise TopologyError(f"{where}: expected a host name or '<switch>-p<port>', got {text!r}")
    if text in hosts:
        return Endpoint(text, None)
    m = _PORT.match(text)
    if m and m["switch"] in switches:
        port = int(m["port"])
        if not 0 <= port < 511:
            raise TopologyError(f"{where}: port {port} of {m['switch']!r} is outside 0..510")
        return Endpoint(m["switch"], port)
    known = ", ".join(sorted([*hosts, *switches]))
    node = m["switch"] if m else text
    raise TopologyError(f"{where}: unknown node {node!r} (known: {known})")


def _object(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise TopologyError(f"{where}: expected an object, got {type(value).__name__}")
    return value


def parse(data: Any, name: str = "topology") -> Topology:
    """Validate a topology in the tutorials' JSON shape; errors are prefixed with ``name``."""
    top = _object(data, name)
    unknown = set(top) - {"hosts", "switches", "links"}
    if unknown:
        raise TopologyError(
            f"{name}: unknown key(s) {sorted(unknown)}; expected hosts, switches, links"
        )
    raw_hosts = _object(top.get("hosts", {}), f"{name}: hosts")
    raw_switches = _object(top.get("switches", {}), f"{name}: switches")
    hosts: dict[str, Host] = {}
    seen_ips: dict[str, str] = {}
    seen_macs: dict[str, str] = {}
    for hname, raw in raw_hosts.items():
        where = f"{name}: hosts.{hname}"
        spec = _object(raw, where)
        raw_ip = spec.get("ip")
        ip = raw_ip if isinstance(raw_ip, str) else ""
        try:
            iface = ipaddress.IPv4Interface(ip)
        except ValueError:
            raise TopologyError(f"{where}.ip: expected 'a.b.c.d/len', got {raw_ip!r}") from None
        if "/" not in ip:
            raise TopologyError(f"{where}.ip: missing prefix length in {ip!r}; use e.g. '{ip}/24'")
        mac = spec.get("mac")
        if not isinstance(mac, str) or not _MAC.match(mac.lower()):
            raise TopologyError(f"{where}.mac: expected 'aa:bb:cc:dd:ee:ff', got {mac!r}")
        addr = str(iface.ip)
        if addr in seen_ips:
            raise TopologyError(f"{where}.ip: {addr} is already used by {seen_ips[addr]}")
        if mac.lower() in seen_macs:
            raise TopologyError(f"{where}.mac: {mac} is already used by {seen_macs[mac.lower()]}")
        seen_ips[addr], seen_macs[mac.lower()] = hname, hname
        commands = spec.get("commands", [])
        if not isinstance(commands, list) or not all(isinstance(c, str) for c in commands):
            raise TopologyError(f"{where}.commands: expected a list of strings, got {commands!r}")
        extra = {k: v for k, v in spec.items() if k not in {"ip", "mac", "commands"}}
        hosts[hname] = Host(hname, ip, mac.lower(), tuple(commands), extra)
    switches: dict[str, Switch] = {}
    for sname, raw in raw_switches.items():
        where = f"{name}: switches.{sname}"
        if sname in hosts:
            raise TopologyError(f"{where}: {sname!r} is also a host")
        if not _PORT.match(f"{sname}-p1"):
            raise TopologyError(f"{where}: invalid switch name {sname!r}")
        spec = _object(raw, where)
        runtime = spec.get("runtime_json")
        if runtime is not None and not isinstance(runtime, str):
            raise TopologyError(f"{where}.runtime_json: expected a file name, got {runtime!r}")
        extra = {k: v for k, v in spec.items() if k != "runtime_json"}
        switches[sname] = Switch(sname, runtime, extra)
    raw_links = top.get("links", [])
    if not isinstance(raw_links, list):
        raise TopologyError(f"{name}: links: expected a list, got {type(raw_links).__name__}")
    links: list[Link] = []
    used: dict[tuple[str, int | None], str] = {}
    for i, row in enumerate(raw_links):
        where = f"{name}: links[{i}]"
        if not isinstance(row, list) or not 2 <= len(row) <= 4:
            raise TopologyError(f"{where}: expected [a, b, delay?, bandwidth?], got {row!r}")
        a = _endpoint(row[0], f"{where}[0]", hosts, switches)
        b = _endpoint(row[1], f"{where}[1]", hosts, switches)
        for j, end in ((0, a), (1, b)):
            key = (end.node, end.port)
            if key in used:
                raise TopologyError(f"{where}[{j}]: {row[j]!r} is already linked in {used[key]}")
            used[key] = f"links[{i}]"
        delay = _delay_ms(row[2], f"{where}[2]") if len(row) > 2 else 0.0
        bw = None
        if len(row) > 3:
            if not isinstance(row[3], int | float) or isinstance(row[3], bool) or row[3] <= 0:
                raise TopologyError(
                    f"{where}[3]: bandwidth must be a positive Mbit/s, got {row[3]!r}"
                )
            bw = float(row[3])
        links.append(Link(a, b, delay, bw))
    for hname in hosts:
        if (hname, None) not in used:
            raise TopologyError(f"{name}: hosts.{hname}: not connected by any link")
    return Topology(name, hosts, switches, tuple(links))


def load(path: Path) -> Topology:
    """Read and validate a topology file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TopologyError(f"{path}: cannot read: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise TopologyError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from exc
    return parse(data, path.name)


# ------------------------------------------------------------------ builders ---


def _mac(*octets: int) -> str:
    return ":".join(f"{o:02x}" for o in (0x08, 0x00, *octets))


def _host(name: str, subnet: int, index: int, **extra: Any) -> dict[str, Any]:
    """A host in 10.0.<subnet>.0/24 whose gateway is .254 (static neighbour, no ARP)."""
    gw_mac = _mac(0, subnet, 0xFE, 0)
    return {
        "ip": f"10.0.{subnet}.{index}/24",
        "mac": _mac(0, subnet, index, 0x11),
        "commands": [
            f"ip route add default via 10.0.{subnet}.254 dev eth0",
            f"ip neigh replace 10.0.{subnet}.254 lladdr {gw_mac} dev eth0",
        ],
        **extra,
    }


def enterprise(
    *,
    wan_delay_ms: float = 20.0,
    wan_bw_mbps: float = 100.0,
    clients: int = 2,
    iot: int = 2,
    cloud_nodes: int = 2,
) -> Topology:
    """Branch hosts and IoT devices -> edge (on premises) -> in-network -> cloud gateway -> cloud.

    ``s1`` is the on-premises edge switch with the edge inference node ``e1``;
    ``s2`` the in-network switch; the WAN link (delay, bandwidth) joins ``s2`` and
    the cloud gateway ``s3``, behind which run the cloud inference nodes ``c1..cN``.
    """
    if min(clients, iot, cloud_nodes) < 1:
        raise TopologyError("enterprise: clients, iot and cloud_nodes must each be >= 1")
    hosts: dict[str, Any] = {}
    links: list[list[Any]] = []
    port = 1
    for i in range(1, clients + 1):
        hosts[f"h{i}"] = _host(f"h{i}", 1, i, kind="client", premises="branch")
        links.append([f"h{i}", f"s1-p{port}"])
        port += 1
    for i in range(1, iot + 1):
        hosts[f"iot{i}"] = _host(f"iot{i}", 1, 100 + i, kind="iot", premises="branch")
        links.append([f"iot{i}", f"s1-p{port}"])
        port += 1
    hosts["e1"] = _host("e1", 2, 1, kind="inference-node", premises="on-premises")
    links.append(["e1", f"s1-p{port}"])
    links.append([f"s1-p{port + 1}", "s2-p1"])
    links.append(["s2-p2", "s3-p1", f"{wan_delay_ms:g}ms", wan_bw_mbps])
    for i in range(1, cloud_nodes + 1):
        hosts[f"c{i}"] = _host(f"c{i}", 3, i, kind="inference-node", premises="cloud")
        links.append([f"c{i}", f"s3-p{i + 1}"])
    switches = {
        "s1": {"runtime_json": "s1-runtime.json", "role": "edge", "premises": "on-premises"},
        "s2": {"runtime_json": "s2-runtime.json", "role": "in-network", "premises": "on-premises"},
        "s3": {"runtime_json": "s3-runtime.json", "role": "cloud-gateway", "premises": "cloud"},
    }
    return parse({"hosts": hosts, "switches": switches, "links": links}, "enterprise")


def leaf_spine(*, leaves: int = 4, spines: int = 2, hosts_per_leaf: int = 4) -> Topology:
    """A two-tier leaf-spine fabric: every leaf links to every spine; hosts hang off leaves.

    Leaf ``sL`` (L = 1..leaves) uses ports 1..spines for its uplinks and the next
    ports for its hosts ``hL_1..``; spines are numbered after the leaves.
    """
    if leaves < 1 or spines < 1 or hosts_per_leaf < 1:
        raise TopologyError("leaf-spine: leaves, spines and hosts_per_leaf must each be >= 1")
    if leaves > 250 or hosts_per_leaf > 200 or spines + hosts_per_leaf > 510:
        raise TopologyError("leaf-spine: at most 250 leaves and 200 hosts per leaf")
    hosts: dict[str, Any] = {}
    switches: dict[str, Any] = {}
    links: list[list[Any]] = []
    for leaf in range(1, leaves + 1):
        switches[f"s{leaf}"] = {"role": "leaf"}
    for spine in range(1, spines + 1):
        switches[f"s{leaves + spine}"] = {"role": "spine"}
    for leaf in range(1, leaves + 1):
        for spine in range(1, spines + 1):
            links.append([f"s{leaf}-p{spine}", f"s{leaves + spine}-p{leaf}"])
        for h in range(1, hosts_per_leaf + 1):
            name = f"h{leaf}_{h}"
            hosts[name] = _host(name, leaf, h, kind="client")
            links.append([name, f"s{leaf}-p{spines + h}"])
    return parse({"hosts": hosts, "switches": switches, "links": links}, "leaf-spine")
