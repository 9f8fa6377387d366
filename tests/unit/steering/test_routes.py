"""controller.steering.routes: shortest-path /32 routes per switch."""

from __future__ import annotations

import pytest

from controller.steering.routes import (
    HostAttachment,
    RoutingError,
    SwitchLink,
    shortest_routes,
    switch_mac,
)


def _both(a: str, pa: int, b: str, pb: int) -> list[SwitchLink]:
    return [SwitchLink(a, pa, b, pb), SwitchLink(b, pb, a, pa)]


H1 = HostAttachment("h1", "10.0.1.1", "08:00:00:00:01:11", "s1", 1)
H2 = HostAttachment("h2", "10.0.2.2", "08:00:00:00:02:22", "s3", 4)


def test_a_chain_routes_hop_by_hop() -> None:
    links = _both("s1", 2, "s2", 1) + _both("s2", 2, "s3", 1)
    routes = shortest_routes(["s1", "s2", "s3"], links, [H1, H2], {"h2": "08:00:00:02:fe:00"})
    to_h2 = {r.switch: r for rs in routes.values() for r in rs if r.prefix == "10.0.2.2"}
    assert (to_h2["s1"].port, to_h2["s2"].port, to_h2["s3"].port) == (2, 2, 4)
    # The last hop writes the host's own MAC, from its gateway's MAC.
    assert (to_h2["s3"].dst_mac, to_h2["s3"].src_mac) == ("08:00:00:00:02:22", "08:00:00:02:fe:00")
    assert to_h2["s1"].dst_mac == switch_mac("s2", 0)
    assert all(r.prefix_len == 32 for rs in routes.values() for r in rs)
    assert sum(len(rs) for rs in routes.values()) == 6


def test_a_shortcut_is_preferred_and_ties_go_to_the_lowest_port() -> None:
    # s1 reaches s3 directly on port 5, or through s2 on port 2; and s4 both ways.
    links = (
        _both("s1", 2, "s2", 1)
        + _both("s2", 2, "s3", 1)
        + _both("s1", 5, "s3", 2)
        + _both("s1", 3, "s4", 1)
        + _both("s4", 2, "s3", 3)
    )
    routes = shortest_routes(["s1", "s2", "s3", "s4"], links, [H2])
    assert [r.port for r in routes["s1"]] == [5]
    # Without the shortcut, s1 has two 2-hop paths (via s2 on port 2, via s4 on port 3).
    no_shortcut = [link for link in links if {link.switch, link.peer} != {"s1", "s3"}]
    routes = shortest_routes(["s1", "s2", "s3", "s4"], no_shortcut, [H2])
    assert [r.port for r in routes["s1"]] == [2]
    h1 = HostAttachment("h1", "10.0.1.1", "08:00:00:00:01:11", "s1", 1)
    routes = shortest_routes(["s1", "s2", "s3", "s4"], links, [h1])
    # From s3, s1 is one hop away on port 2 (direct): no tie. From s2: port 1.
    assert [r.port for r in routes["s3"]] == [2]
    assert [r.port for r in routes["s2"]] == [1]


def test_errors_name_what_is_wrong() -> None:
    with pytest.raises(RoutingError, match="host 'h2' is unreachable from switch 's1'"):
        shortest_routes(["s1", "s3"], [], [H2])
    with pytest.raises(RoutingError, match="unknown switch 's9'"):
        shortest_routes(["s1"], [SwitchLink("s1", 1, "s9", 1)], [])
    bad = HostAttachment("h3", "10.0.300.1", "08:00:00:00:03:33", "s1", 1)
    with pytest.raises(RoutingError, match=r"invalid IPv4 address '10\.0\.300\.1'"):
        shortest_routes(["s1"], [], [bad])


def test_switch_macs_are_locally_administered_and_distinct() -> None:
    macs = {switch_mac(f"s{i}", p) for i in range(1, 40) for p in range(9)}
    assert len(macs) == 39 * 9
    assert all(int(m.split(":")[0], 16) & 0x02 for m in macs)
