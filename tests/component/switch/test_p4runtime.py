"""The P4Runtime server in-process over real gRPC, driven by raw p4runtime_pb2
stubs: arbitration, pipeline config, table entries, errors, registers,
counters, multicast, packet-out/packet-in."""

from __future__ import annotations

import threading
import time

import grpc
import pytest
from google.rpc import code_pb2
from p4.v1 import p4runtime_pb2

from p4lite.switch.server import (
    P4RUNTIME_API_VERSION,
    ServerError,
    ServerOptions,
    SwitchServer,
)

INSERT = p4runtime_pb2.Update.INSERT
MODIFY = p4runtime_pb2.Update.MODIFY
DELETE = p4runtime_pb2.Update.DELETE
SetAction = p4runtime_pb2.SetForwardingPipelineConfigRequest


def _rpc_code(excinfo: pytest.ExceptionInfo[grpc.RpcError]) -> grpc.StatusCode:
    return excinfo.value.code()  # type: ignore[attr-defined, no-any-return]


# -- capabilities and pipeline ---------------------------------------------------


def test_capabilities(harness) -> None:
    reply = harness.stub.Capabilities(p4runtime_pb2.CapabilitiesRequest())
    assert reply.p4runtime_api_version == P4RUNTIME_API_VERSION


def test_get_pipeline_before_set_is_empty(harness) -> None:
    reply = harness.stub.GetForwardingPipelineConfig(
        p4runtime_pb2.GetForwardingPipelineConfigRequest(device_id=0)
    )
    assert not reply.config.HasField("p4info")
    assert reply.config.p4_device_config == b""


def test_write_without_pipeline_is_failed_precondition(harness, kit) -> None:
    harness.primary()
    entry = p4runtime_pb2.TableEntry(table_id=1)
    with pytest.raises(grpc.RpcError) as excinfo:
        harness.write((INSERT, kit.entity(table_entry=entry)))
    assert _rpc_code(excinfo) == grpc.StatusCode.FAILED_PRECONDITION


def test_read_without_pipeline_is_failed_precondition(harness, kit) -> None:
    with pytest.raises(grpc.RpcError) as excinfo:
        harness.read(kit.entity(table_entry=p4runtime_pb2.TableEntry()))
    assert _rpc_code(excinfo) == grpc.StatusCode.FAILED_PRECONDITION


def test_get_pipeline_response_types(harness, kit) -> None:
    harness.primary()
    request = p4runtime_pb2.SetForwardingPipelineConfigRequest(
        device_id=0, action=SetAction.VERIFY_AND_COMMIT
    )
    request.election_id.low = harness.election_id
    request.config.p4info.CopyFrom(kit.load_p4info("table_exact"))
    request.config.p4_device_config = kit.load_json("table_exact")
    request.config.cookie.cookie = 42
    harness.stub.SetForwardingPipelineConfig(request)
    rtype = p4runtime_pb2.GetForwardingPipelineConfigRequest
    get = harness.stub.GetForwardingPipelineConfig
    full = get(rtype(device_id=0, response_type=rtype.ALL)).config
    assert full.p4info == request.config.p4info
    assert full.p4_device_config == request.config.p4_device_config
    assert full.cookie.cookie == 42
    cookie = get(rtype(device_id=0, response_type=rtype.COOKIE_ONLY)).config
    assert cookie.cookie.cookie == 42
    assert not cookie.HasField("p4info") and not cookie.p4_device_config
    info = get(rtype(device_id=0, response_type=rtype.P4INFO_AND_COOKIE)).config
    assert info.p4info == request.config.p4info and not info.p4_device_config
    dev = get(rtype(device_id=0, response_type=rtype.DEVICE_CONFIG_AND_COOKIE)).config
    assert dev.p4_device_config == request.config.p4_device_config
    assert not dev.HasField("p4info")


def test_verify_save_commit(harness, kit) -> None:
    harness.primary()
    request = p4runtime_pb2.SetForwardingPipelineConfigRequest(device_id=0)
    request.election_id.low = harness.election_id
    request.config.p4info.CopyFrom(kit.load_p4info("table_lpm"))
    request.config.p4_device_config = kit.load_json("table_lpm")
    request.action = SetAction.VERIFY
    harness.stub.SetForwardingPipelineConfig(request)
    request.action = SetAction.VERIFY_AND_SAVE
    harness.stub.SetForwardingPipelineConfig(request)
    get = p4runtime_pb2.GetForwardingPipelineConfigRequest(device_id=0)
    # Saved but not committed: nothing runs yet.
    assert not harness.stub.GetForwardingPipelineConfig(get).config.HasField("p4info")
    commit = p4runtime_pb2.SetForwardingPipelineConfigRequest(device_id=0, action=SetAction.COMMIT)
    commit.election_id.low = harness.election_id
    harness.stub.SetForwardingPipelineConfig(commit)
    config = harness.stub.GetForwardingPipelineConfig(get).config
    assert config.p4info == request.config.p4info
    # A second COMMIT has nothing saved.
    with pytest.raises(grpc.RpcError) as excinfo:
        harness.stub.SetForwardingPipelineConfig(commit)
    assert _rpc_code(excinfo) == grpc.StatusCode.FAILED_PRECONDITION


