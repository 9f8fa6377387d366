"""Front end and checks: golden diagnostics for bad programs, constants, types."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from p4lite.compiler import ast
from p4lite.compiler.diagnostics import CompileError, Pos, Sink
from p4lite.compiler.driver import Result
from p4lite.compiler.frontend import Bits, FrontEnd, wrap
from p4lite.compiler.lexer import tokenize
from p4lite.compiler.parser import parse
from p4lite.compiler.preprocessor import Line, Output

Compile = Callable[[str], Result]


def errors_of(compile_text: Compile, text: str) -> list[str]:
    with pytest.raises(CompileError) as exc:
        compile_text(text)
    return [d.render() for d in exc.value.diagnostics]


def test_undeclared_name_golden(compile_text: Compile, program: Callable[..., str]) -> None:
    errs = errors_of(compile_text, program("        hdr.h.a = nope;"))
    assert errs == [
        "prog.p4:10:19: error: undeclared name 'nope'\n        hdr.h.a = nope;\n                  ^"
    ]


def test_width_mismatch_golden(compile_text: Compile, program: Callable[..., str]) -> None:
    errs = errors_of(compile_text, program("        hdr.h.c = hdr.h.a;"))
    assert errs == [
        "prog.p4:10:19: error: type mismatch: expected 'bit<16>', got 'bit<8>'\n"
        "        hdr.h.c = hdr.h.a;\n"
        "                  ^"
    ]


def test_mixed_operand_types_are_rejected(
    compile_text: Compile, program: Callable[..., str]
) -> None:
    errs = errors_of(compile_text, program("        hdr.h.a = hdr.h.a + hdr.h.c;"))
    assert len(errs) == 1
    assert errs[0].startswith(
        "prog.p4:10:29: error: type mismatch: expected 'bit<8>', got 'bit<16>'"
    )


def test_unsupported_construct_golden(compile_text: Compile, program: Callable[..., str]) -> None:
    errs = errors_of(compile_text, program("        varbit<8> v;"))
    assert errs == [
        "prog.p4:10:19: error: unsupported local variable type 'varbit<8>'\n"
        "        varbit<8> v;\n                  ^"
    ]


def test_errors_of_one_phase_are_reported_together(
    compile_text: Compile, program: Callable[..., str]
) -> None:
    body = "        hdr.h.a = x1;\n        hdr.h.b = x2;\n        hdr.q.a = 1;"
    errs = errors_of(compile_text, program(body))
    assert [e.split(": error: ")[0] for e in errs] == [
        "prog.p4:10:19",
        "prog.p4:11:19",
        "prog.p4:12:9",
    ]
    assert "has no field 'q'" in errs[2]


def test_implicit_widening_of_literals_but_not_of_fields(
    compile_text: Compile, program: Callable[..., str]
) -> None:
    ok = compile_text(program("        hdr.h.c = 300;\n        hdr.h.a = 8w3 + 1;"))
    assert ok.json["actions"]
    errs = errors_of(compile_text, program("        bool b = hdr.h.a;"))
    assert "expected 'bool', got 'bit<8>'" in errs[0]


def test_missing_main_is_an_error(compile_text: Compile) -> None:
    errs = errors_of(compile_text, "#include <core.p4>\nheader h_t { bit<8> a; }\n")
    assert errs == ["prog.p4:1:1: error: program has no 'main' package instance"]


def test_constant_folding_and_typedefs() -> None:
    sink = Sink()
    fe = FrontEnd(sink)
    p = Pos("t.p4", 1, 1)
    fe.declare(
        ast.VarDecl(p, ast.TypeRef(p, "bit", width=ast.IntLit(p, 8)), "K", ast.IntLit(p, 300), True)
    )
    fe.declare(ast.TypedefDecl(p, ast.TypeRef(p, "bit", width=ast.Name(p, "K")), "wide_t"))
    assert fe.env.consts["K"] == (Bits(8), 44)
    assert fe.env.types["wide_t"] == Bits(44)
    shifted = ast.Binary(p, "<<", ast.Name(p, "K"), ast.IntLit(p, 2))
    assert fe.const_int(shifted) == 176
    assert not sink.errors


def test_wrap_to_signed_and_unsigned() -> None:
    assert wrap(-1, Bits(8)) == 255
    assert wrap(128, Bits(8, True)) == -128
    assert wrap(0x1FF, Bits(8)) == 0xFF


def test_redeclaration_is_an_error(compile_text: Compile, program: Callable[..., str]) -> None:
    errs = errors_of(compile_text, program("", decls="header h_t { bit<8> z; }\n"))
    assert errs[0].startswith("prog.p4:6:8: error: re-declaration of 'h_t'")


def test_assigning_an_in_parameter_is_an_error(
    compile_text: Compile, program: Callable[..., str]
) -> None:
    decls = "control Sub(in bit<8> k) { apply { k = 1; } }\n"
    errs = errors_of(compile_text, program("        s.apply(hdr.h.a);", decls, "    Sub() s;"))
    assert len(errs) == 1
    assert "cannot assign to 'k': not an l-value" in errs[0]


def test_struct_constant_members_fold() -> None:
    text = (
        "struct in_t { bit<8> x; }\nstruct k_t { bit<4> f; in_t g; }\n"
        "const k_t K = { f = 20, g = { x = 2 } };\nconst bit<8> X = K.g.x + 1;\n"
    )
    out = Output([Line("t.p4", i + 1, t, t) for i, t in enumerate(text.split("\n"))])
    sink = Sink()
    fe = FrontEnd(sink)
    for d in parse(tokenize(out, sink)).decls:
        fe.declare(d)
    assert fe.env.struct_consts["K"][1] == {"f": 4, "g": {"x": 2}}  # 20 wraps in bit<4>
    assert fe.env.consts["X"][1] == 3
    assert not sink.errors


def test_v1model_version_defaults_to_p4c_initial_one(
    compile_text: Compile, program: Callable[..., str]
) -> None:
    # p4c's v1model.p4 defaults V1MODEL_VERSION to 20180101: no PortId_t of its
    # own, so a program may declare one, and register has one type parameter
    decls = "typedef bit<9> PortId_t;\n"
    ok = compile_text(program("        PortId_t p = 3;\n        sm.egress_spec = p;", decls))
    assert ok.json["actions"]
    errs = errors_of(
        compile_text,
        program("        r.write(0, 1);", ingress_locals="    register<bit<8>, bit<32>>(4) r;"),
    )
    assert errs == [
        "prog.p4:8:5: error: type 'register' has 1 type parameter(s), "
        "but it is specialized with 2\n"
        "    register<bit<8>, bit<32>>(4) r;\n"
        "    ^"
    ]


def test_v1model_version_20200408_declares_port_and_index_types(compile_text: Compile) -> None:
    text = "#define V1MODEL_VERSION 20200408\n" + (
        "#include <core.p4>\n#include <v1model.p4>\n"
        "header h_t { bit<8> a; }\nstruct headers_t { h_t h; }\nstruct meta_t { }\n"
        "control I(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {\n"
        "    register<bit<8>, bit<8>>(4) r;\n"
        "    counter<bit<8>>(4, CounterType.packets) c;\n"
        "    meter<bit<8>>(4, MeterType.packets) m;\n"
        "    apply {\n"
        "        PortId_t p = 1; sm.egress_spec = p; r.write(hdr.h.a, 1); c.count(hdr.h.a);\n"
        "        bit<2> colour; m.execute_meter(hdr.h.a, colour);\n"
        "        if (__v1model_version == 20200408) { hdr.h.a = 7; }\n"
        "    }\n}\n"
        "parser P(packet_in pkt, out headers_t hdr, inout meta_t meta,"
        " inout standard_metadata_t sm) {\n"
        "    state start { pkt.extract(hdr.h); transition accept; }\n}\n"
        "control V(inout headers_t hdr, inout meta_t meta) { apply { } }\n"
        "control E(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm)"
        " { apply { } }\n"
        "control C(inout headers_t hdr, inout meta_t meta) { apply { } }\n"
        "control D(packet_out pkt, in headers_t hdr) { apply { pkt.emit(hdr.h); } }\n"
        "V1Switch(P(), V(), I(), E(), C(), D()) main;\n"
    )
    res = compile_text(text)
    assert [r["name"] for r in res.json["register_arrays"]] == ["I.r"]
