"""Constructs p4c accepts for BMv2 beyond the corpus: value sets, run-time stack
indexes, `if` in parser states, division and modulo by powers of two."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from p4lite.compiler.diagnostics import CompileError
from p4lite.compiler.driver import Result

Compile = Callable[[str], Result]

HEAD = """
#include <core.p4>
#include <v1model.p4>
header h_t { bit<8> a; bit<8> b; bit<16> c; }
header e_t { bit<8> x; bit<8> y; }
struct pair_t { bit<8> a; bit<8> b; }
struct headers_t { h_t h; e_t[3] s; }
struct meta_t { bit<8> m; }
"""
REST = """
control V(inout headers_t hdr, inout meta_t meta) { apply { } }
control E(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) { apply { } }
control C(inout headers_t hdr, inout meta_t meta) { apply { } }
control D(packet_out pkt, in headers_t hdr) { apply { pkt.emit(hdr.h); pkt.emit(hdr.s); } }
V1Switch(P(), V(), I(), E(), C(), D()) main;
"""
PLAIN_PARSER = """
parser P(packet_in pkt, out headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    state start { pkt.extract(hdr.h); transition accept; }
}
"""
EMPTY_INGRESS = """
control I(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) { apply { } }
"""


def ingress(body: str, decls: str = "") -> str:
    return (
        "control I(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {\n"
        + decls
        + "\n    apply {\n"
        + body
        + "\n    }\n}\n"
    )


def parser(body: str) -> str:
    return (
        "parser P(packet_in pkt, out headers_t hdr, inout meta_t meta,"
        " inout standard_metadata_t sm) {\n" + body + "\n}\n"
    )


def prims_of(res: Result) -> list[dict[str, Any]]:
    return [p for a in res.json["actions"] for p in a["primitives"]]


def states_of(res: Result) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in res.json["parsers"][0]["parse_states"]}


def compile_error(compile_text: Compile, text: str) -> str:
    with pytest.raises(CompileError) as info:
        compile_text(text)
    return str(info.value)


# ---------------------------------------------------------------- value sets

VSET_PARSER = parser(
    """
    value_set<bit<16>>(4) pvs;
    @brief("pairs") value_set<pair_t>(8) pairs;
    state start {
        pkt.extract(hdr.h);
        transition select(hdr.h.c) { 0x0800: accept; pvs: second; default: accept; }
    }
    state second {
        transition select(hdr.h.a, hdr.h.b) { pairs: accept; (1, 2): accept; default: accept; }
    }
"""
)


def test_value_sets_become_parse_vsets_and_transitions(compile_text: Compile) -> None:
    res = compile_text(HEAD + VSET_PARSER + EMPTY_INGRESS + REST)
    vsets = res.json["parse_vsets"]
    assert [(v["name"], v["id"], v["compressed_bitwidth"]) for v in vsets] == [
        ("P.pvs", 0, 16),
        ("P.pairs", 1, 16),
    ]
    assert vsets[0]["source_info"]["source_fragment"] == "pvs"
    start = states_of(res)["start"]["transitions"]
    assert start[1] == {
        "type": "parse_vset",
        "value": "P.pvs",
        "mask": None,
        "next_state": "second",
    }
    second = states_of(res)["second"]["transitions"]
    assert second[0]["type"] == "parse_vset" and second[0]["value"] == "P.pairs"
    assert second[1]["value"] == "0x0102"


def test_value_sets_in_p4info(compile_text: Compile) -> None:
    res = compile_text(HEAD + VSET_PARSER + EMPTY_INGRESS + REST)
    by_name = {v.preamble.name: v for v in res.p4info.value_sets}
    pvs = by_name["P.pvs"]
    assert pvs.preamble.id >> 24 == 0x03 and pvs.preamble.alias == "pvs"
    assert pvs.size == 4
    assert [(m.id, m.name, m.bitwidth, m.match_type) for m in pvs.match] == [(1, "", 16, 2)]
    pairs = by_name["P.pairs"]
    assert [(m.id, m.name, m.bitwidth) for m in pairs.match] == [(1, "a", 8), (2, "b", 8)]
    assert pairs.preamble.doc.brief == "pairs"
    assert pairs.size == 8


def test_value_set_as_tuple_component_is_rejected(compile_text: Compile) -> None:
    text = HEAD + parser(
        """
    value_set<bit<8>>(4) pvs;
    state start {
        pkt.extract(hdr.h);
        transition select(hdr.h.a, hdr.h.b) { (pvs, 1): accept; default: accept; }
    }
