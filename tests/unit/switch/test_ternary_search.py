"""Tuple-space ternary lookup picks exactly what a priority-ordered scan picks."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from p4lite.switch.core import ActionCall, AlreadyExistsError, Switch, TernaryMatch

REFERENCE = Path(__file__).resolve().parents[2] / "conformance" / "reference"
TABLE = "MyIngress.t_tern"

entry = st.tuples(
    st.integers(0, 0xFFFF),
    st.sampled_from([0, 0xFF00, 0x00FF, 0xFFFF, 0xF0F0]),
    st.integers(0, 0xFF),
    st.sampled_from([0, 0xF0, 0xFF]),
    st.integers(1, 6),
)


@settings(max_examples=60, deadline=None)
@given(
    entries=st.lists(entry, max_size=25),
    deletes=st.lists(st.integers(0, 24), max_size=5),
    probes=st.lists(st.tuples(st.integers(0, 0xFFFF), st.integers(0, 0xFF)), max_size=15),
)
def test_tss_matches_linear_scan(
    entries: list[tuple[int, int, int, int, int]],
    deletes: list[int],
    probes: list[tuple[int, int]],
) -> None:
    sw = Switch.from_json((REFERENCE / "table_ternary.json").read_text())
    table = sw._prog.tables[TABLE]
    assert table._use_tss
    handles = []
    for i, (x, xm, y, ym, prio) in enumerate(entries):
        try:
            h = sw.add_entry(
                TABLE,
                [TernaryMatch(x & xm, xm), TernaryMatch(y & ym, ym)],
                ActionCall("MyIngress.set_res", (i,)),
                priority=prio,
            )
        except AlreadyExistsError:
            continue
        handles.append(h)
    for d in deletes:
        if d < len(handles) and handles[d] in table.entries:
            sw.delete_entry(TABLE, handles[d])
    for x, y in probes:
        out = sw.process(0, x.to_bytes(2, "big") + bytes([y, 0]))
        expected = table._lookup_sorted_key((x, y))
        want = 0xEE if expected is None else expected.action.params[0]
        assert out[0][1][3] == want & 0xFF
