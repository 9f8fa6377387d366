"""Each corpus program compiled by p4lite and run with its STF on the p4lite switch core."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest

from p4lite.compiler.driver import compile_file

try:
    stf = importlib.import_module("p4lite.switch.stf")
    core = importlib.import_module("p4lite.switch.core")
except Exception as exc:  # the switch core is another module; a broken import skips, not fails
    pytest.skip(f"p4lite.switch.stf unavailable: {exc!r}", allow_module_level=True)

CORPUS = Path(__file__).resolve().parents[1] / "conformance"
PROGRAMS = sorted(p.stem for p in (CORPUS / "programs").glob("*.p4"))


@pytest.mark.parametrize("name", PROGRAMS)
def test_compiled_program_passes_its_stf(name: str) -> None:
    result = compile_file(str(CORPUS / "programs" / f"{name}.p4"))
    stf_text = (CORPUS / "programs" / f"{name}.stf").read_text(encoding="utf-8")
    outcome = stf.run_stf(json.dumps(result.json), stf_text)
    assert outcome.passed, outcome.render()


HEAD = """
#include <core.p4>
#include <v1model.p4>
header h_t { bit<8> a; bit<8> b; bit<8> c; }
struct headers_t { h_t h; }
struct meta_t { }
parser P(packet_in pkt, out headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    state start { pkt.extract(hdr.h); transition accept; }
}
control V(inout headers_t hdr, inout meta_t meta) { apply { } }
control E(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) { apply { } }
control C(inout headers_t hdr, inout meta_t meta) { apply { } }
control D(packet_out pkt, in headers_t hdr) { apply { pkt.emit(hdr.h); } }
"""
TAIL = "V1Switch(P(), V(), I(), E(), C(), D()) main;\n"

# (name, ingress and helpers, STF): semantics the corpus does not reach
EXTRA = [
    (
        "action_inout_return",
        """
control I(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    action inner(inout bit<8> x, bit<8> v) { x = x + v; }
    action act(bit<8> v) {
        inner(hdr.h.b, v);
        if (hdr.h.a == 1) { hdr.h.c = 0xAA; return; }
        hdr.h.c = 0xBB;
    }
    table t { key = { hdr.h.a : exact; } actions = { act; } default_action = act(5); }
    apply { sm.egress_spec = 1; t.apply(); }
}
""",
        "packet 0 010200\nexpect 1 0107aa $\npacket 0 020200\nexpect 1 0207bb $\n",
    ),
    (
        "subcontrol_return_and_exit",
        """
control Sub(inout headers_t hdr) {
    apply {
        if (hdr.h.a == 3) { hdr.h.b = 1; return; }
        hdr.h.b = 2;
    }
}
control I(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    Sub() s;
    apply {
        s.apply(hdr);
        if (hdr.h.a == 4) { exit; }
        hdr.h.c = hdr.h.b + 1;
        sm.egress_spec = 1;
    }
}
""",
        "packet 0 030000\nexpect 1 030102 $\npacket 0 040000\nexpect 0 040200 $\n",
    ),
    (
        "bool_local_from_hit_and_slices",
        """
control I(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    action nop() { }
    table t { key = { hdr.h.a : exact; } actions = { nop; } const entries = { 7 : nop(); } }
    apply {
        bool hit = t.apply().hit;
        hdr.h.b[3:0] = hdr.h.a[7:4];
        hdr.h.c = hit ? 8w1 : 8w2;
        sm.egress_spec = 1;
    }
}
""",
        "packet 0 070000\nexpect 1 070001 $\npacket 0 f80000\nexpect 1 f80f02 $\n",
    ),
    (
        "guarded_extern_calls_in_action",
        """
control I(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    action act(bit<8> v) {
        if (hdr.h.a == 1) { mark_to_drop(sm); return; }
        if (v == 5) { hdr.h.c = 0xCC; exit; }
        hdr.h.b = 0x11;
    }
    table t { key = { hdr.h.a : exact; } actions = { act; } default_action = act(5); }
    apply { sm.egress_spec = 1; t.apply(); hdr.h.c = 0xDD; }
}
""",
        "add I.t hdr.h.a:3 I.act(v:3)\n"
        "packet 0 010000\npacket 0 020000\nexpect 1 0200cc $\n"
        "packet 0 030000\nexpect 1 0311dd $\n",
    ),
    (
        "p4_functions_inlined",
        """
