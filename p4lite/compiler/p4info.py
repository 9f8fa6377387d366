"""P4Info back end: the lowered program as a p4.config.v1 P4Info message.

Imports `midend` (IR), `ast` (annotations) and the p4runtime protos. Ids are
p4c's: (resource prefix << 24) | (Jenkins one-at-a-time hash of the fully
qualified name & 0xffffff), probing upwards on a collision, unless @id says
otherwise.
"""

from __future__ import annotations

import logging

from google.protobuf import json_format, text_format
from p4.config.v1 import p4info_pb2, p4types_pb2

from p4lite.compiler import ast
from p4lite.compiler.diagnostics import CompileError, Diagnostic, Pos
from p4lite.compiler.ir import LAction, LExtern, Lowered, LTable

logger = logging.getLogger(__name__)

PREFIX = {
    "action": 0x01,
    "table": 0x02,
    "value_set": 0x03,
    "controller_header": 0x04,
    "action_profile": 0x11,
    "counter": 0x12,
    "direct_counter": 0x13,
    "meter": 0x14,
    "direct_meter": 0x15,
    "register": 0x16,
    "digest": 0x17,
}

_MATCH = {
    "exact": p4info_pb2.MatchField.EXACT,
    "lpm": p4info_pb2.MatchField.LPM,
    "ternary": p4info_pb2.MatchField.TERNARY,
    "range": p4info_pb2.MatchField.RANGE,
    "optional": p4info_pb2.MatchField.OPTIONAL,
}

_UNIT = {
    "packets": p4info_pb2.CounterSpec.PACKETS,
    "bytes": p4info_pb2.CounterSpec.BYTES,
    "packets_and_bytes": p4info_pb2.CounterSpec.BOTH,
}

_METER_UNIT = {"packets": p4info_pb2.MeterSpec.PACKETS, "bytes": p4info_pb2.MeterSpec.BYTES}

# annotations p4c consumes instead of copying into the P4Info
_CONSUMED = frozenset(
    {
        "name",
        "id",
        "hidden",
        "brief",
        "description",
        "field_list",
        "defaultonly",
        "tableonly",
        "controller_header",
    }
)

_FIELD_CONSUMED = frozenset({"name", "id"})  # of match fields and action params
# the P4Info objects with a doc (brief, description)
_DOCUMENTED = (p4info_pb2.Preamble, p4info_pb2.MatchField, p4info_pb2.Action.Param)

# the P4Info messages that carry annotations
_Annotated = (
    p4info_pb2.Preamble
    | p4info_pb2.MatchField
    | p4info_pb2.Action.Param
    | p4info_pb2.ActionRef
    | p4info_pb2.ControllerPacketMetadata.Metadata
)


def jenkins_hash(name: str) -> int:
    """Bob Jenkins' one-at-a-time hash (32 bits) of the UTF-8 name."""
    h = 0
    for b in name.encode("utf-8"):
        h = (h + b) & 0xFFFFFFFF
        h = (h + (h << 10)) & 0xFFFFFFFF
        h ^= h >> 6
    h = (h + (h << 3)) & 0xFFFFFFFF
    h ^= h >> 11
    return (h + (h << 15)) & 0xFFFFFFFF


class IdAllocator:
    """p4c's id assignment: explicit @id first, then hashed names with probing."""

    def __init__(self) -> None:
        self.used: set[int] = set()

    def reserve(self, value: int) -> None:
        """Mark an explicit @id as taken."""
        self.used.add(value)

    def assign(self, kind: str, name: str) -> int:
        """The id of `name` as resource `kind`."""
        prefix = PREFIX[kind] << 24
        low = jenkins_hash(name) & 0xFFFFFF
        while prefix | low in self.used:
            low = (low + 1) & 0xFFFFFF
        ident = prefix | low
        self.used.add(ident)
        return ident


def _render_annotation(a: ast.Annotation) -> str:
    if not a.args:
        return f"@{a.name}"
    parts: list[str] = []
    for x in a.args:
        match x:
            case ast.StrLit(value=v):
                parts.append('"' + v.replace('"', '\\"') + '"')
            case ast.IntLit(value=v):
                parts.append(str(v))
            case ast.Name(name=n):
                parts.append(n)
            case _:
                parts.append("?")
    return f"@{a.name}({', '.join(parts)})"


def _structured(msg: _Annotated, a: ast.Annotation) -> None:
    """Append a structured annotation, its values folded to literals by the front end.

    p4c leaves the body unset for `@name[]` and no source location.
    """
    sa = msg.structured_annotations.add()
    sa.name = a.name
    for x in a.args:
        _expression(sa.expression_list.expressions.add(), x)
    for pair in a.kv:
        kv = sa.kv_pair_list.kv_pairs.add()
        kv.key = pair.key
        _expression(kv.value, pair.value)


