"""BMv2 back end: the lowered program as behavioral-model JSON (format 2.23).

Imports `midend` only (for the IR). Section order and spelling follow what
p4c-bm2-ss writes, so that tools diffing against p4c's output stay quiet.
"""

from __future__ import annotations

import logging
from typing import Any

from p4lite.compiler.ir import VARBIT_WIDTH, LAction, Lowered, LTable, LValueSet

logger = logging.getLogger(__name__)

J = dict[str, Any]

FIELD_ALIASES: tuple[tuple[str, str], ...] = (
    ("queueing_metadata.enq_timestamp", "enq_timestamp"),
    ("queueing_metadata.enq_qdepth", "enq_qdepth"),
    ("queueing_metadata.deq_timedelta", "deq_timedelta"),
    ("queueing_metadata.deq_qdepth", "deq_qdepth"),
    ("intrinsic_metadata.ingress_global_timestamp", "ingress_global_timestamp"),
    ("intrinsic_metadata.egress_global_timestamp", "egress_global_timestamp"),
    ("intrinsic_metadata.mcast_grp", "mcast_grp"),
    ("intrinsic_metadata.egress_rid", "egress_rid"),
    ("intrinsic_metadata.priority", "priority"),
)


def _src(pos: Any, fragment: str) -> J | None:
    if pos is None or pos.line <= 0:
        return None
    # p4c's source_info columns are 0-based
    return {
        "filename": pos.file,
        "line": pos.line,
        "column": pos.col - 1,
        "source_fragment": fragment,
    }


def _table_json(t: LTable) -> J:
    out: J = {"name": t.name, "id": t.id}
    si = _src(t.pos, t.name.split(".")[-1]) if not t.hidden else None
    if si is not None:
        out["source_info"] = si
    keys = []
    for k in t.keys:
        mt = "ternary" if k.match_type == "optional" else k.match_type
        keys.append(
            {
                "match_type": mt,
                "name": k.name,
                "target": k.target,
                "mask": None
                if k.mask is None
                else f"0x{k.mask:0{max(1, (k.width + 7) // 8) * 2}x}",
            }
        )
    kinds = {("ternary" if k.match_type == "optional" else k.match_type) for k in t.keys}
    if "range" in kinds:
        table_mt = "range"
    elif "ternary" in kinds:
        table_mt = "ternary"
    elif "lpm" in kinds:
        table_mt = "lpm"
    else:
        table_mt = "exact"
    out["key"] = keys
    out["match_type"] = table_mt
    if t.implementation is None:
        out["type"] = "simple"
    else:
        out["type"] = "indirect_ws" if t.selector else "indirect"
        out["action_profile"] = t.implementation
    out["max_size"] = t.size
    out["with_counters"] = t.with_counters
    out["support_timeout"] = t.idle_timeout
    out["direct_meters"] = t.direct_meter
    out["action_ids"] = [a.id for a in t.actions]
    out["actions"] = [a.name for a in t.actions]
    out["base_default_next"] = t.base_default_next
    out["next_tables"] = dict(t.next_tables)
    if t.default is not None and t.implementation is None:
        act, data, is_const = t.default
        out["default_entry"] = {
            "action_id": act.id,
            "action_const": is_const or t.hidden,
            "action_data": [
                hex(v & ((1 << w) - 1)) for v, (_, w) in zip(data, act.params, strict=True)
            ],
            "action_entry_const": is_const or t.hidden,
        }
    if t.entries:
        out["entries"] = [{k: v for k, v in e.items() if v is not None} for e in t.entries]
    return out


def _vset_json(i: int, vs: LValueSet) -> J:
    out: J = {"name": vs.name, "id": i}
    si = _src(vs.pos, vs.name.split(".")[-1])
    if si is not None:
        out["source_info"] = si
    out["compressed_bitwidth"] = vs.bitwidth
    return out


def _action_json(a: LAction) -> J:
    return {
        "name": a.name,
        "id": a.id,
        "runtime_data": [{"name": n, "bitwidth": w} for n, w in a.params],
        "primitives": a.primitives,
    }


