"""TableSim match semantics (exact, lpm, ternary, range, priorities, defaults) and
din.p4's recirculation bound in run_request."""

from __future__ import annotations

import numpy as np
import pytest

from controller.entries.errors import EntriesError
from controller.entries.mlp import MODE_NEXT_HERE, IntLayer, Role, layer_entries, role_entries
from controller.entries.schema import FEATURES
from controller.entries.simulator import TableSim, classify, mlp_layer, run_request
from controller.entries.types import (
    ActionProfileGroup,
    ActionProfileMember,
    Exact,
    Lpm,
    Range,
    TableEntry,
    Ternary,
)

LPM = "MyIngress.ipv4_lpm"
TREE = "MyIngress.classifier.tree_0"
PHASE = "MyIngress.classifier.classifier_phase"


def route(value: int, plen: int, port: int) -> TableEntry:
    return TableEntry(
        LPM,
        (("hdr.ipv4.dst_addr", Lpm(value, plen)),),
        "MyIngress.ipv4_forward",
        (("dst_mac", 0), ("src_mac", 0), ("port", port)),
    )


def test_lpm_longest_prefix_wins() -> None:
    sim = TableSim([route(0, 0, 1), route(0x0A000000, 8, 2), route(0x0A000200, 24, 3)])

    def port(addr: int) -> int:
        e = sim.lookup(LPM, {"hdr.ipv4.dst_addr": addr})
        assert e is not None
        return e.param_dict()["port"]

    assert [port(a) for a in (0x0A0002FF, 0x0A000302, 0x0B000000)] == [3, 2, 1]


def tree_entry(value: int, mask: int, priority: int, score: int) -> TableEntry:
    return TableEntry(
        TREE,
        (("meta.cls.cls_model", Exact(0)), ("meta.c0.pkt_len", Ternary(value, mask))),
        "MyIngress.classifier.tree_vote",
        tuple((f"s{c}", score if c == 0 else 0) for c in range(8)),
        priority,
    )


def test_ternary_priority_and_ambiguity() -> None:
    names = [f for f, _ in FEATURES]
    full = {"meta.cls.cls_model": 0, **{f"meta.c0.{f}": 0 for f in names}}
    keys = {k: v for k, v in full.items() if k != "meta.c0.iat"}
    sim = TableSim([tree_entry(0b01, 0b01, 1, 10), tree_entry(0b11, 0b11, 2, 20)])
    hit = sim.lookup(TREE, {**full, "meta.c0.pkt_len": 0b11})
    assert hit is not None and hit.param_dict()["s0"] == 20
    hit = sim.lookup(TREE, {**full, "meta.c0.pkt_len": 0b01})
    assert hit is not None and hit.param_dict()["s0"] == 10
    assert sim.lookup(TREE, {**full, "meta.c0.pkt_len": 0b10}) is None
    clash = TableSim([tree_entry(0b01, 0b01, 1, 10), tree_entry(0b11, 0b11, 1, 20)])
    with pytest.raises(EntriesError, match="2 entries of priority 1"):
        clash.lookup(TREE, {**full, "meta.c0.pkt_len": 0b11})
    with pytest.raises(EntriesError, match=r"no value for key 'meta\.c0\.iat'"):
        sim.lookup(TREE, keys)


def test_range_ends_are_inclusive() -> None:
    sim = TableSim(
        [
            TableEntry(
                PHASE,
                (("meta.feat.pkts", Range(3, 5)),),
                "MyIngress.classifier.set_classifier",
                (("cls_model", 4),),
                1,
            )
        ]
    )
    feats = [0] * 12
    got = [classify(sim, [*feats[:3], n, *feats[4:]]).enabled for n in range(2, 7)]
    assert got == [False, True, True, True, False]


def test_default_entry_replaces_the_p4_default() -> None:
    qos = "MyIngress.class_qos"
    sim = TableSim([TableEntry(qos, (), "MyIngress.set_dscp", (("dscp", 8),), is_default=True)])
    hit = sim.apply(qos, {"meta.cls.flow_class": 3}, "NoAction")
    assert (hit.action, hit.params, hit.entry) == ("MyIngress.set_dscp", {"dscp": 8}, None)
    assert TableSim().apply(qos, {"meta.cls.flow_class": 3}, "NoAction").action == "NoAction"


def test_bad_entries_for_the_simulator() -> None:
    qos = "MyIngress.class_qos"
    e = TableEntry(qos, (("meta.cls.flow_class", Exact(1)),), "NoAction")
    with pytest.raises(EntriesError, match="duplicate key"):
        TableSim([e, e])
    with pytest.raises(EntriesError, match="match fields"):
        TableSim([TableEntry(qos, (), "NoAction")])
    with pytest.raises(EntriesError, match="member 3"):
        TableSim([ActionProfileGroup("MyIngress.instance_selector", 1, ((3, 1),))])
    with pytest.raises(EntriesError, match="not a table"):
        TableSim([TableEntry("MyIngress.nope", (), "NoAction")])
    ok = TableSim([ActionProfileMember("MyIngress.instance_selector", 3, "NoAction")])
    assert 3 in ok.members
    with pytest.raises(EntriesError, match="16 values"):
        mlp_layer(ok, 1, 1, 0, [0] * 15)
    with pytest.raises(EntriesError, match="12 values"):
        classify(ok, [0] * 11)


def test_recirculation_is_bounded() -> None:
    # y0 = x0, every other output 0: one mlp_in table per layer keeps this quick.
    weight = np.zeros((16, 16), dtype=np.int64)
    weight[0, 0] = 1
    layer = IntLayer(weight, np.zeros(16, dtype=np.int64), 0)
    entries = [e for k in range(20) for e in layer_entries(1, 1, k, layer)]
    entries += role_entries(1, 1, [Role(k, MODE_NEXT_HERE) for k in range(20)])
    res = run_request(TableSim(entries), 1, 1, 0, [5, *range(15)])
    # The first pass plus 16 recirculations compute 17 layers; the 17th wants one more.
    assert res.dropped
    assert res.layers == tuple(range(17))
    assert res.vector == (5, *[0] * 15)
    short = [e for e in entries if e.table != "MyIngress.mlp_role"]
    short += role_entries(1, 1, [Role(k, MODE_NEXT_HERE) for k in range(3)])
    res = run_request(TableSim(short), 1, 1, 0, [5, *range(15)])
    assert (res.dropped, res.layers, res.stage) == (False, (0, 1, 2), 3)


def test_entry_equality_ignores_field_order() -> None:
    a = TableEntry(
        "MyIngress.mlp_role",
        (("hdr.din.stage", Exact(1)), ("hdr.din.model_id", Exact(2))),
        "MyIngress.set_mlp_role",
        (("num_classes", 3), ("mode", 0), ("head_layer", 0)),
    )
    b = TableEntry(
        "MyIngress.mlp_role",
        (("hdr.din.model_id", Exact(2)), ("hdr.din.stage", Exact(1))),
        "MyIngress.set_mlp_role",
        (("head_layer", 0), ("mode", 0), ("num_classes", 3)),
    )
    assert a == b
    assert [name for name, _ in a.match] == ["hdr.din.model_id", "hdr.din.stage"]
    m1 = ActionProfileMember("MyIngress.instance_selector", 1, "x", (("b", 1), ("a", 2)))
    assert m1.params == (("a", 2), ("b", 1))
