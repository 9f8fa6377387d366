"""Idle timeout over real gRPC, as the P4Runtime specification describes it:
entries with idle_timeout_ns in a table whose P4 says `support_timeout = true`
(tests/p4/mac_learning.p4, compiled by p4lite), IdleTimeoutNotifications on
the primary's StreamChannel after a TTL without hits and again one TTL later,
hits keeping entries alive, time_since_last_hit on Read, MODIFY of the TTL,
and the INVALID_ARGUMENT cases."""

from __future__ import annotations

import json
import queue
import threading
import time
from pathlib import Path

import grpc
import pytest
from google.rpc import code_pb2
from p4.config.v1 import p4info_pb2
from p4.v1 import p4runtime_pb2

from p4lite.compiler.driver import compile_file

PROGRAM = Path(__file__).resolve().parents[2] / "p4" / "mac_learning.p4"
INSERT = p4runtime_pb2.Update.INSERT
MODIFY = p4runtime_pb2.Update.MODIFY
DELETE = p4runtime_pb2.Update.DELETE
MS = 1_000_000  # nanoseconds
TTL = 300 * MS
# Sweeps wake at the next due time; allow for a loaded machine.
SLACK = 1.5


@pytest.fixture(scope="module")
def compiled():
    return compile_file(str(PROGRAM))


@pytest.fixture
def names(harness, kit, compiled):
    harness.primary()
    request = p4runtime_pb2.SetForwardingPipelineConfigRequest(
        device_id=0, action=p4runtime_pb2.SetForwardingPipelineConfigRequest.VERIFY_AND_COMMIT
    )
    request.election_id.low = harness.election_id
    request.config.p4info.CopyFrom(compiled.p4info)
    request.config.p4_device_config = json.dumps(compiled.json).encode()
    harness.stub.SetForwardingPipelineConfig(request)
    return kit.Names(compiled.p4info)


def _mac(n: int) -> bytes:
    return bytes([2, 0, 0, 0, 0, n])


def _smac_entry(names, n: int, idle_timeout_ns: int = 0) -> p4runtime_pb2.TableEntry:
    table = names.table("MyIngress.smac")
    entry = p4runtime_pb2.TableEntry(table_id=table.preamble.id, idle_timeout_ns=idle_timeout_ns)
    entry.match.add(field_id=table.match_fields[0].id).exact.value = _mac(n)
    entry.action.action.CopyFrom(names.action_msg("MyIngress.known"))
    return entry


def _key_only(entry: p4runtime_pb2.TableEntry) -> p4runtime_pb2.TableEntry:
    out = p4runtime_pb2.TableEntry()
    out.CopyFrom(entry)
    out.ClearField("action")
    return out


def _next_notification(stream, timeout: float) -> p4runtime_pb2.IdleTimeoutNotification | None:
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        try:
            message = stream.next(left)
        except queue.Empty:
            return None
        if (
            isinstance(message, p4runtime_pb2.StreamMessageResponse)
            and message.WhichOneof("update") == "idle_timeout_notification"
        ):
            return message.idle_timeout_notification
    return None


def _frame(src: int) -> bytes:
    return bytes.fromhex("ffffffffffff") + _mac(src) + bytes.fromhex("88b5") + bytes(46)


def _read_one(harness, kit, entry: p4runtime_pb2.TableEntry) -> p4runtime_pb2.TableEntry:
    (got,) = harness.read(kit.entity(table_entry=entry))
    return got.table_entry


def _single_error(kit, excinfo) -> int:
    assert excinfo.value.code() == grpc.StatusCode.UNKNOWN
    (err,) = kit.write_errors(excinfo.value)
    return err.canonical_code


# -- the compiler's output --------------------------------------------------------


def test_support_timeout_in_the_json_and_p4info(compiled) -> None:
    tables = {t["name"]: t for t in compiled.json["pipelines"][0]["tables"]}
    assert tables["MyIngress.smac"]["support_timeout"] is True
    assert tables["MyIngress.dmac"]["support_timeout"] is False
    behaviour = {t.preamble.name: t.idle_timeout_behavior for t in compiled.p4info.tables}
    assert behaviour == {
        "MyIngress.smac": p4info_pb2.Table.NOTIFY_CONTROL,
        "MyIngress.dmac": p4info_pb2.Table.NO_TIMEOUT,
    }


# -- notifications ----------------------------------------------------------------