bit<8> max8(in bit<8> a, in bit<8> b) {
    if (a > b) { return a; }
    return b;
}
void bump(inout bit<8> x) { x = x + 1; }
control I(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    apply {
        hdr.h.c = max8(hdr.h.a, hdr.h.b);
        bump(hdr.h.a);
        sm.egress_spec = 1;
    }
}
""",
        "packet 0 050300\nexpect 1 060305 $\npacket 0 020900\nexpect 1 030909 $\n",
    ),
    (
        "switch_fallthrough_default_and_return",
        """
control I(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    action a1() { hdr.h.b = 1; }
    action a2() { hdr.h.b = 2; }
    action a3() { hdr.h.b = 3; }
    table t {
        key = { hdr.h.a : exact; }
        actions = { a1; a2; a3; }
        const entries = { 1 : a1(); 2 : a2(); 3 : a3(); }
        default_action = a3();
    }
    apply {
        sm.egress_spec = 1;
        switch (t.apply().action_run) {
            a1:
            a2: { hdr.h.c = 0x12; }
            default: {
                if (hdr.h.a == 3) { return; }
                hdr.h.c = 0xdf;
            }
        }
        hdr.h.a = hdr.h.a + 0x10;
    }
}
""",
        "packet 0 010000\nexpect 1 110112 $\npacket 0 020000\nexpect 1 120212 $\n"
        "packet 0 030000\nexpect 1 030300 $\npacket 0 040000\nexpect 1 1403df $\n",
    ),
    (
        "header_equality",
        """
control I(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    apply {
        h_t copy = hdr.h;
        copy.c = 0;
        h_t none;
        hdr.h.c = 0;
        if (hdr.h == copy && !(none == hdr.h)) { hdr.h.c = hdr.h.c | 1; }
        copy.a = copy.a + 1;
        if (hdr.h != copy) { hdr.h.c = hdr.h.c | 2; }
        sm.egress_spec = 1;
    }
}
""",
        "packet 0 0102ff\nexpect 1 010203 $\n",
    ),
    (
        "switch_on_value",
        """
control I(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    apply {
        switch (hdr.h.a) {
            1:
            2: { hdr.h.c = 0x12; }
            7: { hdr.h.c = 0x77; }
            default: { hdr.h.c = 0xdd; }
        }
        sm.egress_spec = 1;
    }
}
""",
        "packet 0 020000\nexpect 1 020012 $\npacket 0 070000\nexpect 1 070077 $\n"
        "packet 0 090000\nexpect 1 0900dd $\n",
    ),
    (
        "subcontrol_computed_in_argument_as_key",
        """
control Sub(inout headers_t hdr, in bit<8> k) {
    action setc(bit<8> v) { hdr.h.c = v; }
    table t {
        key = { k : exact; }
        actions = { setc; NoAction; }
        const entries = { 5 : setc(0x55); }
        default_action = NoAction();
    }
    apply { t.apply(); }
}
control I(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    Sub() s;
    apply {
        s.apply(hdr, hdr.h.a + 1);
        hdr.h.a = 0;
        sm.egress_spec = 1;
    }
}
""",
        "packet 0 040000\nexpect 1 000055 $\npacket 0 050000\nexpect 1 000000 $\n",
    ),
]


@pytest.mark.parametrize(("name", "ingress", "stf_text"), EXTRA, ids=[e[0] for e in EXTRA])
def test_extra_semantics(
    name: str, ingress: str, stf_text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / f"{name}.p4").write_text(HEAD + ingress + TAIL, encoding="utf-8")
    result = compile_file(f"{name}.p4")
    outcome = stf.run_stf(json.dumps(result.json), stf_text)
    assert outcome.passed, outcome.render()


# (name, whole program, STF): constructs p4c accepts beyond the corpus
FULL = [
    (
        "runtime_stack_index",
        """