"""
    )
    msg = compile_error(compile_text, text + EMPTY_INGRESS + REST)
    assert "prog.p4:14:48: error: unsupported value set as one component" in msg


def test_value_set_width_must_match_the_select_key(compile_text: Compile) -> None:
    text = HEAD + parser(
        """
    value_set<bit<8>>(4) pvs;
    state start { pkt.extract(hdr.h); transition select(hdr.h.c) { pvs: accept; } }
"""
    )
    msg = compile_error(compile_text, text + EMPTY_INGRESS + REST)
    assert "does not match the select key" in msg
    assert "^" in msg


# ---------------------------------------------------------------- run-time stack index


def _deref(index: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "expression",
        "value": {
            "op": "dereference_header_stack",
            "left": {"type": "header_stack", "value": "s"},
            "right": index,
        },
    }


def test_runtime_stack_index_reads_and_writes_fields(compile_text: Compile) -> None:
    body = "        hdr.s[meta.m].y = hdr.s[hdr.h.a].x;"
    res = compile_text(HEAD + PLAIN_PARSER + ingress(body) + REST)
    (prim,) = prims_of(res)
    m = {"type": "field", "value": ["scalars", "meta_t.m"]}
    a = {"type": "field", "value": ["h", "a"]}
    assert prim["op"] == "assign"
    dst, src = prim["parameters"]
    assert dst == {
        "type": "expression",
        "value": {"op": "access_field", "left": _deref(m), "right": 1},
    }
    assert src == {
        "type": "expression",
        "value": {"op": "access_field", "left": _deref(a), "right": 0},
    }


def test_runtime_stack_index_validity(compile_text: Compile) -> None:
    body = "        if (!hdr.s[meta.m].isValid()) { hdr.s[meta.m].setValid(); }\n"
    body += "        hdr.s[meta.m + 1].setInvalid();"
    res = compile_text(HEAD + PLAIN_PARSER + ingress(body) + REST)
    ops = sorted((p["op"], p["parameters"][0]["value"]["op"]) for p in prims_of(res))
    assert ops == [
        ("add_header", "dereference_header_stack"),
        ("remove_header", "dereference_header_stack"),
    ]
    cond = res.json["pipelines"][0]["conditionals"][0]["expression"]
    assert "valid" in str(cond) and "dereference_header_stack" in str(cond)


def test_runtime_stack_index_slice_write(compile_text: Compile) -> None:
    res = compile_text(HEAD + PLAIN_PARSER + ingress("        hdr.s[meta.m].x[3:0] = 4w5;") + REST)
    (prim,) = prims_of(res)
    assert prim["parameters"][0]["value"]["op"] == "access_field"
    assert "access_field" in str(prim["parameters"][1])


def test_whole_header_of_runtime_index_is_rejected(compile_text: Compile) -> None:
    msg = compile_error(
        compile_text, HEAD + PLAIN_PARSER + ingress("        hdr.s[meta.m] = hdr.s[0];") + REST
    )
    assert "error: unsupported assignment target" in msg


def test_bool_stack_index_is_rejected(compile_text: Compile) -> None:
    text = HEAD + PLAIN_PARSER + ingress("        hdr.s[hdr.h.a == 1].x = 1;") + REST
    assert "header stack index must be bit<W> or int<W>" in compile_error(compile_text, text)


# ---------------------------------------------------------------- if in parser states


def test_parser_if_is_split_into_select_states(compile_text: Compile) -> None:
    text = HEAD + parser(
        """
    state start {
        pkt.extract(hdr.h);
        bit<8> x = hdr.h.b;
        if (hdr.h.a == 1) { x = x + 1; } else { x = 2; }
        hdr.h.b = x;
        transition select(hdr.h.a) { 5: second; default: accept; }
    }
    state second { if (hdr.h.b == 0) { hdr.h.a = 9; } transition accept; }
