"""Generated straight-line functions for the per-packet hot paths.

Packing and unpacking header fields is the bulk of per-packet work. For each
layout the loader generates one Python function whose body is a single
expression over integer constants (shifts and masks only). ``Scope`` holds the
objects other generated functions (actions, conditions, table keys) refer to:
the generator names them itself, so no text from the JSON reaches any
generated source, only integers and names made here. Standard library only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

logger = logging.getLogger(__name__)

Packer = Callable[[list[int]], bytes]
Unpacker = Callable[[int], list[int]]


def _compile(name: str, src: str) -> Callable[..., object]:
    scope: dict[str, object] = {}
    exec(compile(src, f"<p4lite-{name}>", "exec"), scope)
    fn = scope[name]
    assert callable(fn)
    return fn


class Scope:
    """The objects a generated function refers to, each under a name made here."""

    __slots__ = ("_count", "_names", "env")

    def __init__(self) -> None:
        self.env: dict[str, object] = {}
        self._names: dict[int, str] = {}
        self._count = 0

    def _fresh(self, hint: str) -> str:
        self._count += 1
        return f"_{hint}{self._count}"

    def ref(self, obj: object, hint: str = "o") -> str:
        """The global name ``obj`` has in the generated code (one name per object)."""
        # env keeps obj alive, so its id stays unique while the name is in use.
        name = self._names.get(id(obj))
        if name is None:
            name = self._fresh(hint)
            self.env[name] = obj
            self._names[id(obj)] = name
        return name

    def reserve(self, hint: str) -> str:
        """A fresh global name, bound later by assigning ``env[name]``."""
        name = self._fresh(hint)
        self.env[name] = None
        return name

    def function(self, name: str, params: str, body: Sequence[str]) -> Callable[..., Any]:
        """Compile ``def name(params): body`` (lines indented here) in this scope."""
        lines = [f"def {name}({params}):", *(f"    {line}" for line in body or ["pass"])]
        src = "\n".join(lines) + "\n"
        logger.debug("generated %s:\n%s", name, src)
        exec(compile(src, f"<p4lite-{name}>", "exec"), self.env)
        fn = self.env.pop(name)
        assert callable(fn)
        return fn


def make_packer(widths: Sequence[int]) -> Packer:
    """``f(values) -> bytes``: the fields concatenated big-endian, masked to width."""
    nbits = sum(widths)
    pad = (-nbits) % 8
    nbytes = (nbits + pad) // 8
    terms = []
    shift = nbits + pad
    for i, w in enumerate(widths):
        shift -= w
        term = f"(v[{i}] & {(1 << w) - 1})"
        terms.append(f"({term} << {shift})" if shift else term)
    body = " | ".join(terms) if terms else "0"
    src = f"def pack(v):\n    return ({body}).to_bytes({nbytes}, 'big')\n"
    return _compile("pack", src)  # type: ignore[return-value]


def make_unpacker(widths: Sequence[int], signed: Sequence[bool]) -> Unpacker:
    """``f(x) -> values``: split an integer of ``sum(widths)`` bits into fields."""
    nbits = sum(widths)
    shift = nbits
    items = []
    for w, s in zip(widths, signed, strict=True):
        shift -= w
        part = f"(x >> {shift}) & {(1 << w) - 1}" if shift else f"x & {(1 << w) - 1}"
        if s:
            # Sign-extend: ((u ^ half) - half) maps the w-bit pattern to a signed value.
            half = 1 << (w - 1)
            part = f"((({part}) ^ {half}) - {half})"
        items.append(part)
    src = f"def unpack(x):\n    return [{', '.join(items)}]\n"
    return _compile("unpack", src)  # type: ignore[return-value]


ConcatFn = Callable[[list[list[int]], list[int]], "bytes | None"]


def make_concat(items: Sequence[tuple[int, int, int, int]]) -> ConcatFn:
    """``f(headers, valid) -> bytes | None`` for calculation inputs.

    ``items`` are (header, field, mask, width); header -2 is a constant held in
    ``field`` and field -1 is the validity bit. Returns None when a referenced
    header is invalid, so the caller falls back to the general builder.
    """
    nbits = sum(w for _, _, _, w in items)
    pad = (-nbits) % 8
    nbytes = (nbits + pad) // 8
    shift = nbits + pad
    terms = []
    headers: list[int] = []
    for h, f, m, w in items:
        shift -= w
        if h < 0:
            term = str(f & m)
        else:
            if h not in headers:
                headers.append(h)
            term = "1" if f < 0 else f"(hs[{h}][{f}] & {m})"
        terms.append(f"({term} << {shift})" if shift else term)
    body = " | ".join(terms) if terms else "0"
    cond = " and ".join(f"valid[{h}]" for h in headers) or "True"
    src = (
        "def concat(hs, valid):\n"
        f"    if not ({cond}):\n"
        "        return None\n"
        f"    return ({body}).to_bytes({nbytes}, 'big')\n"
    )
    return _compile("concat", src)  # type: ignore[return-value]