def _expression(out: p4types_pb2.Expression, x: ast.Expr) -> None:
    match x:
        case ast.StrLit(value=text):
            out.string_value = text
        case ast.BoolLit(value=flag):
            out.bool_value = flag
        case ast.IntLit(value=v):
            out.int64_value = v
        case _:
            raise AssertionError(f"{x.pos}: structured annotation value not folded")


def _fill_preamble(
    pre: p4info_pb2.Preamble, ident: int, name: str, alias: str, annos: tuple[ast.Annotation, ...]
) -> None:
    pre.id = ident
    pre.name = name
    pre.alias = alias
    _fill_annotations(pre, annos, _CONSUMED)


def _fill_annotations(
    msg: _Annotated, annos: tuple[ast.Annotation, ...], consumed: frozenset[str]
) -> None:
    """A P4Info object's annotations, as p4c's addAnnotations and addDocumentation write them.

    Every structured annotation, whatever its name; @brief and @description with a
    string as the doc where the object has one; every other annotation not
    ``consumed`` (used by the compiler, or a doc where there is none) as text.
    """
    for a in annos:
        if a.structured:
            _structured(msg, a)
        elif (
            isinstance(msg, _DOCUMENTED)
            and a.name in ("brief", "description")
            and a.args
            and isinstance(a.args[0], ast.StrLit)
        ):
            setattr(msg.doc, a.name, a.args[0].value)
        elif a.name not in consumed:
            msg.annotations.append(_render_annotation(a))


def _aliases(names: list[str]) -> dict[str, str]:
    """Shortest dotted suffix of each name that no other name shares."""
    out: dict[str, str] = {}
    for n in names:
        parts = n.split(".")
        for k in range(1, len(parts) + 1):
            suffix = ".".join(parts[-k:])
            clash = any(o != n and (o == suffix or o.endswith("." + suffix)) for o in names)
            if not clash:
                out[n] = suffix
                break
        else:
            out[n] = n
    return out


def _explicit_id(annos: tuple[ast.Annotation, ...]) -> int | None:
    a = ast.annotation(annos, "id")
    if a and a.args and isinstance(a.args[0], ast.IntLit):
        return a.args[0].value
    return None


def _field_ids(
    what: str, fields: list[tuple[str, tuple[ast.Annotation, ...]]], errors: list[Diagnostic]
) -> list[int]:
    """Ids of the fields of one P4Info object (match fields, parameters, metadata), as p4c's.

    ``@id`` values first; the others are numbered from 1 in order, an
    explicitly numbered field taking its place in the count, skipping the ids
    already given. An @id of 0, or one used twice, is added to ``errors``,
    ``what`` naming the object.
    """
    given: dict[int, int] = {}
    used: set[int] = set()
    for k, (name, annos) in enumerate(fields):
        v = _explicit_id(annos)
        if v is None:
            continue
        anno = ast.annotation(annos, "id")
        pos = anno.pos if anno is not None else Pos("", 0, 0)
        if v == 0:
            errors.append(Diagnostic(pos, f"{what}: {name}: 0 is not a valid @id value"))
        elif v in used:
            errors.append(Diagnostic(pos, f"{what}: {name}: @id {v} is used multiple times"))
        given[k] = v
        used.add(v)
    out: list[int] = []
    index = 1
    for k in range(len(fields)):
        if k in given:
            out.append(given[k])
            index += 1
            continue
        while index in used:
            index += 1
        out.append(index)
        used.add(index)
    return out


