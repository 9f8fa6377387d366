"""BMv2 back end: JSON structure against the reference p4c output."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from p4lite.compiler.driver import Result

CORPUS = Path(__file__).resolve().parents[2] / "conformance"
PROGRAMS = sorted(p.stem for p in (CORPUS / "programs").glob("*.p4"))

TOP_KEYS = [
    "header_types",
    "headers",
    "header_stacks",
    "header_union_types",
    "header_unions",
    "header_union_stacks",
    "field_lists",
    "errors",
    "enums",
    "parsers",
    "parse_vsets",
    "deparsers",
    "meter_arrays",
    "counter_arrays",
    "register_arrays",
    "calculations",
    "learn_lists",
    "actions",
    "pipelines",
    "checksums",
    "force_arith",
    "extern_instances",
    "field_aliases",
    "program",
    "__meta__",
]


def reference(name: str) -> dict[str, object]:
    with open(CORPUS / "reference" / f"{name}.json", encoding="utf-8") as f:
        data: dict[str, object] = json.load(f)
        return data


@pytest.mark.parametrize("name", PROGRAMS)
def test_structure_matches_reference(name: str, compiled: Callable[[str], Result]) -> None:
    mine = compiled(name).json
    ref = reference(name)
    assert list(mine) == TOP_KEYS
    assert mine["errors"] == ref["errors"]
    assert mine["field_aliases"] == ref["field_aliases"]
    assert mine["__meta__"] == ref["__meta__"]

    # same user-visible objects: headers (non-scalar), tables, registers, counters, meters
    def packet_headers(doc: dict[str, object]) -> list[str]:
        headers = doc["headers"]
        assert isinstance(headers, list)
        return sorted(h["header_type"] for h in headers if not h["metadata"])

    assert packet_headers(mine) == packet_headers(ref)

    def user_tables(doc: dict[str, object]) -> set[str]:
        pipes = doc["pipelines"]
        assert isinstance(pipes, list)
        return {
            t["name"]
            for p in pipes
            for t in p["tables"]
            if not t["name"].startswith(("tbl_", "switch_"))
        }

    assert user_tables(mine) == user_tables(ref)
    for key in ("register_arrays", "counter_arrays", "meter_arrays"):
        assert [(x["name"], x.get("size")) for x in mine[key]] == [  # type: ignore[index]
            (x["name"], x.get("size"))
            for x in ref[key]  # type: ignore[attr-defined]
        ]
    assert [s["name"] for s in mine["header_stacks"]] == [s["name"] for s in ref["header_stacks"]]  # type: ignore[attr-defined]


def test_header_types_of_user_headers_match_exactly(compiled: Callable[[str], Result]) -> None:
    mine = compiled("parser_extract_basic").json
    ref = reference("parser_extract_basic")
    ref_types = {t["name"]: t["fields"] for t in ref["header_types"]}  # type: ignore[attr-defined]
    for t in mine["header_types"]:
        if t["name"] != "scalars_0":
            assert t["fields"] == ref_types[t["name"]]


def test_user_table_json_matches_reference(compiled: Callable[[str], Result]) -> None:
    mine = compiled("table_exact").json
    ref = reference("table_exact")
    drop_ids = ("action_ids", "default_entry")
    ref_tables = ref["pipelines"][0]["tables"]  # type: ignore[index]
    for ours, theirs in zip(mine["pipelines"][0]["tables"], ref_tables, strict=True):
        for k in theirs:
            if k not in drop_ids:
                assert ours[k] == theirs[k], k


def test_direct_resources_take_their_table_and_unused_ones_are_dropped(
    compile_text: Callable[[str], Result], program: Callable[..., str]
) -> None:
    locals_ = (
        "direct_meter<bit<8>>(MeterType.bytes) dm;\n"
        "direct_meter<bit<2>>(MeterType.packets) idle_dm;\n"
        "direct_counter(CounterType.packets) idle_dc;\n"
        "action a() { dm.read(meta.m); }\n"
        "table t { key = { hdr.h.a : exact; } actions = { a; } meters = dm; size = 64; }"
    )
    res = compile_text(program("        t.apply();", ingress_locals=locals_))
    meters = res.json["meter_arrays"]
    assert [(m["name"], m["size"], m["binding"]) for m in meters] == [("I.dm", 64, "I.t")]
    assert meters[0]["result_target"][0] == "scalars"
    assert res.json["counter_arrays"] == []
    assert [m.preamble.name for m in res.p4info.direct_meters] == ["I.dm"]
    assert not res.p4info.direct_counters
    assert sorted(w.message for w in res.warnings) == [
        "I.idle_dc: Direct counter not used; ignoring",
        "I.idle_dm: Direct meter not used; ignoring",
    ]
