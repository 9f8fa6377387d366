"""Structured annotations, `@name[...]`: parsed, checked and folded as p4c does, then in P4Info.

p4c writes them into `structured_annotations` of each P4Info message that has
`annotations` (control-plane p4RuntimeArchHandler: serializeOneStructuredAnnotation):
values folded to int64, string or bool literals, no source location, `@name[]`
with no body.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from google.protobuf import text_format
from p4.config.v1 import p4info_pb2

from p4lite.compiler import ast
from p4lite.compiler.diagnostics import CompileError, Sink
from p4lite.compiler.driver import Result
from p4lite.compiler.lexer import tokenize
from p4lite.compiler.parser import parse
from p4lite.compiler.preprocessor import Line, Output

Compile = Callable[[str], Result]


def parse_text(text: str) -> ast.Program:
    out = Output([Line("t.p4", i + 1, t, t) for i, t in enumerate(text.split("\n"))])
    return parse(tokenize(out, Sink()))


def annotations_of_first(text: str) -> tuple[ast.Annotation, ...]:
    decl = parse_text(text).decls[0]
    assert isinstance(decl, ast.ControlDecl)
    return decl.annotations


# ---------------------------------------------------------------- parser


def test_expression_list_kv_list_and_empty_body() -> None:
    a, b, c, d = annotations_of_first(
        '@a[1, "two", true, 1 == 2,] @b[k=1, type="t"] @c[] @d("plain")\ncontrol X() { apply { } }'
    )
    assert (a.name, a.structured, a.kv) == ("a", True, ())
    assert [type(x).__name__ for x in a.args] == ["IntLit", "StrLit", "BoolLit", "Binary"]
    assert (b.structured, b.args) == (True, ())
    assert [(p.key, type(p.value).__name__) for p in b.kv] == [
        ("k", "IntLit"),
        ("type", "StrLit"),
    ]
    assert (c.structured, c.args, c.kv) == (True, (), ())
    assert not d.structured and isinstance(d.args[0], ast.StrLit)


@pytest.mark.parametrize(
    ("text", "col", "fragment"),
    [
        ("@a[1, k=2]", 7, "mixes expressions and key=value pairs"),
        ("@a[k=2, 1]", 9, "mixes key=value pairs and expressions"),
        ("@a[1 2]", 6, "expected ',' or ']'"),
    ],
)
def test_malformed_body_is_a_located_syntax_error(text: str, col: int, fragment: str) -> None:
    with pytest.raises(CompileError) as exc:
        parse_text(text + "\ncontrol X() { apply { } }")
    (diag,) = exc.value.diagnostics
    assert (diag.pos.line, diag.pos.col) == (1, col)
    assert fragment in diag.message


def test_predefined_lookups_see_only_unstructured_annotations() -> None:
    annos = annotations_of_first('@x[1] @x2("v")\ncontrol X() { apply { } }')
    assert ast.annotation(annos, "x") is None
    assert ast.annotation_str(annos, "x2") == "v"


# ---------------------------------------------------------------- front end

PROGRAM = """#include <core.p4>
#include <v1model.p4>
#define NUM_CONST 6
const int K = 40;
const bool FLAG = true;
const bit<8> NARROW = 3;

@controller_header("packet_in")
@PuntInfo[reason="copy", version=2]
header packet_in_t {
    @id(1) @Port[9] bit<9> ingress_port;
    @padding bit<7> pad;
}
header h_t { bit<8> a; bit<8> b; }
struct headers_t { packet_in_t pin; h_t h; }
struct meta_t { bit<8> m; }