class _NewTypes:
    """The P4Runtime new types a P4Info refers to, and their SDN widths."""

    def __init__(self, low: Lowered) -> None:
        self.declared = low.newtypes
        self.used: set[str] = set()

    def translation(self, name: str) -> tuple[str, int | None] | None:
        """``(uri, sdn bitwidth or None for a string)`` of a translated type.

        The width is written as a number (`32`) or as a type (`bit<32>`), a
        string translation as `string`.
        """
        a = ast.annotation(self.declared[name][1], "p4runtime_translation")
        if a is None or len(a.args) < 2 or not isinstance(a.args[0], ast.StrLit):
            return None
        match a.args[1]:
            case ast.IntLit(value=w):
                return a.args[0].value, w
            case ast.TypeExpr(type=ast.TypeRef(kind="bit", width=ast.IntLit(value=w))):
                return a.args[0].value, w
            case ast.TypeExpr(type=ast.TypeRef(kind="string")):
                return a.args[0].value, None
        return None

    def use(self, name: str | None, width: int) -> tuple[str, int]:
        """Record a reference to ``name``; its type name and P4Runtime bitwidth."""
        if not name or name not in self.declared:
            return "", width
        self.used.add(name)
        tr = self.translation(name)
        if tr is not None:
            # a string-translated value has no bitwidth in P4Runtime
            return name, tr[1] if tr[1] is not None else 0
        return name, width

    def fill(self, info: p4info_pb2.P4Info) -> None:
        """The ``type_info.new_types`` entries of every referenced new type."""
        for name in sorted(self.used):
            spec = info.type_info.new_types[name]
            tr = self.translation(name)
            if tr is None:
                spec.original_type.bitstring.bit.bitwidth = self.declared[name][0]
            else:
                spec.translated_type.uri = tr[0]
                if tr[1] is None:
                    spec.translated_type.sdn_string.SetInParent()
                else:
                    spec.translated_type.sdn_bitwidth = tr[1]