def test_notification_after_ttl_then_again_one_ttl_later(harness, kit, names) -> None:
    stream = harness.streams[0]
    entry = _smac_entry(names, 1, TTL)
    entry.controller_metadata = 77
    entry.metadata = b"cookie"
    start = time.monotonic()
    harness.write((INSERT, kit.entity(table_entry=entry)))
    note = _next_notification(stream, TTL / 1e9 + SLACK)
    first = time.monotonic() - start
    assert note is not None, "no idle-timeout notification"
    assert first >= TTL / 1e9 * 0.9
    # The key fields, the controller's cookies and the TTL; no action.
    assert list(note.table_entry) == [_key_only(entry)]
    assert abs(note.timestamp - time.time_ns()) < 5 * 10**9
    # Not hit since: one more TTL, one more notification (not sooner).
    again = _next_notification(stream, TTL / 1e9 + SLACK)
    assert again is not None
    assert time.monotonic() - start - first >= TTL / 1e9 * 0.9
    assert list(again.table_entry) == [_key_only(entry)]


def test_hits_keep_an_entry_alive(harness, kit, names) -> None:
    stream = harness.streams[0]
    harness.write((INSERT, kit.entity(table_entry=_smac_entry(names, 2, TTL))))
    sent = 0
    end = time.monotonic() + 3 * TTL / 1e9
    while time.monotonic() < end:
        harness.ports[1].inject(_frame(2))
        sent += 1
        harness.wait_processed(sent)
        time.sleep(TTL / 1e9 / 4)
    assert _next_notification(stream, 0.05) is None
    # Quiet from now on: it ages.
    assert _next_notification(stream, TTL / 1e9 + SLACK) is not None


def test_entries_of_one_sweep_share_a_message(harness, kit, names) -> None:
    stream = harness.streams[0]
    entries = [_smac_entry(names, n, TTL) for n in (3, 4, 5)]
    harness.write(*((INSERT, kit.entity(table_entry=e)) for e in entries))
    got: list[p4runtime_pb2.TableEntry] = []
    while len(got) < 3:
        note = _next_notification(stream, TTL / 1e9 + SLACK)
        assert note is not None, f"only {len(got)} of 3 entries notified"
        assert note.table_entry, "a notification without entries"
        got.extend(note.table_entry)
    assert sorted(e.match[0].exact.value for e in got) == [_mac(n) for n in (3, 4, 5)]


def test_no_notification_for_entries_without_ttl_or_deleted(harness, kit, names) -> None:
    stream = harness.streams[0]
    doomed = _smac_entry(names, 6, TTL)
    harness.write(
        (INSERT, kit.entity(table_entry=_smac_entry(names, 7, 0))),
        (INSERT, kit.entity(table_entry=doomed)),
    )
    harness.write((DELETE, kit.entity(table_entry=doomed)))
    assert _next_notification(stream, TTL / 1e9 + 0.5) is None


def test_only_the_primary_is_notified(harness, kit, names) -> None:
    primary = harness.streams[0]
    backup = harness.stream()
    reply = backup.arbitrate(harness.election_id - 1)
    assert reply.arbitration.status.code == code_pb2.ALREADY_EXISTS
    harness.write((INSERT, kit.entity(table_entry=_smac_entry(names, 8, TTL))))
    assert _next_notification(primary, TTL / 1e9 + SLACK) is not None
    assert _next_notification(backup, 0.2) is None


def test_modify_sets_a_new_ttl(harness, kit, names) -> None:
    stream = harness.streams[0]
    entry = _smac_entry(names, 9, 30_000 * MS)
    harness.write((INSERT, kit.entity(table_entry=entry)))
    assert _next_notification(stream, 0.5) is None
    entry.idle_timeout_ns = TTL
    harness.write((MODIFY, kit.entity(table_entry=entry)))
    note = _next_notification(stream, TTL / 1e9 + SLACK)
    assert note is not None
    assert note.table_entry[0].idle_timeout_ns == TTL
    assert _read_one(harness, kit, _key_only(entry)).idle_timeout_ns == TTL
    # MODIFY is a full snapshot: without idle_timeout_ns the entry stops ageing.
    entry.idle_timeout_ns = 0
    harness.write((MODIFY, kit.entity(table_entry=entry)))
    assert _next_notification(stream, TTL / 1e9 + 0.5) is None