def test_reconcile_keeps_entries(harness, kit) -> None:
    harness.primary()
    names = harness.set_pipeline("table_exact")
    entry = names.exact_entry("MyIngress.t_fwd", 1, "MyIngress.fwd", port=1)
    harness.write((INSERT, kit.entity(table_entry=entry)))
    request = p4runtime_pb2.SetForwardingPipelineConfigRequest(
        device_id=0, action=SetAction.RECONCILE_AND_COMMIT
    )
    request.election_id.low = harness.election_id
    request.config.p4info.CopyFrom(kit.load_p4info("table_exact"))
    request.config.p4_device_config = kit.load_json("table_exact")
    harness.stub.SetForwardingPipelineConfig(request)
    tid = names.table("MyIngress.t_fwd").preamble.id
    assert len(harness.read(kit.entity(table_entry=p4runtime_pb2.TableEntry(table_id=tid)))) == 1


def test_bad_device_config_is_invalid_argument(harness, kit) -> None:
    harness.primary()
    request = p4runtime_pb2.SetForwardingPipelineConfigRequest(
        device_id=0, action=SetAction.VERIFY_AND_COMMIT
    )
    request.election_id.low = harness.election_id
    request.config.p4info.CopyFrom(kit.load_p4info("table_exact"))
    request.config.p4_device_config = b"{not json"
    with pytest.raises(grpc.RpcError) as excinfo:
        harness.stub.SetForwardingPipelineConfig(request)
    assert _rpc_code(excinfo) == grpc.StatusCode.INVALID_ARGUMENT
    # The server is still up and answers.
    assert harness.stub.Capabilities(p4runtime_pb2.CapabilitiesRequest()).p4runtime_api_version


def test_p4info_not_matching_json_is_invalid_argument(harness, kit) -> None:
    harness.primary()
    request = p4runtime_pb2.SetForwardingPipelineConfigRequest(
        device_id=0, action=SetAction.VERIFY_AND_COMMIT
    )
    request.election_id.low = harness.election_id
    request.config.p4info.CopyFrom(kit.load_p4info("table_lpm"))
    request.config.p4_device_config = kit.load_json("table_exact")
    with pytest.raises(grpc.RpcError) as excinfo:
        harness.stub.SetForwardingPipelineConfig(request)
    assert _rpc_code(excinfo) == grpc.StatusCode.INVALID_ARGUMENT


# -- arbitration -------------------------------------------------------------------


def test_arbitration_primary_and_backup(harness) -> None:
    a = harness.stream()
    reply = a.arbitrate(5)
    assert reply.arbitration.status.code == code_pb2.OK
    assert reply.arbitration.election_id.low == 5
    b = harness.stream()
    reply = b.arbitrate(3)
    assert reply.arbitration.status.code == code_pb2.ALREADY_EXISTS
    assert reply.arbitration.election_id.low == 5
    # A higher election id takes over; everyone hears about it.
    c = harness.stream()
    reply = c.arbitrate(9)
    assert reply.arbitration.status.code == code_pb2.OK
    note_a = a.next()
    note_b = b.next()
    assert note_a.arbitration.status.code == code_pb2.ALREADY_EXISTS
    assert note_a.arbitration.election_id.low == 9
    assert note_b.arbitration.election_id.low == 9
    # The primary leaves: the next highest becomes primary.
    c.close()
    note_a = a.next()
    assert note_a.arbitration.status.code == code_pb2.OK
    assert note_a.arbitration.election_id.low == 5
    note_b = b.next()
    assert note_b.arbitration.status.code == code_pb2.ALREADY_EXISTS


def test_duplicate_election_id_is_refused(harness) -> None:
    a = harness.stream()
    assert a.arbitrate(7).arbitration.status.code == code_pb2.OK
    b = harness.stream()
    reply = b.arbitrate(7)
    assert isinstance(reply, grpc.RpcError)
    assert reply.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_wrong_device_id_in_arbitration(harness) -> None:
    a = harness.stream()
    reply = a.arbitrate(1, device_id=3)
    assert isinstance(reply, grpc.RpcError)
    assert reply.code() == grpc.StatusCode.NOT_FOUND


def test_write_from_backup_is_permission_denied(harness, kit) -> None:
    harness.primary(election_id=20)
    names = harness.set_pipeline("table_exact")
    backup = harness.stream()
    assert backup.arbitrate(10).arbitration.status.code == code_pb2.ALREADY_EXISTS
    entry = names.exact_entry("MyIngress.t_fwd", 1, "MyIngress.fwd", port=1)
    with pytest.raises(grpc.RpcError) as excinfo:
        harness.write((INSERT, kit.entity(table_entry=entry)), election_id=10)
    assert _rpc_code(excinfo) == grpc.StatusCode.PERMISSION_DENIED
    set_request = p4runtime_pb2.SetForwardingPipelineConfigRequest(
        device_id=0, action=SetAction.VERIFY
    )
    set_request.election_id.low = 10
    with pytest.raises(grpc.RpcError) as excinfo:
        harness.stub.SetForwardingPipelineConfig(set_request)
    assert _rpc_code(excinfo) == grpc.StatusCode.PERMISSION_DENIED


# -- table entries ------------------------------------------------------------------


@pytest.fixture
def exact(harness):
    harness.primary()
    return harness.set_pipeline("table_exact")


def test_insert_read_modify_delete(harness, kit, exact) -> None:
    table = exact.table("MyIngress.t_fwd")
    entry = exact.exact_entry("MyIngress.t_fwd", 0x0102, "MyIngress.fwd", port=2)
    harness.write((INSERT, kit.entity(table_entry=entry)))
    wildcard = kit.entity(table_entry=p4runtime_pb2.TableEntry(table_id=table.preamble.id))
    (got,) = harness.read(wildcard)
    assert got.table_entry.match[0].exact.value == b"\x01\x02"
    assert got.table_entry.action.action.action_id == entry.action.action.action_id
    # Canonical byte strings on the way out: port 2 is b"\x02".
    assert got.table_entry.action.action.params[0].value == b"\x02"
    entry.action.action.CopyFrom(exact.action_msg("MyIngress.set_tag_fwd", tag=0x22, port=3))
    harness.write((MODIFY, kit.entity(table_entry=entry)))
    (got,) = harness.read(wildcard)
    params = [p.value for p in got.table_entry.action.action.params]
    assert params == [b"\x22", b"\x03"]
    harness.write((DELETE, kit.entity(table_entry=entry)))
    assert harness.read(wildcard) == []


