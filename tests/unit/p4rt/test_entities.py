"""Tests of entity dataclasses: proto encoding, decoding and the builder."""

import pytest
from google.protobuf import text_format
from hypothesis import given
from hypothesis import strategies as st
from p4.v1 import p4runtime_pb2

from controller.p4rt.entities import (
    ActionProfileGroup,
    ActionProfileMember,
    CloneSessionEntry,
    CounterEntry,
    DigestEntry,
    DirectCounterEntry,
    EntityBuilder,
    Exact,
    Lpm,
    MeterConfig,
    MeterEntry,
    MulticastGroupEntry,
    OptionalMatch,
    Range,
    RegisterEntry,
    Replica,
    TableEntry,
    Ternary,
    Update,
    UpdateType,
    entity_from_proto,
    inserts,
)
from controller.p4rt.errors import EntityError, P4InfoLookupError
from controller.p4rt.p4info import P4InfoIndex


def entity(text: str) -> p4runtime_pb2.Entity:
    msg = p4runtime_pb2.Entity()
    text_format.Parse(text, msg)
    return msg


def test_lpm_entry_encodes_per_spec(index: P4InfoIndex) -> None:
    e = EntityBuilder(index).table_entry(
        "ipv4_lpm",
        {"hdr.ipv4.dstAddr": "10.0.0.0/8"},
        "forward",
        {"dstAddr": "00:00:00:00:01:02", "port": 3},
    )
    assert e.table == "MyIngress.ipv4_lpm" and e.action == "MyIngress.forward"
    assert e.to_proto(index) == entity(
        r"""table_entry {
          table_id: 33554433
          match { field_id: 1 lpm { value: "\n\000\000\000" prefix_len: 8 } }
          action { action { action_id: 16777217
            params { param_id: 1 value: "\001\002" }
            params { param_id: 2 value: "\003" } } }
        }"""
    )


def test_ternary_range_optional_entry(index: P4InfoIndex) -> None:
    e = EntityBuilder(index).table_entry(
        "acl",
        {
            "hdr.ethernet.srcAddr": "aa:00:00:00:00:00&&&ff:00:00:00:00:00",
            "meta.l4_dport": "1000..2000",
            "hdr.ipv4.protocol": 17,
        },
        "drop",
        priority=10,
    )
    assert e.match_dict() == {
        "hdr.ethernet.srcAddr": Ternary(0xAA0000000000, 0xFF0000000000),
        "meta.l4_dport": Range(1000, 2000),
        "hdr.ipv4.protocol": OptionalMatch(17),
    }
    assert e.to_proto(index) == entity(
        r"""table_entry {
          table_id: 33554434
          match { field_id: 1 ternary { value: "\252\000\000\000\000\000"
                                        mask: "\377\000\000\000\000\000" } }
          match { field_id: 2 range { low: "\003\350" high: "\007\320" } }
          match { field_id: 3 optional { value: "\021" } }
          action { action { action_id: 16777218 } }
          priority: 10
        }"""
    )
    assert TableEntry.from_proto(index, e.to_proto(index)) == e


def test_dont_care_fields_are_omitted(index: P4InfoIndex) -> None:
    b = EntityBuilder(index)
    e = b.table_entry(
        "acl",
        {"hdr.ethernet.srcAddr": "0&&&0", "meta.l4_dport": "0..65535", "hdr.ipv4.protocol": None},
        "drop",
        priority=1,
    )
    assert e.match == ()
    assert len(e.to_proto(index).table_entry.match) == 0
    raw = TableEntry("acl", (("meta.l4_dport", Range(0, 0xFFFF)),), "drop", priority=1)
    assert len(raw.to_proto(index).table_entry.match) == 0
    default_route = b.table_entry("ipv4_lpm", {"hdr.ipv4.dstAddr": "0.0.0.0/0"}, "drop")
    assert len(default_route.to_proto(index).table_entry.match) == 0


def test_order_of_match_and_params_does_not_matter() -> None:
    a = TableEntry("t", (("b", Exact(1)), ("a", Exact(2))), "x", (("q", 1), ("p", 2)))
    b = TableEntry("t", (("a", Exact(2)), ("b", Exact(1))), "x", (("p", 2), ("q", 1)))
    assert a == b and hash(a) == hash(b) and a.key() == b.key()


def test_duplicate_field_is_rejected() -> None:
    with pytest.raises(EntityError, match="duplicate names"):
        TableEntry("t", (("a", Exact(1)), ("a", Exact(2))))


def test_action_and_member_are_exclusive() -> None:
    with pytest.raises(EntityError, match="expected at most one"):
        TableEntry("steer", action="forward", member_id=1)
    with pytest.raises(EntityError, match=r"params \(\('port', 1\),\) but no action"):
        TableEntry("steer", params=(("port", 1),), member_id=1)


