"""Loading BMv2 JSON: the reference corpus loads; bad nodes are named by JSON path."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from p4lite.switch.core import ActionCall, ExactMatch, LoadError, Switch

REFERENCE = Path(__file__).resolve().parents[2] / "conformance" / "reference"


def load_reference(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((REFERENCE / f"{name}.json").read_text())
    return doc


def test_every_reference_program_loads() -> None:
    names = sorted(p.stem for p in REFERENCE.glob("*.json"))
    assert len(names) == 51
    for name in names:
        sw = Switch.from_json((REFERENCE / f"{name}.json").read_text())
        assert sw.tables() is not None


def _first_table_with_keys(doc: dict[str, Any]) -> tuple[int, int]:
    for pi, pl in enumerate(doc["pipelines"]):
        for ti, t in enumerate(pl["tables"]):
            if t["key"]:
                return pi, ti
    raise AssertionError("no keyed table")


def test_unknown_match_type_names_the_path() -> None:
    doc = load_reference("table_exact")
    pi, ti = _first_table_with_keys(doc)
    doc["pipelines"][pi]["tables"][ti]["key"][0]["match_type"] = "foo"
    with pytest.raises(LoadError) as exc:
        Switch.from_json(doc)
    assert str(exc.value) == (
        f"pipelines[{pi}].tables[{ti}].key[0].match_type: unknown match type 'foo'"
    )
    assert exc.value.path == f"pipelines[{pi}].tables[{ti}].key[0].match_type"


def test_unknown_primitive_is_named() -> None:
    doc = load_reference("table_exact")
    doc["actions"][0]["primitives"].append({"op": "frobnicate", "parameters": []})
    with pytest.raises(
        LoadError, match=r"actions\[0\]\.primitives\[\d+\]\.op: unknown primitive 'frobnicate'"
    ):
        Switch.from_json(doc)


def test_unknown_expression_op_is_named() -> None:
    doc = load_reference("expr_arith_wrap")
    text = json.dumps(doc).replace('"op": "+"', '"op": "+++"', 1)
    with pytest.raises(LoadError, match=r"unknown expression op '\+\+\+'"):
        Switch.from_json(text)


def test_unknown_header_in_field_ref() -> None:
    doc = load_reference("parser_extract_basic")
    doc2 = copy.deepcopy(doc)
    doc2["deparsers"][0]["order"].append("nosuch")
    with pytest.raises(LoadError, match=r"deparsers\[0\]\.order\[\d+\]: unknown header 'nosuch'"):
        Switch.from_json(doc2)


def test_invalid_json_text() -> None:
    with pytest.raises(LoadError, match="invalid JSON"):
        Switch.from_json("{not json")


def test_not_an_object() -> None:
    with pytest.raises(LoadError, match="expected a JSON object"):
        Switch.from_json("[]")


def test_missing_standard_metadata() -> None:
    doc = load_reference("parser_extract_basic")
    doc["headers"] = [h for h in doc["headers"] if h["name"] != "standard_metadata"]
    with pytest.raises(LoadError, match="standard_metadata"):
        Switch.from_json(doc)


def test_bad_next_state() -> None:
    doc = load_reference("parser_extract_basic")
    doc["parsers"][0]["parse_states"][0]["transitions"][0]["next_state"] = "nowhere"
    with pytest.raises(
        LoadError,
        match=r"parsers\[0\]\.parse_states\[0\]\.transitions\[0\]\.next_state: "
        r"unknown parse state 'nowhere'",
    ):
        Switch.from_json(doc)


def test_unknown_hash_algorithm() -> None:
    doc = load_reference("hash_algos")
    doc["calculations"][0]["algo"] = "md5"
    with pytest.raises(LoadError, match=r"calculations\[0\]\.algo: unknown hash algorithm 'md5'"):
        Switch.from_json(doc)


def test_unsupported_version() -> None:
    doc = load_reference("parser_extract_basic")
    doc["__meta__"]["version"] = [3, 0]
    with pytest.raises(LoadError, match=r"__meta__\.version: unsupported version"):
        Switch.from_json(doc)


def test_malformed_node_is_a_load_error_with_a_path() -> None:
    doc = load_reference("table_exact")
    pi, ti = _first_table_with_keys(doc)
    doc["pipelines"][pi]["tables"][ti]["max_size"] = "many"
    with pytest.raises(LoadError) as exc:
        Switch.from_json(doc)
    assert exc.value.path.startswith(f"pipelines[{pi}].tables[{ti}]")
    assert "malformed node" in str(exc.value)


def test_bad_error_declaration() -> None:
    doc = load_reference("table_exact")
    doc["errors"][1] = ["PacketTooShort"]
    with pytest.raises(LoadError, match=r"errors\[1\]: expected \[name, value\]"):
        Switch.from_json(doc)


def test_default_entry_data_count_checked() -> None:
    doc = load_reference("table_exact")
    t = next(t for t in doc["pipelines"][0]["tables"] if t["name"] == "MyIngress.t_fwd")
    t["default_entry"]["action_data"] = []
    with pytest.raises(LoadError, match=r"default_entry\.action_data: action .* takes 2 values"):
        Switch.from_json(doc)


def test_runtime_data_index_checked() -> None:
    doc = load_reference("table_exact")
    act = next(a for a in doc["actions"] if a["name"] == "MyIngress.fwd")
    act["primitives"][0]["parameters"][1] = {"type": "runtime_data", "value": 5}
    with pytest.raises(LoadError, match="action parameter index 5 out of range"):
        Switch.from_json(doc)


def test_variable_length_field_needs_max_length() -> None:
    doc = load_reference("table_exact")
    ht = next(t for t in doc["header_types"] if t["name"] != "scalars_0" and t["fields"])
    ht["fields"].append(["opts", "*", False])
    with pytest.raises(LoadError, match="max_length") as exc:
        Switch.from_json(json.dumps(doc))
    assert exc.value.path.startswith("header_types[")
    second = copy.deepcopy(ht["fields"][-1])
    ht["fields"].append(second)
    ht["max_length"] = 64
    with pytest.raises(LoadError, match="invalid width '\\*'"):
        Switch.from_json(json.dumps(doc))
    ht["fields"].pop()
    assert Switch.from_json(json.dumps(doc)).tables() is not None


def test_header_union_stack_ids_are_checked() -> None:
    doc = load_reference("header_union")
    doc["header_union_stacks"] = [
        {"name": "us", "id": 0, "union_type": "u", "size": 1, "header_union_ids": [0]}
    ]
    Switch.from_json(json.dumps(doc))  # a stack of existing unions loads
    doc["header_union_stacks"][0]["header_union_ids"] = [7]
    with pytest.raises(LoadError, match=r"header_union_stacks\[0\]\.header_union_ids\[0\]"):
        Switch.from_json(json.dumps(doc))


def test_force_arith_fields_load_and_change_nothing() -> None:
    # BMv2 keeps force_arith fields as integers; p4lite keeps every field so.
    doc = load_reference("table_exact")
    plain = Switch.from_json(copy.deepcopy(doc))
    doc["force_arith"] = [
        ["standard_metadata", "ingress_port"],
        ["standard_metadata", "egress_spec"],
        ["h", "key"],
        ["$hidden", "anything"],
    ]
    forced = Switch.from_json(doc)
    for sw in (plain, forced):
        sw.add_entry("MyIngress.t_fwd", [ExactMatch(1)], ActionCall("MyIngress.fwd", (3,)))
    frame = bytes.fromhex("0001 00 00")
    assert forced.process(0, frame) == plain.process(0, frame) == [(3, bytes.fromhex("0001005a"))]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([["nope", "x"]], "force_arith[0]: unknown header 'nope'"),
        ([["h", "nope"]], "force_arith[0]: header 'h' has no field 'nope'"),
        ([["h"]], "force_arith[0]: expected [header, field]"),
        ("h.key", "force_arith: expected a list of fields"),
    ],
)
def test_bad_force_arith_is_named(value: Any, message: str) -> None:
    doc = load_reference("table_exact")
    doc["force_arith"] = value
    with pytest.raises(LoadError) as excinfo:
        Switch.from_json(doc)
    assert str(excinfo.value).startswith(message)
