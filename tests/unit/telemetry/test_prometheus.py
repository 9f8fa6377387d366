"""controller.telemetry.prometheus and latency: the text format (checked by a strict parser
written here from the exposition format's rules) and percentiles."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest

from controller.telemetry.latency import LatencyBook, percentile
from controller.telemetry.prometheus import MetricFamily, Sample, family, format_value, render

_SPEC = importlib.util.spec_from_file_location("promtext", Path(__file__).with_name("promtext.py"))
assert _SPEC is not None and _SPEC.loader is not None
promtext = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(promtext)
parse = promtext.parse


def test_render_is_valid_text_format_with_escapes() -> None:
    fams = [
        family(
            "din_events_total", "counter", "events", [({"switch": "s1", "event": "request"}, 3)]
        ),
        family("din_weird", "gauge", "back\\slash\nnewline", [({"v": 'a"b\\c\nd'}, 0.25)]),
        MetricFamily(
            "din_latency_seconds",
            "summary",
            "latency",
            (
                Sample((("model", "1"), ("quantile", "0.5")), 0.002),
                Sample((("model", "1"),), 0.5, "_sum"),
                Sample((("model", "1"),), 10, "_count"),
            ),
        ),
        family("din_empty", "gauge", "no samples", []),
        family(
            "din_special",
            "gauge",
            "inf and nan",
            [({"k": "inf"}, math.inf), ({"k": "nan"}, math.nan)],
        ),
    ]
    text = render(fams)
    parsed = parse(text)
    assert parsed["din_events_total"]["samples"] == [
        ("din_events_total", {"switch": "s1", "event": "request"}, 3.0)
    ]
    assert parsed["din_weird"]["samples"] == [("din_weird", {"v": 'a"b\\c\nd'}, 0.25)]
    assert parsed["din_weird"]["help"] == "back\\\\slash\\nnewline"
    assert [s[0] for s in parsed["din_latency_seconds"]["samples"]] == [  # type: ignore[union-attr]
        "din_latency_seconds", "din_latency_seconds_sum", "din_latency_seconds_count",
    ]  # fmt: skip
    assert 'din_special{k="inf"} +Inf' in text and 'din_special{k="nan"} NaN' in text


def test_the_parser_refuses_what_the_format_forbids() -> None:
    for bad in (
        "# HELP x h\nx 1\n",  # no TYPE
        "# HELP x h\n# TYPE x counter\ny 1\n",  # a sample of another family
        '# HELP x h\n# TYPE x counter\nx{a="1",a="2"} 1\n',  # repeated label
        "# HELP x h\n# TYPE x counter\nx{a=1} 1\n",  # unquoted label value
        "# HELP x h\n# TYPE x counter\nx one\n",  # not a number
        "# HELP x h\n# TYPE x counter\nx 1",  # no final newline
    ):
        with pytest.raises(AssertionError):
            parse(bad)


def test_render_refuses_bad_names_and_repeats() -> None:
    with pytest.raises(ValueError, match="metric name '1x'"):
        family("1x", "gauge", "h", [])
    with pytest.raises(ValueError, match="label name '__x'"):
        family("x", "gauge", "h", [({"__x": 1}, 1)])
    with pytest.raises(ValueError, match="type 'meter'"):
        family("x", "meter", "h", [])
    with pytest.raises(ValueError, match="given twice"):
        render([family("x", "gauge", "h", []), family("x", "gauge", "h", [])])
    assert format_value(3.0) == "3" and format_value(0.5) == "0.5"


def test_percentiles_and_windows() -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.99) == 4.0
    assert math.isnan(percentile([], 0.5))
    book: LatencyBook[str] = LatencyBook(window=100)
    for ms in range(1, 201):
        book.record("a", ms / 1000)
    s = book.summary("a")
    assert s is not None
    assert (s.count, s.window) == (
        200,
        100,
    )  # count over every sample, percentiles over the last 100
    assert dict(s.quantiles)[0.5] == pytest.approx(0.150)
    assert dict(s.quantiles)[0.99] == pytest.approx(0.199)
    assert s.to_dict()["p50_ms"] == 150.0
    assert book.summary("b") is None and book.tracked() == ["a"]
    with pytest.raises(ValueError, match="-1"):
        book.record("a", -1)
