"""Programs p4c rejects are rejected by p4lite too: one diagnostic at the right place, no crash.

Each case is a small v1model program of this project with one mistake; the
expected diagnostic names the line of the mistake and what is wrong with it.
Mistakes in actions and tables the program never applies count as well, as
p4c checks every declaration.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from p4lite.compiler.diagnostics import CompileError
from p4lite.compiler.driver import Result

Compile = Callable[[str], Result]

# (name, ingress apply body, ingress locals, expected message fragment, text of the bad line)
CASES = [
    ("assign_to_action_data", "", "action a(bit<8> v) { v = 1; }", "not an l-value", "v = 1"),
    (
        "table_in_unused_action",
        "",
        "action nop() { }\n"
        "table t { key = { hdr.h.a : exact; } actions = { nop; } }\n"
        "action a() { t.apply(); }",
        "table apply inside an action",
        "action a()",
    ),
    (
        "error_in_unused_table",
        "",
        "action nop() { }\ntable t { key = { hdr.h.zz : exact; } actions = { nop; } }",
        "has no field 'zz'",
        "hdr.h.zz",
    ),
    (
        "duplicate_local",
        "        bit<8> x = 1;\n        bit<8> x = 2;",
        "",
        "duplicate declaration of 'x'",
        "x = 2",
    ),
    (
        "duplicate_action",
        "",
        "action a() { }\naction a( ) { }",
        "duplicate declaration of 'a'",
        "action a( )",
    ),
    (
        "duplicate_switch_label",
        "        switch (t.apply().action_run) { a: { } a: { } }",
        "action a() { }\ntable t { key = { hdr.h.a : exact; } actions = { a; } }",
        "duplicate switch label 'a'",
        "switch",
    ),
    (
        "default_not_last",
        "        switch (t.apply().action_run) { default: { } a: { } }",
        "action a() { }\ntable t { key = { hdr.h.a : exact; } actions = { a; } }",
        "'default' must be the last",
        "switch",
    ),
    (
        "entry_action_not_listed",
        "        t.apply();",
        "action a() { }\naction b() { }\n"
        "table t { key = { hdr.h.a : exact; } actions = { a; } const entries = { 1 : b(); } }",
        "entry action 'b' is not in the table's actions",
        "const entries",
    ),
    ("set_valid_with_argument", "        hdr.h.setValid(1);", "", "takes no arguments", "setValid"),
    ("negative_shift", "        hdr.h.a = hdr.h.a << -1;", "", "negative amount", "<< -1"),
    (
        "extern_function_arity",
        "        mark_to_drop();",
        "",
        "mark_to_drop() takes 1",
        "mark_to_drop",
    ),
    (
        "priority_in_const_entries",
        "        t.apply();",
        "action a() { }\n"
        "table t { key = { hdr.h.a : ternary; } actions = { a; }\n"
        "const entries = { priority = 3: 1 &&& 1 : a(); } }",
        "Table with 'const' entries cannot have priorities",
        "priority = 3",
    ),
    (
        "first_entry_without_priority",
        "        t.apply();",
        "action a() { }\n"
        "table t { key = { hdr.h.a : ternary; } actions = { a; }\n"
        "entries = { 1 &&& 1 : a(); priority = 3: 2 &&& 2 : a(); } }",
        "entry must have a priority",
        "entries = {",
    ),
    (
        "mark_to_drop_of_a_header",
        "        mark_to_drop(hdr.h);",
        "",
        "expected 'standard_metadata_t', got 'h_t'",
        "mark_to_drop(hdr.h)",
    ),
    (
        "register_read_into_a_wider_field",
        "        r.read(hdr.h.c, 0);",
        "register<bit<8>>(4) r;",
        "expected 'bit<8>', got 'bit<16>'",
        "r.read",
    ),
    (
        "unsized_shift_by_run_time_amount",
        "        hdr.h.a = 1 << hdr.h.b;",
        "",
        "1 << hdr.h.b: shift result type is arbitrary-precision int",
        "1 << hdr.h.b",
    ),
    ("minus_of_a_bool", "        bool b = -true;", "", "'-' needs a bit<W> or int<W>", "-true"),
    (
        "return_with_value_in_apply",
        "        return 1;",
        "",
        "'return' with a value outside a function",
        "return 1",
    ),
    (
        "direct_counter_on_two_tables",
        "        t1.apply();\n        t2.apply();",
        "direct_counter(CounterType.packets) dc;\n"
        "table t1 { key = { hdr.h.a : exact; } actions = { NoAction; } counters = dc; }\n"
        "table t2 { key = { hdr.h.b : exact; } actions = { NoAction; } counters = dc; }",
        "Direct counters cannot be attached to multiple tables",
        "table t2",
    ),
    (
        "indexed_counter_as_table_counters",
        "        t.apply();",
        "counter(4, CounterType.packets) c;\n"
        "table t { key = { hdr.h.a : exact; } actions = { NoAction; } counters = c; }",
        "to resolve to an extern instance of type direct_counter; got counter",
        "table t",
    ),
    (
        "direct_meter_on_two_tables",
        "        t1.apply();\n        t2.apply();",
        "direct_meter<bit<2>>(MeterType.packets) dm;\n"
        "table t1 { key = { hdr.h.a : exact; } actions = { NoAction; } meters = dm; }\n"
        "table t2 { key = { hdr.h.b : exact; } actions = { NoAction; } meters = dm; }",
        "Direct meters cannot be attached to multiple tables",
        "table t2",
    ),
    (
        "direct_meter_read_into_two_fields",
        "        t.apply();",
        "direct_meter<bit<8>>(MeterType.packets) dm;\n"
        "action a() { dm.read(hdr.h.a); }\n"
        "action b() { dm.read(hdr.h.b); }\n"
        "table t { key = { hdr.h.a : exact; } actions = { a; b; } meters = dm; }",
        "must write to the same destination but hdr.h.a and hdr.h.b are different",
        "action b()",
    ),
    (
        "extern_method_arity",
        "        r.write(1);",
        "register<bit<8>>(4) r;",
        "register.write() takes 2 argument(s), got 1",
        "r.write(1)",
    ),
    (
        "entry_key_of_another_type",
        "        t.apply();",
        "action a() { }\n"
        "table t { key = { hdr.h.a : exact; } actions = { a; } const entries = { false : a(); } }",
        "type mismatch: expected 'bit<8>', got 'bool'",
        "const entries",
    ),
    (
        "slice_bound_of_type_bool",
        "        hdr.h.a = hdr.h.b[7:false];",
        "",
        "expected an integer, got 'bool'",
        "[7:false]",
    ),
    (
        "static_assert_false",
        '        static_assert(8w1 == 8w2, "one is not two");',
        "",
        "one is not two",
        "static_assert",
    ),
]


@pytest.mark.parametrize(
    ("body", "locals_", "message", "marker"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_rejected_with_a_located_diagnostic(
    compile_text: Compile,
    program: Callable[..., str],
    body: str,
    locals_: str,
    message: str,
    marker: str,
) -> None:
    text = program(body, ingress_locals=locals_)
    line = next(i for i, ln in enumerate(text.splitlines(), start=1) if marker in ln)
    with pytest.raises(CompileError) as exc:
        compile_text(text)
    first = exc.value.diagnostics[0]
    assert message in first.message, first.render()
    assert (first.pos.file, first.pos.line) == ("prog.p4", line), first.render()
    assert first.render().startswith(f"prog.p4:{line}:")


def test_statement_after_transition_is_a_syntax_error(compile_text: Compile) -> None:
    text = """#include <core.p4>