#include <core.p4>
#include <v1model.p4>
header h_t { bit<8> i; bit<8> j; bit<8> v; }
header e_t { bit<8> a; bit<8> b; }
struct headers_t { h_t h; e_t[3] s; }
struct meta_t { bit<8> k; }
parser P(packet_in pkt, out headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    state start {
        pkt.extract(hdr.h);
        pkt.extract(hdr.s.next);
        pkt.extract(hdr.s.next);
        transition accept;
    }
}
control V(inout headers_t hdr, inout meta_t meta) { apply { } }
control I(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    action setb(bit<8> x) { hdr.s[hdr.h.j].b = x; hdr.s[hdr.h.j].a[3:0] = 0xf; }
    table t {
        key = { hdr.h.v : exact; }
        actions = { setb; NoAction; }
        default_action = NoAction();
    }
    apply {
        meta.k = hdr.h.i;
        hdr.h.v = hdr.s[meta.k].a;
        if (hdr.s[hdr.h.j].isValid()) { hdr.s[meta.k].b = hdr.s[meta.k].b + 1; }
        else { hdr.s[hdr.h.j].setValid(); hdr.s[hdr.h.j].a = 0x77; }
        t.apply();
        if (hdr.h.i == 0) { hdr.s[hdr.h.i + 1].setInvalid(); }
        sm.egress_spec = 1;
    }
}
control E(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) { apply { } }
control C(inout headers_t hdr, inout meta_t meta) { apply { } }
control D(packet_out pkt, in headers_t hdr) { apply { pkt.emit(hdr.h); pkt.emit(hdr.s); } }
V1Switch(P(), V(), I(), E(), C(), D()) main;
""",
        # i=1 j=0: v = s[1].a = 0x30 hits t; s[0] valid so s[1].b += 1; setb writes s[0]
        "add I.t hdr.h.v:0x30 I.setb(x:0x55)\n"
        "packet 0 0100aa 1020 3040\nexpect 1 010030 1f55 3041 $\n"
        # i=0 j=2: v = 0x10 misses; s[2] made valid with a = 0x77; s[1] invalidated
        "packet 0 0002aa 1020 3040\nexpect 1 000210 1020 7700 $\n"
        # i=1 j=2: s[2] made valid, then setb writes it
        "packet 0 0102aa 1020 3040\nexpect 1 010230 1020 3040 7f55 $\n",
    ),
    (
        "parser_if_statements",
        """
#include <core.p4>
#include <v1model.p4>
header h_t { bit<8> a; bit<8> b; bit<8> c; }
struct headers_t { h_t h; }
struct meta_t { }
parser P(packet_in pkt, out headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    state start {
        pkt.extract(hdr.h);
        bit<8> x = hdr.h.b;
        if (hdr.h.a == 1) {
            x = x + 1;
            if (hdr.h.b == 0) { x = 0xee; }
        } else {
            x = 0x10;
        }
        hdr.h.c = x;
        transition accept;
    }
}
control V(inout headers_t hdr, inout meta_t meta) { apply { } }
control I(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    apply { sm.egress_spec = 1; }
}
control E(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) { apply { } }
control C(inout headers_t hdr, inout meta_t meta) { apply { } }
control D(packet_out pkt, in headers_t hdr) { apply { pkt.emit(hdr.h); } }
V1Switch(P(), V(), I(), E(), C(), D()) main;
""",
        "packet 0 010500\nexpect 1 010506 $\npacket 0 010000\nexpect 1 0100ee $\n"
        "packet 0 020500\nexpect 1 020510 $\n",
    ),
    (
        "register_with_index_type",
        "#define V1MODEL_VERSION 20200408\n"
        + HEAD
        + """
control I(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    register<bit<8>, bit<8>>(256) r;
    apply {
        bit<8> x;
        r.read(x, hdr.h.a);
        x = x + hdr.h.b;
        r.write(hdr.h.a, x);
        hdr.h.c = x;
        sm.egress_spec = 1;
    }
}
"""
        + TAIL,
        "register_write I.r 6 16\n"
        "packet 0 050300\nexpect 1 050303 $\npacket 0 050400\nexpect 1 050407 $\n"
        "packet 0 060100\nexpect 1 060111 $\n",
    ),
    (
        "select_on_lookahead_fields",
        """
#include <core.p4>
#include <v1model.p4>
header h_t { bit<8> p; bit<8> four; bit<8> ver; bit<8> op; }
struct headers_t { h_t h; }
struct meta_t { }
parser P(packet_in pkt, out headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    state start {
        transition select(pkt.lookahead<h_t>().p, pkt.lookahead<h_t>().four,
                          pkt.lookahead<bit<32>>()[15:8]) {
            (0x50, 0x34, 0x01): parse_h;
            default: accept;
        }
    }
    state parse_h { pkt.extract(hdr.h); transition accept; }
}
control V(inout headers_t hdr, inout meta_t meta) { apply { } }
control I(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    apply { if (hdr.h.isValid()) { hdr.h.op = 0xaa; } sm.egress_spec = 1; }
}
control E(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) { apply { } }
control C(inout headers_t hdr, inout meta_t meta) { apply { } }
control D(packet_out pkt, in headers_t hdr) { apply { pkt.emit(hdr.h); } }
V1Switch(P(), V(), I(), E(), C(), D()) main;
""",
        # match; version mismatch; shorter than h_t (PacketTooShort, nothing extracted)
        "packet 0 50340107\nexpect 1 503401aa $\npacket 0 50340207\nexpect 1 50340207 $\n"
        "packet 0 503401\nexpect 1 503401 $\n",
    ),
    (
        "computed_table_keys",
        HEAD
        + """
