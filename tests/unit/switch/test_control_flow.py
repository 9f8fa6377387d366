"""Less common JSON constructs: _jump/_jump_if_zero actions, parser value sets, default order."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from p4lite.switch.core import ActionCall, ExactMatch, Switch

REFERENCE = Path(__file__).resolve().parents[2] / "conformance" / "reference"
IPV4 = bytes.fromhex("000000000002 000000000001 0800 4500001c 00010000 4011 0000 0a000001 0a000002")


def load_doc(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((REFERENCE / f"{name}.json").read_text())
    return doc


def egress_spec_field() -> dict[str, Any]:
    return {"type": "field", "value": ["standard_metadata", "egress_spec"]}


def test_jump_if_zero_skips_primitives() -> None:
    doc = load_doc("table_exact")
    fwd = next(a for a in doc["actions"] if a["name"] == "MyIngress.fwd")
    fwd["primitives"] = [
        {"op": "assign", "parameters": [egress_spec_field(), {"type": "hexstr", "value": "0x7"}]},
        {
            "op": "_jump_if_zero",
            "parameters": [
                {
                    "type": "expression",
                    "value": {
                        "op": "!=",
                        "left": {"type": "local", "value": 0},
                        "right": {"type": "hexstr", "value": "0x1"},
                    },
                },
                {"type": "hexstr", "value": "0x3"},
            ],
        },
        {"op": "assign", "parameters": [egress_spec_field(), {"type": "hexstr", "value": "0x9"}]},
    ]
    sw = Switch.from_json(doc)
    sw.add_entry("MyIngress.t_fwd", [ExactMatch(1)], ActionCall("MyIngress.fwd", (1,)))
    sw.add_entry("MyIngress.t_fwd", [ExactMatch(2)], ActionCall("MyIngress.fwd", (2,)))
    ports = {}
    for key in (1, 2):
        out = sw.process(0, key.to_bytes(2, "big") + bytes(6))
        ports[key] = out[0][0]
    assert ports == {1: 7, 2: 9}


def test_parser_value_set_membership() -> None:
    doc = load_doc("parser_extract_basic")
    doc["parse_vsets"] = [{"name": "pvs", "id": 0, "compressed_bitwidth": 16}]
    case = doc["parsers"][0]["parse_states"][0]["transitions"][0]
    case.update({"type": "parse_vset", "value": "pvs", "mask": None})
    sw = Switch.from_json(doc)
    assert sw.process(0, IPV4)[0][0] == 2  # empty set: IPv4 not parsed
    sw.parse_vset_add("pvs", 0x0800)
    out = sw.process(0, IPV4)
    assert out[0][0] == 1
    assert out[0][1][22] == 0x3F  # ttl decremented
    sw.parse_vset_clear("pvs")
    assert sw.process(0, IPV4)[0][0] == 2


def test_default_transition_is_tried_last() -> None:
    doc = load_doc("parser_extract_basic")
    trans = doc["parsers"][0]["parse_states"][0]["transitions"]
    trans.reverse()  # default listed first
    sw = Switch.from_json(doc)
    assert sw.process(0, IPV4)[0][0] == 1


def test_runtime_stack_index_read_and_write() -> None:
    doc = load_doc("parser_header_stack")
    act = next(a for a in doc["actions"] if a["name"] == "parser_header_stack52")
    elem = {
        "type": "expression",
        "value": {
            "op": "dereference_header_stack",
            "left": {"type": "header_stack", "value": "lbl"},
            "right": {"type": "field", "value": ["scalars", "meta_t.last_idx"]},
        },
    }

    def field_of(offset: int) -> dict[str, Any]:
        return {
            "type": "expression",
            "value": {"op": "access_field", "left": elem, "right": offset},
        }

    act["primitives"] = [
        # hdr.lbl[meta.last_idx].val = 0x7f
        {"op": "assign", "parameters": [field_of(0), {"type": "hexstr", "value": "0x7f"}]},
        # hdr.tail.x = (bit<8>) hdr.lbl[meta.last_idx].isValid()  (offset 2 is $valid$)
        {"op": "assign", "parameters": [{"type": "field", "value": ["tail", "x"]}, field_of(2)]},
        {
            "op": "assign",
            "parameters": [egress_spec_field(), {"type": "hexstr", "value": "0x1"}],
        },
    ]
    sw = Switch.from_json(doc)
    out = sw.process(0, bytes([0x0A, 0x0D, 0x99, 0x77]))
    assert out == [(1, bytes([0x0A, 0xFF, 0x01, 0x77]))]
