"""Malformed P4Runtime requests never take the server down (hypothesis).

Write and Read requests of every entity kind are drawn half from the loaded
program's P4Info (real ids, so requests reach deep into the server) and half
at random (unknown ids, bad widths, negative values, wrong match kinds, empty
oneofs), plus random bytes on the wire. Every answer must be a status the
P4Runtime specification names for the request, never INTERNAL (an exception
the server did not expect), and the server must go on answering."""

from __future__ import annotations

import json
from pathlib import Path

import grpc
import pytest
from google.rpc import code_pb2, status_pb2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from p4.config.v1 import p4info_pb2
from p4.v1 import p4runtime_pb2

from p4lite.compiler.driver import compile_file

ROOT = Path(__file__).resolve().parents[3]
REFERENCE_PROGRAMS = [
    "table_action_profile_miss",
    "counters",
    "meter_color",
    "register_state",
    "digest",
    "table_range",
    "table_optional",
    "table_lpm",
    "multicast",
]
COMPILED_PROGRAMS = {
    "mac_learning": ROOT / "tests" / "p4" / "mac_learning.p4",
    "direct_meter_read": ROOT / "tests" / "conformance_extra" / "programs" / "direct_meter_read.p4",
}

FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _ints(info: p4info_pb2.P4Info, draw, pool: list[int]) -> int:
    """A real id from `pool` most of the time, else anything a uint32 holds."""
    if pool and draw(st.booleans()):
        return draw(st.sampled_from(pool))
    return draw(st.integers(min_value=0, max_value=2**32 - 1))


def _bytes(draw) -> bytes:
    return draw(st.binary(max_size=20))