parser P(packet_in pkt, out headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    state start { pkt.extract(hdr.h); transition accept; }
}
control V(inout headers_t hdr, inout meta_t meta) { apply { } }
control I(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    @Pretty["set b", 2 * 3 + K, !FLAG]
    action set_b(@Range[low=0, high=255] @unit("B") bit<8> v) { hdr.h.b = v; }
    action drop() { mark_to_drop(sm); }
    @MixedExprList[1, "hello", true, 1 == 2, 5 + NUM_CONST]
    @MixedKV[label="text", my_bool=true, int_val=2 * 3, neg=-7]
    @Marker[]
    @plain(1)
    table t {
        key = { hdr.h.a : exact @Field[ordinal=1] @name("a"); }
        actions = { @Choice[1] set_b; @Choice[2] drop; }
        default_action = drop();
    }
    apply { t.apply(); }
}
control E(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) { apply { } }
control C(inout headers_t hdr, inout meta_t meta) { apply { } }
control D(packet_out pkt, in headers_t hdr) { apply { pkt.emit(hdr.h); } }
V1Switch(P(), V(), I(), E(), C(), D()) main;
"""


def rejected(compile_text: Compile, text: str) -> list[tuple[int, int, str]]:
    with pytest.raises(CompileError) as exc:
        compile_text(text)
    return [(d.pos.line, d.pos.col, d.message) for d in exc.value.diagnostics]


def with_table_annotations(annotations: str) -> str:
    return PROGRAM.replace("    @Marker[]\n", f"    {annotations}\n")


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.split("\n"), start=1) if needle in line)


@pytest.mark.parametrize(
    ("annotations", "at", "fragment"),
    [
        ("@Dup[k=1, j=2, k=3]", "k=3", "duplicate key 'k'"),
        ("@Twice[1] @Twice[2]", "@Twice[2]", "may appear only once on an element"),
        ('@Both("x") @Both[1]', "@Both[1]", "both a structured and an unstructured"),
        ('@name["t2"]', "@name", "'name' is a predefined annotation"),
        ("@Field[hdr.h.a]", "hdr.h.a", "must be compile-time constant values"),
        ("@Narrow[8w5]", "8w5", "illegal type bit<8>"),
        ("@Narrow[NARROW]", "NARROW", "illegal type bit<8>"),
        ('@Mixed[1 + "a"]', "+", "cannot apply '+' to int and string"),
        ("@Big[9223372036854775808]", "9223", "must fit in int64"),
    ],
)
def test_rejected_as_p4c_rejects(
    compile_text: Compile, annotations: str, at: str, fragment: str
) -> None:
    text = with_table_annotations(annotations)
    ((line, col, message),) = rejected(compile_text, text)
    source = text.split("\n")[line - 1]
    assert line == line_of(text, annotations)
    assert source[col - 1 :].startswith(at), (source, col)
    assert fragment in message and message.startswith("@")


def test_every_mistake_is_reported(compile_text: Compile) -> None:
    text = with_table_annotations("@Dup[k=1, k=2] @Narrow[8w5]")
    assert len(rejected(compile_text, text)) == 2


def test_int64_bounds_are_accepted(compile_text: Compile) -> None:
    text = with_table_annotations("@Edges[9223372036854775807, -9223372036854775808]")
    (table,) = compile_text(text).p4info.tables
    edges = next(sa for sa in table.preamble.structured_annotations if sa.name == "Edges")
    assert [e.int64_value for e in edges.expression_list.expressions] == [2**63 - 1, -(2**63)]


# ---------------------------------------------------------------- P4Info

# p4c's form (testdata/p4_16_samples_outputs/structured_annotations.p4.p4info.txtpb):
# structured beside unstructured annotations, in source order, values folded
EXPECTED_TABLE = """
structured_annotations {
  name: "MixedExprList"
  expression_list {
    expressions { int64_value: 1 }
    expressions { string_value: "hello" }
    expressions { bool_value: true }
    expressions { bool_value: false }
    expressions { int64_value: 11 }
  }
}
structured_annotations {
  name: "MixedKV"
  kv_pair_list {
    kv_pairs { key: "label" value { string_value: "text" } }
    kv_pairs { key: "my_bool" value { bool_value: true } }
    kv_pairs { key: "int_val" value { int64_value: 6 } }
    kv_pairs { key: "neg" value { int64_value: -7 } }
  }
}
structured_annotations { name: "Marker" }
"""


def structured_text(msg: p4info_pb2.Preamble | p4info_pb2.MatchField) -> str:
    copy = type(msg)()
    copy.structured_annotations.extend(msg.structured_annotations)
    return text_format.MessageToString(copy, as_one_line=True)


def expected_text(text: str) -> str:
    msg = p4info_pb2.Preamble()
    text_format.Parse(text, msg)
    return text_format.MessageToString(msg, as_one_line=True)


def test_p4info_carries_them_where_p4c_puts_them(compile_text: Compile) -> None:
    info = compile_text(PROGRAM).p4info
    (table,) = info.tables
    assert structured_text(table.preamble) == expected_text(EXPECTED_TABLE)
    assert list(table.preamble.annotations) == ["@plain(1)"]
    (field,) = table.match_fields
    assert structured_text(field) == expected_text(
        'structured_annotations { name: "Field" kv_pair_list { kv_pairs {'
        ' key: "ordinal" value { int64_value: 1 } } } }'
    )
    refs = {a.preamble.id: a.preamble.name for a in info.actions}
    choice = {
        refs[r.id]: [e.int64_value for e in r.structured_annotations[0].expression_list.expressions]
        for r in table.action_refs
    }
    assert choice == {"I.set_b": [1], "I.drop": [2]}
    set_b = next(a for a in info.actions if a.preamble.name == "I.set_b")
    assert structured_text(set_b.preamble) == expected_text(
        'structured_annotations { name: "Pretty" expression_list {'
        ' expressions { string_value: "set b" } expressions { int64_value: 46 }'
        " expressions { bool_value: false } } }"
    )
    (param,) = set_b.params
    assert list(param.annotations) == ['@unit("B")']
    assert [
        (kv.key, kv.value.int64_value)
        for sa in param.structured_annotations
        for kv in sa.kv_pair_list.kv_pairs
    ] == [("low", 0), ("high", 255)]
    (cpm,) = info.controller_packet_metadata
    assert structured_text(cpm.preamble) == expected_text(
        'structured_annotations { name: "PuntInfo" kv_pair_list {'
        ' kv_pairs { key: "reason" value { string_value: "copy" } }'
        ' kv_pairs { key: "version" value { int64_value: 2 } } } }'
    )
    port, pad = cpm.metadata
    assert [e.int64_value for e in port.structured_annotations[0].expression_list.expressions] == [
        9
    ]
    assert list(port.annotations) == [] and list(pad.annotations) == ["@padding"]
    # p4c fills no source location
    assert not any(sa.HasField("source_location") for sa in table.preamble.structured_annotations)


def test_not_in_the_bmv2_json(compile_text: Compile) -> None:
    doc = str(compile_text(PROGRAM).json)
    assert "MixedKV" not in doc and "Pretty" not in doc