def test_all_tables_wildcard_read(harness, kit, exact) -> None:
    harness.write(
        (
            INSERT,
            kit.entity(
                table_entry=exact.exact_entry("MyIngress.t_fwd", 1, "MyIngress.fwd", port=1)
            ),
        ),
        (
            INSERT,
            kit.entity(table_entry=exact.exact_entry("MyIngress.t_mark", 7, "MyIngress.mark", m=1)),
        ),
    )
    got = harness.read(kit.entity(table_entry=p4runtime_pb2.TableEntry()))
    assert sorted(e.table_entry.table_id for e in got) == sorted(
        [exact.table("MyIngress.t_fwd").preamble.id, exact.table("MyIngress.t_mark").preamble.id]
    )


def test_non_canonical_bytes_accepted(harness, kit, exact) -> None:
    entry = exact.exact_entry("MyIngress.t_fwd", 5, "MyIngress.fwd", port=1)
    entry.match[0].exact.value = b"\x00\x00\x00\x05"
    harness.write((INSERT, kit.entity(table_entry=entry)))
    (got,) = harness.read(kit.entity(table_entry=p4runtime_pb2.TableEntry(table_id=entry.table_id)))
    assert got.table_entry.match[0].exact.value == b"\x05"


def _single_error(kit, excinfo) -> p4runtime_pb2.Error:
    assert excinfo.value.code() == grpc.StatusCode.UNKNOWN
    (err,) = kit.write_errors(excinfo.value)
    return err


def test_duplicate_insert_is_already_exists(harness, kit, exact) -> None:
    entry = exact.exact_entry("MyIngress.t_fwd", 1, "MyIngress.fwd", port=1)
    harness.write((INSERT, kit.entity(table_entry=entry)))
    with pytest.raises(grpc.RpcError) as excinfo:
        harness.write((INSERT, kit.entity(table_entry=entry)))
    assert _single_error(kit, excinfo).canonical_code == code_pb2.ALREADY_EXISTS


def test_modify_and_delete_missing_are_not_found(harness, kit, exact) -> None:
    entry = exact.exact_entry("MyIngress.t_fwd", 1, "MyIngress.fwd", port=1)
    for utype in (MODIFY, DELETE):
        with pytest.raises(grpc.RpcError) as excinfo:
            harness.write((utype, kit.entity(table_entry=entry)))
        assert _single_error(kit, excinfo).canonical_code == code_pb2.NOT_FOUND


@pytest.mark.parametrize(
    "mutate",
    [
        "value_too_wide",
        "missing_exact",
        "wrong_match_kind",
        "unknown_param",
        "missing_param",
        "action_not_in_table",
        "priority_on_exact_table",
        "no_action",
    ],
)
def test_malformed_entries_are_invalid_argument(harness, kit, exact, mutate: str) -> None:
    entry = exact.exact_entry("MyIngress.t_fwd", 1, "MyIngress.fwd", port=1)
    match mutate:
        case "value_too_wide":
            entry.match[0].exact.value = b"\x01\x00\x00"
        case "missing_exact":
            del entry.match[:]
        case "wrong_match_kind":
            fid = entry.match[0].field_id
            del entry.match[:]
            entry.match.add(field_id=fid).lpm.value = b"\x01"
            entry.match[0].lpm.prefix_len = 8
        case "unknown_param":
            entry.action.action.params[0].param_id = 99
        case "missing_param":
            del entry.action.action.params[:]
        case "action_not_in_table":
            entry.action.action.CopyFrom(exact.action_msg("MyIngress.mark", m=1))
        case "priority_on_exact_table":
            entry.priority = 10
        case "no_action":
            entry.ClearField("action")
    with pytest.raises(grpc.RpcError) as excinfo:
        harness.write((INSERT, kit.entity(table_entry=entry)))
    assert _single_error(kit, excinfo).canonical_code == code_pb2.INVALID_ARGUMENT


def test_unknown_table_is_not_found(harness, kit, exact) -> None:
    entry = exact.exact_entry("MyIngress.t_fwd", 1, "MyIngress.fwd", port=1)
    entry.table_id = 12345
    with pytest.raises(grpc.RpcError) as excinfo:
        harness.write((INSERT, kit.entity(table_entry=entry)))
    assert _single_error(kit, excinfo).canonical_code == code_pb2.NOT_FOUND


def test_table_full_is_resource_exhausted(harness, kit, exact) -> None:
    size = exact.table("MyIngress.t_fwd").size
    updates = [
        (
            INSERT,
            kit.entity(
                table_entry=exact.exact_entry("MyIngress.t_fwd", k, "MyIngress.fwd", port=1)
            ),
        )
        for k in range(size)
    ]
    harness.write(*updates)
    extra = exact.exact_entry("MyIngress.t_fwd", size, "MyIngress.fwd", port=1)
    with pytest.raises(grpc.RpcError) as excinfo:
        harness.write((INSERT, kit.entity(table_entry=extra)))
    assert _single_error(kit, excinfo).canonical_code == code_pb2.RESOURCE_EXHAUSTED


