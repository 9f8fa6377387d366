"""sN-runtime.json: round trips of generated entries and every validation error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from controller.entries import classifier, mlp, runtime_json, steering
from controller.entries.errors import EntriesError
from controller.entries.types import ActionProfileMember, Exact, Lpm, TableEntry, Ternary

ROUTE = steering.Route("10.0.2.0/24", "08:00:00:00:02:22", "08:00:00:00:01:00", 2)


def sample_entries() -> list[TableEntry]:
    layer = mlp.IntLayer(np.array([[1, -2], [3, 0]]), np.array([5, -7]), 1)
    return [
        *mlp.layer_entries(1, 1, 0, layer)[:5],
        *mlp.role_entries(1, 1, [mlp.Role(0, mlp.MODE_FINAL, 0, 2)]),
        *classifier.phase_entries(2, 4, 1),
        *steering.route_entries([ROUTE]),
        *steering.instance_entries([steering.Instance(3, "10.0.3.3")]),
        TableEntry(
            "MyIngress.classifier.tree_0",
            (("meta.cls.cls_model", Exact(1)), ("meta.c0.iat", Ternary(2, 3))),
            "NoAction",
            (),
            5,
        ),
        TableEntry("MyIngress.ipv4_lpm", (), "MyIngress.drop", is_default=True),
    ]


def test_round_trip(tmp_path: Path) -> None:
    entries = sample_entries()
    path = tmp_path / "s1-runtime.json"
    runtime_json.write(path, entries, p4info="build/din.p4info.txtpb", bmv2_json="b.json")
    got = runtime_json.read(path)
    assert got.entries == tuple(entries)
    assert (got.target, got.p4info, got.bmv2_json) == ("bmv2", "build/din.p4info.txtpb", "b.json")


def test_written_form_is_the_tutorials_one() -> None:
    doc = json.loads(runtime_json.dumps(sample_entries()))
    items = doc["table_entries"]
    route = next(i for i in items if i["table"] == "MyIngress.ipv4_lpm" and "match" in i)
    assert route == {
        "table": "MyIngress.ipv4_lpm",
        "match": {"hdr.ipv4.dst_addr": ["10.0.2.0", 24]},
        "action_name": "MyIngress.ipv4_forward",
        "action_params": {
            "dst_mac": "08:00:00:00:02:22",
            "src_mac": "08:00:00:00:01:00",
            "port": 2,
        },
    }
    assert items[-1] == {
        "table": "MyIngress.ipv4_lpm",
        "default_action": True,
        "action_name": "MyIngress.drop",
        "action_params": {},
    }
    phase = [i for i in items if i["table"] == "MyIngress.classifier.classifier_phase"]
    assert phase[0]["match"] == {"meta.feat.pkts": [1, 3]}
    assert phase[0]["priority"] == 1
    bias = items[0]
    assert bias["action_params"]["b1"] == 0xFFFFFFF9


def test_tutorials_style_values_are_read() -> None:
    text = json.dumps(
        {
            "target": "bmv2",
            "p4info": "x",
            "bmv2_json": "y",
            "table_entries": [
                {
                    "table": "MyIngress.ipv4_lpm",
                    "match": {"hdr.ipv4.dst_addr": ["10.0.1.1", 32]},
                    "action_name": "MyIngress.ipv4_forward",
                    "action_params": {"dst_mac": "08-00-00-00-01-11", "src_mac": 1, "port": "0x1"},
                }
            ],
            "multicast_group_entries": [],
        }
    )
    got = runtime_json.loads(text)
    (e,) = got.entries
    assert e.match == (("hdr.ipv4.dst_addr", Lpm(0x0A000101, 32)),)
    assert e.param_dict() == {"dst_mac": 0x080000000111, "src_mac": 1, "port": 1}
    assert got.extra == {"multicast_group_entries": []}


def test_writing_action_profile_objects_fails() -> None:
    with pytest.raises(EntriesError, match=r"no sN-runtime\.json form"):
        runtime_json.dumps([ActionProfileMember("MyIngress.instance_selector", 1, "NoAction")])
    with pytest.raises(EntriesError, match=r"no sN-runtime\.json form"):
        runtime_json.dumps([TableEntry("MyIngress.din_steer", (), None, group_id=1)])


def doc(**entry: Any) -> str:
    base = {
        "table": "MyIngress.class_qos",
        "match": {"meta.cls.flow_class": 1},
        "action_name": "MyIngress.set_dscp",
        "action_params": {"dscp": 46},
    }
    base.update(entry)
    for key in [k for k, v in base.items() if v is DROP]:
        del base[key]
    return json.dumps({"target": "bmv2", "table_entries": [{}, base][1:]})


DROP = object()
PHASE = {
    "table": "MyIngress.classifier.classifier_phase",
    "priority": 1,
    "action_name": "MyIngress.classifier.classifier_off",
    "action_params": {},
}
E0 = "s1-runtime.json: table_entries[0]"

ENTRY_ERRORS = [
    ({"bogus": 1}, f"{E0}: unknown key 'bogus'"),
    ({"table": 3}, f"{E0}.table: 3: expected a table name"),
    ({"table": "MyIngress.nope"}, f"{E0}.table: table 'MyIngress.nope': not a table"),
    ({"default_action": "yes"}, f"{E0}.default_action: 'yes'"),
    ({"action_name": DROP}, f"{E0}.action_name: None"),
    ({"action_params": [1]}, f"{E0}.action_params: [1]: expected an object"),
    ({"action_params": {"dscp": "x"}}, f"{E0}.action_params.dscp: 'x': expected an int"),
    ({"action_params": {"dscp": 99}}, f"{E0}.action_params.dscp: value 99 does not fit"),
    ({"action_params": {"dscp": -1}}, f"{E0}.action_params.dscp: -1: expected a non-negative"),
    ({"action_params": {"dscp": 1.5}}, f"{E0}.action_params.dscp: 1.5: expected an int or"),
    ({"action_params": {}}, f"{E0}: action 'MyIngress.set_dscp' parameters"),
    ({"action_name": "MyIngress.drop", "action_params": {}}, f"{E0}: action 'MyIngress.drop'"),
    ({"priority": -1}, f"{E0}.priority: -1: expected a non-negative int"),
    ({"priority": 2}, f"{E0}: priority 2: expected 0"),
    ({"match": [1]}, f"{E0}.match: [1]: expected an object"),
    ({"match": {"x": 1}}, f"{E0}.match.x: table 'MyIngress.class_qos': no key field 'x'"),
    ({"match": {"meta.cls.flow_class": [1, 2]}}, f"{E0}.match.meta.cls.flow_class: [1, 2]"),
    ({"match": {"meta.cls.flow_class": 300}}, f"{E0}.match.meta.cls.flow_class: value 300"),
    ({"match": {}}, f"{E0}: match lacks the exact field 'meta.cls.flow_class'"),
    ({"default_action": True}, f"{E0}.match: a default_action entry takes no match"),
    ({**PHASE, "match": {"meta.feat.pkts": 5}}, f"{E0}.match.meta.feat.pkts: 5: expected [low"),
    ({**PHASE, "match": {"meta.feat.pkts": [5, 1]}}, "expected low <= high"),
    ({**PHASE, "priority": 0, "match": {"meta.feat.pkts": [1, 5]}}, f"{E0}: priority 0"),
    (
        {
            "table": "MyIngress.ipv4_lpm",
            "match": {"hdr.ipv4.dst_addr": ["10.0.0.256", 8]},
            "action_name": "MyIngress.drop",
            "action_params": {},
        },
        f"{E0}.match.hdr.ipv4.dst_addr: '10.0.0.256': expected a dotted quad",
    ),
    (
        {
            "table": "MyIngress.ipv4_lpm",
            "match": {"hdr.ipv4.dst_addr": ["10.0.0.0", 40]},
            "action_name": "MyIngress.drop",
            "action_params": {},
        },
        f"{E0}.match.hdr.ipv4.dst_addr: prefix length 40",
    ),
    (
        {
            "table": "MyIngress.classifier.tree_0",
            "priority": 1,
            "action_name": "NoAction",
            "action_params": {},
            "match": {"meta.c0.iat": [1]},
        },
        f"{E0}.match.meta.c0.iat: [1]: expected [value, mask]",
    ),
    (
        {
            "table": "MyIngress.din_steer",
            "action_name": "NoAction",
            "action_params": {},
            "match": {"hdr.ipv4.src_addr": 1},
        },
        f"{E0}.match.hdr.ipv4.src_addr: a selector key cannot be given",
    ),
]


@pytest.mark.parametrize(("entry", "message"), ENTRY_ERRORS)
def test_entry_errors_name_the_field(entry: dict[str, Any], message: str) -> None:
    with pytest.raises(EntriesError) as info:
        runtime_json.loads(doc(**entry), "s1-runtime.json")
    assert message in str(info.value)
    assert str(info.value).startswith(E0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "s1-runtime.json:1:2: invalid JSON"),
        ("[]", "s1-runtime.json: list: expected a JSON object"),
        ('{"x": 1}', "s1-runtime.json: unknown key 'x'"),
        ('{"target": 1}', "s1-runtime.json: target: 1: expected a string"),
        ('{"target": "tofino"}', "s1-runtime.json: target: 'tofino': expected 'bmv2'"),
        ('{"p4info": null}', "s1-runtime.json: p4info: None"),
        ('{"table_entries": {}}', "s1-runtime.json: table_entries: {}: expected a list"),
        ('{"table_entries": [1]}', "s1-runtime.json: table_entries[0]: 1: expected an object"),
    ],
)
def test_file_errors(text: str, message: str) -> None:
    with pytest.raises(EntriesError) as info:
        runtime_json.loads(text, "s1-runtime.json")
    assert str(info.value).startswith(message)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(EntriesError, match=r"s9-runtime\.json: cannot read"):
        runtime_json.read(tmp_path / "s9-runtime.json")
