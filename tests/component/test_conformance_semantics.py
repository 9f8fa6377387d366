"""Programs compiled by p4lite and run with an STF: evaluation order and constructs p4c accepts.

Each case is a whole program of this project with the packets BMv2 gives for it
(short-circuit and ``?:`` operands with side effects, for loops in actions,
action parameters bound in a table's actions list, and other constructs the
p4c front end accepts), run through ``p4lite.switch.stf`` in the dialect of
p4c's BMv2 runner.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from p4lite.compiler.driver import compile_file
from p4lite.switch.stf import run_stf

HEAD = """
#include <core.p4>
#include <v1model.p4>
header h_t { bit<8> a; bit<8> b; bit<8> c; bit<8> d; }
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

CASES = [
    (
        # the right operand of || / && runs only when the left one does not decide
        "short_circuit_side_effects",
        """
bool bump(inout bit<8> x) { x = x + 1; return true; }
control I(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    apply {
        bool r1 = hdr.h.a == 1 || bump(hdr.h.b);
        bool r2 = hdr.h.a == 1 && bump(hdr.h.c);
        hdr.h.d = (r1 ? 8w0x10 : 8w0) | (r2 ? 8w1 : 8w0);
        sm.egress_spec = 1;
    }
}
""",
        "packet 0 01000000\nexpect 1 01000111 $\npacket 0 02000000\nexpect 1 02010010 $\n",
    ),
    (
        # only the chosen operand of ?: runs; the condition is read before either
        "conditional_operator_side_effects",
        """
bit<8> set_and_get(inout bit<8> x, in bit<8> v) { x = v; return v; }
control I(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    apply {
        hdr.h.d = hdr.h.a == 0 ? set_and_get(hdr.h.a, 8w5) : set_and_get(hdr.h.b, 8w9);
        sm.egress_spec = 1;
    }
}
""",
        "packet 0 00000000\nexpect 1 05000005 $\npacket 0 03000000\nexpect 1 03090009 $\n",
    ),
    (
        "side_effect_in_constant_guarded_operand",
        """
bool mark(inout bit<8> x) { x = 0xee; return false; }
control I(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    apply {
        bool never = false && mark(hdr.h.a);
        bool always = true || mark(hdr.h.b);
        bool once = true && mark(hdr.h.c);
        hdr.h.d = (bit<8>)(bit<1>)never + (bit<8>)(bit<1>)always + (bit<8>)(bit<1>)once;
        sm.egress_spec = 1;
    }
}
""",
        "packet 0 01020304\nexpect 1 0102ee01 $\n",
    ),
    (
        # a loop per action: count, nested loops, break and continue, a guard around it
        "for_loops_in_actions",
        """
control I(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    action sum_to() {
        hdr.h.b = 0;
        for (bit<8> i = 1; i <= hdr.h.a; i = i + 1) { hdr.h.b = hdr.h.b + i; }
    }
    action grid() {
        hdr.h.c = 0;
        for (bit<8> i = 0; i < hdr.h.a; i = i + 1) {
            for (bit<8> j = 0; j < 3; j = j + 1) { hdr.h.c = hdr.h.c + 1; }
        }
    }
    action odd_until_seven() {
        hdr.h.d = 0;
        for (bit<8> i = 0; i < 20; i = i + 1) {
            if (i == 7) { break; }
            if (i & 1 == 0) { continue; }
            hdr.h.d = hdr.h.d + 1;
        }
    }
    action guarded() {
        if (hdr.h.a == 9) {
            for (bit<8> i = 0; i < 4; i = i + 1) { hdr.h.b = hdr.h.b + 2; }
        }
    }
    apply {
        sum_to(); grid(); odd_until_seven(); guarded();
        sm.egress_spec = 1;
    }
}
""",
        "packet 0 04000000\nexpect 1 040a0c03 $\n"
        "packet 0 00000000\nexpect 1 00000003 $\n"
        "packet 0 09000000\nexpect 1 09351b03 $\n",
    ),
    (
        "for_loop_with_return_in_action",
        """
control I(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    action find() {
        hdr.h.b = 0xff;
        for (bit<8> i = 0; i < 8; i = i + 1) {
            if (hdr.h.a[0:0] == 1) { hdr.h.b = i; return; }
            hdr.h.a = hdr.h.a >> 1;
        }
        hdr.h.c = 0xcc;
    }
    apply { find(); sm.egress_spec = 1; }
}
""",
        "packet 0 08000000\nexpect 1 01030000 $\npacket 0 00000000\nexpect 1 00ffcc00 $\n",
    ),
    (
        # a return inside nested blocks skips the rest of every enclosing block
        "nested_return_in_action_block",
        """
control I(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    action f() {
        if (hdr.h.a != 0) {
            if (hdr.h.a == 1) { hdr.h.b = 1; return; }
            hdr.h.c = 2;
        }
        hdr.h.d = 3;
    }
    apply { f(); sm.egress_spec = 1; }
}
""",
        "packet 0 01000000\nexpect 1 01010000 $\n"
        "packet 0 02000000\nexpect 1 02000203 $\n"
        "packet 0 00000000\nexpect 1 00000003 $\n",
    ),
    (
        # table t() and actions whose out parameter is bound in the actions list
        "bound_directional_action_params",
        """
control I(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    action put(out bit<8> dst, bit<8> v) { dst = v; }
    action nop() { }
    table tb() {
        key = { hdr.h.a : exact; }
        actions = { put(hdr.h.b); nop; }
        default_action = put(hdr.h.b, 0x77);
    }
    table tc {
        key = { hdr.h.a : exact; }
        actions = { put(hdr.h.c); nop; }
        const entries = { 1 : put(hdr.h.c, 0x11); }
    }
    apply { tb.apply(); tc.apply(); sm.egress_spec = 1; }
}
""",
        "add tb hdr.h.a:2 put(v:0x22)\n"
        "packet 0 01000000\nexpect 1 01771100 $\n"
        "packet 0 02000000\nexpect 1 02220000 $\n",
    ),
    (
        # the same field passed as inout and out: copy-in/copy-out, not references
        "aliased_directional_arguments",
        """
void twice(inout bit<8> x, out bit<8> y) {
    y = 8w1;
    if (x > 8w10) { y = 8w2; }
}
control I(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    apply { twice(hdr.h.a, hdr.h.a); twice(hdr.h.b, hdr.h.c); sm.egress_spec = 1; }
}
""",
        "packet 0 20200000\nexpect 1 02200200 $\npacket 0 05050000\nexpect 1 01050100 $\n",
    ),
    (
        # an 'out' header argument comes back invalid unless the callee makes it valid
        "out_header_argument_starts_invalid",
        """
void reset(out h_t x) { }
void fill(out h_t x) { x.setValid(); x = { 8w1, 8w2, 8w3, 8w4 }; }
control I(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    apply {
        if (hdr.h.a == 1) { reset(hdr.h); } else if (hdr.h.a == 2) { fill(hdr.h); }
        sm.egress_spec = 1;
    }
}
""",
        "packet 0 01000000 99\nexpect 1 99 $\n"
        "packet 0 02000000 99\nexpect 1 01020304 99 $\n"
        "packet 0 03000000 99\nexpect 1 03000000 99 $\n",
    ),
    (
        # an unsized literal in ?: takes the other operand's width, then the cast widens
        "conditional_literal_takes_other_width",
        """
control I(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    apply {
        hdr.h.b = (bit<8>)-((hdr.h.a == 1) ? 2 : 3w1);
        hdr.h.c = (bit<8>)(~((hdr.h.a == 1) ? 4w3 : 0));
        sm.egress_spec = 1;
    }
}
""",
        "packet 0 01000000\nexpect 1 01060c00 $\npacket 0 00000000\nexpect 1 00070f00 $\n",
    ),
    (
        # a function returning a header: every return path builds it
        "function_returning_header",
        """
h_t make(in bit<8> v) {
    if (v == 0) { return { 8w0xaa, 8w0xbb, 8w0xcc, 8w0xdd }; }
    h_t x = { v, v, v, v };
    return x;
}
control I(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    apply { hdr.h = make(hdr.h.a); hdr.h.d = make(8w3).c; sm.egress_spec = 1; }
}
""",
        "packet 0 00000000\nexpect 1 aabbcc03 $\npacket 0 05000000\nexpect 1 05050503 $\n",
    ),
    (
        # a constant key and a table result inside a larger expression
        "constant_key_and_hit_in_expression",
        """
bit<8> twice(in bit<8> x) { return x + x; }
control I(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    action nop() { }
    table always { key = { 8w7 : exact @name("seven"); } actions = { nop; } }
    table t { key = { hdr.h.a : exact; } actions = { nop; } const entries = { 1 : nop(); } }
    apply {
        hdr.h.b = twice(t.apply().hit ? 8w3 : 8w4);
        if (always.apply().miss) { hdr.h.c = 1; }
        sm.egress_spec = 1;
    }
}
""",
        "packet 0 01000000\nexpect 1 01060100 $\n"
        "add always seven:7 nop()\n"
        "packet 0 02000000\nexpect 1 02080000 $\n",
    ),
    (
        # literal arguments of a sub-control's 'in' parameters take the parameters' types
        "subcontrol_literal_arguments",
        """
control Join(out bit<16> r, in bit<8> x, in bit<8> y) { apply { r = x ++ y; } }
control I(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    Join() j;
    bit<16> w;
    apply { j.apply(w, 0x12, 52); hdr.h.c = w[15:8]; hdr.h.d = w[7:0]; sm.egress_spec = 1; }
}
""",
        "packet 0 00000000\nexpect 1 00001234 $\n",
    ),
    (
        # generic functions: type arguments given or inferred from the arguments
        "generic_functions",
        """
T twice<T>(in T v) { T t = v; return t + v; }
void swap<T>(inout T x, inout T y) { T t = x; x = y; y = t; }
control I(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    apply {
        hdr.h.c = twice(hdr.h.c);
        hdr.h.a = twice<bit<8>>(hdr.h.a);
        swap(hdr.h.a, hdr.h.b);
        sm.egress_spec = 1;
    }
}
""",
        "packet 0 03050709\nexpect 1 05060e09 $\n",
    ),
    (
        # controls instantiated with constructor arguments; switch on a value
        "constructor_arguments_and_value_switch",
        """
control Add(inout bit<8> x)(bit<8> k) { apply { x = x + k; } }
control I(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    Add(8w5) add5;
    Add(8w7) add7;
    apply {
        add5.apply(hdr.h.a);
        add7.apply(hdr.h.b);
        switch (hdr.h.d) {
            1: { hdr.h.d = 0x11; }
            2:
            3: { hdr.h.d = 0x23; }
            default: { hdr.h.d = 0x44; }
        }
        sm.egress_spec = 1;
    }
}
""",
        "packet 0 01010201\nexpect 1 06080211 $\n"
        "packet 0 00000002\nexpect 1 05070023 $\n"
        "packet 0 00000009\nexpect 1 05070044 $\n",
    ),
    (
        # '@priority(N)' on const entries: BMv2's priority, the lower number wins;
        # serializable enum members (cast) are constants in keysets
        "entry_priority_annotation_and_enum_keys",
        """
enum bit<8> Kind { LOW = 0x10, HIGH = 0xf0 }
control I(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    action set(bit<8> v) { hdr.h.d = v; }
    table t {
        key = { hdr.h.a : ternary; }
        actions = { set; NoAction; }
        default_action = NoAction();
        const entries = {
            0x01 &&& 0x0f : set(1) @priority(5);
            ((bit<8>)Kind.HIGH) &&& 0xf0 : set(2) @priority(2);
            0x31 : set(3);
        }
    }
    apply { t.apply(); sm.egress_spec = 1; }
}
""",
        "packet 0 f1000000\nexpect 1 f1000002 $\n"
        "packet 0 31000000\nexpect 1 31000003 $\n"
        "packet 0 21000000\nexpect 1 21000001 $\n",
    ),
    (
        # a slice key's entries hold the slice's bits; 'f & MASK' keys hold masked values
        "slice_and_mask_keys",
        """
control I(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    action hit(bit<8> v) { hdr.h.d = v; }
    table t {
        key = { hdr.h.a[7:4] : exact @name("hi"); hdr.h.b & 0xf0 : exact @name("b_hi"); }
        actions = { hit; NoAction; }
        default_action = NoAction();
    }
    apply { t.apply(); sm.egress_spec = 1; }
}
""",
        "add t hi:0x1 b_hi:0x20 hit(v:0x77)\n"
        "packet 0 1f2f0000\nexpect 1 1f2f0077 $\n"
        "packet 0 2f2f0000\nexpect 1 2f2f0000 $\n"
        "packet 0 1f1f0000\nexpect 1 1f1f0000 $\n",
    ),
    (
        # a header stack declared as a local variable, compared and copied as a whole
        "local_header_stack",
        """
control I(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    apply {
        h_t[2] tmp;
        tmp[0] = hdr.h;
        tmp[1].setValid();
        tmp[1].a = hdr.h.b;
        hdr.h.d = tmp[1].a + tmp[0].c;
        sm.egress_spec = 1;
    }
}
""",
        "packet 0 01020304\nexpect 1 01020305 $\n",
    ),
]


