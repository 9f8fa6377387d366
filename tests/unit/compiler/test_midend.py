"""Mid end: storage flattening, arithmetic wrapping, predication, control flow."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from p4lite.compiler.driver import Result
from p4lite.compiler.midend import hexstr, range_to_masks

Compile = Callable[[str], Result]


def prims_of(res: Result) -> list[dict[str, Any]]:
    return [p for a in res.json["actions"] for p in a["primitives"]]


def test_hexstr_pads_to_bytes_and_signs() -> None:
    assert hexstr(1, 9) == "0x0001"
    assert hexstr(255, 8) == "0xff"
    assert hexstr(-1, 8) == "-0x01"


def test_range_to_masks_covers_exactly() -> None:
    pairs = range_to_masks(10, 99, 8)
    covered = {v for v in range(256) for val, m in pairs if v & m == val}
    assert covered == set(range(10, 100))


def test_unsigned_add_is_masked_signed_is_wrapped(
    compile_text: Compile, program: Callable[..., str]
) -> None:
    res = compile_text(
        program("        hdr.h.a = hdr.h.a + hdr.h.b;\n        hdr.h.s = hdr.h.s + 1;")
    )
    p = prims_of(res)
    assert p[0]["parameters"][1]["value"]["op"] == "&"
    assert p[0]["parameters"][1]["value"]["right"] == {"type": "hexstr", "value": "0xff"}
    assert p[1]["parameters"][1]["value"]["op"] == "two_comp_mod"


def test_locals_and_metadata_flatten_into_scalars(
    compile_text: Compile, program: Callable[..., str]
) -> None:
    res = compile_text(program("        bit<8> t = hdr.h.a;\n        meta.m = t;"))
    scalars = res.json["header_types"][0]
    names = [f[0] for f in scalars["fields"]]
    assert "meta_t.m" in names and "t_0" in names


def test_nested_struct_fields_get_p4c_names(compiled: Callable[[str], Result]) -> None:
    res = compiled("struct_header_assign")
    names = [f[0] for f in res.json["header_types"][0]["fields"]]
    assert names[:3] == ["meta_t._o_p_x0", "meta_t._o_p_y1", "meta_t._o_q_x2"]


def test_if_in_action_is_predicated(compile_text: Compile, program: Callable[..., str]) -> None:
    locals_ = "    action act(bit<8> v) { if (hdr.h.a == 1) { hdr.h.b = v; } }\n"
    locals_ += "    table t { key = { hdr.h.a : exact; } actions = { act; } }\n"
    res = compile_text(program("        t.apply();", ingress_locals=locals_))
    act = next(a for a in res.json["actions"] if a["name"] == "I.act")
    text = json.dumps(act["primitives"])
    assert '"op": "?"' in text
    assert act["runtime_data"] == [{"name": "v", "bitwidth": 8}]


def test_hit_miss_and_action_run_become_next_tables(compiled: Callable[[str], Result]) -> None:
    res = compiled("table_hit_miss")
    tables = {t["name"]: t for t in res.json["pipelines"][0]["tables"]}
    assert set(tables["MyIngress.t1"]["next_tables"]) == {"__HIT__", "__MISS__"}
    run = compiled("table_action_run")
    user = [t for t in run.json["pipelines"][0]["tables"] if not t["name"].startswith("tbl_")]
    assert all("__HIT__" not in t["next_tables"] for t in user)
    assert any(len(set(t["next_tables"].values())) > 1 for t in user)


def test_exit_becomes_exit_primitive(compiled: Callable[[str], Result]) -> None:
    res = compiled("ctrl_exit_return")
    assert any(p["op"] == "exit" for p in prims_of(res))


def test_guarded_extern_call_in_action_is_jumped_over(
    compile_text: Compile, program: Callable[..., str]
) -> None:
    locals_ = "    action act() { if (hdr.h.a == 1) { mark_to_drop(sm); } hdr.h.b = 2; }\n"
    locals_ += "    table t { key = { hdr.h.a : exact; } actions = { act; } }\n"
    res = compile_text(program("        t.apply();", ingress_locals=locals_))
    act = next(a for a in res.json["actions"] if a["name"] == "I.act")
    ops = [p["op"] for p in act["primitives"]]
    assert ops == ["assign", "_jump_if_zero", "mark_to_drop", "assign"]
    jump = act["primitives"][1]["parameters"][1]
    assert jump == {"type": "hexstr", "value": "0x3"}


def test_switch_label_must_be_an_action_of_the_table(
    compile_text: Compile, program: Callable[..., str]
) -> None:
    locals_ = "    action a1() { }\n    action a2() { }\n"
    locals_ += "    table t { key = { hdr.h.a : exact; } actions = { a1; } }\n"
    body = "        switch (t.apply().action_run) { a2: { hdr.h.b = 1; } }"
    try:
        compile_text(program(body, ingress_locals=locals_))
    except Exception as exc:  # CompileError
        assert "'a2' is not an action of table 'I.t'" in str(exc)
    else:
        raise AssertionError("expected an error for a label that is not an action")


def test_inline_action_selector_is_named_after_the_table(
    compile_text: Compile, program: Callable[..., str]
) -> None:
    locals_ = "    action a1(bit<9> p) { sm.egress_spec = p; }\n"
    locals_ += "    table t { key = { hdr.h.a : exact; hdr.h.b : selector; } actions = { a1; }\n"
    locals_ += "        implementation = action_selector(HashAlgorithm.crc16, 32w64, 32w14); }\n"
    res = compile_text(program("        t.apply();", ingress_locals=locals_))
    prof = res.json["pipelines"][0]["action_profiles"][0]
    assert prof["name"] == "I.t"
    assert prof["selector"] == {
        "algo": "crc16",
        "input": [{"type": "field", "value": ["h", "b"]}],
    }
    table = next(t for t in res.json["pipelines"][0]["tables"] if t["name"] == "I.t")
    assert table["type"] == "indirect_ws" and "default_entry" not in table
    assert [k["name"] for k in table["key"]] == ["hdr.h.a"]


def test_clone3_data_becomes_a_field_list(
    compile_text: Compile, program: Callable[..., str]
) -> None:
    res = compile_text(program("        clone3(CloneType.I2E, 32w5, { meta.m });"))
    assert res.json["field_lists"] == [
        {"id": 1, "name": "fl", "elements": [{"type": "field", "value": ["scalars", "meta_t.m"]}]}
    ]
    prim = prims_of(res)[0]
    assert prim["op"] == "clone_ingress_pkt_to_egress"
    assert prim["parameters"][1] == {"type": "hexstr", "value": "0x1"}


def test_size_queries_fold_to_constants(compile_text: Compile, program: Callable[..., str]) -> None:
    body = "        hdr.h.a = (bit<8>)hdr.h.minSizeInBytes();\n"
    body += "        hdr.h.b = (bit<8>)sizeInBits(hdr.h);"
    res = compile_text(program(body))
    values = [p["parameters"][1] for p in prims_of(res)]
    assert values == [{"type": "hexstr", "value": "0x05"}, {"type": "hexstr", "value": "0x28"}]


def test_parser_local_initializer_runs_in_start(compile_text: Compile) -> None:
    text = """
#include <core.p4>
#include <v1model.p4>
header h_t { bit<8> a; }
struct headers_t { h_t h; }
struct meta_t { bit<8> m; }
parser P(packet_in pkt, out headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    bit<8> seen = 5;
    state start { pkt.extract(hdr.h); meta.m = seen; transition accept; }
}
control V(inout headers_t hdr, inout meta_t meta) { apply { } }
control I(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) { apply { } }
control E(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) { apply { } }
control C(inout headers_t hdr, inout meta_t meta) { apply { } }
control D(packet_out pkt, in headers_t hdr) { apply { pkt.emit(hdr.h); } }
V1Switch(P(), V(), I(), E(), C(), D()) main;
"""
    res = compile_text(text)
    ops = res.json["parsers"][0]["parse_states"][0]["parser_ops"]
    assert [op["op"] for op in ops] == ["set", "extract", "set"]
    assert ops[0]["parameters"] == [
        {"type": "field", "value": ["scalars", "seen_0"]},
        {"type": "hexstr", "value": "0x05"},
    ]