"""
    )
    res = compile_text(text + EMPTY_INGRESS + REST)
    st = states_of(res)
    assert list(st) == [
        "start",
        "start_true",
        "start_false",
        "start_join",
        "second",
        "second_true",
        "second_false",
        "second_join",
    ]
    assert [t["next_state"] for t in st["start"]["transitions"]] == ["start_true", "start_false"]
    assert st["start"]["transitions"][0]["value"] == "0x01"
    assert [t["next_state"] for t in st["start_true"]["transitions"]] == ["start_join"]
    assert st["start_false"]["parser_ops"][0]["op"] == "set"
    join = st["start_join"]
    assert [t["next_state"] for t in join["transitions"]] == ["second", None]
    assert join["parser_ops"][0]["parameters"][0] == {"type": "field", "value": ["h", "b"]}
    assert st["second_false"]["parser_ops"] == []


def test_parser_if_state_names_do_not_clash(compile_text: Compile) -> None:
    text = HEAD + parser(
        """
    state start { pkt.extract(hdr.h); if (hdr.h.a == 1) { hdr.h.b = 1; } transition start_true; }
    state start_true { transition accept; }
"""
    )
    res = compile_text(text + EMPTY_INGRESS + REST)
    st = states_of(res)
    assert [t["next_state"] for t in st["start"]["transitions"]] == ["start_true_1", "start_false"]
    assert [t["next_state"] for t in st["start_join"]["transitions"]] == ["start_true"]


# ---------------------------------------------------------------- division


def test_division_by_power_of_two_is_a_shift(compile_text: Compile) -> None:
    body = "        hdr.h.a = hdr.h.b / 4;\n        hdr.h.c = hdr.h.c % 16w8;"
    res = compile_text(HEAD + PLAIN_PARSER + ingress(body) + REST)
    div, mod = (p["parameters"][1]["value"] for p in prims_of(res))
    assert div["op"] == "&" and div["left"]["value"]["op"] == ">>"
    assert div["left"]["value"]["right"] == {"type": "hexstr", "value": "0x02"}
    assert mod == {
        "op": "&",
        "left": {"type": "field", "value": ["h", "c"]},
        "right": {"type": "hexstr", "value": "0x0007"},
    }


def test_division_by_other_values_is_still_rejected(compile_text: Compile) -> None:
    text = HEAD + PLAIN_PARSER + ingress("        hdr.h.a = hdr.h.b / 3;") + REST
    assert "unsupported '/' of run-time values on this target" in compile_error(compile_text, text)


# ---------------------------------------------------------------- register index type


def test_register_index_type_parameter(compile_text: Compile) -> None:
    decls = "    register<bit<8>, bit<8>>(16) r;"
    body = "        bit<8> x;\n        r.read(x, hdr.h.a);\n        r.write(hdr.h.b, x);"
    version = "#define V1MODEL_VERSION 20200408\n"
    res = compile_text(version + HEAD + PLAIN_PARSER + ingress(body, decls) + REST)
    read, write = prims_of(res)
    assert read["parameters"][2] == {"type": "field", "value": ["h", "a"]}
    assert write["parameters"][1] == {"type": "field", "value": ["h", "b"]}
    assert res.json["register_arrays"][0]["bitwidth"] == 8


# ---------------------------------------------------------------- lookahead parts in select


def test_select_on_lookahead_field_and_slice(compile_text: Compile) -> None:
    text = HEAD + parser(
        """
    state start {
        transition select(pkt.lookahead<h_t>().b, pkt.lookahead<bit<16>>()[3:0]) {
            (1, 2): parse_h;
            default: accept;
        }
    }
    state parse_h { pkt.extract(hdr.h); transition accept; }