#include <v1model.p4>
header h_t { bit<8> a; }
struct headers_t { h_t h; }
struct meta_t { }
parser P(packet_in pkt, out headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    state start { transition accept; pkt.extract(hdr.h); }
}
"""
    with pytest.raises(CompileError) as exc:
        compile_text(text)
    assert exc.value.diagnostics[0].pos.line == 7
    assert "after the transition of state 'start'" in exc.value.diagnostics[0].message


def test_mistake_in_a_control_applied_twice_is_reported_once(
    compile_text: Compile, program: Callable[..., str]
) -> None:
    decls = "control Sub(inout bit<8> x) { apply { x = nope; } }\n"
    text = program("        s.apply(hdr.h.a);\n        s.apply(hdr.h.b);", decls, "Sub() s;")
    with pytest.raises(CompileError) as exc:
        compile_text(text)
    assert [d.message for d in exc.value.diagnostics] == ["undeclared name 'nope'"]


@pytest.mark.parametrize(
    ("decls", "message", "marker"),
    [
        ("bit<8> f(in bit<8> x) { return x + nope; }\n", "undeclared name 'nope'", "nope"),
        ("void g() { return 1; }\n", "'return' with a value", "return 1"),
        (
            "action top(inout bit<8> x) { x = 16w1; }\n",
            "type mismatch: expected 'bit<8>', got 'bit<16>'",
            "16w1",
        ),
        (
            "bit<8> r(in bit<8> x) { return x == 0 ? x : r(x - 1); }\n",
            "recursive call of function 'r'",
            "bit<8> r(",
        ),
    ],
    ids=[
        "function_never_called",
        "void_function_returns_a_value",
        "top_level_action_unused",
        "recursive_function",
    ],
)
def test_mistakes_in_uncalled_functions_and_actions(
    compile_text: Compile, program: Callable[..., str], decls: str, message: str, marker: str
) -> None:
    text = program("", decls)
    line = next(i for i, ln in enumerate(text.splitlines(), start=1) if marker in ln)
    with pytest.raises(CompileError) as exc:
        compile_text(text)
    first = exc.value.diagnostics[0]
    assert message in first.message, first.render()
    assert (first.pos.file, first.pos.line) == ("prog.p4", line), first.render()


def test_select_case_of_type_bool_on_a_bit_key(compile_text: Compile) -> None:
    text = """#include <core.p4>
#include <v1model.p4>
header h_t { bit<8> a; }
struct headers_t { h_t h; }
struct meta_t { }
parser P(packet_in pkt, out headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    state start {
        pkt.extract(hdr.h);
        transition select(hdr.h.a) { false: accept; default: accept; }
    }
}
control V(inout headers_t hdr, inout meta_t meta) { apply { } }
control I(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) { apply { } }
control D(packet_out pkt, in headers_t hdr) { apply { } }
V1Switch(P(), V(), I(), I(), V(), D()) main;
"""
    with pytest.raises(CompileError) as exc:
        compile_text(text)
    first = exc.value.diagnostics[0]
    assert first.pos.line == 9
    assert first.message == "type mismatch: expected 'bit<8>', got 'bool'"
