"""Lexer: preprocessed P4-16 text to tokens with source positions.

Imports `diagnostics` and `preprocessor` (for line origins) only.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from p4lite.compiler.diagnostics import Pos, Sink
from p4lite.compiler.preprocessor import Output

logger = logging.getLogger(__name__)

KEYWORDS = frozenset(
    [
        "abstract",
        "action",
        "apply",
        "bit",
        "bool",
        "break",
        "const",
        "continue",
        "control",
        "default",
        "else",
        "entries",
        "enum",
        "error",
        "exit",
        "extern",
        "false",
        "for",
        "header",
        "header_union",
        "if",
        "in",
        "inout",
        "int",
        "key",
        "list",
        "match_kind",
        "out",
        "package",
        "parser",
        "priority",
        "return",
        "select",
        "state",
        "string",
        "struct",
        "switch",
        "table",
        "this",
        "transition",
        "true",
        "tuple",
        "type",
        "typedef",
        "value_set",
        "varbit",
        "void",
    ]
)

# longest first so that maximal munch works with a simple scan
PUNCT = sorted(
    [
        "|+|",
        "|-|",
        "&&&",
        "<<",
        ">>",
        "<=",
        ">=",
        "==",
        "!=",
        "&&",
        "||",
        "++",
        "..",
        "...",
        "{#}",
        "+=",
        "-=",
        "*=",
        "/=",
        "%=",
        "&=",
        "|=",
        "^=",
        "<<=",
        ">>=",
        "|+|=",
        "|-|=",
        "(",
        ")",
        "{",
        "}",
        "[",
        "]",
        "<",
        ">",
        ";",
        ":",
        ",",
        ".",
        "=",
        "+",
        "-",
        "*",
        "/",
        "%",
        "&",
        "|",
        "^",
        "~",
        "!",
        "?",
        "@",
        "_",
    ],
    key=len,
    reverse=True,
)

_NUM = re.compile(
    r"(?:(\d+)([ws]))?(0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|0[dD][0-9_]+|\d[\d_]*)"
)
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True, slots=True)
class Token:
    """One token: kind is 'ID', 'INT', 'STRING', 'EOF', a keyword or a punctuator."""

    kind: str
    text: str
    pos: Pos
    value: int = 0
    width: int | None = None
    signed: bool = False


def _parse_int(digits: str) -> int:
    d = digits.replace("_", "")
    low = d[:2].lower()
    if low == "0x":
        return int(d[2:], 16)
    if low == "0b":
        return int(d[2:], 2)
    if low == "0o":
        return int(d[2:], 8)
    if low == "0d":
        return int(d[2:], 10)
    return int(d, 10)


def tokenize(src: Output, sink: Sink) -> list[Token]:
    """Split the preprocessed program into tokens; errors go to the sink."""
    toks: list[Token] = []
    for ln in src.lines:
        text = ln.text
        i, n = 0, len(text)
        while i < n:
            c = text[i]
            if c in " \t\r\f\v":
                i += 1
                continue
            pos = Pos(ln.file, ln.line, i + 1, ln.original)
            if c.isdigit():
                m = _NUM.match(text, i)
                assert m is not None
                width = int(m.group(1)) if m.group(1) else None
                signed = m.group(2) == "s"
                try:
                    val = _parse_int(m.group(3))
                except ValueError:
                    sink.error(pos, f"invalid integer literal {m.group(0)!r}")
                    val = 0
                toks.append(Token("INT", m.group(0), pos, val, width, signed))
                i = m.end()
                continue
            if c.isalpha() or (
                c == "_" and i + 1 < n and (text[i + 1].isalnum() or text[i + 1] == "_")
            ):
                m = _IDENT.match(text, i)
                assert m is not None
                word = m.group(0)
                toks.append(Token(word if word in KEYWORDS else "ID", word, pos))
                i = m.end()
                continue
            if c == '"':
                j = i + 1
                buf: list[str] = []
                while j < n and text[j] != '"':
                    if text[j] == "\\" and j + 1 < n:
                        # p4c keeps escape sequences verbatim (BMv2's log_msg reads '\{')
                        buf.append(text[j : j + 2])
                        j += 2
                    else:
                        buf.append(text[j])
                        j += 1
                if j >= n:
                    sink.error(pos, "unterminated string literal")
                toks.append(Token("STRING", "".join(buf), pos))
                i = j + 1
                continue
            for p in PUNCT:
                if text.startswith(p, i):
                    toks.append(Token(p, p, pos))
                    i += len(p)
                    break
            else:
                sink.error(pos, f"unexpected character {c!r}")
                i += 1
    last = src.lines[-1] if src.lines else None
    end = Pos(last.file, last.line, len(last.text) + 1, last.original) if last else Pos("", 0, 0)
    toks.append(Token("EOF", "", end))
    return toks
