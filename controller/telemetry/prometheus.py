"""Metric families and the Prometheus text exposition format (version 0.0.4).

A :class:`MetricFamily` has a name, a type (counter, gauge, summary), a help
line and samples; :func:`render` writes families as the text format:
``# HELP`` and ``# TYPE`` lines, then one line per sample with its labels
(values escaped: backslash, double quote, newline) and a float value
(``+Inf``, ``-Inf``, ``NaN`` spelled as Prometheus spells them). Summary
samples carry a ``quantile`` label, plus ``_sum`` and ``_count`` samples.
Imports the standard library only.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
TYPES = ("counter", "gauge", "summary", "untyped")
_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


@dataclass(frozen=True, slots=True)
class Sample:
    """One sample: an optional name suffix (``_sum``, ``_count``), labels and a value."""

    labels: tuple[tuple[str, str], ...]
    value: float
    suffix: str = ""


@dataclass(frozen=True, slots=True)
class MetricFamily:
    """A metric name with its type, help text and samples."""

    name: str
    type: str
    help: str
    samples: tuple[Sample, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        """Check the name, type and label names."""
        if not _NAME.fullmatch(self.name):
            raise ValueError(f"metric name {self.name!r}: expected [a-zA-Z_:][a-zA-Z0-9_:]*")
        if self.type not in TYPES:
            raise ValueError(f"metric {self.name!r}: type {self.type!r}: expected one of {TYPES}")
        for s in self.samples:
            for label, _ in s.labels:
                if not _LABEL.fullmatch(label) or label.startswith("__"):
                    raise ValueError(f"metric {self.name!r}: label name {label!r} is not valid")


def labels(**values: object) -> tuple[tuple[str, str], ...]:
    """Label pairs from keyword arguments (values as text)."""
    return tuple((k, str(v)) for k, v in values.items())


def family(
    name: str, kind: str, help_text: str, samples: Iterable[tuple[Mapping[str, object], float]]
) -> MetricFamily:
    """A family from (labels, value) pairs."""
    return MetricFamily(
        name, kind, help_text, tuple(Sample(labels(**dict(lab)), float(v)) for lab, v in samples)
    )


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def format_value(value: float) -> str:
    """A sample value as the text format writes it."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 1 << 53:
        return str(int(value))
    return repr(float(value))


def render(families: Iterable[MetricFamily]) -> str:
    """The text exposition of ``families`` (names must not repeat)."""
    lines: list[str] = []
    seen: set[str] = set()
    for f in families:
        if f.name in seen:
            raise ValueError(f"metric family {f.name!r} given twice: expected each name once")
        seen.add(f.name)
        lines.append(f"# HELP {f.name} {_escape_help(f.help)}")
        lines.append(f"# TYPE {f.name} {f.type}")
        for s in f.samples:
            text = ",".join(f'{k}="{_escape_label(v)}"' for k, v in s.labels)
            head = f"{f.name}{s.suffix}{{{text}}}" if text else f"{f.name}{s.suffix}"
            lines.append(f"{head} {format_value(s.value)}")
    return "\n".join(lines) + "\n"