def test_builder_checks(index: P4InfoIndex) -> None:
    b = EntityBuilder(index)
    with pytest.raises(EntityError, match=r"expected a priority in 1\.\.2147483647, got None"):
        b.table_entry("acl", {"meta.l4_dport": "1..2"}, "drop")
    with pytest.raises(EntityError, match="got 2147483648"):
        b.table_entry("acl", {"meta.l4_dport": "1..2"}, "drop", priority=1 << 31)
    with pytest.raises(EntityError, match="priority -1 out of range"):
        TableEntry("acl", action="drop", priority=-1).to_proto(index)
    with pytest.raises(EntityError, match="takes no priority"):
        b.table_entry("ipv4_lpm", {"hdr.ipv4.dstAddr": "10.0.0.0/8"}, "drop", priority=3)
    with pytest.raises(EntityError, match="missing parameter 'port'"):
        b.table_entry("ipv4_lpm", {"hdr.ipv4.dstAddr": "10.0.0.0/8"}, "forward", {"dstAddr": 1})
    with pytest.raises(P4InfoLookupError, match="'prt'"):
        b.table_entry(
            "ipv4_lpm", {"hdr.ipv4.dstAddr": 1}, "forward", {"dstAddr": 1, "port": 1, "prt": 2}
        )
    with pytest.raises(EntityError, match=r"parameter 'port'.*bitwidth 9: 512"):
        b.table_entry("ipv4_lpm", {"hdr.ipv4.dstAddr": 1}, "forward", {"dstAddr": 1, "port": 512})
    with pytest.raises(EntityError, match=r"'hdr.ipv4.dstAddr' of table 'MyIngress.ipv4_lpm'"):
        b.table_entry("ipv4_lpm", {"hdr.ipv4.dstAddr": "10.0.0.1/8"}, "drop")
    with pytest.raises(EntityError, match=r"exact match field 'hdr\.din\.model_id'"):
        b.table_entry("steer", {}, member_id=1)
    with pytest.raises(EntityError, match="implemented by an action profile"):
        b.table_entry("steer", {"hdr.din.model_id": 1}, "forward", {"dstAddr": 1, "port": 1})
    with pytest.raises(EntityError, match="has no action profile"):
        b.table_entry("ipv4_lpm", {"hdr.ipv4.dstAddr": 1}, group_id=1)
    with pytest.raises(P4InfoLookupError, match="action of table"):
        b.table_entry("steer", {"hdr.din.model_id": 1}, "drop")


def test_default_entry(index: P4InfoIndex) -> None:
    e = EntityBuilder(index).table_entry("ipv4_lpm", action="drop", is_default=True)
    msg = e.to_proto(index)
    assert msg.table_entry.is_default_action
    assert TableEntry.from_proto(index, msg) == e
    assert e.key() == ("default", "MyIngress.ipv4_lpm")
    with pytest.raises(EntityError, match="expected no match"):
        EntityBuilder(index).table_entry(
            "ipv4_lpm", {"hdr.ipv4.dstAddr": 1}, "drop", is_default=True
        )


def test_alias_names_normalize_through_proto(index: P4InfoIndex) -> None:
    e = TableEntry("ipv4_lpm", (("hdr.ipv4.dstAddr", Lpm(0x0A000000, 8)),), "drop")
    back = TableEntry.from_proto(index, e.to_proto(index))
    assert back.table == "MyIngress.ipv4_lpm" and back.action == "MyIngress.drop"
    assert back.match == e.match


def test_wrong_match_kind_is_rejected(index: P4InfoIndex) -> None:
    e = TableEntry("ipv4_lpm", (("hdr.ipv4.dstAddr", Exact(1)),), "drop")
    with pytest.raises(EntityError, match=r"'hdr\.ipv4\.dstAddr' is lpm: got Exact"):
        e.to_proto(index)


def test_profile_member_and_group(index: P4InfoIndex) -> None:
    b = EntityBuilder(index)
    m = b.member("steer_sel", 1, "forward", {"dstAddr": "00:00:00:00:00:01", "port": 2})
    assert ActionProfileMember.from_proto(index, m.to_proto(index)) == m
    assert m.to_proto(index).action_profile_member.action_profile_id == 285212673
    g = b.group("steer_sel", 7, {2: 3, 1: 1})
    assert g.members == ((1, 1), (2, 3))
    assert ActionProfileGroup.from_proto(index, g.to_proto(index)) == g
    ref = b.table_entry("steer", {"hdr.din.model_id": 5}, group_id=7)
    msg = ref.to_proto(index)
    assert msg.table_entry.action.action_profile_group_id == 7
    assert TableEntry.from_proto(index, msg) == ref
    with pytest.raises(EntityError, match="has 9 members: expected <= 8"):
        b.group("steer_sel", 8, list(range(1, 10)))
    with pytest.raises(EntityError, match="weight 0"):
        b.group("steer_sel", 8, {1: 0})
    with pytest.raises(P4InfoLookupError, match="action of table"):
        b.member("steer_sel", 2, "drop")