def build(low: Lowered) -> p4info_pb2.P4Info:
    """Build the P4Info message."""
    info = p4info_pb2.P4Info()
    info.pkg_info.arch = "v1model"
    ids = IdAllocator()
    newtypes = _NewTypes(low)
    tables: list[LTable] = [
        t
        for pl in low.pipelines
        for t in pl.tables
        if not t.hidden and ast.annotation(t.annotations, "hidden") is None
    ]
    seen: set[str] = set()
    actions: list[LAction] = []
    for a in low.actions:
        if a.hidden or (
            ast.annotation(a.annotations, "hidden") is not None
            and not any(a is ref for t in tables for ref, _ in t.action_refs)
        ):
            continue
        if a.name not in seen:
            seen.add(a.name)
            actions.append(a)
    for fq, decl in low.direct_actions:
        if fq not in seen:
            seen.add(fq)
            actions.append(LAction(fq, -1, [], [], pos=decl.pos, annotations=decl.annotations))
    actions.sort(key=_decl_order)
    tables.sort(key=lambda t: _decl_order_pos(t.pos))
    # a direct counter or meter no table uses is not there (p4c ignores it)
    externs: list[LExtern] = [
        e
        for e in low.externs
        if e.kind not in ("direct_counter", "direct_meter") or e.direct_table is not None
    ]
    all_names = [t.name for t in tables] + [a.name for a in actions] + [e.name for e in externs]
    all_names += [d[0] for d in low.digests]
    all_names += [vs.name for vs in low.value_sets]
    alias = _aliases(all_names)
    # explicit ids are reserved before any hashed id is handed out
    explicit: dict[tuple[str, str], int] = {}
    for kind, name, annos in (
        [("table", t.name, t.annotations) for t in tables]
        + [("action", a.name, a.annotations) for a in actions]
        + [(e.kind, e.name, e.annotations) for e in externs]
        + [("value_set", vs.name, vs.annotations) for vs in low.value_sets]
    ):
        v = _explicit_id(annos)
        if v is not None:
            ident = (PREFIX.get(_kind(kind), 0) << 24) | v if v < (1 << 24) else v
            explicit[(kind, name)] = ident
            ids.reserve(ident)

    def get_id(kind: str, name: str) -> int:
        """The id of a P4Info entity (explicit @id first)."""
        if (kind, name) in explicit:
            return explicit[(kind, name)]
        return ids.assign(_kind(kind), name)

    field_errors: list[Diagnostic] = []  # @id of match fields, parameters, metadata
    table_ids = {t.name: get_id("table", t.name) for t in tables}
    action_ids = {a.name: get_id("action", a.name) for a in actions}
    extern_ids = {e.name: get_id(e.kind, e.name) for e in externs}
    vs_ids = {vs.name: get_id("value_set", vs.name) for vs in low.value_sets}
    for t in tables:
        pt = info.tables.add()
        _fill_preamble(pt.preamble, table_ids[t.name], t.name, alias[t.name], t.annotations)
        key_ids = _field_ids(
            f"table {t.name}", [(k.name, k.annotations) for k in t.keys], field_errors
        )
        for k, kid in zip(t.keys, key_ids, strict=True):
            mf = pt.match_fields.add()
            mf.id = kid
            mf.name = k.name
            type_name, mf.bitwidth = newtypes.use(k.type_name, k.width)
            mf.match_type = _MATCH[k.p4_match]
            if type_name:
                mf.type_name.name = type_name
            _fill_annotations(mf, k.annotations, _FIELD_CONSUMED)
        for act, annos in t.action_refs:
            if act.name not in action_ids:
                continue
            ar = pt.action_refs.add()
            ar.id = action_ids[act.name]
            for an in annos:
                if an.structured:
                    _structured(ar, an)
                elif an.name in ("defaultonly", "tableonly"):
                    ar.annotations.append(_render_annotation(an))
                    ar.scope = (
                        p4info_pb2.ActionRef.DEFAULT_ONLY
                        if an.name == "defaultonly"
                        else p4info_pb2.ActionRef.TABLE_ONLY
                    )
                elif an.name not in _CONSUMED:
                    ar.annotations.append(_render_annotation(an))
        if t.default is not None and t.default[2] and t.default[0].name in action_ids:
            pt.const_default_action_id = action_ids[t.default[0].name]
        if t.implementation is not None:
            pt.implementation_id = extern_ids[t.implementation]
        for e in externs:
            if e.direct_table == t.name and e.kind in ("direct_counter", "direct_meter"):
                pt.direct_resource_ids.append(extern_ids[e.name])
        pt.size = t.size
        if t.idle_timeout:
            pt.idle_timeout_behavior = p4info_pb2.Table.NOTIFY_CONTROL
        if t.const_entries:
            pt.is_const_table = True
        if t.has_entries:
            pt.has_initial_entries = True
    for a in actions:
        pa = info.actions.add()
        _fill_preamble(pa.preamble, action_ids[a.name], a.name, alias[a.name], a.annotations)
        param_ids = _field_ids(
            f"action {a.name}",
            [
                (pname, a.param_annos[i] if i < len(a.param_annos) else ())
                for i, (pname, _) in enumerate(a.params)
            ],
            field_errors,
        )
        for i, ((pname, w), pid) in enumerate(zip(a.params, param_ids, strict=True), start=1):
            pp = pa.params.add()
            pp.id = pid
            pp.name = pname
            ptype = a.param_types[i - 1] if i <= len(a.param_types) else ""
            type_name, pp.bitwidth = newtypes.use(ptype, w)
            if type_name:
                pp.type_name.name = type_name
            if i <= len(a.param_annos):
                _fill_annotations(pp, a.param_annos[i - 1], _FIELD_CONSUMED)
    for e in externs:
        eid = extern_ids[e.name]
        match e.kind:
            case "action_profile" | "action_selector":
                ap = info.action_profiles.add()
                _fill_preamble(ap.preamble, eid, e.name, alias[e.name], e.annotations)
                for t in tables:
                    if t.implementation == e.name:
                        ap.table_ids.append(table_ids[t.name])
                if e.kind == "action_selector":
                    ap.with_selector = True
                ap.size = e.size
                if e.max_group_size and e.kind == "action_selector":
                    ap.max_group_size = e.max_group_size
            case "counter":
                c = info.counters.add()
                _fill_preamble(c.preamble, eid, e.name, alias[e.name], e.annotations)
                c.spec.unit = _UNIT[e.counter_type]
                c.size = e.size
            case "direct_counter":
                dc = info.direct_counters.add()
                _fill_preamble(dc.preamble, eid, e.name, alias[e.name], e.annotations)
                dc.spec.unit = _UNIT[e.counter_type]
                if e.direct_table in table_ids:
                    dc.direct_table_id = table_ids[e.direct_table]
            case "meter":
                m = info.meters.add()
                _fill_preamble(m.preamble, eid, e.name, alias[e.name], e.annotations)
                m.spec.unit = _METER_UNIT[e.mtype]
                m.size = e.size
            case "direct_meter":
                dm = info.direct_meters.add()
                _fill_preamble(dm.preamble, eid, e.name, alias[e.name], e.annotations)
                dm.spec.unit = _METER_UNIT[e.mtype]
                if e.direct_table in table_ids:
                    dm.direct_table_id = table_ids[e.direct_table]
            case "register":
                r = info.registers.add()
                _fill_preamble(r.preamble, eid, e.name, alias[e.name], e.annotations)
                match e.value_type:
                    case "int":
                        r.type_spec.bitstring.int.bitwidth = e.width
                    case "bool":
                        r.type_spec.bool.SetInParent()
                    case vt if vt.startswith("serenum:"):
                        r.type_spec.serializable_enum.name = vt.split(":", 1)[1]
                    case _:
                        r.type_spec.bitstring.bit.bitwidth = e.width
                r.size = e.size
    for vs in low.value_sets:
        pv = info.value_sets.add()
        _fill_preamble(pv.preamble, vs_ids[vs.name], vs.name, alias[vs.name], vs.annotations)
        for i, (fname, w) in enumerate(vs.fields, start=1):
            mf = pv.match.add()
            mf.id = i
            if fname:
                mf.name = fname
            mf.bitwidth = w
            mf.match_type = p4info_pb2.MatchField.EXACT
        pv.size = vs.size
    for dname, _lid, fields in low.digests:
        if any(d.preamble.name == dname for d in info.digests):
            continue
        d = info.digests.add()
        _fill_preamble(d.preamble, ids.assign("digest", dname), dname, alias[dname], ())
        d.type_spec.struct.name = dname
        st = info.type_info.structs[dname]
        for fname, w, ftype in fields:
            mem = st.members.add()
            mem.name = fname
            if ftype == "bool":
                mem.type_spec.bool.SetInParent()
            elif ftype == "error":
                mem.type_spec.error.SetInParent()
            elif ftype.startswith("serenum:"):
                mem.type_spec.serializable_enum.name = ftype.split(":", 1)[1]
            elif ftype.startswith("enum:"):
                mem.type_spec.enum.name = ftype.split(":", 1)[1]
            elif ftype.startswith("newtype:"):
                mem.type_spec.new_type.name, _ = newtypes.use(ftype.split(":", 1)[1], w)
            else:
                mem.type_spec.bitstring.bit.bitwidth = w
    # p4c lists the serializable enums that a match field, an action param or
    # a digest refers to
    enums_used = {k.enum_name for t in tables for k in t.keys}
    enums_used |= {e for a in actions for e in a.param_enums}
    digest_types = {ft for _, _, fields in low.digests for _, _, ft in fields}
    enums_used |= {ft.split(":", 1)[1] for ft in digest_types if ft.startswith("serenum:")}
    enums_used |= {
        e.value_type.split(":", 1)[1] for e in externs if e.value_type.startswith("serenum:")
    }
    for ename, members in low.enums:
        if f"enum:{ename}" in digest_types:
            en = info.type_info.enums[ename]
            for mname, _ in sorted(members, key=lambda m: m[1]):
                en.members.add().name = mname
    if "error" in digest_types:
        info.type_info.error.members.extend(n for n, _ in sorted(low.errors, key=lambda e: e[1]))
    for ename, base_w, members in low.serializable_enums:
        if ename not in enums_used:
            continue
        se = info.type_info.serializable_enums[ename]
        se.underlying_type.bitwidth = base_w
        for mname, val in members:
            mm = se.members.add()
            mm.name = mname
            mm.value = (val & ((1 << base_w) - 1)).to_bytes((base_w + 7) // 8, "big")
    for hname, htype, annos, cfields in low.controller_headers:
        cpm = info.controller_packet_metadata.add()
        # p4c hashes the header type's name, and names the entity after the annotation
        cid = ids.assign("controller_header", htype)
        _fill_preamble(cpm.preamble, cid, hname, hname, annos)
        cpm.preamble.annotations.insert(0, f'@controller_header("{hname}")')
        field_ids = _field_ids(f"header {htype}", [(f[0], f[3]) for f in cfields], field_errors)
        for (fname, w, mtype, fannos), fid in zip(cfields, field_ids, strict=True):
            md = cpm.metadata.add()
            md.id = fid
            md.name = fname
            # p4c's addAnnotations: no doc for a metadata field, its @brief left out
            _fill_annotations(md, fannos, _FIELD_CONSUMED | {"brief", "description"})
            type_name, md.bitwidth = newtypes.use(mtype, w)
            if type_name:
                md.type_name.name = type_name
    if field_errors:
        raise CompileError(field_errors)
    newtypes.fill(info)
    if tables or actions or externs or low.digests or low.extern_calls or low.value_sets:
        info.type_info.SetInParent()
    return info


def _decl_order_pos(pos: object) -> tuple[int, int, int]:
    line = getattr(pos, "line", 0)
    col = getattr(pos, "col", 0)
    builtin = str(getattr(pos, "file", "")).startswith("/usr/local/share")
    return (0 if builtin else 1, line, col)


def _decl_order(a: LAction) -> tuple[int, int, int]:
    return _decl_order_pos(a.pos)


def _kind(kind: str) -> str:
    return {"action_selector": "action_profile"}.get(kind, kind)


def serialize(info: p4info_pb2.P4Info, fmt: str) -> bytes:
    """P4Info in 'text', 'json' or 'binary' form."""
    match fmt:
        case "text":
            header = (
                "# proto-file: p4/config/v1/p4info.proto\n# proto-message: p4.config.v1.P4Info\n\n"
            )
            return (header + text_format.MessageToString(info)).encode()
        case "json":
            return json_format.MessageToJson(info).encode()
        case _:
            return info.SerializeToString()
