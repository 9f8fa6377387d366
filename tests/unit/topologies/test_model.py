"""topologies.model: the tutorials' topology.json shape, its validation and the builders."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from topologies import model
from topologies.model import TopologyError

REPO = Path(__file__).resolve().parents[3]


def _valid() -> dict[str, Any]:
    return {
        "hosts": {
            "h1": {"ip": "10.0.1.1/24", "mac": "08:00:00:00:01:11", "commands": []},
            "h2": {"ip": "10.0.2.2/24", "mac": "08:00:00:00:02:22"},
        },
        "switches": {"s1": {"runtime_json": "s1-runtime.json"}, "s2": {}},
        "links": [["h1", "s1-p1"], ["s1-p2", "s2-p2", "20ms", 100], ["h2", "s2-p1"]],
    }


def test_parse_reads_hosts_switches_links() -> None:
    topo = model.parse(_valid(), "t.json")
    assert topo.hosts["h1"].address == "10.0.1.1"
    assert topo.switches["s1"].runtime_json == "s1-runtime.json"
    wan = topo.links[1]
    assert (wan.a, wan.b) == (model.Endpoint("s1", 2), model.Endpoint("s2", 2))
    assert (wan.delay_ms, wan.bw_mbps) == (20.0, 100.0)
    assert [p for p, _ in topo.switch_ports("s2")] == [1, 2]


def test_to_json_round_trips() -> None:
    topo = model.parse(_valid(), "t.json")
    assert model.parse(topo.to_json(), "t.json") == topo


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda d: d["links"].append(["h1", "s2-p5"]),
            r"links\[3\]\[0\]: 'h1' is already linked in links\[0\]",
        ),
        (lambda d: d["links"].append(["s1-p7", "s9-p1"]), r"links\[3\]\[1\]: unknown node 's9'"),
        (lambda d: d["hosts"]["h1"].update(ip="10.0.1.1"), r"hosts\.h1\.ip: missing prefix length"),
        (lambda d: d["hosts"]["h1"].update(ip="10.0.1.300/24"), r"hosts\.h1\.ip: expected"),
        (
            lambda d: d["hosts"]["h2"].update(mac="08:00:00:00:01:11"),
            r"hosts\.h2\.mac: .* used by h1",
        ),
        (lambda d: d["hosts"]["h1"].update(mac="zz"), r"hosts\.h1\.mac: expected 'aa:bb"),
        (lambda d: d["links"][1].__setitem__(2, "fast"), r"links\[1\]\[2\]: invalid delay 'fast'"),
        (
            lambda d: d["links"][1].__setitem__(3, 0),
            r"links\[1\]\[3\]: bandwidth must be a positive Mbit/s, got 0",
        ),
        (lambda d: d["links"].pop(), r"hosts\.h2: not connected by any link"),
        (lambda d: d.update(routers={}), r"unknown key\(s\) \['routers'\]"),
        (
            lambda d: d["links"].append(["s1-p999", "s2-p3"]),
            r"links\[3\]\[0\]: port 999 of 's1' is outside 0\.\.510",
        ),
    ],
)
def test_errors_name_the_field(mutate: Any, message: str) -> None:
    data = _valid()
    mutate(data)
    with pytest.raises(TopologyError, match=rf"^t\.json: {message}"):
        model.parse(data, "t.json")


def test_load_reports_json_syntax_with_position(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"hosts": {}\n "links": []}')
    with pytest.raises(TopologyError, match=r"bad\.json:2:2: invalid JSON"):
        model.load(bad)


def test_enterprise_shape() -> None:
    topo = model.enterprise(wan_delay_ms=35, wan_bw_mbps=50, clients=3, iot=2, cloud_nodes=2)
    assert set(topo.switches) == {"s1", "s2", "s3"}
    roles = {s: topo.switches[s].extra["role"] for s in topo.switches}
    assert roles == {"s1": "edge", "s2": "in-network", "s3": "cloud-gateway"}
    wan = [link for link in topo.links if link.delay_ms]
    assert len(wan) == 1 and (wan[0].delay_ms, wan[0].bw_mbps) == (35.0, 50.0)
    assert {wan[0].a.node, wan[0].b.node} == {"s2", "s3"}
    premises = {h: topo.hosts[h].extra["premises"] for h in topo.hosts}
    assert premises["e1"] == "on-premises" and premises["c1"] == "cloud"
    assert sum(1 for h in topo.hosts.values() if h.extra["kind"] == "client") == 3


def test_shipped_enterprise_file_is_the_builders_default() -> None:
    shipped = model.load(REPO / "topologies" / "enterprise.json")
    built = model.enterprise()
    assert shipped.to_json() == built.to_json()


@pytest.mark.parametrize(("leaves", "spines", "per_leaf"), [(1, 1, 1), (4, 2, 4), (16, 4, 4)])
def test_leaf_spine_is_a_full_bipartite_fabric(leaves: int, spines: int, per_leaf: int) -> None:
    topo = model.leaf_spine(leaves=leaves, spines=spines, hosts_per_leaf=per_leaf)
    assert len(topo.switches) == leaves + spines
    assert len(topo.hosts) == leaves * per_leaf
    fabric = {
        frozenset((link.a.node, link.b.node))
        for link in topo.links
        if link.a.port is not None and link.b.port is not None
    }
    assert len(fabric) == leaves * spines
    json.dumps(topo.to_json())  # serialisable as a topology file


def test_builders_refuse_nonsense() -> None:
    with pytest.raises(TopologyError, match="leaf-spine: leaves, spines"):
        model.leaf_spine(leaves=0)
    with pytest.raises(TopologyError, match="enterprise: clients"):
        model.enterprise(clients=0)
