"""P4Runtime match/action translation without gRPC: every match kind, both ways."""

from __future__ import annotations

import grpc
import pytest
from p4.config.v1 import p4info_pb2
from p4.v1 import p4runtime_pb2

from p4lite.switch.core import api
from p4lite.switch.server.errors import P4RuntimeError
from p4lite.switch.server.p4info import P4InfoIndex
from p4lite.switch.server.translate import matches_from_core, matches_to_core

MT = p4info_pb2.MatchField


def _index() -> P4InfoIndex:
    info = p4info_pb2.P4Info()
    t = info.tables.add()
    t.preamble.id, t.preamble.name = 1, "t"
    for fid, kind, width in (
        (1, MT.EXACT, 8),
        (2, MT.RANGE, 16),
        (3, MT.OPTIONAL, 8),
        (4, MT.LPM, 32),
    ):
        t.match_fields.add(id=fid, name=f"f{fid}", bitwidth=width, match_type=kind)
    return P4InfoIndex(info)


def _core(optional_kind: api.MatchKind) -> api.TableInfo:
    keys = (
        api.KeyInfo("f1", api.MatchKind.EXACT, 8),
        api.KeyInfo("f2", api.MatchKind.RANGE, 16),
        api.KeyInfo("f3", optional_kind, 8),
        api.KeyInfo("f4", api.MatchKind.LPM, 32),
    )
    return api.TableInfo("t", keys, (), 16, "range")


def _match(low: int = 1, high: int = 9) -> list[p4runtime_pb2.FieldMatch]:
    m1 = p4runtime_pb2.FieldMatch(field_id=1)
    m1.exact.value = b"\x05"
    m2 = p4runtime_pb2.FieldMatch(field_id=2)
    # Canonical byte strings, as a read returns them.
    m2.range.low = low.to_bytes(max(1, (low.bit_length() + 7) // 8), "big")
    m2.range.high = high.to_bytes(max(1, (high.bit_length() + 7) // 8), "big")
    m3 = p4runtime_pb2.FieldMatch(field_id=3)
    m3.optional.value = b"\x07"
    return [m1, m2, m3]


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        (api.MatchKind.TERNARY, api.TernaryMatch(7, 0xFF)),
        (api.MatchKind.OPTIONAL, api.OptionalMatch(7)),
    ],
)
def test_round_trip(kind: api.MatchKind, expected: api.KeyMatch) -> None:
    table = _index().table(1)
    core = matches_to_core(table, _core(kind), _match())
    assert core == (api.ExactMatch(5), api.RangeMatch(1, 9), expected, None)
    back = matches_from_core(table, core)
    assert [m.SerializeToString() for m in back] == [m.SerializeToString() for m in _match()]


@pytest.mark.parametrize(("low", "high"), [(9, 1), (0, 0xFFFF)])
def test_bad_ranges(low: int, high: int) -> None:
    table = _index().table(1)
    with pytest.raises(P4RuntimeError) as excinfo:
        matches_to_core(table, _core(api.MatchKind.TERNARY), _match(low, high))
    assert excinfo.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "f2" in excinfo.value.message


def test_duplicate_and_unknown_field_ids() -> None:
    table = _index().table(1)
    core = _core(api.MatchKind.TERNARY)
    twice = [*_match(), _match()[0]]
    with pytest.raises(P4RuntimeError, match="given twice"):
        matches_to_core(table, core, twice)
    unknown = _match()
    unknown[0].field_id = 42
    with pytest.raises(P4RuntimeError, match="unknown match field id 42"):
        matches_to_core(table, core, unknown)
