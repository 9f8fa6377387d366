"""Preprocessor: includes, macros, conditionals, line mapping."""

from __future__ import annotations

from pathlib import Path

from p4lite.compiler.diagnostics import Sink
from p4lite.compiler.preprocessor import Preprocessor


def run(tmp_path: Path, text: str, defines: dict[str, str] | None = None) -> tuple[str, Sink]:
    path = tmp_path / "a.p4"
    path.write_text(text, encoding="utf-8")
    sink = Sink()
    out = Preprocessor([str(tmp_path / "inc")], defines or {}, sink).run(str(path), "a.p4")
    return out.text, sink


def test_object_and_function_macros(tmp_path: Path) -> None:
    text, sink = run(
        tmp_path, "#define W 8\n#define ADD(a, b) ((a) + (b))\nbit<W> x = ADD(1, W);\n"
    )
    assert not sink.errors
    assert "bit<8> x = ((1) + (8));" in text


def test_conditionals_and_defines_from_command_line(tmp_path: Path) -> None:
    src = "#ifdef FOO\nyes\n#else\nno\n#endif\n"
    src += "#if defined(BAR) && BAR > 2\nbig\n#elif 1\nsmall\n#endif\n"
    text, _ = run(tmp_path, src, {"FOO": "1", "BAR": "1"})
    lines = [ln for ln in text.split("\n") if ln.strip()]
    assert lines == ["yes", "small"]


def test_lines_keep_their_numbers_after_comments(tmp_path: Path) -> None:
    path = tmp_path / "a.p4"
    path.write_text("/* one\ntwo */\n// three\nx;\n", encoding="utf-8")
    out = Preprocessor([], {}, Sink()).run(str(path), "a.p4")
    line = next(ln for ln in out.lines if ln.text.strip() == "x;")
    assert (line.file, line.line) == ("a.p4", 4)


def test_quoted_include_is_relative_and_I_dirs_are_searched(tmp_path: Path) -> None:
    (tmp_path / "inc").mkdir()
    (tmp_path / "inc" / "b.p4").write_text("from_b;\n", encoding="utf-8")
    (tmp_path / "c.p4").write_text("from_c;\n", encoding="utf-8")
    text, sink = run(tmp_path, '#include "c.p4"\n#include <b.p4>\n')
    assert not sink.errors
    assert "from_c;" in text and "from_b;" in text


def test_error_directive_and_missing_include(tmp_path: Path) -> None:
    _, sink = run(tmp_path, '#error stop here\n#include "nope.p4"\n')
    messages = [d.message for d in sink.errors]
    assert messages[0] == "#error stop here"
    assert "cannot find include file 'nope.p4'" in messages[1]
    assert sink.errors[1].pos.line == 2


def test_core_and_v1model_resolve_to_bundled_files(tmp_path: Path) -> None:
    text, sink = run(tmp_path, "#include <core.p4>\n#include <v1model.p4>\n")
    assert not sink.errors
    assert "extern packet_in" in text
    assert "package V1Switch" in text


def test_stringify_paste_variadic_and_nested_calls(tmp_path: Path) -> None:
    src = (
        "#define CAT(a, b) a ## b\n"
        "#define STR(x) #x\n"
        "#define TABLE(n) table CAT(t_, n) { }\n"
        "#define ADD(a, b) ((a) + (b))\n"
        "#define LOG(fmt, ...) log_msg(fmt, { __VA_ARGS__ })\n"
        "#define W 8\n"
        "TABLE(W)\n"
        "CAT(t_, W)\n"
        "x = ADD(ADD(1, 2), W);\n"
        'LOG("{} {}", a, b);\n'
        's = STR(  two   words "q" );\n'
        "n = __LINE__;\n"
    )
    text, sink = run(tmp_path, src)
    assert not sink.errors
    lines = [ln for ln in text.split("\n") if ln.strip()]
    assert lines == [
        "table t_8 { }",  # the argument is expanded before CAT sees it
        "t_W",  # but not as an operand of ##
        "x = ((((1) + (2))) + (8));",
        'log_msg("{} {}", { a, b });',
        's = "two words \\"q\\"";',
        "n = 12;",
    ]


def test_macro_call_over_several_lines_keeps_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "a.p4"
    path.write_text("#define PAIR(a, b) a + b\nx = PAIR(1,\n         2);\ny;\n", encoding="utf-8")
    out = Preprocessor([], {}, Sink()).run(str(path), "a.p4")
    texts = [(ln.line, ln.text.strip()) for ln in out.lines]
    assert texts == [(1, ""), (2, "x = 1 + 2;"), (3, ""), (4, "y;"), (5, "")]


def test_if_expressions_as_cpp_evaluates_them(tmp_path: Path) -> None:
    cases = {
        "(V & 0x4) && !(V >> 8)": True,
        "V / 3 == 2": True,  # integer division
        "-7 / 2 == -3 && -7 % 2 == -1": True,
        "V > 4 ? UNDEFINED_NAME : 1": False,
        "~0 == -1 && (1 << 4) == 16 && (6 ^ 3) == 5 && (6 | 1) == 7": True,
        "10UL > 9u": True,
    }
    for expr, want in cases.items():
        text, sink = run(tmp_path, f"#if {expr}\nyes\n#else\nno\n#endif\n", {"V": "6"})
        assert not sink.errors, expr
        assert ("yes" if want else "no") in text.split(), expr
    _, sink = run(tmp_path, "#if 1 +\n#endif\n")
    assert "cannot evaluate #if expression '1 +'" in sink.errors[0].message