def _value(draw, bitwidth: int) -> bytes:
    """A canonical value that fits `bitwidth` bits."""
    v = draw(st.integers(0, (1 << bitwidth) - 1))
    return v.to_bytes(max(1, (v.bit_length() + 7) // 8), "big")


def _action(info, draw, table_id: int = 0) -> p4runtime_pb2.Action:
    table = {t.preamble.id: t for t in info.tables}.get(table_id)
    ids = [r.id for r in table.action_refs] if table else [a.preamble.id for a in info.actions]
    action = p4runtime_pb2.Action(action_id=_ints(info, draw, ids))
    known = {a.preamble.id: a for a in info.actions}.get(action.action_id)
    if known is not None and draw(st.booleans()):
        # Well formed: every parameter once, in width.
        for p in known.params:
            action.params.add(param_id=p.id, value=_value(draw, p.bitwidth))
        return action
    param_ids = [p.id for p in known.params] if known else [1, 2]
    for _ in range(draw(st.integers(0, 3))):
        action.params.add(param_id=_ints(info, draw, param_ids), value=_bytes(draw))
    return action


def _good_match(draw, table: p4info_pb2.Table) -> list[p4runtime_pb2.FieldMatch]:
    mt = p4info_pb2.MatchField
    out = []
    for f in table.match_fields:
        w = f.bitwidth
        fm = p4runtime_pb2.FieldMatch(field_id=f.id)
        if f.match_type != mt.EXACT and draw(st.integers(0, 3)) == 0:
            continue  # don't care
        match f.match_type:
            case mt.EXACT:
                fm.exact.value = _value(draw, w)
            case mt.LPM:
                plen = draw(st.integers(1, w))
                v = int.from_bytes(_value(draw, w), "big") >> (w - plen) << (w - plen)
                fm.lpm.value = v.to_bytes(max(1, (v.bit_length() + 7) // 8), "big")
                fm.lpm.prefix_len = plen
            case mt.TERNARY:
                mask = int.from_bytes(_value(draw, w), "big") or 1
                v = int.from_bytes(_value(draw, w), "big") & mask
                fm.ternary.value = v.to_bytes(max(1, (v.bit_length() + 7) // 8), "big")
                fm.ternary.mask = mask.to_bytes(max(1, (mask.bit_length() + 7) // 8), "big")
            case mt.RANGE:
                lo, hi = sorted(int.from_bytes(_value(draw, w), "big") for _ in range(2))
                fm.range.low = lo.to_bytes(max(1, (lo.bit_length() + 7) // 8), "big")
                fm.range.high = hi.to_bytes(max(1, (hi.bit_length() + 7) // 8), "big")
            case mt.OPTIONAL:
                fm.optional.value = _value(draw, w)
        out.append(fm)
    return out


def _match(info, draw, table_id: int) -> list[p4runtime_pb2.FieldMatch]:
    table = {t.preamble.id: t for t in info.tables}.get(table_id)
    if table is not None and draw(st.booleans()):
        return _good_match(draw, table)
    field_ids = [f.id for f in table.match_fields] if table else [1]
    out = []
    for _ in range(draw(st.integers(0, 3))):
        fm = p4runtime_pb2.FieldMatch(field_id=_ints(info, draw, field_ids))
        match draw(st.sampled_from(["exact", "ternary", "lpm", "range", "optional", "none"])):
            case "exact":
                fm.exact.value = _bytes(draw)
            case "ternary":
                fm.ternary.value, fm.ternary.mask = _bytes(draw), _bytes(draw)
            case "lpm":
                fm.lpm.value = _bytes(draw)
                fm.lpm.prefix_len = draw(st.integers(-5, 300))
            case "range":
                fm.range.low, fm.range.high = _bytes(draw), _bytes(draw)
            case "optional":
                fm.optional.value = _bytes(draw)
        out.append(fm)
    return out


def _good_table_entry(info, draw) -> p4runtime_pb2.TableEntry:
    """An entry the server should take (unless it exists, the table is full...)."""
    table = draw(st.sampled_from(list(info.tables)))
    te = p4runtime_pb2.TableEntry(table_id=table.preamble.id)
    te.match.extend(_good_match(draw, table))
    mt = p4info_pb2.MatchField
    if any(f.match_type in (mt.TERNARY, mt.RANGE, mt.OPTIONAL) for f in table.match_fields):
        te.priority = draw(st.integers(1, 5))
    if table.implementation_id:
        if draw(st.booleans()):
            te.action.action_profile_member_id = draw(st.integers(1, 5))
        else:
            te.action.action_profile_group_id = draw(st.integers(1, 5))
    else:
        refs = [r.id for r in table.action_refs if r.scope != p4info_pb2.ActionRef.DEFAULT_ONLY]
        if refs:
            te.action.action.CopyFrom(_action(info, draw, table.preamble.id))
            te.action.action.action_id = draw(st.sampled_from(refs))
            action = next(a for a in info.actions if a.preamble.id == te.action.action.action_id)
            del te.action.action.params[:]
            for p in action.params:
                te.action.action.params.add(param_id=p.id, value=_value(draw, p.bitwidth))
    if table.idle_timeout_behavior and draw(st.booleans()):
        te.idle_timeout_ns = draw(st.integers(1, 10**9))
    return te


def _table_entry(info, draw) -> p4runtime_pb2.TableEntry:
    if info.tables and draw(st.booleans()):
        return _good_table_entry(info, draw)
    te = p4runtime_pb2.TableEntry(table_id=_ints(info, draw, [t.preamble.id for t in info.tables]))
    te.match.extend(_match(info, draw, te.table_id))
    profiles = [p.preamble.id for p in info.action_profiles]
    match draw(st.sampled_from(["action", "action", "member", "group", "set", "none"])):
        case "action":
            te.action.action.CopyFrom(_action(info, draw, te.table_id))
        case "member":
            te.action.action_profile_member_id = draw(st.integers(0, 5))
        case "group":
            te.action.action_profile_group_id = draw(st.integers(0, 5))
        case "set":
            te.action.action_profile_action_set.SetInParent()
            for _ in range(draw(st.integers(0, 3))):
                a = te.action.action_profile_action_set.action_profile_actions.add(
                    weight=draw(st.integers(-2, 5))
                )
                a.action.CopyFrom(_action(info, draw, te.table_id))
    del profiles
    te.priority = draw(st.one_of(st.integers(1, 5), st.integers(-3, 2**31 - 1)))
    te.is_default_action = draw(st.integers(0, 4)) == 0
    te.idle_timeout_ns = draw(st.one_of(st.just(0), st.integers(-(2**63), 2**63 - 1)))
    te.controller_metadata = draw(st.integers(0, 2**64 - 1))
    te.metadata = _bytes(draw)
    if draw(st.integers(0, 3)) == 0:
        te.counter_data.packet_count = draw(st.integers(-(2**63), 2**63 - 1))
    if draw(st.integers(0, 3)) == 0:
        te.meter_config.cir = draw(st.integers(-(2**63), 2**63 - 1))
        te.meter_config.pburst = draw(st.integers(-(2**63), 2**63 - 1))
    if draw(st.integers(0, 3)) == 0:
        te.time_since_last_hit.SetInParent()
    return te


def _index(entry, draw) -> None:
    if draw(st.booleans()):
        entry.index.index = draw(st.integers(-(2**63), 2**63 - 1))


def _entity(info, draw) -> p4runtime_pb2.Entity:
    e = p4runtime_pb2.Entity()
    kind = draw(
        st.sampled_from(
            [
                "table_entry",
                "action_profile_member",
                "action_profile_group",
                "counter_entry",
                "direct_counter_entry",
                "meter_entry",
                "direct_meter_entry",
                "register_entry",
                "multicast",
                "clone",
                "digest_entry",
                "value_set_entry",
                "extern_entry",
                "empty",
            ]
        )
    )
    profiles = [p.preamble.id for p in info.action_profiles]
    match kind:
        case "table_entry":
            e.table_entry.CopyFrom(_table_entry(info, draw))
        case "action_profile_member":
            m = e.action_profile_member
            m.action_profile_id = _ints(info, draw, profiles)
            m.member_id = draw(st.integers(0, 5))
            if draw(st.booleans()):
                m.action.CopyFrom(_action(info, draw))
        case "action_profile_group":
            g = e.action_profile_group
            g.action_profile_id = _ints(info, draw, profiles)
            g.group_id = draw(st.integers(0, 5))
            g.max_size = draw(st.integers(-3, 40))
            for _ in range(draw(st.integers(0, 4))):
                g.members.add(member_id=draw(st.integers(0, 5)), weight=draw(st.integers(-2, 9)))
        case "counter_entry":
            c = e.counter_entry
            c.counter_id = _ints(info, draw, [x.preamble.id for x in info.counters])
            _index(c, draw)
            c.data.byte_count = draw(st.integers(-(2**63), 2**63 - 1))
        case "direct_counter_entry":
            e.direct_counter_entry.table_entry.CopyFrom(_table_entry(info, draw))
            e.direct_counter_entry.data.packet_count = draw(st.integers(-5, 5))
        case "meter_entry":
            m = e.meter_entry
            m.meter_id = _ints(info, draw, [x.preamble.id for x in info.meters])
            _index(m, draw)
            if draw(st.booleans()):
                m.config.cir = draw(st.integers(-(2**63), 2**63 - 1))
                m.config.cburst = draw(st.integers(-5, 2**40))
                m.config.pir = draw(st.integers(-5, 2**40))
        case "direct_meter_entry":
            e.direct_meter_entry.table_entry.CopyFrom(_table_entry(info, draw))
            if draw(st.booleans()):
                e.direct_meter_entry.config.cir = draw(st.integers(-5, 2**40))
        case "register_entry":
            r = e.register_entry
            r.register_id = _ints(info, draw, [x.preamble.id for x in info.registers])
            _index(r, draw)
            match draw(st.sampled_from(["bitstring", "bool", "struct", "none"])):
                case "bitstring":
                    r.data.bitstring = _bytes(draw)
                case "bool":
                    r.data.bool = True
                case "struct":
                    r.data.struct.members.add(bitstring=_bytes(draw))
        case "multicast":
            g = e.packet_replication_engine_entry.multicast_group_entry
            g.multicast_group_id = draw(st.integers(0, 2**32 - 1))
            for _ in range(draw(st.integers(0, 3))):
                if draw(st.booleans()):
                    g.replicas.add(port=_bytes(draw), instance=draw(st.integers(0, 2**32 - 1)))
                else:
                    g.replicas.add(egress_port=draw(st.integers(0, 2**32 - 1)))
        case "clone":
            c = e.packet_replication_engine_entry.clone_session_entry
            c.session_id = draw(st.integers(0, 2**32 - 1))
            c.packet_length_bytes = draw(st.integers(-(2**31), 2**31 - 1))
            c.class_of_service = draw(st.integers(0, 2**32 - 1))
            for _ in range(draw(st.integers(0, 3))):
                c.replicas.add(egress_port=draw(st.integers(0, 600)))
        case "digest_entry":
            d = e.digest_entry
            d.digest_id = _ints(info, draw, [x.preamble.id for x in info.digests])
            if draw(st.booleans()):
                d.config.max_timeout_ns = draw(st.integers(-(2**63), 2**63 - 1))
                d.config.max_list_size = draw(st.integers(-5, 5))
                d.config.ack_timeout_ns = draw(st.integers(-5, 10**9))
        case "value_set_entry":
            e.value_set_entry.value_set_id = draw(st.integers(0, 5))
        case "extern_entry":
            e.extern_entry.extern_type_id = draw(st.integers(0, 300))
    return e


def _details(exc: grpc.RpcError) -> list[int]:
    for key, value in exc.trailing_metadata() or ():  # type: ignore[attr-defined]
        if key == "grpc-status-details-bin":
            status = status_pb2.Status.FromString(value)
            codes = []
            for detail in status.details:
                err = p4runtime_pb2.Error()
                assert detail.Unpack(err)
                codes.append(err.canonical_code)
            return codes
    return []


def _check(exc: grpc.RpcError, undecodable: bool = False) -> None:
    if undecodable and exc.details() == "Exception deserializing request!":  # type: ignore[attr-defined]
        # grpc's own answer to bytes that are no protobuf message (C++ gRPC's too).
        assert exc.code() == grpc.StatusCode.INTERNAL  # type: ignore[attr-defined]
        return
    assert exc.code() != grpc.StatusCode.INTERNAL, exc.details()  # type: ignore[attr-defined]
    assert code_pb2.INTERNAL not in _details(exc), exc.details()  # type: ignore[attr-defined]


def _fuzz(harness, info: p4info_pb2.P4Info, data) -> None:
    draw = data.draw
    if draw(st.booleans()):
        request = p4runtime_pb2.WriteRequest(device_id=draw(st.sampled_from([0, 0, 0, 7])))
        request.election_id.low = harness.election_id if draw(st.integers(0, 9)) else 3
        request.atomicity = draw(st.integers(0, 3))
        for _ in range(draw(st.integers(0, 4))):
            utype = draw(st.sampled_from([1, 1, 1, 2, 3, 0, 4]))
            request.updates.add(type=utype, entity=_entity(info, draw))
        try:
            harness.stub.Write(request, timeout=30)
        except grpc.RpcError as exc:
            _check(exc)
    else:
        read = p4runtime_pb2.ReadRequest(device_id=draw(st.sampled_from([0, 0, 0, 7])))
        for _ in range(draw(st.integers(0, 3))):
            read.entities.append(_entity(info, draw))
        try:
            for _ in harness.stub.Read(read, timeout=30):
                pass
        except grpc.RpcError as exc:
            _check(exc)


def _set_pipeline(harness, info: p4info_pb2.P4Info, device_config: bytes) -> None:
    request = p4runtime_pb2.SetForwardingPipelineConfigRequest(
        device_id=0, action=p4runtime_pb2.SetForwardingPipelineConfigRequest.VERIFY_AND_COMMIT
    )
    request.election_id.low = harness.election_id
    request.config.p4info.CopyFrom(info)
    request.config.p4_device_config = device_config
    harness.stub.SetForwardingPipelineConfig(request)


@pytest.mark.parametrize("name", REFERENCE_PROGRAMS)
@FUZZ
@given(data=st.data())
def test_fuzzed_requests_on_reference_programs(harness, kit, name: str, data) -> None:
    if not harness.streams:
        harness.primary()
        _set_pipeline(harness, kit.load_p4info(name), kit.load_json(name))
    _fuzz(harness, kit.load_p4info(name), data)
    assert harness.stub.Capabilities(p4runtime_pb2.CapabilitiesRequest(), timeout=10)


@pytest.fixture(scope="module")
def compiled() -> dict[str, tuple[p4info_pb2.P4Info, bytes]]:
    out = {}
    for name, path in COMPILED_PROGRAMS.items():
        result = compile_file(str(path))
        out[name] = (result.p4info, json.dumps(result.json).encode())
    return out


@pytest.mark.parametrize("name", sorted(COMPILED_PROGRAMS))
@FUZZ
@given(data=st.data())
def test_fuzzed_requests_on_compiled_programs(harness, compiled, name: str, data) -> None:
    info, device_config = compiled[name]
    if not harness.streams:
        harness.primary()
        _set_pipeline(harness, info, device_config)
    _fuzz(harness, info, data)
    assert harness.stub.Capabilities(p4runtime_pb2.CapabilitiesRequest(), timeout=10)


@FUZZ
@given(payload=st.binary(max_size=200), method=st.sampled_from(["Write", "Read", "Set", "Get"]))
def test_random_bytes_on_the_wire(harness, payload: bytes, method: str) -> None:
    path = {
        "Write": "/p4.v1.P4Runtime/Write",
        "Read": "/p4.v1.P4Runtime/Read",
        "Set": "/p4.v1.P4Runtime/SetForwardingPipelineConfig",
        "Get": "/p4.v1.P4Runtime/GetForwardingPipelineConfig",
    }[method]
    if method == "Read":
        call = harness.channel.unary_stream(
            path, request_serializer=lambda b: b, response_deserializer=lambda b: b
        )
        try:
            list(call(payload, timeout=10))
        except grpc.RpcError as exc:
            _check(exc, undecodable=True)
    else:
        unary = harness.channel.unary_unary(
            path, request_serializer=lambda b: b, response_deserializer=lambda b: b
        )
        try:
            unary(payload, timeout=10)
        except grpc.RpcError as exc:
            _check(exc, undecodable=True)
    assert harness.stub.Capabilities(p4runtime_pb2.CapabilitiesRequest(), timeout=10)


def _stream_message(info, draw) -> p4runtime_pb2.StreamMessageRequest:
    m = p4runtime_pb2.StreamMessageRequest()
    match draw(st.sampled_from(["packet", "packet", "ack", "arbitration", "other", "empty"])):
        case "packet":
            m.packet.payload = draw(st.binary(max_size=64))
            ids = [md.id for c in info.controller_packet_metadata for md in c.metadata]
            for _ in range(draw(st.integers(0, 3))):
                m.packet.metadata.add(metadata_id=_ints(info, draw, ids), value=_bytes(draw))
        case "ack":
            m.digest_ack.digest_id = _ints(info, draw, [d.preamble.id for d in info.digests])
            m.digest_ack.list_id = draw(st.integers(0, 2**64 - 1))
        case "arbitration":
            m.arbitration.device_id = draw(st.sampled_from([0, 0, 5]))
            if draw(st.booleans()):
                m.arbitration.election_id.low = draw(st.integers(0, 2**64 - 1))
            if draw(st.booleans()):
                m.arbitration.role.name = draw(st.sampled_from(["", "a", "b"]))
        case "other":
            m.other.type_url = "type.googleapis.com/none.Such"
            m.other.value = _bytes(draw)
    return m


@pytest.mark.parametrize("name", ["mac_learning"])
@FUZZ
@given(data=st.data())
def test_fuzzed_stream_messages(harness, compiled, name: str, data) -> None:
    info, device_config = compiled[name]
    if not harness.streams:
        harness.primary()
        _set_pipeline(harness, info, device_config)
    stream = harness.stream()
    first = p4runtime_pb2.StreamMessageRequest()
    first.arbitration.device_id = 0
    # A backup (PacketOuts refused) or the primary for a while (PacketOuts injected).
    first.arbitration.election_id.low = data.draw(st.sampled_from([1, 20]))
    stream.send(first)
    for _ in range(data.draw(st.integers(0, 6))):
        stream.send(_stream_message(info, data.draw))
    stream.close()
    harness.streams.remove(stream)
    # The primary's stream is still served and the server answers.
    assert harness.stub.Capabilities(p4runtime_pb2.CapabilitiesRequest(), timeout=10)
    request = p4runtime_pb2.ReadRequest(device_id=0)
    request.entities.add().table_entry.SetInParent()
    list(harness.stub.Read(request, timeout=10))
