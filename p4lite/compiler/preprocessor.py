"""C-style preprocessor for P4 sources: #include, #define, conditionals.

Imports only the standard library and `diagnostics`. <core.p4> and
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


def _substitute(body: str, sub: dict[str, str]) -> str:
    """Replace macro parameter names in body by their arguments."""
    return _IDENT.sub(lambda mm: sub.get(mm.group(0), mm.group(0)), body)


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
            text_out = self._expand(cur, pos, set()) if active else ""
            self.out.lines.append(Line(display, lineno, text_out, orig))
            self._pad(display, lineno, joined, originals)
        if stack:
            self.sink.error(Pos(display, len(lines), 1), "unterminated #if")

    def _pad(self, display: str, lineno: int, joined: int, originals: list[str]) -> None:
        # keep one output line per source line when continuations were joined
        for k in range(1, joined + 1):
            orig = originals[lineno - 1 + k] if lineno - 1 + k < len(originals) else ""
            self.out.lines.append(Line(display, lineno + k, "", orig))

    def _include(self, rest: str, cur: Path, pos: Pos, depth: int) -> None:
        rest = self._expand(rest, pos, set()).strip()
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
        if m.group(2) is not None:
            params = tuple(p.strip() for p in m.group(3).split(",") if p.strip())
        self.macros[m.group(1)] = Macro(m.group(1), m.group(4).strip(), params)

    def _expand(self, text: str, pos: Pos, busy: set[str]) -> str:
        if not self.macros:
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
            if mac is None or word in busy:
                out.append(word)
                continue
            if mac.params is None:
                out.append(self._expand(mac.body, pos, busy | {word}))
                continue
            j = i
            while j < n and text[j] in " \t":
                j += 1
            if j >= n or text[j] != "(":
                out.append(word)
                continue
            args, end = self._args(text, j)
            if args is None:
                self.sink.error(pos, f"unterminated call of macro {word!r}")
                return "".join(out)
            if len(args) != len(mac.params) and not (not mac.params and args == [""]):
                self.sink.error(
                    pos, f"macro {word!r} expects {len(mac.params)} arguments, got {len(args)}"
                )
            body = _substitute(mac.body, dict(zip(mac.params, args, strict=False)))
            out.append(self._expand(body, pos, busy | {word}))
            i = end
        return "".join(out)

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
        e = self._expand(e, pos, set())
        e = _IDENT.sub("0", e)
        e = e.replace("&&", " and ").replace("||", " or ")
        e = re.sub(r"!(?!=)", " not ", e)
        if not re.fullmatch(r"[0-9xXa-fA-F\s()+\-*/%<>=!andort]*", e):
            self.sink.error(pos, f"cannot evaluate #if expression {expr!r}")
            return False
        try:
            return bool(eval(e, {"__builtins__": {}}, {}))
        except (SyntaxError, ZeroDivisionError, TypeError):
            self.sink.error(pos, f"cannot evaluate #if expression {expr!r}")
            return False