control I(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    action setc(bit<8> v) { hdr.h.c = v; }
    table t {
        key = {
            hdr.h.a + hdr.h.b : exact @name("sum");
            hdr.h.a == 1 : exact @name("is_one");
        }
        actions = { setc; NoAction; }
        default_action = NoAction();
    }
    apply { hdr.h.b = hdr.h.b + 1; t.apply(); sm.egress_spec = 1; }
}
"""
        + TAIL,
        # the keys are computed when the table is applied, after b is incremented
        "add I.t sum:5 is_one:1 I.setc(v:0x11)\nadd I.t sum:5 is_one:0 I.setc(v:0x22)\n"
        "packet 0 010300\nexpect 1 010411 $\npacket 0 020200\nexpect 1 020322 $\n"
        "packet 0 020300\nexpect 1 020400 $\n",
    ),
    (
        "division_by_powers_of_two",
        HEAD
        + """
control I(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    apply { hdr.h.b = hdr.h.a / 4; hdr.h.c = hdr.h.a % 8w8; sm.egress_spec = 1; }
}
"""
        + TAIL,
        "packet 0 2f0000\nexpect 1 2f0b07 $\npacket 0 ff0000\nexpect 1 ff3f07 $\n",
    ),
]


@pytest.mark.parametrize(("name", "source", "stf_text"), FULL, ids=[e[0] for e in FULL])
def test_wider_constructs(
    name: str, source: str, stf_text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / f"{name}.p4").write_text(source, encoding="utf-8")
    result = compile_file(f"{name}.p4")
    outcome = stf.run_stf(json.dumps(result.json), stf_text)
    assert outcome.passed, outcome.render()


VALUE_SETS = """
#include <core.p4>
#include <v1model.p4>
header h_t { bit<16> t; bit<8> a; bit<8> b; }
header x_t { bit<8> v; }
struct pair_t { bit<8> a; bit<8> b; }
struct headers_t { h_t h; x_t x; }
struct meta_t { }
parser P(packet_in pkt, out headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    value_set<bit<16>>(4) types;
    value_set<pair_t>(4) pairs;
    state start {
        pkt.extract(hdr.h);
        transition select(hdr.h.t) { 0x0800: parse_x; types: parse_x; default: check; }
    }
    state check { transition select(hdr.h.a, hdr.h.b) { pairs: parse_x; default: accept; } }
    state parse_x { pkt.extract(hdr.x); transition accept; }
}
control V(inout headers_t hdr, inout meta_t meta) { apply { } }
control I(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    apply { if (hdr.x.isValid()) { hdr.x.v = hdr.x.v + 1; } sm.egress_spec = 1; }
}
control E(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) { apply { } }
control C(inout headers_t hdr, inout meta_t meta) { apply { } }
control D(packet_out pkt, in headers_t hdr) { apply { pkt.emit(hdr.h); pkt.emit(hdr.x); } }
V1Switch(P(), V(), I(), E(), C(), D()) main;
"""


def test_parser_value_sets_through_the_core_api(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the STF dialect has no value-set command: configure them through the switch core
    monkeypatch.chdir(tmp_path)
    (tmp_path / "value_sets.p4").write_text(VALUE_SETS, encoding="utf-8")
    sw = core.Switch.from_json(json.dumps(compile_file("value_sets.p4").json))

    def out(hexdata: str) -> list[tuple[int, str]]:
        return [(port, data.hex()) for port, data in sw.process(0, bytes.fromhex(hexdata))]

    # empty value sets match nothing: x is not extracted, so v is not incremented
    assert out("86dd010205") == [(1, "86dd010205")]
    assert out("0800010205") == [(1, "0800010206")]
    sw.parse_vset_add("P.types", 0x86DD)
    assert out("86dd010205") == [(1, "86dd010206")]
    assert out("1234010205") == [(1, "1234010205")]
    # a struct value set matches the concatenated, byte-padded select key
    sw.parse_vset_add("P.pairs", 0x0102)
    assert out("1234010205") == [(1, "1234010206")]
    assert out("1234010305") == [(1, "1234010305")]
    sw.parse_vset_clear("P.types")
    assert out("86dd090905") == [(1, "86dd090905")]
