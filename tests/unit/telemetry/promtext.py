"""A strict reader of the Prometheus text exposition format, written from the format's rules
for the tests (the project's own writer is controller.telemetry.prometheus): every line a
HELP, TYPE or sample line, samples under the family declared before them, quoted and escaped
label values, known types, unique names, a final newline. Failures raise AssertionError.

Test modules load it by path (``load_promtext`` in the steering test conftests), since
pytest's importlib mode gives test folders no package to import from."""

from __future__ import annotations

import re

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*"
_VALUE = r"(?:[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|[+-]Inf|NaN)"
_LABEL_VALUE = r'"(?:[^"\\\n]|\\[\\"n])*"'
_SAMPLE = re.compile(
    rf"(?P<name>{_NAME})(?:\{{(?P<labels>(?:{_LABEL}={_LABEL_VALUE}(?:,{_LABEL}={_LABEL_VALUE})*)?)\}})?"
    rf" (?P<value>{_VALUE})"
)
_PAIR = re.compile(rf"({_LABEL})=({_LABEL_VALUE})")


def parse(text: str) -> dict[str, dict[str, object]]:
    """A strict reader of the text format: every line must be a HELP, TYPE or sample line,
    every sample must belong to the family declared just before it (summary samples may add
    _sum and _count), types are known, names unique; returns families with their samples."""
    assert text.endswith("\n"), "the exposition ends with a newline"
    families: dict[str, dict[str, object]] = {}
    current: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        where = f"line {number}: {line!r}"
        if line.startswith("# HELP "):
            name, _, _help = line[7:].partition(" ")
            assert re.fullmatch(_NAME, name), where
            assert name not in families, f"{where}: family given twice"
            families[name] = {"help": _help, "type": None, "samples": []}
            current = name
        elif line.startswith("# TYPE "):
            name, _, kind = line[7:].partition(" ")
            assert name == current and families[name]["type"] is None, where
            assert kind in ("counter", "gauge", "summary", "histogram", "untyped"), where
            families[name]["type"] = kind
        else:
            m = _SAMPLE.fullmatch(line)
            assert m, f"{where}: not a sample line"
            assert current is not None, f"{where}: sample before any family"
            name = m["name"]
            kind = families[current]["type"]
            allowed = {current} | (
                {current + "_sum", current + "_count"} if kind == "summary" else set()
            )
            assert name in allowed, f"{where}: sample of {name!r} under family {current!r}"
            pairs = _PAIR.findall(m["labels"] or "")
            keys = [k for k, _ in pairs]
            assert len(set(keys)) == len(keys), f"{where}: repeated label"
            if kind == "summary" and name == current:
                assert "quantile" in keys, f"{where}: summary sample without quantile"
            value = m["value"]
            number_value = float(value.replace("Inf", "inf"))
            families[current]["samples"].append(  # type: ignore[union-attr]
                (name, {k: _unescape(v[1:-1]) for k, v in pairs}, number_value)
            )
    for name, f in families.items():
        assert f["type"] is not None, f"family {name!r} has no TYPE line"
    return families


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n"}.get(m[1], m[1]), text)