@pytest.mark.parametrize(("name", "ingress", "stf_text"), CASES, ids=[c[0] for c in CASES])
def test_semantics(
    name: str, ingress: str, stf_text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / f"{name}.p4").write_text(HEAD + ingress + TAIL, encoding="utf-8")
    result = compile_file(f"{name}.p4")
    outcome = run_stf(json.dumps(result.json), stf_text)
    assert outcome.passed, outcome.render()


IN_FOR_INOUT = """
#include <core.p4>
#include <v1model.p4>
header h_t { bit<8> a; }
struct headers_t { h_t h; }
struct meta_t { }
parser P(packet_in pkt, out headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    state start { pkt.extract(hdr.h); transition accept; }
}
control V(in headers_t hdr, inout meta_t meta) { apply { } }
control I(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    apply { sm.egress_spec = 2; }
}
control E(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) { apply { } }
control C(inout headers_t hdr, inout meta_t meta) { apply { } }
control D(packet_out pkt, in headers_t hdr) { apply { pkt.emit(hdr.h); } }
V1Switch(P(), V(), I(), E(), C(), D()) main;
"""


def test_read_only_block_parameter_and_unknown_ports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a verify control may take its headers 'in'; p4c accepts it
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ro.p4").write_text(IN_FOR_INOUT, encoding="utf-8")
    program = json.dumps(compile_file("ro.p4").json)
    # port 2 is named by no line: a failure by default, dropped like p4c's runner with the flag
    stf_text = "packet 0 07\n"
    strict = run_stf(program, stf_text)
    assert [m.reason for m in strict.mismatches] == ["packet on a port that does not exist"]
    assert run_stf(program, stf_text, drop_unknown_ports=True).passed
    assert run_stf(program, "packet 0 07\nexpect 2 07 $\n").passed