def test_batch_continue_on_error_reports_each_update(harness, kit, exact) -> None:
    good = exact.exact_entry("MyIngress.t_fwd", 1, "MyIngress.fwd", port=1)
    harness.write((INSERT, kit.entity(table_entry=good)))
    other = exact.exact_entry("MyIngress.t_fwd", 2, "MyIngress.fwd", port=2)
    with pytest.raises(grpc.RpcError) as excinfo:
        harness.write(
            (INSERT, kit.entity(table_entry=other)),
            (INSERT, kit.entity(table_entry=good)),
        )
    assert excinfo.value.code() == grpc.StatusCode.UNKNOWN
    codes = [e.canonical_code for e in kit.write_errors(excinfo.value)]
    assert codes == [code_pb2.OK, code_pb2.ALREADY_EXISTS]
    got = harness.read(kit.entity(table_entry=p4runtime_pb2.TableEntry(table_id=good.table_id)))
    assert len(got) == 2


def test_batch_rollback_on_error(harness, kit, exact) -> None:
    existing = exact.exact_entry("MyIngress.t_fwd", 1, "MyIngress.fwd", port=1)
    harness.write((INSERT, kit.entity(table_entry=existing)))
    new = exact.exact_entry("MyIngress.t_fwd", 2, "MyIngress.fwd", port=2)
    changed = exact.exact_entry("MyIngress.t_fwd", 1, "MyIngress.fwd", port=4)
    with pytest.raises(grpc.RpcError) as excinfo:
        harness.write(
            (INSERT, kit.entity(table_entry=new)),
            (MODIFY, kit.entity(table_entry=changed)),
            (INSERT, kit.entity(table_entry=existing)),
            atomicity=p4runtime_pb2.WriteRequest.ROLLBACK_ON_ERROR,
        )
    codes = [e.canonical_code for e in kit.write_errors(excinfo.value)]
    assert codes[2] == code_pb2.ALREADY_EXISTS
    assert code_pb2.OK not in codes
    (got,) = harness.read(
        kit.entity(table_entry=p4runtime_pb2.TableEntry(table_id=existing.table_id))
    )
    assert got.table_entry == existing


def test_dataplane_atomic_batches(harness, kit, exact) -> None:
    # Each batch moves t_fwd's key 2 to port k and t_mark's tag 0x22 to mark k:
    # no packet may leave on one port with the other batch's mark.
    def batch(k: int) -> tuple[tuple[int, p4runtime_pb2.Entity], ...]:
        fwd = exact.exact_entry("MyIngress.t_fwd", 2, "MyIngress.set_tag_fwd", tag=0x22, port=k)
        mark = exact.exact_entry("MyIngress.t_mark", 0x22, "MyIngress.mark", m=k)
        return ((MODIFY, kit.entity(table_entry=fwd)), (MODIFY, kit.entity(table_entry=mark)))

    atomic = p4runtime_pb2.WriteRequest.DATAPLANE_ATOMIC
    harness.write(*((INSERT, e) for _, e in batch(1)), atomicity=atomic)
    stop = threading.Event()
    sent = [0]

    def send() -> None:
        while not stop.is_set():
            harness.ports[0].inject(bytes.fromhex("0002 00 00"))
            sent[0] += 1
            time.sleep(0.0005)

    sender = threading.Thread(target=send)
    sender.start()
    try:
        for n in range(60):
            harness.write(*batch(1 + n % 2), atomicity=atomic)
    finally:
        stop.set()
        sender.join()
    harness.wait_processed(sent[0])
    seen = [(port, frame[3]) for port in (1, 2) for frame in harness.ports[port].take_all(0.05)]
    assert len(seen) > 10
    assert all(port == mark for port, mark in seen), [s for s in seen if s[0] != s[1]][:5]
    # A failed update undoes the batch.
    missing = exact.exact_entry("MyIngress.t_fwd", 9, "MyIngress.fwd", port=3)
    with pytest.raises(grpc.RpcError) as excinfo:
        harness.write(*batch(4), (MODIFY, kit.entity(table_entry=missing)), atomicity=atomic)
    codes = [e.canonical_code for e in kit.write_errors(excinfo.value)]
    assert codes[2] == code_pb2.NOT_FOUND and code_pb2.OK not in codes
    harness.ports[0].inject(bytes.fromhex("0002 00 00"))
    frames = [(p, f) for p in (1, 2, 4) for f in harness.ports[p].take_all(0.2)]
    assert [(p, f[3]) for p, f in frames] == [(2, 2)]


def test_default_entry_modify_and_read(harness, kit, exact) -> None:
    table = exact.table("MyIngress.t_fwd")
    query = p4runtime_pb2.TableEntry(table_id=table.preamble.id, is_default_action=True)
    (got,) = harness.read(kit.entity(table_entry=query))
    assert got.table_entry.is_default_action
    assert (
        got.table_entry.action.action.action_id == exact.action("MyIngress.set_tag_fwd").preamble.id
    )
    assert [p.value for p in got.table_entry.action.action.params] == [b"\xee", b"\x03"]
    default = p4runtime_pb2.TableEntry(table_id=table.preamble.id, is_default_action=True)
    default.action.action.CopyFrom(exact.action_msg("MyIngress.drop_pkt"))
    harness.write((MODIFY, kit.entity(table_entry=default)))
    (got,) = harness.read(kit.entity(table_entry=query))
    assert got.table_entry.action.action.action_id == exact.action("MyIngress.drop_pkt").preamble.id
    with pytest.raises(grpc.RpcError) as excinfo:
        harness.write((INSERT, kit.entity(table_entry=default)))
    assert _single_error(kit, excinfo).canonical_code == code_pb2.INVALID_ARGUMENT