"""
    )
    res = compile_text(text + EMPTY_INGRESS + REST)
    start = states_of(res)["start"]
    ops = start["parser_ops"]
    assert [op["parameters"][1].get("value") for op in ops[0::2]] == [[0, 32], [0, 16]]
    field_b = ops[1]["parameters"][1]["value"]
    assert field_b["left"]["value"]["right"] == {"type": "hexstr", "value": "0x10"}
    assert field_b["right"] == {"type": "hexstr", "value": "0xff"}
    nibble = ops[3]["parameters"][1]["value"]
    assert nibble == {
        "op": "&",
        "left": ops[2]["parameters"][0],
        "right": {"type": "hexstr", "value": "0x0f"},
    }
    assert [k["value"] for k in start["transition_key"]] == [
        ops[1]["parameters"][0]["value"],
        ops[3]["parameters"][0]["value"],
    ]
    assert start["transitions"][0]["value"] == "0x0102"


def test_lookahead_unknown_field_is_rejected(compile_text: Compile) -> None:
    text = HEAD + parser(
        "    state start { transition select(pkt.lookahead<h_t>().zz) { 1: accept; } }"
    )
    assert "'h_t' has no field 'zz'" in compile_error(compile_text, text + EMPTY_INGRESS + REST)


# ---------------------------------------------------------------- computed table keys


def test_computed_key_runs_in_a_hidden_table_before_the_table(compile_text: Compile) -> None:
    decls = "    action n() { }\n"
    decls += '    table t { key = { hdr.h.a + 1 : exact @name("a1"); } actions = { n; } }'
    res = compile_text(HEAD + PLAIN_PARSER + ingress("        t.apply();", decls) + REST)
    pipe = res.json["pipelines"][0]
    tables = {t["name"]: t for t in pipe["tables"]}
    first = tables[pipe["init_table"]]
    assert first["base_default_next"] == "I.t"
    key = tables["I.t"]["key"][0]
    assert key["name"] == "a1" and key["target"][0] == "scalars"
    (prim,) = prims_of(res)
    assert prim["parameters"][0] == {"type": "field", "value": key["target"]}
    assert [m.name for m in res.p4info.tables[0].match_fields] == ["a1"]


def test_computed_key_needs_a_name(compile_text: Compile) -> None:
    decls = "    action n() { }\n"
    decls += "    table t { key = { hdr.h.a + 1 : exact; } actions = { n; } }"
    text = HEAD + PLAIN_PARSER + ingress("        t.apply();", decls) + REST
    msg = compile_error(compile_text, text)
    assert "error: hdr.h.a + 1: Complex key expression requires a @name annotation" in msg


# ---------------------------------------------------------------- stack members outside parsers


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("hdr.h.a = hdr.s.last.x;", "hdr.s.last: 'last', and 'next' for stacks"),
        ("hdr.s.next.x = 1;", "hdr.s.next: 'last', and 'next' for stacks"),
        ("hdr.h.c = (bit<16>)hdr.s.lastIndex;", "hdr.s.lastIndex: 'lastIndex' for stacks"),
    ],
)
def test_parser_only_stack_members_are_rejected_in_controls(
    compile_text: Compile, body: str, message: str
) -> None:
    # p4c's type checker: these members "can only be used in a parser"
    msg = compile_error(compile_text, HEAD + PLAIN_PARSER + ingress("        " + body) + REST)
    assert message in msg and "can only be used in a parser" in msg


def test_stack_size_is_allowed_in_controls(compile_text: Compile) -> None:
    res = compile_text(
        HEAD + PLAIN_PARSER + ingress("        hdr.h.a = (bit<8>)hdr.s.size;") + REST
    )
    assert prims_of(res)[0]["parameters"][1] == {"type": "hexstr", "value": "0x03"}


def test_runtime_stack_index_key_is_computed_and_keeps_its_name(compile_text: Compile) -> None:
    # p4c names `hdr.s[meta.m].x` itself, so no @name is needed
    decls = "    action n() { }\n"
    decls += "    table t { key = { hdr.s[meta.m].x : exact; } actions = { n; } }"
    res = compile_text(HEAD + PLAIN_PARSER + ingress("        t.apply();", decls) + REST)
    table = next(t for t in res.json["pipelines"][0]["tables"] if t["name"] == "I.t")
    assert table["key"][0]["name"] == "hdr.s[meta.m].x"
    (prim,) = prims_of(res)
    assert prim["parameters"][1]["value"]["op"] == "access_field"


def test_struct_fields_of_headers_are_flattened(compile_text: Compile) -> None:
    text = """
