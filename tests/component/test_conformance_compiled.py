"""Each corpus program compiled by p4lite and run with its STF on the p4lite switch core."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest

from p4lite.compiler.driver import compile_file

try:
    stf = importlib.import_module("p4lite.switch.stf")
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