def test_entries_forward_packets(harness, kit, exact) -> None:
    harness.write(
        (
            INSERT,
            kit.entity(
                table_entry=exact.exact_entry("MyIngress.t_fwd", 1, "MyIngress.fwd", port=3)
            ),
        ),
    )
    harness.ports[0].inject(bytes.fromhex("0001 00 00"))
    assert harness.ports[3].take() == bytes.fromhex("0001 00 5a")
    # Miss: the program's default set_tag_fwd(0xee, 3).
    harness.ports[0].inject(bytes.fromhex("0009 00 00"))
    assert harness.ports[3].take() == bytes.fromhex("0009 ee 5a")


# -- lpm / ternary / const tables ---------------------------------------------------------


def test_lpm_rules(harness, kit) -> None:
    harness.primary()
    names = harness.set_pipeline("table_lpm")
    table = names.table("MyIngress.t_lpm")
    fid = table.match_fields[0].id
    entry = p4runtime_pb2.TableEntry(table_id=table.preamble.id)
    fm = entry.match.add(field_id=fid)
    fm.lpm.value = bytes([10, 1, 0, 0])
    fm.lpm.prefix_len = 16
    entry.action.action.CopyFrom(names.action_msg("MyIngress.route", id=2, port=2))
    harness.write((INSERT, kit.entity(table_entry=entry)))
    (got,) = harness.read(
        kit.entity(table_entry=p4runtime_pb2.TableEntry(table_id=table.preamble.id))
    )
    assert got.table_entry.match[0].lpm.value == bytes([10, 1, 0, 0])
    assert got.table_entry.match[0].lpm.prefix_len == 16
    bad = p4runtime_pb2.TableEntry()
    bad.CopyFrom(entry)
    bad.match[0].lpm.value = bytes([10, 1, 2, 0])  # bits beyond the /16
    with pytest.raises(grpc.RpcError) as excinfo:
        harness.write((INSERT, kit.entity(table_entry=bad)))
    assert _single_error(kit, excinfo).canonical_code == code_pb2.INVALID_ARGUMENT
    bad.match[0].lpm.prefix_len = 0
    bad.match[0].lpm.value = b"\x00"
    with pytest.raises(grpc.RpcError) as excinfo:
        harness.write((INSERT, kit.entity(table_entry=bad)))
    assert _single_error(kit, excinfo).canonical_code == code_pb2.INVALID_ARGUMENT


def test_ternary_needs_priority_and_clean_mask(harness, kit) -> None:
    harness.primary()
    names = harness.set_pipeline("table_ternary")
    table = names.table("MyIngress.t_tern")
    entry = p4runtime_pb2.TableEntry(table_id=table.preamble.id, priority=0)
    f = table.match_fields[0]
    fm = entry.match.add(field_id=f.id)
    fm.ternary.value = b"\x12\x00"
    fm.ternary.mask = b"\xff\x00"
    action = next(a for a in names.info.actions if a.preamble.name != "NoAction")
    entry.action.action.CopyFrom(
        names.action_msg(action.preamble.name, **{p.name: 1 for p in action.params})
    )
    with pytest.raises(grpc.RpcError) as excinfo:
        harness.write((INSERT, kit.entity(table_entry=entry)))
    assert _single_error(kit, excinfo).canonical_code == code_pb2.INVALID_ARGUMENT
    entry.priority = 5
    fm.ternary.value = b"\x12\x34"  # bits outside the mask
    with pytest.raises(grpc.RpcError) as excinfo:
        harness.write((INSERT, kit.entity(table_entry=entry)))
    assert _single_error(kit, excinfo).canonical_code == code_pb2.INVALID_ARGUMENT
    fm.ternary.value = b"\x12\x00"
    harness.write((INSERT, kit.entity(table_entry=entry)))
    (got,) = harness.read(
        kit.entity(table_entry=p4runtime_pb2.TableEntry(table_id=table.preamble.id))
    )
    assert got.table_entry.priority == 5
    assert got.table_entry.match[0].ternary.mask == b"\xff\x00"


def test_const_table_is_read_only(harness, kit) -> None:
    harness.primary()
    names = harness.set_pipeline("table_const_entries")
    const_tables = [t for t in names.info.tables if t.is_const_table]
    table = const_tables[0]
    entries = harness.read(
        kit.entity(table_entry=p4runtime_pb2.TableEntry(table_id=table.preamble.id))
    )
    assert entries, "const entries are readable"
    assert all(e.table_entry.is_const for e in entries)
    with pytest.raises(grpc.RpcError) as excinfo:
        harness.write((DELETE, kit.entity(table_entry=entries[0].table_entry)))
    assert _single_error(kit, excinfo).canonical_code == code_pb2.PERMISSION_DENIED


# -- registers, counters, multicast ---------------------------------------------------