def to_json(low: Lowered, program_name: str) -> J:
    """Assemble the BMv2 JSON document."""
    header_types: list[J] = []
    ht_ids: dict[str, int] = {}
    scalars = list(low.scalars)
    header_types.append(
        {"name": "scalars_0", "id": 0, "fields": [[n, w, s] for n, w, s in scalars]}
    )
    ht_ids["scalars_0"] = 0
    for name, fields in low.header_types.items():
        if name == "scalars_0":
            continue
        ht_ids[name] = len(header_types)
        ht: J = {
            "name": name,
            "id": len(header_types),
            "fields": [[n, "*" if w == VARBIT_WIDTH else w, s] for n, w, s in fields],
        }
        if name in low.header_max_length:
            ht["max_length"] = low.header_max_length[name]
        header_types.append(ht)
    headers = [
        {"name": n, "id": i, "header_type": t, "metadata": m, "pi_omit": True}
        for i, (n, t, m) in enumerate(low.headers)
    ]
    stacks = [
        {"name": n, "id": i, "header_type": t, "size": size, "header_ids": ids}
        for i, (n, t, size, ids) in enumerate(low.stacks)
    ]
    union_types = [
        {"name": n, "id": i, "headers": [list(x) for x in hs]}
        for i, (n, hs) in enumerate(low.union_types.items())
    ]
    unions = [
        {"name": n, "id": i, "union_type": t, "header_ids": ids, "pi_omit": True}
        for i, (n, t, ids) in enumerate(low.unions)
    ]
    parsers = [
        {
            "name": "parser",
            "id": 0,
            "init_state": low.init_state,
            "parse_states": [
                {
                    "name": s.name,
                    "id": i,
                    "parser_ops": s.ops,
                    "transitions": s.transitions,
                    "transition_key": s.key,
                }
                for i, s in enumerate(low.states)
            ],
        }
    ]
    deparser: J = {"name": "deparser", "id": 0}
    dsi = _src(low.deparser_pos, low.arch_names.get("deparser", ""))
    if dsi is not None:
        deparser["source_info"] = dsi
    deparser["order"] = low.deparser
    deparser["primitives"] = []
    meters: list[J] = []
    counters: list[J] = []
    registers: list[J] = []
    profiles: dict[str, list[J]] = {}
    table_sizes = {t.name: t.size for pl in low.pipelines for t in pl.tables}
    for e in low.externs:
        si = _src(e.pos, e.name.split(".")[-1])
        if e.kind in ("direct_counter", "direct_meter") and e.direct_table is None:
            continue  # p4c: "Direct counter/meter not used; ignoring"
        match e.kind:
            case "register":
                registers.append(
                    {
                        "name": e.name,
                        "id": len(registers),
                        "source_info": si,
                        "size": e.size,
                        "bitwidth": e.width,
                    }
                )
            case "counter":
                counters.append(
                    {
                        "name": e.name,
                        "id": len(counters),
                        "source_info": si,
                        "size": e.size,
                        "is_direct": False,
                    }
                )
            case "direct_counter":
                counters.append(
                    {
                        "name": e.name,
                        "id": len(counters),
                        "is_direct": True,
                        "binding": e.direct_table,
                        "source_info": si,
                    }
                )
            case "meter":
                meters.append(
                    {
                        "name": e.name,
                        "id": len(meters),
                        "source_info": si,
                        "is_direct": False,
                        "size": e.size,
                        "rate_count": 2,
                        "type": e.mtype,
                    }
                )
            case "direct_meter":
                meters.append(
                    {
                        "name": e.name,
                        "id": len(meters),
                        "source_info": si,
                        "is_direct": True,
                        "rate_count": 2,
                        "type": e.mtype,
                        "size": table_sizes.get(e.direct_table or "", 1024),
                        "binding": e.direct_table,
                        "result_target": (e.selector or {}).get("value"),
                    }
                )
            case "action_profile" | "action_selector":
                prof: J = {"name": e.name, "id": 0, "source_info": si, "max_size": e.size}
                if e.kind == "action_selector":
                    prof["selector"] = e.selector or {"algo": e.mtype, "input": []}
                for pl in low.pipelines:
                    if any(t.implementation == e.name for t in pl.tables):
                        profiles.setdefault(pl.name, []).append(prof)
    pipelines: list[J] = []
    for i, pl in enumerate(low.pipelines):
        profs = profiles.get(pl.name, [])
        for k, p in enumerate(profs):
            p["id"] = k
        pj: J = {"name": pl.name, "id": i}
        si = _src(pl.pos, pl.p4name)
        if si is not None:
            pj["source_info"] = si
        pj["init_table"] = pl.init
        # tables in source order, as p4c lists them
        ordered = sorted(pl.tables, key=lambda t: (t.pos.line, t.pos.col))
        tables = [_table_json(t) for t in ordered]
        for k, tj in enumerate(tables):
            tj["id"] = k
        pj["tables"] = tables
        pj["action_profiles"] = profs
        conds: list[J] = []
        for c in sorted(pl.conds, key=lambda c: (c.pos.line, c.pos.col)):
            cj: J = {"name": c.name, "id": len(conds)}
            csi = _src(
                c.pos,
                c.pos.text[c.pos.col - 1 :].strip().rstrip("{").strip().rstrip(")")
                if c.pos.text
                else "",
            )
            if csi is not None:
                cj["source_info"] = csi
            cj["expression"] = c.expr
            cj["true_next"] = c.true_next
            cj["false_next"] = c.false_next
            conds.append(cj)
        pj["conditionals"] = conds
        pipelines.append(pj)
    return {
        "header_types": header_types,
        "headers": headers,
        "header_stacks": stacks,
        "header_union_types": union_types,
        "header_unions": unions,
        "header_union_stacks": [
            {"name": n, "id": i, "union_type": t, "size": size, "header_union_ids": ids}
            for i, (n, t, size, ids) in enumerate(low.union_stacks)
        ],
        "field_lists": low.field_lists,
        "errors": [[n, v] for n, v in low.errors],
        "enums": [{"name": n, "entries": [list(x) for x in ents]} for n, ents in low.enums],
        "parsers": parsers,
        "parse_vsets": [_vset_json(i, vs) for i, vs in enumerate(low.value_sets)],
        "deparsers": [deparser],
        "meter_arrays": meters,
        "counter_arrays": counters,
        "register_arrays": registers,
        "calculations": low.calculations,
        "learn_lists": low.learn_lists,
        "actions": [_action_json(a) for a in low.actions],
        "pipelines": pipelines,
        "checksums": low.checksums,
        "force_arith": [],
        "extern_instances": [],
        "field_aliases": [[a, ["standard_metadata", f]] for a, f in FIELD_ALIASES],
        "program": program_name,
        "__meta__": {"version": [2, 23], "compiler": "https://github.com/p4lang/p4c"},
    }