#include <core.p4>
#include <v1model.p4>
enum bit<8> kind_t { A = 1 }
struct inner_t { bit<4> lo; bool flag; bit<3> pad; }
struct pair_t { inner_t first; kind_t kind; }
header h_t { bit<8> a; pair_t p; }
struct headers_t { h_t h; }
struct meta_t { pair_t copy; }
parser P(packet_in pkt, out headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    state start { pkt.extract(hdr.h); transition accept; }
}
control V(inout headers_t hdr, inout meta_t meta) { apply { } }
control I(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    action set() { hdr.h.p.first.lo = 4w3; }
    table t { key = { hdr.h.p.first.flag : exact; } actions = { set; } }
    apply {
        t.apply();
        meta.copy = hdr.h.p;
        hdr.h.a = (bit<8>)meta.copy.first.lo;
    }
}
control E(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) { apply { } }
control C(inout headers_t hdr, inout meta_t meta) { apply { } }
control D(packet_out pkt, in headers_t hdr) { apply { pkt.emit(hdr.h); } }
V1Switch(P(), V(), I(), E(), C(), D()) main;
"""
    result = compile_text(text)
    h_t = next(h for h in result.json["header_types"] if h["name"] == "h_t")
    assert h_t["fields"] == [
        ["a", 8, False],
        ["p_first_lo", 4, False],
        ["p_first_flag", 1, False],
        ["p_first_pad", 3, False],
        ["p_kind", 8, False],
    ]
    key = result.p4info.tables[0].match_fields[0]
    assert (key.name, key.bitwidth) == ("hdr.h.p.first.flag", 1)
    table = result.json["pipelines"][0]["tables"][0]
    assert table["key"][0]["target"] == ["h", "p_first_flag"]


def test_direct_invocation_of_control_and_parser_types(compile_text: Compile) -> None:
    text = """