def test_register_write_and_read(harness, kit) -> None:
    harness.primary()
    names = harness.set_pipeline("register_state")
    reg = names.register("MyIngress.cnt")
    entry = p4runtime_pb2.RegisterEntry(register_id=reg.preamble.id)
    entry.index.index = 2
    entry.data.bitstring = (1000).to_bytes(2, "big")
    harness.write((MODIFY, kit.entity(register_entry=entry)))
    query = p4runtime_pb2.RegisterEntry(register_id=reg.preamble.id)
    query.index.index = 2
    (got,) = harness.read(kit.entity(register_entry=query))
    assert int.from_bytes(got.register_entry.data.bitstring, "big") == 1000
    everything = harness.read(
        kit.entity(register_entry=p4runtime_pb2.RegisterEntry(register_id=reg.preamble.id))
    )
    assert len(everything) == reg.size
    too_wide = p4runtime_pb2.RegisterEntry(
        register_id=names.register("MyIngress.small").preamble.id
    )
    too_wide.index.index = 0
    too_wide.data.bitstring = b"\x01\x00"
    with pytest.raises(grpc.RpcError) as excinfo:
        harness.write((MODIFY, kit.entity(register_entry=too_wide)))
    assert _single_error(kit, excinfo).canonical_code == code_pb2.INVALID_ARGUMENT
    out_of_range = p4runtime_pb2.RegisterEntry(register_id=reg.preamble.id)
    out_of_range.index.index = reg.size
    out_of_range.data.bitstring = b"\x01"
    with pytest.raises(grpc.RpcError) as excinfo:
        harness.write((MODIFY, kit.entity(register_entry=out_of_range)))
    assert _single_error(kit, excinfo).canonical_code == code_pb2.OUT_OF_RANGE
    out_of_range.index.index = -1
    with pytest.raises(grpc.RpcError) as excinfo:
        harness.write((MODIFY, kit.entity(register_entry=out_of_range)))
    assert _single_error(kit, excinfo).canonical_code == code_pb2.INVALID_ARGUMENT
    # Index unset: every cell written; the data plane reads what was written.
    every = p4runtime_pb2.RegisterEntry(register_id=reg.preamble.id)
    every.data.bitstring = (41).to_bytes(1, "big")
    harness.write((MODIFY, kit.entity(register_entry=every)))
    cells = harness.read(
        kit.entity(register_entry=p4runtime_pb2.RegisterEntry(register_id=reg.preamble.id))
    )
    assert {int.from_bytes(c.register_entry.data.bitstring, "big") for c in cells} == {41}
    harness.ports[0].inject(bytes([3]) + bytes(2 + 4 + 2 + 1))
    out = harness.ports[1].take()
    assert out is not None and int.from_bytes(out[3:7], "big") == 42


def test_counters_count_packets(make_harness, kit) -> None:
    h = make_harness(ports=(0, 1, 2, 3), cpu_port=None)
    h.primary()
    names = h.set_pipeline("counters")
    run = kit.StfRun(h, names)
    run.load(kit.PROGRAMS / "counters.stf")
    run.run()
    counters = h.read(kit.entity(counter_entry=p4runtime_pb2.CounterEntry()))
    # Values BMv2 reports after the STF's three packets (see counters.stf).
    cells = {
        c.counter_entry.index.index: (
            c.counter_entry.data.packet_count,
            c.counter_entry.data.byte_count,
        )
        for c in counters
    }
    assert cells == {0: (0, 0), 1: (2, 9), 2: (0, 0), 3: (1, 2)}
    direct = h.read(kit.entity(direct_counter_entry=p4runtime_pb2.DirectCounterEntry()))
    assert [d.direct_counter_entry.data.packet_count for d in direct] == [2]
    # Reset one cell and read it back.
    first = counters[1].counter_entry
    reset = p4runtime_pb2.CounterEntry(counter_id=first.counter_id)
    reset.index.index = first.index.index
    reset.data.packet_count = 0
    reset.data.byte_count = 0
    h.write((MODIFY, kit.entity(counter_entry=reset)))
    query = p4runtime_pb2.CounterEntry(counter_id=first.counter_id)
    query.index.index = first.index.index
    (got,) = h.read(kit.entity(counter_entry=query))
    assert got.counter_entry.data.packet_count == 0


def test_multicast_group_lifecycle(harness, kit) -> None:
    harness.primary()
    harness.set_pipeline("multicast")
    pre = p4runtime_pb2.PacketReplicationEngineEntry()
    group = pre.multicast_group_entry
    group.multicast_group_id = 1
    group.replicas.add(egress_port=1, instance=0)
    group.replicas.add(egress_port=2, instance=0)
    harness.write((INSERT, kit.entity(packet_replication_engine_entry=pre)))
    query = p4runtime_pb2.PacketReplicationEngineEntry()
    query.multicast_group_entry.multicast_group_id = 0
    (got,) = harness.read(kit.entity(packet_replication_engine_entry=query))
    assert got.packet_replication_engine_entry == pre
    harness.ports[0].inject(bytes.fromhex("0001 ffff 00 00"))
    assert harness.ports[1].take() is not None
    assert harness.ports[2].take() is not None
    with pytest.raises(grpc.RpcError) as excinfo:
        harness.write((INSERT, kit.entity(packet_replication_engine_entry=pre)))
    assert _single_error(kit, excinfo).canonical_code == code_pb2.ALREADY_EXISTS
    harness.write((DELETE, kit.entity(packet_replication_engine_entry=pre)))
    assert harness.read(kit.entity(packet_replication_engine_entry=query)) == []
    with pytest.raises(grpc.RpcError) as excinfo:
        harness.write((MODIFY, kit.entity(packet_replication_engine_entry=pre)))
    assert _single_error(kit, excinfo).canonical_code == code_pb2.NOT_FOUND


def test_clone_session_read_back(harness, kit) -> None:
    harness.primary()
    harness.set_pipeline("clone_i2e")
    pre = p4runtime_pb2.PacketReplicationEngineEntry()
    pre.clone_session_entry.session_id = 5
    pre.clone_session_entry.replicas.add(egress_port=3, instance=0)
    harness.write((INSERT, kit.entity(packet_replication_engine_entry=pre)))
    query = p4runtime_pb2.PacketReplicationEngineEntry()
    query.clone_session_entry.session_id = 5
    (got,) = harness.read(kit.entity(packet_replication_engine_entry=query))
    assert got.packet_replication_engine_entry == pre


