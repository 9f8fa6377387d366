"""Parser: AST shapes, generics vs less-than, syntax errors."""

from __future__ import annotations

import pytest

from p4lite.compiler import ast
from p4lite.compiler.diagnostics import CompileError, Sink
from p4lite.compiler.lexer import tokenize
from p4lite.compiler.parser import parse
from p4lite.compiler.preprocessor import Line, Output


def parse_text(text: str) -> ast.Program:
    out = Output([Line("t.p4", i + 1, t, t) for i, t in enumerate(text.split("\n"))])
    return parse(tokenize(out, Sink()))


def test_header_struct_and_typedef() -> None:
    prog = parse_text(
        "typedef bit<9> port_t;\nheader h_t { bit<8> a; port_t p; }\nstruct s { h_t h; }"
    )
    td, hdr, st = prog.decls
    assert isinstance(td, ast.TypedefDecl) and td.name == "port_t"
    assert isinstance(hdr, ast.StructLike) and hdr.kind == "header"
    assert [f.name for f in hdr.fields] == ["a", "p"]
    assert hdr.fields[1].type.kind == "name"
    assert isinstance(st, ast.StructLike) and st.kind == "struct"


def test_precedence_follows_p4c() -> None:
    prog = parse_text("const bool c = 1 + 2 * 3 == 7 && 4 & 5 == 4;")
    decl = prog.decls[0]
    assert isinstance(decl, ast.VarDecl)
    e = decl.init
    assert isinstance(e, ast.Binary) and e.op == "&&"
    left = e.left
    assert isinstance(left, ast.Binary) and left.op == "=="
    assert isinstance(left.left, ast.Binary) and left.left.op == "+"
    right = e.right
    # '&' binds tighter than '==' in P4 (unlike C)
    assert isinstance(right, ast.Binary) and right.op == "=="
    assert isinstance(right.left, ast.Binary) and right.left.op == "&"


def test_generic_instance_with_nested_closing_angles() -> None:
    text = (
        "extern register<T, I> { register(bit<32> size); }\n"
        "control c() { register<bit<32>>(8) r; apply { } }"
    )
    prog = parse_text(text)
    ctl = prog.decls[1]
    assert isinstance(ctl, ast.ControlDecl)
    inst = ctl.locals[0]
    assert isinstance(inst, ast.Instance)
    assert inst.type.name == "register" and inst.type.args[0].kind == "bit"


def test_less_than_is_not_a_generic_and_casts_parse() -> None:
    prog = parse_text("typedef bit<8> b8;\ncontrol c() { apply { if (a < b) { x = (b8)y; } } }")
    ctl = prog.decls[1]
    assert isinstance(ctl, ast.ControlDecl) and ctl.body is not None
    stmt = ctl.body.stmts[0]
    assert isinstance(stmt, ast.If)
    assert isinstance(stmt.cond, ast.Binary) and stmt.cond.op == "<"
    then = stmt.then
    assert isinstance(then, ast.Block)
    assign = then.stmts[0]
    assert isinstance(assign, ast.Assign) and isinstance(assign.rhs, ast.Cast)


def test_parser_states_select_keysets() -> None:
    text = (
        "parser p() { state start { transition select(a, b) {"
        " (1, _) : s1; (2 &&& 3, 4 .. 5) : s2; default : accept; } } }"
    )
    prog = parse_text(text)
    pd = prog.decls[0]
    assert isinstance(pd, ast.ParserDecl) and pd.states is not None
    tr = pd.states[0].transition
    assert tr is not None and len(tr.select) == 2
    first, second, third = tr.cases
    assert isinstance(first.keyset, ast.ListExpr)
    assert isinstance(first.keyset.items[1], ast.Default)
    assert isinstance(second.keyset, ast.ListExpr)
    assert [x.op for x in second.keyset.items if isinstance(x, ast.Binary)] == ["&&&", ".."]
    assert isinstance(third.keyset, ast.Default) and third.state == "accept"


def test_table_properties() -> None:
    text = (
        'control c() { table t { key = { h.a : exact @name("k"); }'
        " actions = { a1; @defaultonly a2; }"
        " const default_action = a2(3); size = 16; const entries = { 1 : a1(); } } apply { } }"
    )
    prog = parse_text(text)
    ctl = prog.decls[0]
    assert isinstance(ctl, ast.ControlDecl)
    table = ctl.locals[0]
    assert isinstance(table, ast.TableDecl)
    props = {p.name: p for p in table.props}
    assert ast.annotation_str(props["key"].keys[0].annotations, "name") == "k"
    assert props["actions"].actions[1].annotations[0].name == "defaultonly"
    assert props["default_action"].is_const
    assert len(props["entries"].entries) == 1


def test_syntax_error_has_position() -> None:
    with pytest.raises(CompileError) as exc:
        parse_text("control c() { apply { x = ; } }")
    diag = exc.value.diagnostics[0]
    assert (diag.pos.line, diag.pos.col) == (1, 27)
    assert "unexpected ';'" in diag.message
    assert diag.render().endswith("^")


def test_invalid_header_and_default_initializers() -> None:
    prog = parse_text("const s_t a = { f = 1, ... };\nconst s_t b = { ... };\nconst h_t c = {#};")
    inits = [d.init for d in prog.decls if isinstance(d, ast.VarDecl)]
    assert isinstance(inits[0], ast.ListExpr) and inits[0].rest and inits[0].names == ("f",)
    assert isinstance(inits[1], ast.ListExpr) and inits[1].rest and inits[1].items == ()
    assert isinstance(inits[2], ast.InvalidHeader)