def test_rollback_restores_the_ttl(harness, kit, names) -> None:
    stream = harness.streams[0]
    entry = _smac_entry(names, 10, 30_000 * MS)
    harness.write((INSERT, kit.entity(table_entry=entry)))
    short = _smac_entry(names, 10, TTL)
    bad = _smac_entry(names, 11, TTL)
    bad.action.action.action_id = 12345
    with pytest.raises(grpc.RpcError):
        harness.write(
            (MODIFY, kit.entity(table_entry=short)),
            (INSERT, kit.entity(table_entry=bad)),
            atomicity=p4runtime_pb2.WriteRequest.ROLLBACK_ON_ERROR,
        )
    assert _read_one(harness, kit, _key_only(entry)).idle_timeout_ns == 30_000 * MS
    assert _next_notification(stream, TTL / 1e9 + 0.5) is None


# -- Read -------------------------------------------------------------------------


def test_read_returns_the_ttl_and_time_since_last_hit_when_asked(harness, kit, names) -> None:
    entry = _smac_entry(names, 12, 123_456_789)
    harness.write((INSERT, kit.entity(table_entry=entry)))
    plain = _read_one(harness, kit, _key_only(entry))
    assert plain == entry  # read-write symmetry; time_since_last_hit not asked
    time.sleep(0.2)
    ask = _key_only(entry)
    ask.time_since_last_hit.SetInParent()
    before = _read_one(harness, kit, ask)
    assert before.HasField("time_since_last_hit")
    assert 150 * MS <= before.time_since_last_hit.elapsed_ns < 5_000 * MS
    harness.ports[1].inject(_frame(12))
    harness.wait_processed(1)
    after = _read_one(harness, kit, ask)
    assert after.time_since_last_hit.elapsed_ns < before.time_since_last_hit.elapsed_ns
    assert after.time_since_last_hit.elapsed_ns < 100 * MS


def test_time_since_last_hit_for_an_entry_without_ttl(harness, kit, names) -> None:
    entry = _smac_entry(names, 13, 0)
    harness.write((INSERT, kit.entity(table_entry=entry)))
    time.sleep(0.1)
    ask = p4runtime_pb2.TableEntry()
    ask.time_since_last_hit.SetInParent()  # every table: only smac's entries carry it
    (got,) = harness.read(kit.entity(table_entry=ask))
    assert got.table_entry.time_since_last_hit.elapsed_ns >= 50 * MS


def test_time_since_last_hit_of_a_table_without_idle_timeout_is_invalid(
    harness, kit, names
) -> None:
    ask = p4runtime_pb2.TableEntry(table_id=names.table("MyIngress.dmac").preamble.id)
    ask.time_since_last_hit.SetInParent()
    with pytest.raises(grpc.RpcError) as excinfo:
        harness.read(kit.entity(table_entry=ask))
    assert excinfo.value.code() == grpc.StatusCode.INVALID_ARGUMENT


# -- errors -----------------------------------------------------------------------


def test_idle_timeout_on_a_table_without_support_is_invalid(harness, kit, names) -> None:
    table = names.table("MyIngress.dmac")
    entry = p4runtime_pb2.TableEntry(table_id=table.preamble.id, priority=1, idle_timeout_ns=TTL)
    fm = entry.match.add(field_id=table.match_fields[0].id)
    fm.ternary.value, fm.ternary.mask = _mac(1), b"\xff" * 6
    entry.action.action.CopyFrom(names.action_msg("MyIngress.forward", port=1))
    with pytest.raises(grpc.RpcError) as excinfo:
        harness.write((INSERT, kit.entity(table_entry=entry)))
    assert _single_error(kit, excinfo) == code_pb2.INVALID_ARGUMENT
    entry.idle_timeout_ns = 0
    harness.write((INSERT, kit.entity(table_entry=entry)))


@pytest.mark.parametrize("mutate", ["time_since_last_hit", "negative", "default_entry"])
def test_malformed_idle_timeout_writes_are_invalid(harness, kit, names, mutate: str) -> None:
    entry = _smac_entry(names, 14, TTL)
    utype = INSERT
    match mutate:
        case "time_since_last_hit":
            entry.time_since_last_hit.elapsed_ns = 5
        case "negative":
            entry.idle_timeout_ns = -1
        case "default_entry":
            entry.ClearField("match")
            entry.is_default_action = True
            entry.action.action.CopyFrom(names.action_msg("MyIngress.unknown"))
            utype = MODIFY
    with pytest.raises(grpc.RpcError) as excinfo:
        harness.write((utype, kit.entity(table_entry=entry)))
    assert _single_error(kit, excinfo) == code_pb2.INVALID_ARGUMENT


def test_no_sweeper_without_idle_timeout_tables(harness, kit) -> None:
    harness.primary()
    harness.set_pipeline("table_exact")
    assert not any(t.name == "p4rt-idle-timeout" for t in threading.enumerate())