# -- packet I/O through the CPU port --------------------------------------------------------


def _with_controller_headers(kit):
    """table_exact's P4Info with controller headers over its 16-bit key header field."""
    info = kit.load_p4info("table_exact")
    for name, field in (("packet_out", "key"), ("packet_in", "key")):
        cpm = info.controller_packet_metadata.add()
        cpm.preamble.id = 0x43000000 + len(info.controller_packet_metadata)
        cpm.preamble.name = name
        md = cpm.metadata.add(id=1, name=field, bitwidth=16)
        assert md.bitwidth == 16
    return info


def test_packet_out_and_packet_in(harness, kit) -> None:
    stream = harness.primary()
    names = harness.set_pipeline("table_exact", _with_controller_headers(kit))
    harness.write(
        (
            INSERT,
            kit.entity(
                table_entry=names.exact_entry("MyIngress.t_fwd", 1, "MyIngress.fwd", port=2)
            ),
        ),
        (
            INSERT,
            kit.entity(
                table_entry=names.exact_entry("MyIngress.t_fwd", 2, "MyIngress.fwd", port=64)
            ),
        ),
    )
    # PacketOut: metadata key=1 becomes the first two bytes; the entry sends it to port 2.
    out = p4runtime_pb2.StreamMessageRequest()
    out.packet.payload = bytes.fromhex("00 00")
    out.packet.metadata.add(metadata_id=1, value=b"\x01")
    stream.send(out)
    assert harness.ports[2].take() == bytes.fromhex("0001 00 5a")
    # A frame the pipeline sends to the CPU port (64) arrives as a PacketIn.
    harness.ports[0].inject(bytes.fromhex("0002 00 00 ab"))
    message = stream.next()
    assert message.WhichOneof("update") == "packet"
    assert message.packet.payload == bytes.fromhex("00 5a ab")
    assert [(m.metadata_id, m.value) for m in message.packet.metadata] == [(1, b"\x02")]


def test_packet_out_from_backup_is_refused(harness, kit) -> None:
    harness.primary(election_id=30)
    harness.set_pipeline("table_exact", _with_controller_headers(kit))
    backup = harness.stream()
    assert backup.arbitrate(3).arbitration.status.code == code_pb2.ALREADY_EXISTS
    out = p4runtime_pb2.StreamMessageRequest()
    out.packet.payload = b"\x00\x01\x00\x00"
    backup.send(out)
    message = backup.next()
    assert message.WhichOneof("update") == "error"
    assert message.error.canonical_code == code_pb2.PERMISSION_DENIED


# -- robustness ----------------------------------------------------------------------


def test_garbage_request_bytes_do_not_take_the_server_down(harness) -> None:
    raw = harness.channel.unary_unary(
        "/p4.v1.P4Runtime/Write",
        request_serializer=lambda b: b,
        response_deserializer=lambda b: b,
    )
    with pytest.raises(grpc.RpcError):
        raw(b"\xff\xff\xff\xff\x0f")
    reply = harness.stub.Capabilities(p4runtime_pb2.CapabilitiesRequest())
    assert reply.p4runtime_api_version == P4RUNTIME_API_VERSION


def test_read_without_entities_and_wrong_device(harness, kit) -> None:
    harness.primary()
    harness.set_pipeline("table_exact")
    with pytest.raises(grpc.RpcError) as excinfo:
        list(harness.stub.Read(p4runtime_pb2.ReadRequest(device_id=0)))
    assert _rpc_code(excinfo) == grpc.StatusCode.INVALID_ARGUMENT
    request = p4runtime_pb2.ReadRequest(device_id=9)
    request.entities.add().table_entry.SetInParent()
    with pytest.raises(grpc.RpcError) as excinfo:
        list(harness.stub.Read(request))
    assert _rpc_code(excinfo) == grpc.StatusCode.NOT_FOUND


def test_update_without_entity_or_type_is_invalid(harness, kit, exact) -> None:
    request = p4runtime_pb2.WriteRequest(device_id=0)
    request.election_id.low = harness.election_id
    request.updates.add(type=INSERT)
    request.updates.add(type=p4runtime_pb2.Update.UNSPECIFIED).entity.table_entry.table_id = 1
    with pytest.raises(grpc.RpcError) as excinfo:
        harness.stub.Write(request)
    codes = [e.canonical_code for e in kit.write_errors(excinfo.value)]
    assert codes == [code_pb2.INVALID_ARGUMENT, code_pb2.INVALID_ARGUMENT]


def test_write_without_any_client_and_election_id_is_accepted(harness, kit) -> None:
    # PI accepts writes with no election id while nobody is connected.
    primary = harness.primary(election_id=4)
    names = harness.set_pipeline("table_exact")
    primary.close()
    entry = names.exact_entry("MyIngress.t_fwd", 1, "MyIngress.fwd", port=1)
    deadline = 50
    while True:
        try:
            harness.write((INSERT, kit.entity(table_entry=entry)), election_id=0)
            break
        except grpc.RpcError as exc:
            # The closed stream is noticed by the server asynchronously.
            assert exc.code() == grpc.StatusCode.PERMISSION_DENIED
            deadline -= 1
            assert deadline > 0
            time.sleep(0.02)
    with pytest.raises(grpc.RpcError) as excinfo:
        harness.write((DELETE, kit.entity(table_entry=entry)), election_id=3)
    assert _rpc_code(excinfo) == grpc.StatusCode.PERMISSION_DENIED


