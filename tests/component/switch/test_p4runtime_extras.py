"""More P4Runtime entities over real gRPC: digests, action profile members and
groups, meters, direct counters."""

from __future__ import annotations

import json
from pathlib import Path

import grpc
import pytest
from google.rpc import code_pb2
from p4.v1 import p4runtime_pb2

from p4lite.compiler.driver import compile_file

INSERT = p4runtime_pb2.Update.INSERT
MODIFY = p4runtime_pb2.Update.MODIFY
DELETE = p4runtime_pb2.Update.DELETE


def _single_code(kit, excinfo) -> int:
    assert excinfo.value.code() == grpc.StatusCode.UNKNOWN
    (err,) = kit.write_errors(excinfo.value)
    return err.canonical_code


def test_digest_list_after_digest_entry(harness, kit) -> None:
    stream = harness.primary()
    names = harness.set_pipeline("digest")
    digest = names.info.digests[0]
    entry = p4runtime_pb2.DigestEntry(digest_id=digest.preamble.id)
    entry.config.max_list_size = 1
    harness.write((INSERT, kit.entity(digest_entry=entry)))
    (got,) = harness.read(kit.entity(digest_entry=p4runtime_pb2.DigestEntry()))
    assert got.digest_entry == entry
    harness.ports[0].inject(bytes.fromhex("ffffffffffff 020000000001 88b5 00"))
    assert harness.ports[1].take() is not None
    message = stream.next()
    assert message.WhichOneof("update") == "digest"
    assert message.digest.digest_id == digest.preamble.id
    (data,) = message.digest.data
    members = [m.bitstring for m in data.struct.members]
    assert members == [bytes.fromhex("020000000001"), b"\x00"]
    ack = p4runtime_pb2.StreamMessageRequest()
    ack.digest_ack.digest_id = digest.preamble.id
    ack.digest_ack.list_id = message.digest.list_id
    stream.send(ack)
    with pytest.raises(grpc.RpcError) as excinfo:
        harness.write((INSERT, kit.entity(digest_entry=entry)))
    assert _single_code(kit, excinfo) == code_pb2.ALREADY_EXISTS
    # An ack naming no digest of the P4Info: a StreamError, the stream stays.
    ack.digest_ack.digest_id = 12345
    stream.send(ack)
    message = stream.next()
    assert message.error.canonical_code == code_pb2.INVALID_ARGUMENT
    assert message.error.digest_list_ack.digest_list_ack == ack.digest_ack


def test_no_digest_list_without_config(harness, kit) -> None:
    stream = harness.primary()
    harness.set_pipeline("digest")
    harness.ports[0].inject(bytes.fromhex("ffffffffffff 020000000001 88b5 00"))
    assert harness.ports[1].take() is not None
    assert stream.responses.empty()


@pytest.fixture
def profiles(harness):
    harness.primary()
    return harness.set_pipeline("table_action_profile_miss")


def _profile_id(names, name: str) -> int:
    return next(p.preamble.id for p in names.info.action_profiles if p.preamble.name == name)


