"""Generated code does what the closures and the generic searches do.

Expressions: the source ``Program.expr_src`` writes gives the value, the type
and the exception of the closure ``Program.expr`` makes, on random expression
trees and header values, and what it claims to yield ("int", "bool") is so.
Ternary and range tables: once their entries have settled, packets go through a
generated search that picks what the priority-ordered scan picks.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from p4lite.switch.core import (
    ActionCall,
    AlreadyExistsError,
    ExactMatch,
    RangeMatch,
    Switch,
    TernaryMatch,
)
from p4lite.switch.core.codegen import Scope
from p4lite.switch.core.engine import Pkt, Program
from p4lite.switch.core.primitives import compile_primitive, primitive_src
from p4lite.switch.core.tables import _SETTLE

REFERENCE = Path(__file__).resolve().parents[2] / "conformance" / "reference"
RANGE_JSON = REFERENCE / "table_range.json"

FIELDS = ("port_num", "proto", "cls")
leaf = st.one_of(
    st.sampled_from([*FIELDS, "$valid$"]).map(lambda f: {"type": "field", "value": ["h", f]}),
    st.integers(-70000, 70000).map(lambda n: {"type": "hexstr", "value": hex(n)}),
    st.sampled_from([0, 1, 7, 8, 16, 255, 0xFFFF, 0xFFFFFFFF]).map(
        lambda n: {"type": "hexstr", "value": hex(n)}
    ),
    st.booleans().map(lambda b: {"type": "bool", "value": b}),
    st.integers(0, 1).map(lambda i: {"type": "runtime_data", "value": i}),
)
BINARY = ["+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>"]
BINARY += ["==", "!=", "<", ">", "<=", ">=", "and", "or"]
UNARY = ["-", "~", "not", "d2b", "b2d"]


def _wrap(op: dict[str, Any]) -> dict[str, Any]:
    return {"type": "expression", "value": op}


def _tree(children: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    binary = st.tuples(st.sampled_from(BINARY), children, children).map(
        lambda t: _wrap({"op": t[0], "left": t[1], "right": t[2]})
    )
    unary = st.tuples(st.sampled_from(UNARY), children).map(
        lambda t: _wrap({"op": t[0], "left": None, "right": t[1]})
    )
    cond = st.tuples(children, children, children).map(
        lambda t: _wrap({"op": "?", "left": t[0], "right": t[1], "cond": t[2]})
    )
    valid = st.just(_wrap({"op": "valid", "left": None, "right": {"type": "header", "value": "h"}}))
    return st.one_of(binary, unary, cond, valid)


expressions = st.recursive(leaf, _tree, max_leaves=8)


def _outcome(fn: Any, p: Pkt, a: tuple[int, ...]) -> tuple[str, Any]:
    try:
        value = fn(p, a)
    except Exception as exc:  # the same exception type is the expected result
        return "raises", type(exc)
    return type(value).__name__, value


@settings(max_examples=400, deadline=None)
@given(
    node=expressions,
    values=st.tuples(st.integers(0, 0xFFFF), st.integers(0, 0xFF), st.integers(0, 0xFF)),
    valid=st.integers(0, 1),
    data=st.tuples(st.integers(0, 0xFF), st.integers(0, 0xFFFF)),
)
def test_expression_source_matches_closure(
    node: dict[str, Any], values: tuple[int, int, int], valid: int, data: tuple[int, int]
) -> None:
    prog = Program(json.loads(RANGE_JSON.read_text()), lambda: 0)
    prog._nparams = 2  # as while an action with two parameters loads
    closure = prog.expr(node, "expr")
    scope = Scope()
    src, kind = prog.expr_src(node, "expr", scope)
    generated = scope.function("f", "p, a", ["h = p.h", "v = p.v", f"return {src}"])
    hidx = prog.hdr_index["h"]
    headers = [list(t) for t in prog.hdr_templates]
    headers[hidx] = list(values)
    flags = list(prog.valid_template)
    flags[hidx] = valid
    want = _outcome(closure, Pkt(headers, flags, 0, b""), data)
    got = _outcome(generated, Pkt(headers, flags, 0, b""), data)
    assert got == want, src
    if kind != "any" and got[0] != "raises":
        assert got[0] == kind, src


@settings(max_examples=300, deadline=None)
@given(
    target=st.sampled_from([*FIELDS, "$valid$"]),
    node=expressions,
    mask=st.sampled_from([None, 0, 0xF, 0xFF, 0xFFFF, 0xFFFFFFFF, -1]),
    values=st.tuples(st.integers(0, 0xFFFF), st.integers(0, 0xFF), st.integers(0, 0xFF)),
    data=st.tuples(st.integers(0, 0xFF), st.integers(0, 0xFFFF)),
)
def test_assignment_source_matches_closure(
    target: str,
    node: dict[str, Any],
    mask: int | None,
    values: tuple[int, int, int],
    data: tuple[int, int],
) -> None:
    prog = Program(json.loads(RANGE_JSON.read_text()), lambda: 0)
    prog._nparams = 2
    if mask is not None:
        node = _wrap({"op": "&", "left": node, "right": {"type": "hexstr", "value": hex(mask)}})
    dst = {"type": "field", "value": ["h", target]}
    prim = {"op": "assign", "parameters": [dst, node]}
    closure = compile_primitive(prog, prim, "prim")
    scope = Scope()
    lines = primitive_src(prog, prim, "prim", scope)
    assert lines is not None
    generated = scope.function("f", "p, a", ["h = p.h", "v = p.v", *lines])
    hidx = prog.hdr_index["h"]
    results = []
    for fn in (closure, generated):
        headers = [list(t) for t in prog.hdr_templates]
        headers[hidx] = list(values)
        p = Pkt(headers, list(prog.valid_template), 0, b"")
        outcome = _outcome(fn, p, data)
        results.append((outcome[0], p.h[hidx], p.v[hidx]))
    assert results[0] == results[1], lines


def _range_switch() -> Switch:
    """table_range's program with its range table's const entries left out."""
    doc = json.loads(RANGE_JSON.read_text())
    for pipeline in doc["pipelines"]:
        for table in pipeline["tables"]:
            if table["name"] == "MyIngress.t_range":
                table.pop("entries", None)
                table["const_entries"] = False
                table["max_size"] = 64
    return Switch.from_json(doc)


def _settle(sw: Switch, table: Any, frame: bytes) -> None:
    for _ in range(_SETTLE):
        sw.process(0, frame)
    assert table._find not in (table._generic, table._settling)


@settings(max_examples=60, deadline=None)
@given(
    entries=st.lists(
        st.tuples(
            st.integers(0, 0xFFFF), st.integers(0, 0xFFFF), st.integers(0, 3), st.integers(1, 6)
        ),
        max_size=20,
    ),
    deletes=st.lists(st.integers(0, 19), max_size=4),
    probes=st.lists(st.tuples(st.integers(0, 0xFFFF), st.integers(0, 3)), max_size=15),
)
def test_generated_range_search_matches_scan(
    entries: list[tuple[int, int, int, int]],
    deletes: list[int],
    probes: list[tuple[int, int]],
) -> None:
    sw = _range_switch()
    name = "MyIngress.t_range"
    table = sw._prog.tables[name]
    handles = []
    for i, (a, b, proto, prio) in enumerate(entries):
        try:
            h = sw.add_entry(
                name,
                [RangeMatch(min(a, b), max(a, b)), ExactMatch(proto)],
                ActionCall("MyIngress.classify", (i + 1,)),
                priority=prio,
            )
        except AlreadyExistsError:
            continue
        handles.append(h)
    for d in deletes:
        if d < len(handles) and handles[d] in table.entries:
            sw.delete_entry(name, handles[d])
    _settle(sw, table, bytes(4))
    for port, proto in probes:
        out = sw.process(0, port.to_bytes(2, "big") + bytes([proto, 0xEE]))
        expected = table._lookup_sorted_key((port, proto))
        want = 0 if expected is None else expected.action.params[0]
        assert out[0][1][3] == want & 0xFF


@settings(max_examples=60, deadline=None)
@given(
    entries=st.lists(
        st.tuples(
            st.integers(0, 0xFFFF),
            st.sampled_from([0, 0xFF00, 0x00FF, 0xFFFF, 0xF0F0]),
            st.integers(0, 0xFF),
            st.sampled_from([0, 0xF0, 0xFF]),
            st.integers(1, 6),
        ),
        max_size=25,
    ),
    probes=st.lists(st.tuples(st.integers(0, 0xFFFF), st.integers(0, 0xFF)), max_size=15),
)
def test_generated_ternary_search_matches_scan(
    entries: list[tuple[int, int, int, int, int]], probes: list[tuple[int, int]]
) -> None:
    sw = Switch.from_json((REFERENCE / "table_ternary.json").read_text())
    name = "MyIngress.t_tern"
    table = sw._prog.tables[name]
    for i, (x, xm, y, ym, prio) in enumerate(entries):
        try:
            sw.add_entry(
                name,
                [TernaryMatch(x & xm, xm), TernaryMatch(y & ym, ym)],
                ActionCall("MyIngress.set_res", (i,)),
                priority=prio,
            )
        except AlreadyExistsError:
            continue
    _settle(sw, table, bytes(4))
    for x, y in probes:
        out = sw.process(0, x.to_bytes(2, "big") + bytes([y, 0]))
        expected = table._lookup_sorted_key((x, y))
        want = 0xEE if expected is None else expected.action.params[0]
        assert out[0][1][3] == want & 0xFF


def test_a_change_goes_back_to_the_generic_search() -> None:
    sw = _range_switch()
    name = "MyIngress.t_range"
    table = sw._prog.tables[name]
    call = ActionCall("MyIngress.classify", (5,))
    sw.add_entry(name, [RangeMatch(10, 20), ExactMatch(1)], call, priority=1)
    _settle(sw, table, bytes(4))
    frame = (15).to_bytes(2, "big") + bytes([1, 0])
    assert sw.process(0, frame)[0][1][3] == 5
    sw.add_entry(name, [RangeMatch(0, 100), ExactMatch(1)], ActionCall(call.name, (9,)), priority=2)
    assert table._find == table._settling
    assert sw.process(0, frame)[0][1][3] == 9
    _settle(sw, table, bytes(4))
    assert sw.process(0, frame)[0][1][3] == 9
