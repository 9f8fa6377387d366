"""Every conformance program loads through SetForwardingPipelineConfig and
answers wildcard reads of every entity kind."""

from __future__ import annotations

from pathlib import Path

import pytest
from p4.v1 import p4runtime_pb2

REFERENCE = Path(__file__).resolve().parents[2] / "conformance" / "reference"
NAMES = sorted(p.name.removesuffix(".p4info.txtpb") for p in REFERENCE.glob("*.p4info.txtpb"))


def _wildcards() -> list[p4runtime_pb2.Entity]:
    E = p4runtime_pb2.Entity
    default = p4runtime_pb2.TableEntry(is_default_action=True)
    mc = p4runtime_pb2.PacketReplicationEngineEntry()
    mc.multicast_group_entry.SetInParent()
    clone = p4runtime_pb2.PacketReplicationEngineEntry()
    clone.clone_session_entry.SetInParent()
    return [
        E(table_entry=p4runtime_pb2.TableEntry()),
        E(table_entry=default),
        E(action_profile_member=p4runtime_pb2.ActionProfileMember()),
        E(action_profile_group=p4runtime_pb2.ActionProfileGroup()),
        E(counter_entry=p4runtime_pb2.CounterEntry()),
        E(direct_counter_entry=p4runtime_pb2.DirectCounterEntry()),
        E(meter_entry=p4runtime_pb2.MeterEntry()),
        E(direct_meter_entry=p4runtime_pb2.DirectMeterEntry()),
        E(register_entry=p4runtime_pb2.RegisterEntry()),
        E(packet_replication_engine_entry=mc),
        E(packet_replication_engine_entry=clone),
        E(digest_entry=p4runtime_pb2.DigestEntry()),
    ]


@pytest.mark.parametrize("name", NAMES)
def test_wildcard_reads(harness, name: str) -> None:
    harness.primary()
    names = harness.set_pipeline(name)
    entities = harness.read(*_wildcards())
    tables_with_default = [t for t in names.info.tables if not t.implementation_id]
    defaults = [e for e in entities if e.table_entry.is_default_action]
    assert len(defaults) == len(tables_with_default)
    registers = [e for e in entities if e.WhichOneof("entity") == "register_entry"]
    assert len(registers) == sum(r.size for r in names.info.registers)
    const_entries = [e for e in entities if e.table_entry.is_const]
    if any(t.is_const_table and t.has_initial_entries for t in names.info.tables):
        assert const_entries
