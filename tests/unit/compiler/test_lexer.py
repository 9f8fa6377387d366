"""Lexer: token kinds, integer literals, positions."""

from __future__ import annotations

from p4lite.compiler.diagnostics import Sink
from p4lite.compiler.lexer import tokenize
from p4lite.compiler.preprocessor import Line, Output


def lex(text: str) -> tuple[list[tuple[str, str]], Sink]:
    sink = Sink()
    out = Output([Line("t.p4", i + 1, t, t) for i, t in enumerate(text.split("\n"))])
    toks = tokenize(out, sink)
    return [(t.kind, t.text) for t in toks], sink


def test_keywords_identifiers_and_punctuation() -> None:
    toks, sink = lex("action a_1() { x = y |+| z; }")
    assert not sink.errors
    assert toks == [
        ("action", "action"),
        ("ID", "a_1"),
        ("(", "("),
        (")", ")"),
        ("{", "{"),
        ("ID", "x"),
        ("=", "="),
        ("ID", "y"),
        ("|+|", "|+|"),
        ("ID", "z"),
        (";", ";"),
        ("}", "}"),
        ("EOF", ""),
    ]


def test_integer_literals_with_width_sign_and_base() -> None:
    sink = Sink()
    out = Output([Line("t.p4", 1, "8w255 4s1 0x1F 0b1010 16w0x0a_0b 1_000", "")])
    toks = [t for t in tokenize(out, sink) if t.kind == "INT"]
    assert [(t.value, t.width, t.signed) for t in toks] == [
        (255, 8, False),
        (1, 4, True),
        (0x1F, None, False),
        (0b1010, None, False),
        (0x0A0B, 16, False),
        (1000, None, False),
    ]


def test_dont_care_mask_range_and_positions() -> None:
    sink = Sink()
    out = Output([Line("t.p4", 3, "  (_, 1 .. 2, 3 &&& 4)", "")])
    toks = tokenize(out, sink)
    assert [t.kind for t in toks][:6] == ["(", "_", ",", "INT", "..", "INT"]
    assert (toks[1].pos.line, toks[1].pos.col) == (3, 4)


def test_bad_character_is_reported_with_position() -> None:
    _, sink = lex("x = $;")
    assert len(sink.errors) == 1
    err = sink.errors[0]
    assert (err.pos.line, err.pos.col) == (1, 5)
    assert "unexpected character '$'" in err.message


def test_string_escapes_are_kept_verbatim_as_p4c_keeps_them() -> None:
    toks, sink = lex(r'log_msg("a \{\} b={} \"q\" \\ \n");')
    assert not sink.errors
    assert toks[2] == ("STRING", r"a \{\} b={} \"q\" \\ \n")