def test_action_profile_members_and_entries(harness, kit, profiles) -> None:
    prof = _profile_id(profiles, "MyIngress.prof")
    member = p4runtime_pb2.ActionProfileMember(action_profile_id=prof, member_id=7)
    member.action.CopyFrom(profiles.action_msg("MyIngress.set_r", v=0x42))
    harness.write((INSERT, kit.entity(action_profile_member=member)))
    (got,) = harness.read(
        kit.entity(action_profile_member=p4runtime_pb2.ActionProfileMember(action_profile_id=prof))
    )
    assert got.action_profile_member == member
    table = profiles.table("MyIngress.t_prof")
    entry = p4runtime_pb2.TableEntry(table_id=table.preamble.id)
    entry.match.add(field_id=table.match_fields[0].id).exact.value = b"\x01"
    entry.action.action_profile_member_id = 7
    harness.write((INSERT, kit.entity(table_entry=entry)))
    (got,) = harness.read(
        kit.entity(table_entry=p4runtime_pb2.TableEntry(table_id=table.preamble.id))
    )
    assert got.table_entry.action.action_profile_member_id == 7
    # A direct action on an action-profile table is refused.
    direct = p4runtime_pb2.TableEntry()
    direct.CopyFrom(entry)
    direct.match[0].exact.value = b"\x02"
    direct.action.action.CopyFrom(profiles.action_msg("MyIngress.set_r", v=1))
    with pytest.raises(grpc.RpcError) as excinfo:
        harness.write((INSERT, kit.entity(table_entry=direct)))
    assert _single_code(kit, excinfo) == code_pb2.INVALID_ARGUMENT
    # Modify the member, then delete entry and member.
    member.action.CopyFrom(profiles.action_msg("MyIngress.set_r", v=0x43))
    harness.write((MODIFY, kit.entity(action_profile_member=member)))
    harness.write((DELETE, kit.entity(table_entry=entry)))
    harness.write((DELETE, kit.entity(action_profile_member=member)))
    with pytest.raises(grpc.RpcError) as excinfo:
        harness.write((DELETE, kit.entity(action_profile_member=member)))
    assert _single_code(kit, excinfo) == code_pb2.NOT_FOUND


def test_action_selector_groups(harness, kit, profiles) -> None:
    sel = _profile_id(profiles, "MyIngress.sel")
    for member_id, value in ((1, 0x10), (2, 0x20)):
        member = p4runtime_pb2.ActionProfileMember(action_profile_id=sel, member_id=member_id)
        member.action.CopyFrom(profiles.action_msg("MyIngress.set_r", v=value))
        harness.write((INSERT, kit.entity(action_profile_member=member)))
    group = p4runtime_pb2.ActionProfileGroup(action_profile_id=sel, group_id=5, max_size=4)
    group.members.add(member_id=1, weight=1)
    group.members.add(member_id=2, weight=2)
    harness.write((INSERT, kit.entity(action_profile_group=group)))
    (got,) = harness.read(
        kit.entity(action_profile_group=p4runtime_pb2.ActionProfileGroup(action_profile_id=sel))
    )
    assert got.action_profile_group == group
    missing = p4runtime_pb2.ActionProfileGroup(action_profile_id=sel, group_id=6)
    missing.members.add(member_id=99, weight=1)
    with pytest.raises(grpc.RpcError) as excinfo:
        harness.write((INSERT, kit.entity(action_profile_group=missing)))
    assert _single_code(kit, excinfo) == code_pb2.NOT_FOUND
    table = profiles.table("MyIngress.t_sel")
    entry = p4runtime_pb2.TableEntry(table_id=table.preamble.id)
    entry.match.add(field_id=table.match_fields[0].id).exact.value = b"\x01"
    entry.action.action_profile_group_id = 5
    harness.write((INSERT, kit.entity(table_entry=entry)))
    harness.write((DELETE, kit.entity(table_entry=entry)))
    harness.write((DELETE, kit.entity(action_profile_group=group)))
    assert (
        harness.read(
            kit.entity(action_profile_group=p4runtime_pb2.ActionProfileGroup(action_profile_id=sel))
        )
        == []
    )


