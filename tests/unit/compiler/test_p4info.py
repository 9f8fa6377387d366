"""P4Info back end: ids (p4c's hash), names, widths and match kinds for the corpus."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from google.protobuf import text_format
from p4.config.v1 import p4info_pb2

from p4lite.compiler.diagnostics import CompileError
from p4lite.compiler.driver import Result
from p4lite.compiler.p4info import IdAllocator, jenkins_hash, serialize

CORPUS = Path(__file__).resolve().parents[2] / "conformance"
PROGRAMS = sorted(p.stem for p in (CORPUS / "programs").glob("*.p4"))


def reference(name: str) -> p4info_pb2.P4Info:
    info = p4info_pb2.P4Info()
    text = (CORPUS / "reference" / f"{name}.p4info.txtpb").read_text(encoding="utf-8")
    text_format.Parse(text, info)
    return info


def test_jenkins_hash_gives_p4c_ids() -> None:
    assert (0x02 << 24) | (jenkins_hash("MyIngress.t_fwd") & 0xFFFFFF) == 40366027
    assert (0x01 << 24) | (jenkins_hash("MyIngress.fwd") & 0xFFFFFF) == 24144614


def test_collisions_probe_upwards() -> None:
    ids = IdAllocator()
    first = ids.assign("action", "a")
    ids.reserve(first + 1)
    second = IdAllocator()
    second.reserve(first)
    assert second.assign("action", "a") == first + 1


@pytest.mark.parametrize("name", PROGRAMS)
def test_p4info_equals_reference(name: str, compiled: Callable[[str], Result]) -> None:
    mine = compiled(name).p4info
    ref = reference(name)
    # names, ids, widths, match kinds, sizes and annotations: the whole message
    assert text_format.MessageToString(mine) == text_format.MessageToString(ref)


def test_serialized_formats_round_trip(compiled: Callable[[str], Result]) -> None:
    info = compiled("counters").p4info
    text = serialize(info, "text").decode()
    assert text.startswith("# proto-file: p4/config/v1/p4info.proto")
    again = p4info_pb2.P4Info()
    text_format.Parse(text, again)
    assert again == info
    binary = p4info_pb2.P4Info()
    binary.ParseFromString(serialize(info, "binary"))
    assert binary == info
    assert b'"MyIngress.c"' in serialize(info, "json")


CPU_PROGRAM = """
#include <core.p4>
#include <v1model.p4>
@controller_header("packet_in")
header packet_in_t { bit<9> ingress_port; bit<7> _pad; }
header h_t { bit<8> a; }
struct headers_t { packet_in_t pin; h_t h; }
struct meta_t { }
parser P(packet_in pkt, out headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    state start { pkt.extract(hdr.h); transition accept; }
}
control V(inout headers_t hdr, inout meta_t meta) { apply { } }
control I(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    @hidden action unused_hidden() { }
    action set(bit<8> v) { hdr.h.a = v; }
    @brief("first table") @id(7) table t { key = { hdr.h.a : exact; } actions = { set; } }
    apply { t.apply(); }
}
control E(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) { apply { } }
control C(inout headers_t hdr, inout meta_t meta) { apply { } }
control D(packet_out pkt, in headers_t hdr) { apply { pkt.emit(hdr.pin); pkt.emit(hdr.h); } }
V1Switch(P(), V(), I(), E(), C(), D()) main;
"""


def test_id_annotation_doc_and_controller_header(compile_text: Callable[[str], Result]) -> None:
    info = compile_text(CPU_PROGRAM).p4info
    table = info.tables[0]
    assert table.preamble.id == (0x02 << 24) | 7
    assert table.preamble.doc.brief == "first table"
    assert [a.preamble.name for a in info.actions] == ["NoAction", "I.set"]
    cpm = info.controller_packet_metadata[0]
    assert cpm.preamble.name == "packet_in"
    # the id hashes the header type's name (p4c's), the name is the annotation's
    assert cpm.preamble.id == (0x04 << 24) | (jenkins_hash("packet_in_t") & 0xFFFFFF)
    assert list(cpm.preamble.annotations) == ['@controller_header("packet_in")']
    assert [(m.id, m.name, m.bitwidth) for m in cpm.metadata] == [
        (1, "ingress_port", 9),
        (2, "_pad", 7),
    ]


def _v1(decls: str, ingress: str, headers: str = "h_t h;") -> str:
    """A v1model program with ``decls`` at the top and ``ingress`` as the ingress body."""
    return f"""
