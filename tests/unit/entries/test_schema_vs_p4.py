"""The names this package emits against the P4 source text: every table, key
field (with match kind and width), action and parameter must exist in p4src."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from controller.entries import classifier, mlp, steering
from controller.entries.errors import EntriesError
from controller.entries.schema import (
    ACTIONS,
    PROFILES,
    TABLES,
    capacity,
    check_capacity,
    check_entries,
    check_entry,
)
from controller.entries.types import (
    ActionProfileGroup,
    ActionProfileMember,
    Exact,
    Lpm,
    Range,
    TableEntry,
    Ternary,
)

P4SRC = Path(__file__).resolve().parents[3] / "p4src"
# Which control each file's tables live in, and its instance path in P4Info.
CONTROL_PREFIX = {
    "MyIngress": "MyIngress.",
    "FlowClassifier": "MyIngress.classifier.",
    "MlpLayer": "MyIngress.mlp.",
}


def strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def block(text: str, start: int) -> str:
    """The text between the brace at or after ``start`` and its partner."""
    i = text.index("{", start)
    depth = 0
    for j in range(i, len(text)):
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        if depth == 0:
            return text[i + 1 : j]
    raise AssertionError("unbalanced braces")


def sources() -> str:
    files = [P4SRC / "din.p4", *sorted(P4SRC.glob("include/*.p4"))]
    return "\n".join(strip_comments(p.read_text()) for p in files)


def types(text: str) -> dict[str, dict[str, str]]:
    """header / struct name -> field -> type text."""
    out = {}
    for m in re.finditer(r"\b(?:header|struct)\s+(\w+)\s*\{", text):
        body = block(text, m.start())
        fields = re.findall(r"(bit<\d+>|\w+)\s+(\w+)\s*;", re.sub(r"@\w+\([^)]*\)", "", body))
        out[m.group(1)] = {name: typ for typ, name in fields}
    return out


def width(structs: dict[str, dict[str, str]], path: str) -> int:
    root, *rest = path.split(".")
    typ = {"hdr": "headers_t", "meta": "metadata_t"}[root]
    for part in rest:
        typ = structs[typ][part]
    m = re.fullmatch(r"bit<(\d+)>", typ)
    assert m, f"{path}: not a bit<N> field ({typ})"
    return int(m.group(1))


def parse() -> tuple[dict[str, dict[str, object]], dict[str, list[tuple[str, int]]], set[str]]:
    text = sources()
    structs = types(text)
    tables: dict[str, dict[str, object]] = {}
    actions: dict[str, list[tuple[str, int]]] = {"NoAction": []}
    selectors: set[str] = set()
    for cm in re.finditer(r"\bcontrol\s+(\w+)\s*\(", text):
        if cm.group(1) not in CONTROL_PREFIX:
            continue
        prefix = CONTROL_PREFIX[cm.group(1)]
        body = block(text, text.index(")", cm.end()))
        for am in re.finditer(r"\baction\s+(\w+)\s*\(([^)]*)\)", body):
            params = re.findall(r"bit<(\d+)>\s+(\w+)", am.group(2))
            actions[prefix + am.group(1)] = [(n, int(w)) for w, n in params]
        for sm in re.finditer(r"\baction_selector\s*\([^;]*\)\s*(\w+)\s*;", body):
            selectors.add(prefix + sm.group(1))
        for tm in re.finditer(r"\btable\s+(\w+)\s*\{", body):
            tbody = block(body, tm.start())
            keys = re.findall(r"([\w.]+)\s*:\s*(\w+)\s*;", block(tbody, tbody.index("key")))
            acts = re.findall(r"(\w+)\s*;", block(tbody, tbody.index("actions")))
            impl = re.search(r"implementation\s*=\s*(\w+)", tbody)
            size = re.search(r"\bsize\s*=\s*(\d+)", tbody)
            tables[prefix + tm.group(1)] = {
                "keys": [(k, kind, width(structs, k)) for k, kind in keys],
                "actions": [a if a == "NoAction" else prefix + a for a in acts],
                "implementation": prefix + impl.group(1) if impl else None,
                "size": int(size.group(1)) if size else None,
            }
    return tables, actions, selectors


P4_TABLES, P4_ACTIONS, P4_SELECTORS = parse()


def test_parser_found_the_program() -> None:
    assert "MyIngress.ipv4_lpm" in P4_TABLES
    assert "MyIngress.mlp.mlp_in_15" in P4_TABLES
    assert "MyIngress.classifier.tree_3" in P4_TABLES
    assert P4_ACTIONS["MyIngress.mlp.accumulate"][15] == ("p15", 32)


def test_every_p4_table_is_in_the_schema() -> None:
    assert set(P4_TABLES) == set(TABLES)


@pytest.mark.parametrize("name", sorted(TABLES))
def test_schema_table_matches_p4(name: str) -> None:
    assert name in P4_TABLES, f"{name} not in p4src"
    spec, p4 = TABLES[name], P4_TABLES[name]
    assert [(k.name, k.kind, k.bits) for k in spec.keys] == p4["keys"]
    assert sorted(spec.actions) == sorted(p4["actions"])  # type: ignore[arg-type]
    assert spec.implementation == p4["implementation"]
    assert spec.size == p4["size"]


@pytest.mark.parametrize("name", sorted(ACTIONS))
def test_schema_action_matches_p4(name: str) -> None:
    assert name in P4_ACTIONS, f"{name} not in p4src"
    assert list(ACTIONS[name].params) == P4_ACTIONS[name]


def test_profiles_exist() -> None:
    assert set(PROFILES) <= P4_SELECTORS
    for profile, tbl in PROFILES.items():
        assert P4_TABLES[tbl]["implementation"] == profile


PLAN = steering.Plan(
    instances=(
        steering.Instance(1, "10.0.2.2", backup_id=2, stale_after_us=500_000),
        steering.Instance(2, "10.0.3.3"),
    ),
    services=(steering.Service(7, ((1, 2), (2, 1)), ((1, 0), (3, 2))),),
    policies=(steering.Policy(5, 2, (1,)),),
    routes=(steering.Route("10.0.2.0/24", "08:00:00:00:02:22", "08:00:00:00:01:00", 2),),
    qos={0: 46},
)


def emitted() -> list[object]:
    layer = mlp.IntLayer(np.ones((16, 16), dtype=np.int64), np.ones(16, dtype=np.int64), 3)
    out: list[object] = [
        *mlp.layer_entries(1, 1, 0, layer),
        *mlp.role_entries(1, 1, [mlp.Role(0, mlp.MODE_FINAL, 0, 3)]),
        *mlp.exit_entries(1, 1, [3]),
        mlp.active_version_entry(1, 1),
        *classifier.phase_entries(1, 3, 0),
        *classifier.qos_entries({1: 46}),
        *steering.plan_entries(PLAN),
    ]
    return out


def test_every_emitted_name_is_in_p4() -> None:
    used_tables, used_actions = set(), set()
    for e in emitted():
        check_entry(e)  # type: ignore[arg-type]
        if isinstance(e, TableEntry):
            p4 = P4_TABLES[e.table]
            used_tables.add(e.table)
            if e.action is not None:
                assert e.action in p4["actions"]  # type: ignore[operator]
                assert sorted(n for n, _ in e.params) == sorted(n for n, _ in P4_ACTIONS[e.action])
                used_actions.add(e.action)
            keys = {k for k, _, _ in p4["keys"]}  # type: ignore[attr-defined]
            assert {f for f, _ in e.match} <= keys
        elif isinstance(e, ActionProfileMember):
            assert e.profile in P4_SELECTORS
            assert e.action in P4_ACTIONS
        else:
            assert isinstance(e, ActionProfileGroup)
            assert e.profile in P4_SELECTORS
    assert "MyIngress.din_steer" in used_tables


BAD = [
    (TableEntry("MyIngress.nope", action="NoAction"), "not a table"),
    (TableEntry("MyIngress.class_qos", action="MyIngress.drop"), "expected one of"),
    (TableEntry("MyIngress.class_qos", action="MyIngress.nope"), "not an action"),
    (
        TableEntry("MyIngress.class_qos", (("x", Exact(1)),), "NoAction"),
        "no key field 'x'",
    ),
    (
        TableEntry("MyIngress.class_qos", (("meta.cls.flow_class", Lpm(1, 8)),), "NoAction"),
        "expected a exact match",
    ),
    (
        TableEntry("MyIngress.class_qos", (("meta.cls.flow_class", Exact(256)),), "NoAction"),
        "value 256 does not fit bit<8>",
    ),
    (TableEntry("MyIngress.class_qos", (), "NoAction"), "lacks the exact field"),
    (
        TableEntry("MyIngress.class_qos", (("meta.cls.flow_class", Exact(1)),), "NoAction", (), 3),
        "expected 0",
    ),
    (
        TableEntry(
            "MyIngress.class_qos", (("meta.cls.flow_class", Exact(1)),), "MyIngress.set_dscp"
        ),
        "parameters",
    ),
    (
        TableEntry(
            "MyIngress.class_qos",
            (("meta.cls.flow_class", Exact(1)),),
            "MyIngress.set_dscp",
            (("dscp", 64),),
        ),
        "dscp: value 64",
    ),
    (
        TableEntry("MyIngress.ipv4_lpm", (("hdr.ipv4.dst_addr", Lpm(1, 33)),), "MyIngress.drop"),
        "prefix length 33",
    ),
    (
        TableEntry(
            "MyIngress.classifier.classifier_phase",
            (("meta.feat.pkts", Range(5, 1)),),
            "MyIngress.classifier.classifier_off",
            (),
            1,
        ),
        "low <= high",
    ),
    (
        TableEntry(
            "MyIngress.classifier.classifier_phase",
            (("meta.feat.pkts", Range(1, 5)),),
            "MyIngress.classifier.classifier_off",
        ),
        "positive",
    ),
    (
        TableEntry(
            "MyIngress.classifier.tree_0",
            (
                ("meta.cls.cls_model", Exact(1)),
                ("meta.c0.iat", Ternary(1, 1 << 16)),
            ),
            "NoAction",
            (),
            1,
        ),
        "mask 65536",
    ),
    (
        TableEntry(
            "MyIngress.ipv4_lpm", (("hdr.ipv4.dst_addr", Lpm(0x0A000201, 24)),), "MyIngress.drop"
        ),
        "bits beyond prefix length 24: expected 0xa000200",
    ),
    (
        TableEntry(
            "MyIngress.classifier.tree_0",
            (("meta.cls.cls_model", Exact(1)), ("meta.c0.iat", Ternary(3, 1))),
            "NoAction",
            (),
            1,
        ),
        "bits outside mask 0x1: expected 0x1",
    ),
    (TableEntry("MyIngress.class_qos", (), None, (), 0, False, 3), "no action profile"),
    (ActionProfileMember("MyIngress.other", 1, "NoAction"), "action profile"),
    (ActionProfileMember("MyIngress.instance_selector", 1, "MyIngress.drop"), "not allowed"),
]


@pytest.mark.parametrize(("entry", "message"), BAD)
def test_check_entry_rejects(entry: TableEntry, message: str) -> None:
    with pytest.raises(EntriesError, match=message):
        check_entries([entry])


def test_entry_must_name_one_target() -> None:
    with pytest.raises(EntriesError, match="expected exactly one"):
        TableEntry("MyIngress.class_qos")
    with pytest.raises(EntriesError, match="expected exactly one"):
        TableEntry("MyIngress.din_steer", action="NoAction", group_id=1)
    with pytest.raises(EntriesError, match="no match and priority 0"):
        TableEntry("MyIngress.class_qos", (("a", Exact(1)),), "NoAction", is_default=True)


def test_capacity_of_mlp_tables() -> None:
    layer = mlp.IntLayer(np.ones((16, 16), dtype=np.int64), np.zeros(16, dtype=np.int64), 0)
    sixteen = [e for k in range(16) for e in mlp.layer_entries(1, 1, k, layer)]
    report = capacity(sixteen)
    assert report["MyIngress.mlp.mlp_in_0"] == (16 * 255, 4096)
    assert report["MyIngress.mlp.mlp_bias"] == (16, 256)
    check_capacity(sixteen)
    seventeen = sixteen + mlp.layer_entries(1, 1, 16, layer)
    with pytest.raises(EntriesError, match="4335 entries: expected at most 4096"):
        check_capacity(seventeen)