STACK_KEY = """
#include <core.p4>
#include <v1model.p4>
header e_t { bit<8> v; }
struct headers_t { e_t[2] s; }
struct meta_t { }
parser P(packet_in pkt, out headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    state start { pkt.extract(hdr.s.next); pkt.extract(hdr.s.next); transition accept; }
}
control V(inout headers_t hdr, inout meta_t meta) { apply { } }
control I(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    action set(bit<8> x) { hdr.s[1].v = x; }
    table t { key = { hdr.s[0].v : ternary; } actions = { set; NoAction; } }
    apply { t.apply(); sm.egress_spec = 1; }
}
control E(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) { apply { } }
control C(inout headers_t hdr, inout meta_t meta) { apply { } }
control D(packet_out pkt, in headers_t hdr) { apply { pkt.emit(hdr.s); } }
V1Switch(P(), V(), I(), E(), C(), D()) main;
"""


def test_p4c_runner_key_names_and_priorities(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 's$0.v' is p4c's spelling of 'hdr.s[0].v'; priority 0 is valid and the larger wins
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sk.p4").write_text(STACK_KEY, encoding="utf-8")
    program = json.dumps(compile_file("sk.p4").json)
    stf_text = (
        "add t 0 s$0.v:0x0* I.set(x:0xaa)\n"
        "add t 5 s$0.v:0x01 set(x:0xbb)\n"
        "packet 0 0100\nexpect 1 01bb $\n"
        "packet 0 0200\nexpect 1 02aa $\n"
        "packet 0 1200\nexpect 1 1200 $\n"
    )
    outcome = run_stf(program, stf_text)
    assert outcome.passed, outcome.render()


STACK_COPY = """
#include <core.p4>
#include <v1model.p4>
header e_t { bit<8> v; }
struct headers_t { e_t[2] a; e_t[2] b; e_t[2] c; }
struct meta_t { }
parser P(packet_in pkt, out headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    state start {
        pkt.extract(hdr.a.next); hdr.b = hdr.a; pkt.extract(hdr.a.next); transition accept;
    }
}
control V(inout headers_t hdr, inout meta_t meta) { apply { } }
control I(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    apply { hdr.c = hdr.a; hdr.c[1].v = 9; sm.egress_spec = 1; }
}
control E(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) { apply { } }
control C(inout headers_t hdr, inout meta_t meta) { apply { } }
control D(packet_out pkt, in headers_t hdr) { apply { pkt.emit(hdr); } }
V1Switch(P(), V(), I(), E(), C(), D()) main;
"""


def test_header_stack_assignment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # b is copied after one extract (one valid element), c after both, in the ingress
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sc.p4").write_text(STACK_COPY, encoding="utf-8")
    program = json.dumps(compile_file("sc.p4").json)
    outcome = run_stf(program, "packet 0 0102\nexpect 1 0102 01 0109 $\n")
    assert outcome.passed, outcome.render()


VARBIT = """
#include <core.p4>
#include <v1model.p4>
header c_t { bit<16> ck; bit<8> n; }
header v_t { bit<8> tag; varbit<24> v; }
struct headers_t { c_t c; v_t v; v_t[2] s; }
struct meta_t { }
parser P(packet_in pkt, out headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    state start {
        pkt.extract(hdr.c);
        pkt.extract(hdr.v, (bit<32>)hdr.c.n * 8);
        pkt.extract(hdr.s.next, (bit<32>)hdr.c.n * 8);
        pkt.extract(hdr.s.next, (bit<32>)hdr.c.n * 8);
        transition accept;
    }
}
control V(inout headers_t hdr, inout meta_t meta) { apply { } }
control I(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    apply { if (hdr.s[0] == hdr.s[1]) { hdr.c.n = 0xee; } sm.egress_spec = 1; }
}
control E(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) { apply { } }
control C(inout headers_t hdr, inout meta_t meta) {
    apply { update_checksum(true, { hdr.v.tag, hdr.v.v }, hdr.c.ck, HashAlgorithm.csum16); }
}
control D(packet_out pkt, in headers_t hdr) { apply { pkt.emit(hdr); } }
V1Switch(P(), V(), I(), E(), C(), D()) main;
"""


def test_varbit_fields_extract_emit_compare_and_checksum(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the varbit's length comes from c.n (bytes); the checksum covers only its extracted bits
    monkeypatch.chdir(tmp_path)
    (tmp_path / "vb.p4").write_text(VARBIT, encoding="utf-8")
    doc = compile_file("vb.p4").json
    v_t = next(t for t in doc["header_types"] if t["name"] == "v_t")
    assert v_t["fields"] == [["tag", 8, False], ["v", "*", False]] and v_t["max_length"] == 4
    stf_text = (
        "packet 0 0000 01 aa12 0105 0106 ff\nexpect 1 55ed 01 aa12 0105 0106 ff $\n"
        "packet 0 0000 01 aa12 0105 0105 ff\nexpect 1 55ed ee aa12 0105 0105 ff $\n"
        "packet 0 0000 03 aa123456 01050607 01050607\n"
        "expect 1 2197 ee aa123456 01050607 01050607 $\n"
    )
    outcome = run_stf(json.dumps(doc), stf_text)
    assert outcome.passed, outcome.render()


LOOKAHEAD_EXPR = """
#include <core.p4>
#include <v1model.p4>
header n_t { bit<4> hi; bit<4> lo; }
header h_t { bit<8> a; bit<8> b; bit<16> w; }
struct headers_t { h_t h; }
struct meta_t { bit<16> len; }
parser P(packet_in pkt, out headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    state start {
        // bit<9> arithmetic inside a bit<16> cast: 4 * lo - 3 does not wrap at 4 bits
        meta.len = (bit<16>)(2 * (4 * (bit<9>)(pkt.lookahead<n_t>().lo) - 3));
        hdr.h.w = (bit<16>)pkt.lookahead<bit<8>>() + 1;
        pkt.extract(hdr.h);
        transition accept;
    }
}
control V(inout headers_t hdr, inout meta_t meta) { apply { } }
control I(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    apply { hdr.h.b = (bit<8>)meta.len; sm.egress_spec = 1; }
}
control E(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) { apply { } }
control C(inout headers_t hdr, inout meta_t meta) { apply { } }
control D(packet_out pkt, in headers_t hdr) { apply { pkt.emit(hdr.h); } }
V1Switch(P(), V(), I(), E(), C(), D()) main;
"""


def test_lookahead_inside_expressions_and_operand_widths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "la.p4").write_text(LOOKAHEAD_EXPR, encoding="utf-8")
    program = json.dumps(compile_file("la.p4").json)
    # lo = 0xf: 2 * (60 - 3) = 114 = 0x72; a = 0x3f -> w = 0x40 (overwritten by extract)
    outcome = run_stf(program, "packet 0 3f000000\nexpect 1 3f720000 $\n")
    assert outcome.passed, outcome.render()


SUBPARSER = """
#include <core.p4>
#include <v1model.p4>
header t_t { bit<8> kind; bit<8> val; }
struct headers_t { t_t[4] t; t_t last; }
struct meta_t { bit<8> count; }
parser Tlv(packet_in pkt, inout headers_t hdr, inout bit<8> count, out bit<8> kind) {
    bit<8> seen = 0;
    state start {
        pkt.extract(hdr.t.next);
        seen = hdr.t.last.kind;
        transition select(seen) { 0: empty; default: counted; }
    }
    state empty { kind = 0; transition accept; }
    state counted { count = count + 1; kind = seen; transition accept; }
}
parser P(packet_in pkt, out headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    Tlv() tlv;
    bit<8> k;
    state start {
        meta.count = 0;
        tlv.apply(pkt, hdr, meta.count, k);
        transition select(k) { 0: done; default: again; }
    }
    state again {
        tlv.apply(pkt, hdr, meta.count, k);
        transition select(k) { 0: done; default: again; }
    }
    state done { pkt.extract(hdr.last); transition accept; }
}
control V(inout headers_t hdr, inout meta_t meta) { apply { } }
control I(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    apply { hdr.last.val = meta.count; sm.egress_spec = 1; }
}
control E(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) { apply { } }
control C(inout headers_t hdr, inout meta_t meta) { apply { } }
control D(packet_out pkt, in headers_t hdr) { apply { pkt.emit(hdr); } }
V1Switch(P(), V(), I(), E(), C(), D()) main;
"""


def test_subparser_states_inlined_at_each_apply(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # TLVs until kind 0, each through the sub-parser; the count comes back by reference
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sp.p4").write_text(SUBPARSER, encoding="utf-8")
    program = json.dumps(compile_file("sp.p4").json)
    stf_text = (
        "packet 0 0501 0702 0000 ffee\nexpect 1 0501 0702 0000 ff02 $\n"
        "packet 0 0000 ffee 11\nexpect 1 0000 ff00 11 $\n"
    )
    outcome = run_stf(program, stf_text)
    assert outcome.passed, outcome.render()