#include <core.p4>
#include <v1model.p4>
{decls}
struct headers_t {{ {headers} }}
struct meta_t {{ bit<16> sel; }}
parser P(packet_in pkt, out headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {{
    state start {{ pkt.extract(hdr.h); transition accept; }}
}}
control V(inout headers_t hdr, inout meta_t meta) {{ apply {{ }} }}
control I(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {{
{ingress}
}}
control E(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {{ apply {{ }} }}
control C(inout headers_t hdr, inout meta_t meta) {{ apply {{ }} }}
control D(packet_out pkt, in headers_t hdr) {{ apply {{ pkt.emit(hdr.h); }} }}
V1Switch(P(), V(), I(), E(), C(), D()) main;
"""


NEWTYPES = """
typedef bit<32> addr_base_t;
type addr_base_t addr_t;
type addr_t addr2_t;
@p4runtime_translation("example.org/port", 32) type bit<9> port_t;
type bit<8> unused_t;
header h_t { addr_t dst; addr2_t src; bit<8> x; }
"""


def test_new_types_name_keys_and_params(compile_text: Callable[[str], Result]) -> None:
    ingress = """
    action fwd(port_t p, addr_t a) { sm.egress_spec = (bit<9>)p; hdr.h.dst = a; }
    table t { key = { hdr.h.dst : lpm; hdr.h.src : exact; hdr.h.x : exact; } actions = { fwd; } }
    apply { t.apply(); }
"""
    info = compile_text(_v1(NEWTYPES, ingress)).p4info
    keys = info.tables[0].match_fields
    assert [(k.name, k.bitwidth, k.type_name.name) for k in keys] == [
        ("hdr.h.dst", 32, "addr_t"),
        ("hdr.h.src", 32, "addr2_t"),
        ("hdr.h.x", 8, ""),
    ]
    fwd = next(a for a in info.actions if a.preamble.name == "I.fwd")
    # a translated type has the width its @p4runtime_translation names
    assert [(p.name, p.bitwidth, p.type_name.name) for p in fwd.params] == [
        ("p", 32, "port_t"),
        ("a", 32, "addr_t"),
    ]
    new_types = info.type_info.new_types
    assert sorted(new_types) == ["addr2_t", "addr_t", "port_t"]  # only the referenced ones
    assert new_types["addr2_t"].original_type.bitstring.bit.bitwidth == 32
    assert new_types["port_t"].translated_type.uri == "example.org/port"
    assert new_types["port_t"].translated_type.sdn_bitwidth == 32


def test_serializable_enums_listed_only_when_referenced(
    compile_text: Callable[[str], Result],
) -> None:
    decls = """
enum bit<8> used_e { A = 1, B = 2 }
enum bit<16> header_only_e { X = 0x800 }
typedef used_e used_alias_t;
header h_t { used_e k; header_only_e t; }
"""
    ingress = """
    action a(used_alias_t v) { hdr.h.k = v; }
    table t { key = { hdr.h.k : exact; } actions = { a; } }
    apply { t.apply(); }
"""
    info = compile_text(_v1(decls, ingress)).p4info
    assert list(info.type_info.serializable_enums) == ["used_e"]


def test_selector_key_without_selector_is_dropped(compile_text: Callable[[str], Result]) -> None:
    decls = "header h_t { bit<8> a; }"
    ingress = """
    action a() { }
    table t { key = { hdr.h.a : exact; meta.sel : selector; } actions = { a; } size = 16; }
    apply { t.apply(); }
"""
    result = compile_text(_v1(decls, ingress))
    assert [k.name for k in result.p4info.tables[0].match_fields] == ["hdr.h.a"]
    table = result.json["pipelines"][0]["tables"][0]
    assert [k["name"] for k in table["key"]] == ["hdr.h.a"]


def test_digest_members_typed_as_p4runtime_types(compile_text: Callable[[str], Result]) -> None:
    decls = """
enum kind_t { First, Second }
enum bit<8> code_t { A = 28, B = 17 }
error { Mine }
header h_t { bit<8> a; }
struct learn_t { bit<8> a; error e; kind_t k; code_t c; bool b; }
"""
    ingress = """
    apply {
        learn_t l = { hdr.h.a, error.Mine, kind_t.Second, code_t.B, true };
        digest(1, l);
    }
"""
    info = compile_text(_v1(decls, ingress)).p4info
    members = info.type_info.structs["learn_t"].members
    kinds = [m.type_spec.WhichOneof("type_spec") for m in members]
    assert kinds == ["bitstring", "error", "enum", "serializable_enum", "bool"]
    assert info.type_info.enums["kind_t"].members[1].name == "Second"
    assert list(info.type_info.error.members)[-2:] == ["ParserInvalidArgument", "Mine"]
    assert list(info.type_info.serializable_enums) == ["code_t"]


def test_key_names_as_p4c_generates_them(compile_text: Callable[[str], Result]) -> None:
    decls = """
header h_t { bit<8> a; bit<16> c; }
struct m_t { @name(".global_k") bit<8> k; @name("renamed") bit<8> r; }
"""
    ingress = """
    m_t meta2;
    action x() { }
    table t {
        key = {
            hdr.h.isValid() : exact;
            hdr.h.a & 0x0F : ternary;
            hdr.h.a & 15 : ternary;
            hdr.h.c[11:4] : exact;
            meta2.k : exact;
            meta2.r : exact;
        }
        actions = { x; }
    }
    apply { t.apply(); }
"""
    info = compile_text(_v1(decls, ingress)).p4info
    assert [k.name for k in info.tables[0].match_fields] == [
        "hdr.h.$valid$",
        "hdr.h.a & 0xf",
        "hdr.h.a & 15",
        "hdr.h.c[11:4]",
        "global_k",
        "meta2.renamed",
    ]


def test_cast_key_needs_a_name(compile_text: Callable[[str], Result]) -> None:
    ingress = """
    action x() { }
    table t { key = { (bit<16>)hdr.h.a : exact; } actions = { x; } }
    apply { t.apply(); }
"""
    with pytest.raises(CompileError) as exc:
        compile_text(_v1("header h_t { bit<8> a; }", ingress))
    message = exc.value.diagnostics[0].message
    assert message == "(bit<16>)hdr.h.a: Complex key expression requires a @name annotation"


def test_register_value_types(compile_text: Callable[[str], Result]) -> None:
    decls = "enum bit<8> state_t { IDLE = 0, BUSY = 1 }\nheader h_t { bit<8> a; }"
    ingress = """
    register<bit<8>>(4) plain;
    register<int<16>>(4) signed_r;
    register<bool>(4) flags;
    register<state_t>(4) states;
    apply {
        plain.write(0, hdr.h.a);
        signed_r.write(0, -16s1);
        flags.write(0, true);
        states.write(0, state_t.BUSY);
    }
"""
    info = compile_text(_v1(decls, ingress)).p4info
    specs = {r.preamble.name: r.type_spec for r in info.registers}
    assert specs["I.plain"].bitstring.bit.bitwidth == 8
    assert specs["I.signed_r"].bitstring.int.bitwidth == 16
    assert specs["I.flags"].HasField("bool")
    assert specs["I.states"].serializable_enum.name == "state_t"
    assert list(info.type_info.serializable_enums) == ["state_t"]


def test_translation_width_as_type_or_string(compile_text: Callable[[str], Result]) -> None:
    decls = """
@p4runtime_translation("example.org/a", bit<32>) type bit<16> a_t;
@p4runtime_translation("example.org/s", string) type bit<16> s_t;
header h_t { a_t a; s_t s; }
"""
    ingress = """
    table t { key = { hdr.h.a : exact; hdr.h.s : exact; } actions = { NoAction; } }
    apply { t.apply(); }
"""
    info = compile_text(_v1(decls, ingress)).p4info
    a, s = info.tables[0].match_fields
    assert (a.bitwidth, a.type_name.name) == (32, "a_t")
    assert (s.bitwidth, s.type_name.name) == (0, "s_t")  # no width for a string
    assert info.type_info.new_types["a_t"].translated_type.sdn_bitwidth == 32
    assert info.type_info.new_types["s_t"].translated_type.HasField("sdn_string")


def test_inline_implementation_named_by_its_property(compile_text: Callable[[str], Result]) -> None:
    decls = "header h_t { bit<8> a; }"
    ingress = """
    action a() { }
    table t_ap {
        key = { hdr.h.a : exact; }
        actions = { a; }
        @name("prof") @max_group_size(9) implementation = action_profile(32w16);
    }
    table t_sel {
        key = { hdr.h.a : exact; meta.sel : selector; }
        actions = { a; }
        @name(".sel") @max_group_size(9)
        implementation = action_selector(HashAlgorithm.crc16, 32w16, 32w8);
    }
    apply { t_ap.apply(); t_sel.apply(); }
"""
    result = compile_text(_v1(decls, ingress))
    profiles = {ap.preamble.name: ap for ap in result.p4info.action_profiles}
    assert sorted(profiles) == ["prof", "sel"]
    # p4c writes max_group_size for selectors only
    assert (profiles["prof"].max_group_size, profiles["sel"].max_group_size) == (0, 9)
    profs = result.json["pipelines"][0]["action_profiles"]
    assert sorted(p["name"] for p in profs) == ["prof", "sel"]


def test_digest_member_of_a_new_type(compile_text: Callable[[str], Result]) -> None:
    decls = """
type bit<9> port_t;
header h_t { bit<8> a; }
struct learn_t { bit<8> a; port_t port; }
"""
    ingress = """
    apply { digest<learn_t>(1, { hdr.h.a, (port_t)sm.ingress_port }); }
"""
    info = compile_text(_v1(decls, ingress)).p4info
    port = info.type_info.structs["learn_t"].members[1]
    assert port.type_spec.new_type.name == "port_t"
    assert info.type_info.new_types["port_t"].original_type.bitstring.bit.bitwidth == 9


def test_key_annotations_are_copied(compile_text: Callable[[str], Result]) -> None:
    ingress = """
    action x() { }
    table t {
        key = { hdr.h.a : exact @hidden @brief("the a field") @name("a_key"); }
        actions = { x; }
    }
    apply { t.apply(); }
"""
    mf = compile_text(_v1("header h_t { bit<8> a; }", ingress)).p4info.tables[0].match_fields[0]
    assert (mf.name, list(mf.annotations), mf.doc.brief) == ("a_key", ["@hidden"], "the a field")


def test_action_param_annotations_are_copied(compile_text: Callable[[str], Result]) -> None:
    ingress = """
    action set(@brief("new value") @refers_to(t, a) bit<8> v) { hdr.h.a = v; }
    table t { key = { hdr.h.a : exact; } actions = { set; } }
    apply { t.apply(); }
"""
    info = compile_text(_v1("header h_t { bit<8> a; }", ingress)).p4info
    param = next(a for a in info.actions if a.preamble.name == "I.set").params[0]
    assert (list(param.annotations), param.doc.brief) == (["@refers_to(t, a)"], "new value")


FIELD_IDS = """
@controller_header("packet_in")
header packet_in_t { bit<9> port; @id(1) bit<7> pad; bit<8> reason; }
header h_t { bit<8> a; bit<8> b; bit<8> c; }
"""

FIELD_IDS_INGRESS = """
    action set(bit<8> x, @id(2) bit<8> y, bit<8> z) { hdr.h.a = x; hdr.h.b = y; hdr.h.c = z; }
    table t {
        key = { hdr.h.a : exact; hdr.h.b : exact @id(5); hdr.h.c : exact; }
        actions = { set; }
    }
    apply { t.apply(); }
"""


def test_field_ids_honour_id_annotations_as_p4c(compile_text: Callable[[str], Result]) -> None:
    # p4c's FieldIdAllocator: @id values first; the others from 1 in order, an
    # annotated field counting as one, skipping ids already taken.
    headers = "packet_in_t pin; h_t h;"
    info = compile_text(_v1(FIELD_IDS, FIELD_IDS_INGRESS, headers)).p4info
    keys = [(m.name, m.id) for m in info.tables[0].match_fields]
    assert keys == [("hdr.h.a", 1), ("hdr.h.b", 5), ("hdr.h.c", 2)]
    (action,) = [a for a in info.actions if a.preamble.name == "I.set"]
    assert [(p.name, p.id) for p in action.params] == [("x", 1), ("y", 2), ("z", 3)]
    cpm = info.controller_packet_metadata[0]
    assert [(m.name, m.id) for m in cpm.metadata] == [("port", 2), ("pad", 1), ("reason", 3)]


def test_a_zero_or_repeated_field_id_is_an_error(compile_text: Callable[[str], Result]) -> None:
    ingress = (
        FIELD_IDS_INGRESS.replace("@id(5)", "@id(0)")
        .replace("@id(2) bit<8> y", "@id(7) bit<8> y")
        .replace("bit<8> z)", "@id(7) bit<8> z)")
    )
    with pytest.raises(CompileError) as err:
        compile_text(_v1(FIELD_IDS, ingress, "packet_in_t pin; h_t h;"))
    text = str(err.value)
    assert "error: table I.t: hdr.h.b: 0 is not a valid @id value" in text
    assert "error: action I.set: z: @id 7 is used multiple times" in text