def test_counters_meters_registers(index: P4InfoIndex) -> None:
    for e in (
        CounterEntry("MyIngress.class_pkts", 3, 10, 1500),
        CounterEntry("MyIngress.class_pkts"),
        MeterEntry("MyIngress.rate", 2, MeterConfig(1000, 100, 2000, 200)),
        MeterEntry("MyIngress.rate", 1),
        RegisterEntry("MyIngress.flow_pkts", 5, 0xDEAD),
        RegisterEntry("MyIngress.flow_pkts"),
    ):
        assert entity_from_proto(index, e.to_proto(index)) == e
    reg = EntityBuilder(index).register("flow_pkts", 5, "0xdead")
    assert reg.to_proto(index).register_entry.data.bitstring == b"\xde\xad"
    with pytest.raises(EntityError, match=r"index 1024 out of range 0..1023"):
        EntityBuilder(index).register("flow_pkts", 1024, 1)
    assert CounterEntry("class_pkts").to_proto(index).counter_entry.HasField("index") is False


def test_direct_counter(index: P4InfoIndex) -> None:
    te = TableEntry("MyIngress.ipv4_lpm", (("hdr.ipv4.dstAddr", Lpm(0x0A000000, 8)),))
    d = DirectCounterEntry(te, 4, 400)
    assert entity_from_proto(index, d.to_proto(index)) == d


def test_packet_replication_entities(index: P4InfoIndex) -> None:
    mg = MulticastGroupEntry(1, (Replica(3), Replica(1, 1)))
    assert mg.replicas == (Replica(1, 1), Replica(3))
    msg = mg.to_proto(index)
    assert msg == entity(
        """packet_replication_engine_entry { multicast_group_entry {
          multicast_group_id: 1
          replicas { egress_port: 1 instance: 1 }
          replicas { egress_port: 3 } } }"""
    )
    assert entity_from_proto(index, msg) == mg
    cs = CloneSessionEntry(5, (Replica(255),), class_of_service=2, packet_length_bytes=128)
    assert entity_from_proto(index, cs.to_proto(index)) == cs
    modern = entity(
        r"""packet_replication_engine_entry { multicast_group_entry {
          multicast_group_id: 2 replicas { port: "\001\000" } } }"""
    )
    assert entity_from_proto(index, modern) == MulticastGroupEntry(2, (Replica(256),))


def test_update_to_proto(index: P4InfoIndex) -> None:
    (u,) = inserts([MulticastGroupEntry(1)])
    assert u == Update(UpdateType.INSERT, MulticastGroupEntry(1))
    assert u.to_proto(index).type == p4runtime_pb2.Update.INSERT
    assert Update(UpdateType.DELETE, u.entity).to_proto(index).type == p4runtime_pb2.Update.DELETE


def test_unsupported_entity_kind(index: P4InfoIndex) -> None:
    with pytest.raises(EntityError, match="unsupported entity kind 'value_set_entry'"):
        entity_from_proto(index, entity("value_set_entry { value_set_id: 1 }"))


def test_decoding_checks_widths(index: P4InfoIndex) -> None:
    bad = entity(
        r"""table_entry { table_id: 33554433
              action { action { action_id: 16777217
                params { param_id: 1 value: "\001" }
                params { param_id: 2 value: "\002\000" } } } }"""
    )
    with pytest.raises(EntityError, match="bitwidth 9: 512"):
        TableEntry.from_proto(index, bad)


@given(
    proto_=st.integers(0, 0xFFFF),
    value=st.integers(0, (1 << 48) - 1),
    mask=st.integers(0, (1 << 48) - 1),
    bounds=st.tuples(st.integers(0, 0xFFFF), st.integers(0, 0xFFFF)).map(sorted),
    priority=st.integers(1, (1 << 31) - 1),
)
def test_acl_round_trip(
    proto_: int, value: int, mask: int, bounds: list[int], priority: int, index: P4InfoIndex
) -> None:
    e = EntityBuilder(index).table_entry(
        "acl",
        {
            "hdr.ethernet.srcAddr": (value & mask, mask),
            "meta.l4_dport": (bounds[0], bounds[1]),
            "hdr.ipv4.protocol": proto_ & 0xFF,
        },
        "drop",
        priority=priority,
    )
    assert TableEntry.from_proto(index, e.to_proto(index)) == e


def test_digest_entry(index: P4InfoIndex) -> None:
    d = DigestEntry("new_flow_t", max_timeout_ns=1000, max_list_size=8, ack_timeout_ns=5)
    msg = d.to_proto(index)
    assert msg.digest_entry.digest_id == index.digest("new_flow_t").id
    assert msg.digest_entry.config.max_list_size == 8
    assert entity_from_proto(index, msg) == d
    query = DigestEntry("new_flow_t", config=False)
    assert not query.to_proto(index).digest_entry.HasField("config")
    assert query.key() == d.key()
