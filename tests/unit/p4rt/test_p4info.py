"""Tests of the P4Info index on real p4c output and a hand-written P4Info."""

from pathlib import Path

import pytest
from google.protobuf import json_format, text_format
from p4.config.v1 import p4info_pb2

from controller.p4rt.errors import P4InfoError, P4InfoLookupError
from controller.p4rt.p4info import P4InfoIndex


def test_every_reference_p4info_loads_and_indexes_every_object(reference_dir: Path) -> None:
    files = sorted(reference_dir.glob("*.p4info.txtpb"))
    assert len(files) >= 40
    for path in files:
        idx = P4InfoIndex.load(path)
        msg = idx.p4info
        assert len(idx.tables) == len(msg.tables), path.name
        assert len(idx.actions) == len(msg.actions), path.name
        for t in msg.tables:
            assert idx.table(t.preamble.id).name == t.preamble.name
            assert idx.table(t.preamble.name).id == t.preamble.id
            for f in t.match_fields:
                assert idx.table(t.preamble.id).match_field(f.name).id == f.id


def test_lookup_by_name_alias_and_id(reference_dir: Path) -> None:
    idx = P4InfoIndex.load(reference_dir / "table_exact.p4info.txtpb")
    by_name = idx.table("MyIngress.t_fwd")
    assert idx.table("t_fwd") is by_name
    assert idx.table(40366027) is by_name
    assert [f.name for f in by_name.match_fields] == ["hdr.h.key"]
    assert by_name.match_field("hdr.h.key").bitwidth == 16
    assert by_name.match_field(1).match_type == "exact"
    fwd = idx.action("fwd")
    assert fwd.name == "MyIngress.fwd"
    assert fwd.param("port").bitwidth == 9
    assert idx.table_action(by_name, "set_tag_fwd").id == 32930026
    assert not by_name.needs_priority


def test_match_kinds_from_reference(reference_dir: Path) -> None:
    lpm = P4InfoIndex.load(reference_dir / "table_lpm.p4info.txtpb").table("t_lpm")
    assert lpm.match_fields[0].match_type == "lpm"
    rng = P4InfoIndex.load(reference_dir / "table_range.p4info.txtpb").table("t_range")
    assert [f.match_type for f in rng.match_fields] == ["range", "exact"]
    assert rng.is_const and rng.needs_priority
    opt = P4InfoIndex.load(reference_dir / "table_optional.p4info.txtpb").table("t_opt")
    assert opt.match_field("hdr.h.a").match_type == "optional"


def test_counters_meters_registers_digests_profiles(reference_dir: Path) -> None:
    idx = P4InfoIndex.load(reference_dir / "counters.p4info.txtpb")
    assert idx.counter("c").unit == "both" and idx.counter("c").size == 4
    assert idx.counter("MyIngress.dc").direct_table_id == idx.table("t").id
    meters = P4InfoIndex.load(reference_dir / "meter_color.p4info.txtpb")
    assert meters.meter("m").unit == "packets"
    regs = P4InfoIndex.load(reference_dir / "register_state.p4info.txtpb")
    assert regs.register("cnt").bitwidth == 32
    assert regs.register("MyIngress.small").bitwidth == 8
    dig = P4InfoIndex.load(reference_dir / "digest.p4info.txtpb").digest("learn_t")
    assert [(f.name, f.bitwidth) for f in dig.fields] == [("src", 48), ("port", 9)]
    prof = P4InfoIndex.load(reference_dir / "table_action_profile_miss.p4info.txtpb")
    assert prof.action_profile("sel").with_selector
    assert not prof.action_profile("prof").with_selector
    assert prof.action_profile("prof").table_ids == (prof.table("t_prof").id,)


def test_packet_metadata(index: P4InfoIndex) -> None:
    out = index.controller_packet_metadata("packet_out")
    assert [(m.name, m.bitwidth) for m in out.metadata] == [("egress_port", 9), ("flags", 7)]
    assert out.field(2).name == "flags"
    assert index.controller_packet_metadata(67146229).name == "packet_in"


def test_unknown_name_suggests_close_names(index: P4InfoIndex) -> None:
    with pytest.raises(P4InfoLookupError) as info:
        index.table("ipv4_lpn")
    assert "no table with name 'ipv4_lpn'" in str(info.value)
    assert "ipv4_lpm" in str(info.value)
    assert info.value.suggestions


def test_unknown_id_names_the_id(index: P4InfoIndex) -> None:
    with pytest.raises(P4InfoLookupError, match=r"no action with id 12345"):
        index.action(12345)


def test_unknown_member_names_its_owner(index: P4InfoIndex) -> None:
    with pytest.raises(P4InfoLookupError, match=r"match field of table 'MyIngress.acl'.*'meta.l4"):
        index.table("acl").match_field("meta.l4_dprt")
    with pytest.raises(P4InfoLookupError, match=r"parameter of action 'MyIngress.forward'"):
        index.action("forward").param("prt")


def test_ambiguous_alias_needs_full_name(index: P4InfoIndex) -> None:
    with pytest.raises(P4InfoLookupError, match="ambiguous") as info:
        index.table("t")
    assert set(info.value.suggestions) == {"MyIngress.dup.t", "MyEgress.dup.t"}
    assert index.table("MyEgress.dup.t").id == 33554438


def test_action_not_in_table(index: P4InfoIndex) -> None:
    with pytest.raises(P4InfoLookupError, match=r"action of table 'MyIngress\.steer'"):
        index.table_action(index.table("steer"), "drop")


def test_binary_and_json_formats(index: P4InfoIndex, tmp_path: Path) -> None:
    (tmp_path / "p.bin").write_bytes(index.p4info.SerializeToString())
    (tmp_path / "p.json").write_text(json_format.MessageToJson(index.p4info))
    for name in ("p.bin", "p.json"):
        loaded = P4InfoIndex.load(tmp_path / name)
        assert loaded.p4info == index.p4info
        assert loaded.table("acl").match_field(2).match_type == "range"


def test_load_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txtpb"
    bad.write_text("tables { preamble { id: oops } }")
    with pytest.raises(P4InfoError, match=r"bad\.txtpb"):
        P4InfoIndex.load(bad)
    with pytest.raises(P4InfoError, match="cannot read P4Info file"):
        P4InfoIndex.load(tmp_path / "missing.txtpb")


def test_dangling_action_ref_is_rejected() -> None:
    msg = p4info_pb2.P4Info()
    text_format.Parse('tables { preamble { id: 1 name: "x" } action_refs { id: 9 } }', msg)
    with pytest.raises(P4InfoError, match=r"table 'x' refers to action id 0x9"):
        P4InfoIndex(msg)


def test_duplicate_id_is_rejected() -> None:
    msg = p4info_pb2.P4Info()
    text_format.Parse(
        'actions { preamble { id: 7 name: "a" } } actions { preamble { id: 7 name: "b" } }', msg
    )
    with pytest.raises(P4InfoError, match="duplicate action id 0x7"):
        P4InfoIndex(msg)
