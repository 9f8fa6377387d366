"""Shortest-path IPv4 routes for a network of P4 switches: the plan behind ``ipv4_lpm``.

Input is the network as the controller sees it (no Mininet): each switch's ports
and what is on the other end, and each host's address, MAC and attachment point.
Output is, per switch, one ``/32`` route per host: the egress port on a
shortest path (fewest switch hops, ties broken by the lowest port) and the
Ethernet addresses to write, the host's own MAC on its last hop.

Pure: imports the standard library only.
"""

from __future__ import annotations

import ipaddress
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass


class RoutingError(ValueError):
    """The network description is inconsistent, or a host cannot be reached."""


@dataclass(frozen=True, slots=True)
class HostAttachment:
    """A host: its IPv4 address and MAC, and the switch port it hangs off."""

    name: str
    ip: str
    mac: str
    switch: str
    port: int


@dataclass(frozen=True, slots=True)
class SwitchLink:
    """One direction of a switch-to-switch link: ``switch:port`` reaches ``peer:peer_port``."""

    switch: str
    port: int
    peer: str
    peer_port: int


@dataclass(frozen=True, slots=True)
class Route:
    """An ``ipv4_lpm`` entry: prefix, egress port and the Ethernet addresses to write."""

    switch: str
    prefix: str
    prefix_len: int
    port: int
    dst_mac: str
    src_mac: str


def switch_mac(switch: str, port: int) -> str:
    """A locally administered MAC for a switch port (stable, derived from the names)."""
    digits = "".join(ch for ch in switch if ch.isdigit()) or "0"
    number = int(digits) & 0xFFFF
    return f"02:d1:{number >> 8:02x}:{number & 0xFF:02x}:{port >> 8:02x}:{port & 0xFF:02x}"


def shortest_routes(
    switches: list[str],
    links: list[SwitchLink],
    hosts: list[HostAttachment],
    gateway_macs: Mapping[str, str] | None = None,
) -> dict[str, list[Route]]:
    """One route per (switch, host), along a shortest path; errors name what is wrong.

    ``gateway_macs`` maps a host name to the MAC its static neighbour entry uses for
    its default gateway; frames delivered to that host carry it as source.
    """
    known = set(switches)
    adjacency: dict[str, list[tuple[int, str]]] = {s: [] for s in switches}
    for link in links:
        for end in (link.switch, link.peer):
            if end not in known:
                raise RoutingError(f"link {link}: unknown switch {end!r}")
        adjacency[link.switch].append((link.port, link.peer))
    for ports in adjacency.values():
        ports.sort()
    routes: dict[str, list[Route]] = {s: [] for s in switches}
    for host in hosts:
        if host.switch not in known:
            raise RoutingError(f"host {host.name!r}: attached to unknown switch {host.switch!r}")
        try:
            ipaddress.IPv4Address(host.ip)
        except ValueError:
            raise RoutingError(f"host {host.name!r}: invalid IPv4 address {host.ip!r}") from None
        # Breadth-first search from the host's switch gives each switch its
        # distance; a switch forwards to the lowest port whose peer is one closer.
        distance = {host.switch: 0}
        queue = deque([host.switch])
        while queue:
            here = queue.popleft()
            for _, peer in adjacency[here]:
                if peer not in distance:
                    distance[peer] = distance[here] + 1
                    queue.append(peer)
        src_mac = (gateway_macs or {}).get(host.name, switch_mac(host.switch, host.port))
        for switch in switches:
            if switch not in distance:
                raise RoutingError(f"host {host.name!r} is unreachable from switch {switch!r}")
            if switch == host.switch:
                routes[switch].append(Route(switch, host.ip, 32, host.port, host.mac, src_mac))
                continue
            port, peer = next(
                (p, n) for p, n in adjacency[switch] if distance.get(n) == distance[switch] - 1
            )
            routes[switch].append(
                Route(switch, host.ip, 32, port, switch_mac(peer, 0), switch_mac(switch, port))
            )
    return routes
