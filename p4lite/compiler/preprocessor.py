"""C-style preprocessor for P4 sources, as p4c runs cpp on them.

#include (once per file for guarded and bundled headers), object- and
function-like #define with '#', '##' and variadic parameters (arguments are
expanded before substitution; a call may span lines), #undef, #if/#ifdef/
#ifndef/#elif/#else/#endif with C's integer operators and defined(),
__LINE__/__FILE__, #error. Every output line keeps the file and line it came
from. Imports only the standard library and `diagnostics`. <core.p4> and
<v1model.p4> resolve to p4lite's own copies in `include/`.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from p4lite.compiler.diagnostics import Pos, Sink

logger = logging.getLogger(__name__)

INCLUDE_DIR = Path(__file__).resolve().parent / "include"
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MAX_DEPTH = 50


@dataclass(frozen=True, slots=True)
class Macro:
    """An object-like (params is None) or function-like macro."""

    name: str
    body: str
    params: tuple[str, ...] | None = None
    # the last parameter takes the remaining arguments ('...' as __VA_ARGS__)
    variadic: bool = False


@dataclass(frozen=True, slots=True)
class Line:
    """One output line with the file and line number it came from."""

    file: str
    line: int
    text: str
    original: str


@dataclass(slots=True)
class Output:
    """The preprocessed program: lines with their origin."""

    lines: list[Line] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The program text, one output line per source line."""
        return "\n".join(ln.text for ln in self.lines)


def _strip_comments(src: str) -> str:
    """Replace comments by spaces, keeping newlines and string literals."""
    out: list[str] = []
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if c == '"':
            j = i + 1
            while j < n and src[j] != '"' and src[j] != "\n":
                j += 2 if src[j] == "\\" else 1
            out.append(src[i : j + 1])
            i = j + 1
        elif src.startswith("//", i):
            j = src.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif src.startswith("/*", i):
            j = src.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("".join("\n" if ch == "\n" else " " for ch in src[i:j]))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


_TOKEN = re.compile(r'"(?:\\.|[^"\\\n])*"|##|#|[A-Za-z_][A-Za-z0-9_]*|\s+|.', re.S)


class _IncompleteCallError(Exception):
    """A function-like macro call whose arguments run past the end of the text."""


def _stringify(arg: str) -> str:
    """The '#' operator: the argument as a string literal (white space collapsed)."""
    text = " ".join(arg.split())
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _replace_params(
    body: str, raw: dict[str, str], expanded: dict[str, str], function_like: bool
) -> str:
    """Substitute parameters in a macro body, applying '#' and '##' as cpp does.

    A parameter next to '#' or '##' takes its argument as written, any other
    one its argument macro-expanded; '##' pastes its neighbours together.
    """
    toks = _TOKEN.findall(body)
    out: list[str] = []
    i = 0
    while i < len(toks):
        t = toks[i]
        if t == "#" and function_like:
            j = i + 1
            while j < len(toks) and toks[j].isspace():
                j += 1
            if j < len(toks) and toks[j] in raw:
                out.append(_stringify(raw[toks[j]]))
                i = j + 1
                continue
        if t == "##":
            while out and out[-1].isspace():
                out.pop()
            j = i + 1
            while j < len(toks) and toks[j].isspace():
                j += 1
            nxt = toks[j] if j < len(toks) else ""
            value = raw.get(nxt, nxt)
            if out and out[-1] == "," and nxt == "__VA_ARGS__" and not value:
                out.pop()  # GNU: ', ## __VA_ARGS__' drops the comma when it is empty
            out.append(value)
            i = j + 1
            continue
        if t in raw:
            j = i + 1
            while j < len(toks) and toks[j].isspace():
                j += 1
            pasted = j < len(toks) and toks[j] == "##"
            out.append(raw[t] if pasted else expanded[t])
        else:
            out.append(t)
        i += 1
    return "".join(out)