def _crc16_arc(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def _selector_setup(harness, kit, profiles) -> tuple[int, p4runtime_pb2.TableEntry]:
    sel = _profile_id(profiles, "MyIngress.sel")
    for member_id, value in ((1, 0x10), (2, 0x20)):
        member = p4runtime_pb2.ActionProfileMember(action_profile_id=sel, member_id=member_id)
        member.action.CopyFrom(profiles.action_msg("MyIngress.set_r", v=value))
        harness.write((INSERT, kit.entity(action_profile_member=member)))
    table = profiles.table("MyIngress.t_sel")
    entry = p4runtime_pb2.TableEntry(table_id=table.preamble.id)
    entry.match.add(field_id=table.match_fields[0].id).exact.value = b"\x09"
    entry.action.action_profile_group_id = 5
    return sel, entry


def test_member_weights_steer_packets_as_bmv2_does(harness, kit, profiles) -> None:
    sel, entry = _selector_setup(harness, kit, profiles)
    group = p4runtime_pb2.ActionProfileGroup(action_profile_id=sel, group_id=5)
    group.members.add(member_id=1, weight=1)
    group.members.add(member_id=2, weight=3)
    harness.write((INSERT, kit.entity(action_profile_group=group)))
    harness.write((INSERT, kit.entity(table_entry=entry)))
    # BMv2 under PI: member 2's weight is two more member copies (handles 2
    # and 3); the selector takes crc16(h.r) % 4 in handle order.
    order = (0x10, 0x20, 0x20, 0x20)
    for r in range(64):
        harness.ports[0].inject(bytes([9, r, 0]))
        out = harness.ports[1].take()
        assert out is not None
        assert out[1] == order[_crc16_arc(bytes([r])) % 4], r


def test_action_selector_errors_as_the_spec_says(harness, kit, profiles) -> None:
    sel, entry = _selector_setup(harness, kit, profiles)
    group = p4runtime_pb2.ActionProfileGroup(action_profile_id=sel, group_id=5, max_size=4)
    group.members.add(member_id=1, weight=0)
    with pytest.raises(grpc.RpcError) as excinfo:
        harness.write((INSERT, kit.entity(action_profile_group=group)))
    assert _single_code(kit, excinfo) == code_pb2.INVALID_ARGUMENT
    group.members[0].weight = 1
    harness.write((INSERT, kit.entity(action_profile_group=group)))
    harness.write((INSERT, kit.entity(table_entry=entry)))
    # max_size is fixed at INSERT; 0 in a MODIFY keeps it.
    resized = p4runtime_pb2.ActionProfileGroup()
    resized.CopyFrom(group)
    resized.max_size = 8
    with pytest.raises(grpc.RpcError) as excinfo:
        harness.write((MODIFY, kit.entity(action_profile_group=resized)))
    assert _single_code(kit, excinfo) == code_pb2.INVALID_ARGUMENT
    resized.max_size = 0
    resized.members.add(member_id=2, weight=3)
    harness.write((MODIFY, kit.entity(action_profile_group=resized)))
    (got,) = harness.read(
        kit.entity(action_profile_group=p4runtime_pb2.ActionProfileGroup(action_profile_id=sel))
    )
    assert got.action_profile_group.max_size == 4
    resized.members[1].weight = 4  # 1 + 4 > max_size 4
    with pytest.raises(grpc.RpcError) as excinfo:
        harness.write((MODIFY, kit.entity(action_profile_group=resized)))
    assert _single_code(kit, excinfo) == code_pb2.RESOURCE_EXHAUSTED
    # In use: a member in a group, a group an entry points to.
    member = p4runtime_pb2.ActionProfileMember(action_profile_id=sel, member_id=1)
    with pytest.raises(grpc.RpcError) as excinfo:
        harness.write((DELETE, kit.entity(action_profile_member=member)))
    assert _single_code(kit, excinfo) == code_pb2.FAILED_PRECONDITION
    with pytest.raises(grpc.RpcError) as excinfo:
        harness.write((DELETE, kit.entity(action_profile_group=group)))
    assert _single_code(kit, excinfo) == code_pb2.FAILED_PRECONDITION
    harness.write((DELETE, kit.entity(table_entry=entry)))
    harness.write((DELETE, kit.entity(action_profile_group=group)))
    harness.write((DELETE, kit.entity(action_profile_member=member)))


def test_meter_config_write_and_read(harness, kit) -> None:
    harness.primary()
    names = harness.set_pipeline("meter_color")
    meter = names.meter("MyIngress.m")
    entry = p4runtime_pb2.MeterEntry(meter_id=meter.preamble.id)
    entry.index.index = 1
    entry.config.cir = 10
    entry.config.cburst = 2
    entry.config.pir = 20
    entry.config.pburst = 4
    harness.write((MODIFY, kit.entity(meter_entry=entry)))
    query = p4runtime_pb2.MeterEntry(meter_id=meter.preamble.id)
    query.index.index = 1
    (got,) = harness.read(kit.entity(meter_entry=query))
    assert got.meter_entry.config == entry.config
    # Unset config: back to unconfigured (always green).
    reset = p4runtime_pb2.MeterEntry(meter_id=meter.preamble.id)
    reset.index.index = 1
    harness.write((MODIFY, kit.entity(meter_entry=reset)))
    (got,) = harness.read(kit.entity(meter_entry=query))
    assert not got.meter_entry.HasField("config")
    with pytest.raises(grpc.RpcError) as excinfo:
        harness.write((INSERT, kit.entity(meter_entry=entry)))
    assert _single_code(kit, excinfo) == code_pb2.INVALID_ARGUMENT


def test_direct_counter_read_and_write(make_harness, kit) -> None:
    h = make_harness(ports=(0, 1, 2, 3), cpu_port=None)
    h.primary()
    names = h.set_pipeline("counters")
    run = kit.StfRun(h, names)
    run.load(kit.PROGRAMS / "counters.stf")
    run.run()
    direct = h.read(kit.entity(direct_counter_entry=p4runtime_pb2.DirectCounterEntry()))
    assert direct, "the counters program has a table with a direct counter"
    total = sum(d.direct_counter_entry.data.packet_count for d in direct)
    assert total > 0
    # The direct counter counts packets only (unit PACKETS).
    assert all(d.direct_counter_entry.data.byte_count == 0 for d in direct)
    target = direct[0].direct_counter_entry
    write = p4runtime_pb2.DirectCounterEntry()
    write.table_entry.CopyFrom(target.table_entry)
    write.data.packet_count = 1000
    h.write((MODIFY, kit.entity(direct_counter_entry=write)))
    query = p4runtime_pb2.DirectCounterEntry()
    query.table_entry.CopyFrom(target.table_entry)
    (got,) = h.read(kit.entity(direct_counter_entry=query))
    assert got.direct_counter_entry.data.packet_count == 1000
    # Table entries carry the counter when asked for it.
    asked = p4runtime_pb2.TableEntry(table_id=target.table_entry.table_id)
    asked.counter_data.SetInParent()
    entries = h.read(kit.entity(table_entry=asked))
    assert any(e.table_entry.counter_data.packet_count == 1000 for e in entries)


def _oneshot_entry(profiles, key: int, *actions: tuple[int, int]) -> p4runtime_pb2.TableEntry:
    table = profiles.table("MyIngress.t_sel")
    entry = p4runtime_pb2.TableEntry(table_id=table.preamble.id)
    entry.match.add(field_id=table.match_fields[0].id).exact.value = bytes([key])
    aset = entry.action.action_profile_action_set
    for value, weight in actions:
        a = aset.action_profile_actions.add(weight=weight)
        a.action.CopyFrom(profiles.action_msg("MyIngress.set_r", v=value))
    return entry


def _picks(harness, key: int) -> list[int]:
    out = []
    for r in range(32):
        harness.ports[0].inject(bytes([key, r, 0]))
        frame = harness.ports[1].take()
        assert frame is not None
        out.append(frame[1])
    return out


def test_one_shot_action_sets(harness, kit, profiles) -> None:
    sel = _profile_id(profiles, "MyIngress.sel")
    entry = _oneshot_entry(profiles, 9, (0x10, 1), (0x20, 3))
    harness.write((INSERT, kit.entity(table_entry=entry)))
    # Read back as written (the spec's read-write symmetry for one-shots).
    (got,) = harness.read(kit.entity(table_entry=p4runtime_pb2.TableEntry(table_id=entry.table_id)))
    assert got.table_entry == entry
    # As PI makes it: two members and a group of weights 1 and 3.
    order = (0x10, 0x20, 0x20, 0x20)
    assert _picks(harness, 9) == [order[_crc16_arc(bytes([r])) % 4] for r in range(32)]
    # Its members and group are the server's own: not read, not mixed with manual ones.
    assert harness.read(kit.entity(action_profile_member=p4runtime_pb2.ActionProfileMember())) == []
    assert harness.read(kit.entity(action_profile_group=p4runtime_pb2.ActionProfileGroup())) == []
    member = p4runtime_pb2.ActionProfileMember(action_profile_id=sel, member_id=1)
    member.action.CopyFrom(profiles.action_msg("MyIngress.set_r", v=1))
    with pytest.raises(grpc.RpcError) as excinfo:
        harness.write((INSERT, kit.entity(action_profile_member=member)))
    assert _single_code(kit, excinfo) == code_pb2.INVALID_ARGUMENT
    # MODIFY replaces the set; DELETE frees it, and the selector takes members again.
    changed = _oneshot_entry(profiles, 9, (0x30, 1))
    harness.write((MODIFY, kit.entity(table_entry=changed)))
    assert set(_picks(harness, 9)) == {0x30}
    (got,) = harness.read(kit.entity(table_entry=p4runtime_pb2.TableEntry(table_id=entry.table_id)))
    assert got.table_entry == changed
    harness.write((DELETE, kit.entity(table_entry=changed)))
    switch = harness.server.device.pipeline.switch
    assert switch.members("MyIngress.sel") == {} and switch.groups("MyIngress.sel") == {}
    harness.write((INSERT, kit.entity(action_profile_member=member)))
    # ...and now refuses one-shots.
    with pytest.raises(grpc.RpcError) as excinfo:
        harness.write((INSERT, kit.entity(table_entry=entry)))
    assert _single_code(kit, excinfo) == code_pb2.INVALID_ARGUMENT


@pytest.mark.parametrize("mutate", ["weight_0", "empty", "foreign_action", "no_selector"])
def test_malformed_one_shots_are_invalid(harness, kit, profiles, mutate: str) -> None:
    entry = _oneshot_entry(profiles, 9, (0x10, 1))
    match mutate:
        case "weight_0":
            entry.action.action_profile_action_set.action_profile_actions[0].weight = 0
        case "empty":
            entry.action.action_profile_action_set.ClearField("action_profile_actions")
        case "foreign_action":
            entry.action.action_profile_action_set.action_profile_actions[0].action.action_id = (
                profiles.action("NoAction").preamble.id + 12345
            )
        case "no_selector":
            entry.table_id = profiles.table("MyIngress.t_prof").preamble.id
    with pytest.raises(grpc.RpcError) as excinfo:
        harness.write((INSERT, kit.entity(table_entry=entry)))
    assert _single_code(kit, excinfo) in (code_pb2.INVALID_ARGUMENT, code_pb2.NOT_FOUND)
    switch = harness.server.device.pipeline.switch
    assert switch.members("MyIngress.sel") == {} and switch.groups("MyIngress.sel") == {}


def test_one_shot_rolled_back_with_its_batch(harness, kit, profiles) -> None:
    good = _oneshot_entry(profiles, 9, (0x10, 2))
    bad = _oneshot_entry(profiles, 8, (0x10, 0))
    with pytest.raises(grpc.RpcError):
        harness.write(
            (INSERT, kit.entity(table_entry=good)),
            (INSERT, kit.entity(table_entry=bad)),
            atomicity=p4runtime_pb2.WriteRequest.ROLLBACK_ON_ERROR,
        )
    switch = harness.server.device.pipeline.switch
    assert switch.entries("MyIngress.t_sel") == []
    assert switch.members("MyIngress.sel") == {} and switch.groups("MyIngress.sel") == {}
    harness.write((INSERT, kit.entity(table_entry=good)))
    assert set(_picks(harness, 9)) == {0x10}
    # DELETE and MODIFY of a one-shot undone: the set is back, read and forwarding.
    changed = _oneshot_entry(profiles, 9, (0x30, 1))
    for first in ((DELETE, good), (MODIFY, changed)):
        with pytest.raises(grpc.RpcError):
            harness.write(
                (first[0], kit.entity(table_entry=first[1])),
                (INSERT, kit.entity(table_entry=bad)),
                atomicity=p4runtime_pb2.WriteRequest.ROLLBACK_ON_ERROR,
            )
        (got,) = harness.read(
            kit.entity(table_entry=p4runtime_pb2.TableEntry(table_id=good.table_id))
        )
        assert got.table_entry == good
        assert set(_picks(harness, 9)) == {0x10}
        assert len(switch.groups("MyIngress.sel")) == 1


DIRECT_METER_P4 = (
    Path(__file__).resolve().parents[2] / "conformance_extra" / "programs" / "direct_meter_read.p4"
)


def test_direct_meter_through_table_entries(harness, kit) -> None:
    result = compile_file(str(DIRECT_METER_P4))
    harness.primary()
    request = p4runtime_pb2.SetForwardingPipelineConfigRequest(
        device_id=0, action=p4runtime_pb2.SetForwardingPipelineConfigRequest.VERIFY_AND_COMMIT
    )
    request.election_id.low = harness.election_id
    request.config.p4info.CopyFrom(result.p4info)
    request.config.p4_device_config = json.dumps(result.json).encode()
    harness.stub.SetForwardingPipelineConfig(request)
    names = kit.Names(result.p4info)
    entry = names.exact_entry("MyIngress.t", 1, "MyIngress.mark", tag=0x11)
    # 1 packet/s: no refill during the test; CBS 1 and PBS 2 packets.
    entry.meter_config.cir, entry.meter_config.cburst = 1, 1
    entry.meter_config.pir, entry.meter_config.pburst = 1, 2
    harness.write((INSERT, kit.entity(table_entry=entry)))

    def colours(n: int) -> list[int]:
        out = []
        for _ in range(n):
            harness.ports[0].inject(bytes.fromhex("01 00 00 00"))
            frame = harness.ports[1].take()
            assert frame is not None
            out.append(frame[1])
        return out

    assert colours(3) == [0, 1, 2]  # GREEN, YELLOW, RED
    key = p4runtime_pb2.TableEntry(table_id=entry.table_id)
    key.match.extend(entry.match)
    # meter_config comes back only when the request asks for it.
    (plain,) = harness.read(kit.entity(table_entry=key))
    assert not plain.table_entry.HasField("meter_config")
    ask = p4runtime_pb2.TableEntry()
    ask.CopyFrom(key)
    ask.meter_config.SetInParent()
    (got,) = harness.read(kit.entity(table_entry=ask))
    assert got.table_entry.meter_config == entry.meter_config
    direct = p4runtime_pb2.DirectMeterEntry()
    direct.table_entry.CopyFrom(key)
    (got,) = harness.read(kit.entity(direct_meter_entry=direct))
    assert got.direct_meter_entry.config == entry.meter_config
    # MODIFY without meter_config: back to the default, every packet GREEN.
    entry.ClearField("meter_config")
    harness.write((MODIFY, kit.entity(table_entry=entry)))
    assert colours(3) == [0, 0, 0]
    (got,) = harness.read(kit.entity(table_entry=ask))
    assert not got.table_entry.HasField("meter_config")
    # DirectMeterEntry MODIFY configures it again (buckets start full).
    direct.config.cir, direct.config.cburst, direct.config.pir, direct.config.pburst = 1, 0, 1, 1
    harness.write((MODIFY, kit.entity(direct_meter_entry=direct)))
    assert colours(2) == [1, 2]