#include <core.p4>
#include <v1model.p4>
header h_t { bit<8> a; bit<8> b; }
struct headers_t { h_t h; h_t g; }
struct meta_t { }
parser Sub(packet_in pkt, out h_t g) { state start { pkt.extract(g); transition accept; } }
parser P(packet_in pkt, out headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    state start { pkt.extract(hdr.h); Sub.apply(pkt, hdr.g); transition accept; }
}
control V(inout headers_t hdr, inout meta_t meta) { apply { } }
control Inner(inout headers_t hdr) {
    action set(bit<8> v) { hdr.h.b = v; }
    table t { key = { hdr.h.a : exact; } actions = { set; } }
    apply { t.apply(); }
}
control I(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    apply { Inner.apply(hdr); }
}
control E(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) { apply { } }
control C(inout headers_t hdr, inout meta_t meta) { apply { } }
control D(packet_out pkt, in headers_t hdr) { apply { pkt.emit(hdr.h); pkt.emit(hdr.g); } }
V1Switch(P(), V(), I(), E(), C(), D()) main;
"""
    result = compile_text(text)
    assert [t.preamble.name for t in result.p4info.tables] == ["I.Inner.t"]
    assert "I.Inner.set" in [a.preamble.name for a in result.p4info.actions]
    ops = [op["op"] for st in result.json["parsers"][0]["parse_states"] for op in st["parser_ops"]]
    assert ops.count("extract") == 2


def test_static_assert_as_constant_and_statement(
    compile_text: Compile, program: Callable[..., str]
) -> None:
    decls = 'const bool version_ok = static_assert(V1MODEL_VERSION >= 20180101, "old");\n'
    text = program("        static_assert(true);", decls=decls)
    compile_text(text)


UNION_STACK = """
#include <core.p4>
#include <v1model.p4>
header A { bit<8> a; }
header B { bit<16> b; }
header_union U { A a; B b; }
struct headers_t { A h; U[2] us; }
struct meta_t { }
parser P(packet_in pkt, out headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    state start { pkt.extract(hdr.h); pkt.extract(hdr.us[1].b); transition accept; }
}
control V(inout headers_t hdr, inout meta_t meta) { apply { } }
control I(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    apply { BODY }
}
control E(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) { apply { } }
control C(inout headers_t hdr, inout meta_t meta) { apply { } }
control D(packet_out pkt, in headers_t hdr) { apply { pkt.emit(hdr); } }
V1Switch(P(), V(), I(), E(), C(), D()) main;
"""


def test_header_union_stack_layout(compile_text: Compile) -> None:
    doc = compile_text(UNION_STACK.replace("BODY", "hdr.us[0].a.setValid();")).json
    unions = [u["name"] for u in doc["header_unions"]]
    assert unions == ["us[0]", "us[1]"]
    assert doc["header_union_stacks"] == [
        {"name": "us", "id": 0, "union_type": "U", "size": 2, "header_union_ids": [0, 1]}
    ]
    assert doc["deparsers"][0]["order"] == ["h", "us[0].a", "us[0].b", "us[1].a", "us[1].b"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("hdr.us.push_front(1);", "push_front on a header union stack is unsupported"),
        ("hdr.us[hdr.h.a].a.setValid();", "needs a constant index"),
    ],
)
def test_header_union_stack_operations_refused(
    compile_text: Compile, body: str, message: str
) -> None:
    with pytest.raises(CompileError) as exc:
        compile_text(UNION_STACK.replace("BODY", body))
    assert message in exc.value.diagnostics[0].message


def test_control_instance_applied_from_two_controls_is_one(compile_text: Compile) -> None:
    extra = Path(__file__).resolve().parents[2] / "conformance_extra" / "programs"
    text = (extra / "control_instance_params.p4").read_text(encoding="utf-8")
    result = compile_text(text)
    assert [c.preamble.name for c in result.p4info.counters] == ["MyIngress.Outer.inc.hits"]
    assert [c["name"] for c in result.json["counter_arrays"]] == ["MyIngress.Outer.inc.hits"]


def test_generic_types_specialized_once_per_type_arguments(compile_text: Compile) -> None:
    extra = Path(__file__).resolve().parents[2] / "conformance_extra" / "programs"
    text = (extra / "generic_types.p4").read_text(encoding="utf-8")
    types = {h["name"]: h["fields"] for h in compile_text(text).json["header_types"]}
    assert types["G_0"][:2] == [["f", 8, False], ["k", 8, False]]
    assert types["G_1"][:2] == [["f", 16, False], ["k", 8, False]]


def test_generic_type_argument_count_is_checked(compile_text: Compile) -> None:
    text = (
        "#include <core.p4>\n#include <v1model.p4>\n"
        + "header G<T> { T f; }\nstruct headers_t { G<bit<8>, bit<8>> g; }\n"
        + "struct meta_t { }\n"
    )
    with pytest.raises(CompileError) as exc:
        compile_text(text)
    assert "'G' takes 1 type argument(s), got 2" in exc.value.diagnostics[0].message


def test_apply_in_conditional_operand_runs_under_a_condition(compile_text: Compile) -> None:
    decls = """
    action set_b(bit<8> v) { hdr.h.b = v; }
    table t1 { key = { hdr.h.a : exact; } actions = { set_b; NoAction; } }
    table t2 { key = { hdr.h.a : exact; } actions = { set_b; NoAction; } }
    table t3 { key = { hdr.h.a : exact; } actions = { set_b; NoAction; } }
    """
    body = """
        bool x = hdr.h.a == 1 || t1.apply().hit;
        if (hdr.h.a == 2 && t2.apply().miss) { hdr.h.c = 1; }
        hdr.h.b = x ? (t3.apply().hit ? 8w1 : 8w2) : 8w3;
    """
    res = compile_text(HEAD + PLAIN_PARSER + ingress(body, decls) + REST)
    pipe = res.json["pipelines"][0]
    guarded = {c["true_next"] for c in pipe["conditionals"]}
    from_tables = {
        n for t in pipe["tables"] for n in (t["base_default_next"], *t["next_tables"].values())
    }
    for name in ("I.t1", "I.t2", "I.t3"):
        assert name in guarded
        assert name not in from_tables and name != pipe["init_table"]


def test_slice_of_slice_write_bounds_are_checked(compile_text: Compile) -> None:
    ok = compile_text(HEAD + PLAIN_PARSER + ingress("hdr.h.c[11:4][1:0] = 2w3;") + REST)
    # c[11:4][1:0] is c[5:4]: the bits kept are every other one
    assert '"0xffcf"' in json.dumps(prims_of(ok))
    text = HEAD + PLAIN_PARSER + ingress("hdr.h.c[11:4][8:0] = 0;") + REST
    assert "slice bounds must be constants within the field" in compile_error(compile_text, text)