class Preprocessor:
    """Expands one P4 file and its includes into numbered lines."""

    def __init__(self, include_dirs: list[str], defines: dict[str, str], sink: Sink) -> None:
        self.include_dirs = [Path(d) for d in include_dirs]
        self.macros: dict[str, Macro] = {}
        for name, val in defines.items():
            self.macros[name] = Macro(name, val)
        self.sink = sink
        self.out = Output()
        self._seen_once: set[Path] = set()

    def run(self, path: str, display: str | None = None) -> Output:
        """Preprocess `path`; errors go to the sink."""
        self._file(Path(path), display or path, 0)
        return self.out

    def _file(self, path: Path, display: str, depth: int) -> None:
        try:
            raw = path.read_text(encoding="utf-8")
        except OSError as exc:
            self.sink.error(Pos(display, 0, 0), f"cannot read {display!r}: {exc.strerror}")
            return
        if depth > _MAX_DEPTH:
            self.sink.error(Pos(display, 0, 0), f"#include nested too deeply in {display!r}")
            return
        originals = raw.split("\n")
        text = _strip_comments(raw)
        lines = text.split("\n")
        # conditional stack entries: (active, taken, parent_active)
        stack: list[tuple[bool, bool, bool]] = []
        active = True
        i = 0
        while i < len(lines):
            lineno = i + 1
            cur = lines[i]
            joined = 0
            while cur.endswith("\\") and i + 1 < len(lines):
                i += 1
                joined += 1
                cur = cur[:-1] + " " + lines[i]
            i += 1
            stripped = cur.strip()
            orig = originals[lineno - 1] if lineno - 1 < len(originals) else ""
            pos = Pos(display, lineno, max(cur.find("#"), 0) + 1, orig)
            if stripped.startswith("#"):
                m = re.match(r"#\s*([A-Za-z_]+)\s*(.*)$", stripped)
                if not m:
                    if active and stripped != "#":
                        self.sink.error(pos, f"invalid preprocessor directive {stripped!r}")
                    self.out.lines.append(Line(display, lineno, "", orig))
                    continue
                kw, rest = m.group(1), m.group(2).strip()
                self.out.lines.append(Line(display, lineno, "", orig))
                self._pad(display, lineno, joined, originals)
                if kw in ("ifdef", "ifndef", "if"):
                    parent = active
                    if kw == "if":
                        cond = parent and self._eval(rest, pos)
                    else:
                        defined = rest.split()[0] in self.macros if rest else False
                        cond = parent and (defined if kw == "ifdef" else not defined)
                    stack.append((cond, cond, parent))
                    active = cond
                elif kw in ("elif", "else"):
                    if not stack:
                        self.sink.error(pos, f"#{kw} without #if")
                        continue
                    _, taken, parent = stack.pop()
                    if taken:
                        cond = False
                    elif kw == "else":
                        cond = parent
                    else:
                        cond = parent and self._eval(rest, pos)
                    stack.append((cond, taken or cond, parent))
                    active = cond
                elif kw == "endif":
                    if not stack:
                        self.sink.error(pos, "#endif without #if")
                        continue
                    active = stack.pop()[2]
                elif not active:
                    continue
                elif kw == "define":
                    self._define(rest, pos)
                elif kw == "undef":
                    self.macros.pop(rest.split()[0] if rest else "", None)
                elif kw == "include":
                    self._include(rest, path, pos, depth)
                elif kw == "error":
                    self.sink.error(pos, f"#error {rest}")
                elif kw in ("pragma", "line", "warning"):
                    if kw == "pragma" and rest.strip() == "once":
                        if path.resolve() in self._seen_once:
                            return
                        self._seen_once.add(path.resolve())
                else:
                    self.sink.error(pos, f"unsupported preprocessor directive {'#' + kw!r}")
                continue
            text_out = ""
            while active:
                try:
                    text_out = self._expand(cur, pos, set())
                    break
                except _IncompleteCallError as exc:
                    # a macro call's arguments go on: join the next lines, as cpp
                    # reads them (the expansion stays on the call's first line)
                    if i >= len(lines) or lines[i].lstrip().startswith("#"):
                        self.sink.error(pos, f"unterminated call of macro {exc.args[0]!r}")
                        break
                    cur = cur + "\n" + lines[i]
                    i += 1
                    joined += 1
            self.out.lines.append(Line(display, lineno, text_out.replace("\n", " "), orig))
            self._pad(display, lineno, joined, originals)
        if stack:
            self.sink.error(Pos(display, len(lines), 1), "unterminated #if")

    def _pad(self, display: str, lineno: int, joined: int, originals: list[str]) -> None:
        # keep one output line per source line when continuations were joined
        for k in range(1, joined + 1):
            orig = originals[lineno - 1 + k] if lineno - 1 + k < len(originals) else ""
            self.out.lines.append(Line(display, lineno + k, "", orig))

    def _include(self, rest: str, cur: Path, pos: Pos, depth: int) -> None:
        rest = self._expand_line(rest, pos).strip()
        if rest.startswith("<") and rest.endswith(">"):
            name = rest[1:-1]
            cands = [d / name for d in self.include_dirs] + [INCLUDE_DIR / name]
            if name in ("core.p4", "v1model.p4"):
                cands = [INCLUDE_DIR / name]
        elif rest.startswith('"') and rest.endswith('"'):
            name = rest[1:-1]
            cands = [cur.parent / name, *(d / name for d in self.include_dirs), INCLUDE_DIR / name]
        else:
            self.sink.error(pos, f'#include expects "FILE" or <FILE>, got {rest!r}')
            return
        for cand in cands:
            if cand.is_file():
                if cand.resolve() in self._seen_once:
                    return
                disp = str(cand) if cand.parent == INCLUDE_DIR else name
                if cand.parent == INCLUDE_DIR:
                    self._seen_once.add(cand.resolve())
                    disp = f"/usr/local/share/p4c/p4include/{name}"
                self._file(cand, disp, depth + 1)
                return
        self.sink.error(pos, f"cannot find include file {name!r}")

    def _define(self, rest: str, pos: Pos) -> None:
        m = re.match(r"([A-Za-z_][A-Za-z0-9_]*)(\(([^)]*)\))?\s*(.*)$", rest)
        if not m:
            self.sink.error(pos, f"invalid #define {rest!r}")
            return
        params = None
        variadic = False
        if m.group(2) is not None:
            params = tuple(p.strip() for p in m.group(3).split(",") if p.strip())
            if params and params[-1].endswith("..."):
                variadic = True
                last = params[-1][:-3].strip() or "__VA_ARGS__"
                params = (*params[:-1], last)
        self.macros[m.group(1)] = Macro(m.group(1), m.group(4).strip(), params, variadic)

    def _expand(self, text: str, pos: Pos, busy: set[str]) -> str:
        if not self.macros and "__" not in text:
            return text
        out: list[str] = []
        i, n = 0, len(text)
        while i < n:
            c = text[i]
            if c == '"':
                j = text.find('"', i + 1)
                j = n - 1 if j < 0 else j
                out.append(text[i : j + 1])
                i = j + 1
                continue
            m = _IDENT.match(text, i)
            if not m or (i > 0 and (text[i - 1].isalnum() or text[i - 1] == "_")):
                out.append(c)
                i += 1
                continue
            word = m.group(0)
            i = m.end()
            mac = self.macros.get(word)
            if mac is None and word in ("__LINE__", "__FILE__"):
                out.append(str(pos.line) if word == "__LINE__" else f'"{pos.file}"')
                continue
            if mac is None or word in busy:
                out.append(word)
                continue
            if mac.params is None:
                body = _replace_params(mac.body, {}, {}, False) if "##" in mac.body else mac.body
                out.append(self._expand(body, pos, busy | {word}))
                continue
            j = i
            while j < n and text[j] in " \t\n":
                j += 1
            if j >= n or text[j] != "(":
                out.append(word)
                continue
            args, end = self._args(text, j)
            if args is None:
                raise _IncompleteCallError(word)
            params = mac.params
            if mac.variadic and len(args) >= len(params) - 1:
                fixed = len(params) - 1
                args = [*args[:fixed], ", ".join(args[fixed:])]
                if len(args) < len(params):
                    args.append("")
            if len(args) != len(params) and not (not params and args == [""]):
                self.sink.error(
                    pos, f"macro {word!r} expects {len(params)} arguments, got {len(args)}"
                )
            raw = dict(zip(params, args, strict=False))
            expanded = {k: self._expand(v, pos, busy) for k, v in raw.items()}
            body = _replace_params(mac.body, raw, expanded, True)
            out.append(self._expand(body, pos, busy | {word}))
            i = end
        return "".join(out)

    def _expand_line(self, text: str, pos: Pos) -> str:
        """Expand a directive's text; a call left open there is an error."""
        try:
            return self._expand(text, pos, set())
        except _IncompleteCallError as exc:
            self.sink.error(pos, f"unterminated call of macro {exc.args[0]!r}")
            return ""

    @staticmethod
    def _args(text: str, start: int) -> tuple[list[str] | None, int]:
        depth = 0
        args: list[str] = []
        cur: list[str] = []
        for k in range(start, len(text)):
            ch = text[k]
            if ch == "(":
                depth += 1
                if depth == 1:
                    continue
            elif ch == ")":
                depth -= 1
                if depth == 0:
                    args.append("".join(cur).strip())
                    return args, k + 1
            elif ch == "," and depth == 1:
                args.append("".join(cur).strip())
                cur = []
                continue
            cur.append(ch)
        return None, len(text)

    def _eval(self, expr: str, pos: Pos) -> bool:
        def _defined(m: re.Match[str]) -> str:
            return "1" if m.group(1) in self.macros else "0"

        e = re.sub(r"defined\s*\(?\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)?", _defined, expr)
        e = self._expand_line(e, pos)
        try:
            return _CondExpr(e).value() != 0
        except (ValueError, ZeroDivisionError):
            self.sink.error(pos, f"cannot evaluate #if expression {expr!r}")
            return False