def test_unset_election_id_is_a_standby_that_never_becomes_primary(harness, kit) -> None:
    # P4Runtime spec, "Unset Election ID": lower than any election id.
    standby = harness.stream()
    request = p4runtime_pb2.StreamMessageRequest()
    request.arbitration.device_id = 0
    standby.send(request)
    reply = standby.next()
    assert reply.arbitration.status.code == code_pb2.NOT_FOUND
    assert not reply.arbitration.HasField("election_id")
    # A client is connected, none is primary: nobody may write.
    entry = p4runtime_pb2.TableEntry(table_id=1)
    with pytest.raises(grpc.RpcError) as excinfo:
        harness.write((INSERT, kit.entity(table_entry=entry)), election_id=0)
    assert _rpc_code(excinfo) == grpc.StatusCode.PERMISSION_DENIED
    # A second standby is no duplicate; { high: 0 low: 0 } is a real id and wins.
    other = harness.stream()
    other.send(request)
    assert other.next().arbitration.status.code == code_pb2.NOT_FOUND
    zero = harness.stream()
    assert zero.arbitrate(0).arbitration.status.code == code_pb2.OK
    for s in (standby, other):
        note = s.next()
        assert note.arbitration.status.code == code_pb2.ALREADY_EXISTS
        assert note.arbitration.election_id.low == 0
    # The primary leaves: the standbys are told there is no primary.
    zero.close()
    assert standby.next().arbitration.status.code == code_pb2.NOT_FOUND


def test_client_may_move_to_another_role(harness) -> None:
    a = harness.stream()
    assert a.arbitrate(5).arbitration.status.code == code_pb2.OK
    b = harness.stream()
    assert b.arbitrate(2).arbitration.status.code == code_pb2.ALREADY_EXISTS
    move = p4runtime_pb2.StreamMessageRequest()
    move.arbitration.device_id = 0
    move.arbitration.election_id.low = 5
    move.arbitration.role.name = "telemetry"
    a.send(move)
    # b becomes the primary of the default role; a is primary of its new role.
    assert b.next().arbitration.status.code == code_pb2.OK
    reply = a.next()
    assert reply.arbitration.role.name == "telemetry"
    assert reply.arbitration.status.code == code_pb2.OK


def test_clone_session_with_several_replicas(harness, kit) -> None:
    harness.primary()
    harness.set_pipeline("clone_i2e")
    pre = p4runtime_pb2.PacketReplicationEngineEntry()
    pre.clone_session_entry.session_id = 9
    pre.clone_session_entry.replicas.add(egress_port=1, instance=1)
    pre.clone_session_entry.replicas.add(egress_port=2, instance=2)
    harness.write((INSERT, kit.entity(packet_replication_engine_entry=pre)))
    groups = harness.server.device.pipeline.switch.multicast_groups()
    assert len(groups) == 1
    harness.write((DELETE, kit.entity(packet_replication_engine_entry=pre)))
    assert harness.server.device.pipeline.switch.multicast_groups() == {}
    query = p4runtime_pb2.PacketReplicationEngineEntry()
    query.clone_session_entry.SetInParent()
    assert harness.read(kit.entity(packet_replication_engine_entry=query)) == []


def test_second_server_on_the_same_port_fails(harness) -> None:
    other = SwitchServer(ServerOptions(grpc_address=f"127.0.0.1:{harness.port}"))
    try:
        with pytest.raises(ServerError, match="cannot listen"):
            other.start()
    finally:
        other.stop()


def test_registered_client_changing_device_id(harness) -> None:
    a = harness.stream()
    assert a.arbitrate(1).arbitration.status.code == code_pb2.OK
    reply = a.arbitrate(1, device_id=3)
    assert isinstance(reply, grpc.RpcError)
    assert reply.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_const_default_action_is_read_only(harness, kit) -> None:
    harness.primary()
    names = harness.set_pipeline("table_const_entries")
    table = next(t for t in names.info.tables if t.const_default_action_id)
    default = p4runtime_pb2.TableEntry(table_id=table.preamble.id, is_default_action=True)
    default.action.action.action_id = table.const_default_action_id
    action = next(a for a in names.info.actions if a.preamble.id == table.const_default_action_id)
    for p in action.params:
        default.action.action.params.add(param_id=p.id, value=b"\x01")
    with pytest.raises(grpc.RpcError) as excinfo:
        harness.write((MODIFY, kit.entity(table_entry=default)))
    assert _single_error(kit, excinfo).canonical_code == code_pb2.PERMISSION_DENIED


def test_rollback_restores_deleted_entries(harness, kit, exact) -> None:
    keep = exact.exact_entry("MyIngress.t_fwd", 1, "MyIngress.fwd", port=1)
    other = exact.exact_entry("MyIngress.t_fwd", 2, "MyIngress.fwd", port=2)
    harness.write((INSERT, kit.entity(table_entry=keep)), (INSERT, kit.entity(table_entry=other)))
    missing = exact.exact_entry("MyIngress.t_fwd", 3, "MyIngress.fwd", port=3)
    with pytest.raises(grpc.RpcError):
        harness.write(
            (DELETE, kit.entity(table_entry=keep)),
            (DELETE, kit.entity(table_entry=other)),
            (DELETE, kit.entity(table_entry=missing)),
            atomicity=p4runtime_pb2.WriteRequest.ROLLBACK_ON_ERROR,
        )
    got = harness.read(kit.entity(table_entry=p4runtime_pb2.TableEntry(table_id=keep.table_id)))
    assert sorted(e.table_entry.SerializeToString() for e in got) == sorted(
        e.SerializeToString() for e in (keep, other)
    )
    # The restored entries still forward.
    harness.ports[0].inject(bytes.fromhex("0002 00 00"))
    assert harness.ports[2].take() == bytes.fromhex("0002 00 5a")