class _CondExpr:
    """An #if expression evaluated as cpp does: C integer operators, names are 0."""

    _TOK = re.compile(
        r"\s*(?:(0[xX][0-9a-fA-F]+|[0-9]+)[uUlL]*|([A-Za-z_][A-Za-z0-9_]*)"
        r"|(<<|>>|<=|>=|==|!=|&&|\|\||[-+*/%<>&|^~!?:()]))"
    )
    _BINARY = (
        ("||",),
        ("&&",),
        ("|",),
        ("^",),
        ("&",),
        ("==", "!="),
        ("<", "<=", ">", ">="),
        ("<<", ">>"),
        ("+", "-"),
        ("*", "/", "%"),
    )

    def __init__(self, text: str) -> None:
        self.toks: list[tuple[str, int]] = []
        i = 0
        text = text.strip()
        while i < len(text):
            m = self._TOK.match(text, i)
            if m is None or m.end() == i:
                raise ValueError(text[i:])
            if m.group(1) is not None:
                digits = m.group(1)
                base = 16 if digits[:2] in ("0x", "0X") else 8 if digits.startswith("0") else 10
                self.toks.append(("num", int(digits, base) if digits != "0" else 0))
            elif m.group(2) is not None:
                self.toks.append(("num", 0))  # a name left after expansion is 0
            else:
                self.toks.append((m.group(3), 0))
            i = m.end()
        self.k = 0

    def value(self) -> int:
        v = self._ternary()
        if self.k != len(self.toks):
            raise ValueError("trailing tokens")
        return v

    def _peek(self) -> str:
        return self.toks[self.k][0] if self.k < len(self.toks) else ""

    def _take(self, op: str) -> None:
        if self._peek() != op:
            raise ValueError(f"expected {op!r}")
        self.k += 1

    def _ternary(self) -> int:
        cond = self._binary(0)
        if self._peek() != "?":
            return cond
        self.k += 1
        a = self._ternary()
        self._take(":")
        b = self._ternary()
        return a if cond else b

    def _binary(self, level: int) -> int:
        if level == len(self._BINARY):
            return self._unary()
        left = self._binary(level + 1)
        while self._peek() in self._BINARY[level]:
            op = self._peek()
            self.k += 1
            right = self._binary(level + 1)
            left = _c_binary(op, left, right)
        return left

    def _unary(self) -> int:
        op = self._peek()
        if op in ("-", "+", "!", "~"):
            self.k += 1
            v = self._unary()
            return {"-": -v, "+": v, "!": int(not v), "~": ~v}[op]
        if op == "(":
            self.k += 1
            v = self._ternary()
            self._take(")")
            return v
        if op == "num":
            self.k += 1
            return self.toks[self.k - 1][1]
        raise ValueError(f"unexpected {op!r}")


def _c_binary(op: str, a: int, b: int) -> int:
    """One C binary operator on integers (division truncates toward zero)."""
    match op:
        case "||":
            return int(bool(a) or bool(b))
        case "&&":
            return int(bool(a) and bool(b))
        case "/" | "%":
            q = abs(a) // abs(b) * (1 if (a >= 0) == (b >= 0) else -1)
            return q if op == "/" else a - q * b
        case "<<":
            return a << b
        case ">>":
            return a >> b
    return {
        "|": a | b,
        "^": a ^ b,
        "&": a & b,
        "==": int(a == b),
        "!=": int(a != b),
        "<": int(a < b),
        "<=": int(a <= b),
        ">": int(a > b),
        ">=": int(a >= b),
        "+": a + b,
        "-": a - b,
        "*": a * b,
    }[op]
