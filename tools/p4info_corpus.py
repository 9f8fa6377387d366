"""Compare p4lite's P4Info with p4c's for a folder of P4 programs, difference by difference.

For each ``NAME.p4`` that has p4c's P4Info ``NAME.p4.p4info.txtpb`` beside it
(the name p4c's test suite gives it), the program is compiled in-process by
``p4lite.compiler`` (its folder on the include path) and its P4Info compared
with p4c's, entity by entity: tables, actions, action profiles, counters,
direct counters, meters, direct meters, registers, digests, value sets and
controller packet metadata are matched by name, then compared field by field
(ids, aliases, annotations, match fields, action refs and scopes, const
default action, size, implementation, direct resources, const and initial
entries flags, params, specs), and ``type_info`` map by map. Every program
gets one line with its outcome, then the differences grouped by kind (with
the programs showing each) and the totals:

* ``equal``: no difference;
* ``different``: the P4Info differs (the kinds are listed);
* ``reject``: the compiler refused the program (p4c compiled it, since it
  wrote its P4Info);
* ``crash``: the compiler raised something other than ``CompileError``.

Fields that p4c added after the version this project follows (1.2.4.8) are
left out of the comparison: ``initial_default_action``, the selector size
semantics of action profiles and the ``@corelib`` annotation of ``NoAction``.

Usage, from the repository root: ``python -m tools.p4info_corpus DIR [-k
PATTERN] [--json OUT] [-v]``. Exit 0 when every program is equal, 1
otherwise, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from google.protobuf import text_format
from google.protobuf.message import Message
from p4.config.v1 import p4info_pb2

from tools.corpus import TOO_DEEP, Failed, compile_program, programs, totals

OUTCOMES = ("equal", "different", "reject", "crash")
SUFFIX = ".p4.p4info.txtpb"

# repeated P4Info sections whose entries carry a preamble (matched by name)
SECTIONS = (
    "tables",
    "actions",
    "action_profiles",
    "counters",
    "direct_counters",
    "meters",
    "direct_meters",
    "controller_packet_metadata",
    "value_sets",
    "registers",
    "digests",
)

# later p4c versions write these; 1.2.4.8 does not
_LATER_FIELDS = ("initial_default_action",)
_LATER_PROFILE_FIELDS = ("sum_of_weights", "sum_of_members")
_LATER_ANNOTATIONS = ("@corelib",)


@dataclass(frozen=True, slots=True)
class Difference:
    """One difference: its kind (``section.field``) and what each side has."""

    kind: str
    where: str
    p4c: str
    p4lite: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """One program's outcome and its differences."""

    name: str
    outcome: str
    detail: str
    differences: tuple[Difference, ...] = field(default=())


def normalize(info: p4info_pb2.P4Info) -> p4info_pb2.P4Info:
    """A copy of ``info`` without what p4c versions after 1.2.4.8 added."""
    out = p4info_pb2.P4Info()
    out.CopyFrom(info)
    for t in out.tables:
        for name in _LATER_FIELDS:
            t.ClearField(name)
    for ap in out.action_profiles:
        for name in _LATER_PROFILE_FIELDS:
            ap.ClearField(name)
    for section in SECTIONS:
        for entity in getattr(out, section):
            kept = [a for a in entity.preamble.annotations if a not in _LATER_ANNOTATIONS]
            del entity.preamble.annotations[:]
            entity.preamble.annotations.extend(kept)
    return out


def _short(value: object) -> str:
    if isinstance(value, Message):
        text = text_format.MessageToString(value, as_one_line=True)
    elif isinstance(value, (list, tuple)):
        text = "[" + ", ".join(_short(v) for v in value) + "]"
    else:
        text = repr(value)
    return text if len(text) <= 160 else text[:157] + "..."


def _fields(msg: Message) -> dict[str, object]:
    out: dict[str, object] = {}
    for fd, value in msg.ListFields():
        if not isinstance(value, (str, bytes, Message)) and hasattr(value, "__len__"):
            if fd.message_type is not None and fd.message_type.GetOptions().map_entry:
                out[fd.name] = dict(value)
            else:
                out[fd.name] = list(value)
        else:
            out[fd.name] = value
    return out


def _compare_entity(section: str, name: str, ref: Any, mine: Any) -> list[Difference]:
    diffs: list[Difference] = []
    a, b = _fields(ref), _fields(mine)
    pre_a = _fields(ref.preamble)
    pre_b = _fields(mine.preamble)
    for key in sorted((set(pre_a) | set(pre_b)) - {"name"}):
        if pre_a.get(key) != pre_b.get(key):
            diffs.append(
                Difference(f"{section}.{key}", name, _short(pre_a.get(key)), _short(pre_b.get(key)))
            )
    for key in sorted((set(a) | set(b)) - {"preamble"}):
        if a.get(key) != b.get(key):
            diffs.append(
                Difference(f"{section}.{key}", name, _short(a.get(key)), _short(b.get(key)))
            )
    return diffs


def _id_names(info: p4info_pb2.P4Info) -> dict[int, str]:
    return {e.preamble.id: e.preamble.name for s in SECTIONS for e in getattr(info, s)}


def _named_refs(info: p4info_pb2.P4Info) -> p4info_pb2.P4Info:
    """A copy whose cross references (action refs, implementation, ...) hold names, not ids.

    A wrong id then shows once, on the entity that owns it, instead of once
    on every table referring to it.
    """
    names = _id_names(info)
    out = p4info_pb2.P4Info()
    out.CopyFrom(info)

    def ref(i: int) -> int:
        return hash(names.get(i, f"#{i}")) & 0x7FFFFFFF

    for t in out.tables:
        for ar in t.action_refs:
            ar.id = ref(ar.id)
        if t.const_default_action_id:
            t.const_default_action_id = ref(t.const_default_action_id)
        if t.implementation_id:
            t.implementation_id = ref(t.implementation_id)
        ids = [ref(i) for i in t.direct_resource_ids]
        del t.direct_resource_ids[:]
        t.direct_resource_ids.extend(ids)
    for ap in out.action_profiles:
        ids = [ref(i) for i in ap.table_ids]
        del ap.table_ids[:]
        ap.table_ids.extend(ids)
    for dc in out.direct_counters:
        dc.direct_table_id = ref(dc.direct_table_id)
    for dm in out.direct_meters:
        dm.direct_table_id = ref(dm.direct_table_id)
    return out


def compare(ref: p4info_pb2.P4Info, mine: p4info_pb2.P4Info) -> list[Difference]:
    """Every difference between p4c's P4Info ``ref`` and p4lite's ``mine``."""
    ref_n, mine_n = _named_refs(normalize(ref)), _named_refs(normalize(mine))
    ref_names, mine_names = _id_names(normalize(ref)), _id_names(normalize(mine))
    diffs: list[Difference] = []
    for section in SECTIONS:
        ra = {e.preamble.name: e for e in getattr(ref_n, section)}
        mb = {e.preamble.name: e for e in getattr(mine_n, section)}
        for name in ra.keys() - mb.keys():
            diffs.append(Difference(f"{section}.missing", name, name, "-"))
        for name in mb.keys() - ra.keys():
            diffs.append(Difference(f"{section}.extra", name, "-", name))
        for name in sorted(ra.keys() & mb.keys()):
            for found in _compare_entity(section, name, ra[name], mb[name]):
                d = found
                if d.kind.endswith(("action_refs", "const_default_action_id")):
                    # show the referenced names, not their stand-in numbers
                    d = Difference(
                        d.kind,
                        d.where,
                        _refs(ra[name], ref_names, ref),
                        _refs(mb[name], mine_names, mine),
                    )
                diffs.append(d)
    rt, mt = _fields(ref.type_info), _fields(mine.type_info)
    for key in sorted(set(rt) | set(mt)):
        ra_map = rt.get(key, {})
        mb_map = mt.get(key, {})
        if isinstance(ra_map, dict) and isinstance(mb_map, dict):
            for name in sorted(set(ra_map) | set(mb_map)):
                if ra_map.get(name) != mb_map.get(name):
                    diffs.append(
                        Difference(
                            f"type_info.{key}",
                            str(name),
                            _short(ra_map.get(name, "-")),
                            _short(mb_map.get(name, "-")),
                        )
                    )
        elif ra_map != mb_map:
            diffs.append(Difference(f"type_info.{key}", key, _short(ra_map), _short(mb_map)))
    if ref.pkg_info.arch != mine.pkg_info.arch:
        diffs.append(Difference("pkg_info.arch", "", ref.pkg_info.arch, mine.pkg_info.arch))
    return sorted(diffs, key=lambda d: (d.kind, d.where))


def _refs(entity: Any, names: dict[int, str], info: p4info_pb2.P4Info) -> str:
    """The action refs and const default action of a table, by name."""
    wanted = entity.preamble.name
    table = next((t for t in info.tables if t.preamble.name == wanted), None)
    if table is None:
        return "-"
    refs = [
        names.get(ar.id, f"#{ar.id}")
        + "".join(f" {a}" for a in ar.annotations)
        + ("" if ar.scope == 0 else f" scope={ar.scope}")
        for ar in table.action_refs
    ]
    default = names.get(table.const_default_action_id, "") if table.const_default_action_id else ""
    return _short(refs) + (f" const_default={default}" if default else "")


def check_one(p4: Path, ref_path: Path) -> Outcome:
    """Compile ``p4``, compare its P4Info with ``ref_path``; never raises for the program."""
    ref = p4info_pb2.P4Info()
    text_format.Parse(ref_path.read_text(encoding="utf-8"), ref, allow_unknown_field=True)
    name = p4.stem
    result = compile_program(p4)
    if isinstance(result, Failed):
        # a crash's detail carries its traceback, but for a program nested too deeply
        trace = result.kind == "crash" and result.detail != TOO_DEEP
        return Outcome(name, result.kind, result.detail + ("\n" + result.text if trace else ""))
    diffs = compare(ref, result.p4info)
    if not diffs:
        return Outcome(name, "equal", "")
    kinds = sorted({d.kind for d in diffs})
    return Outcome(name, "different", ", ".join(kinds), tuple(diffs))


def main(argv: list[str] | None = None) -> int:
    """Command line: compare every program, print outcomes, differences by kind and totals."""
    ap = argparse.ArgumentParser(prog="p4info_corpus", description=__doc__.split("\n\n")[0])
    ap.add_argument("folder", type=Path, help=f"folder of NAME.p4 + NAME{SUFFIX} pairs")
    ap.add_argument("-k", dest="pattern", help="only programs whose name contains or globs this")
    ap.add_argument("--json", dest="json_out", type=Path, help="write every outcome here")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every difference")
    args = ap.parse_args(argv)
    if not args.folder.is_dir():
        print(f"p4info_corpus: {args.folder} is not a folder", file=sys.stderr)
        return 2
    pairs = programs(args.folder, lambda p4: p4.with_name(p4.name + ".p4info.txtpb"), args.pattern)
    if not pairs:
        print(f"p4info_corpus: no NAME.p4 with NAME{SUFFIX} in {args.folder}", file=sys.stderr)
        return 2
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10000))
    results = [check_one(p4, ref) for p4, ref in pairs]
    width = max(len(r.name) for r in results)
    by_kind: dict[str, list[Difference]] = defaultdict(list)
    owners: dict[str, set[str]] = defaultdict(set)
    for r in results:
        first = r.detail.splitlines()[0] if r.detail else ""
        print(f"{r.name:<{width}}  {r.outcome:<9}  {first}".rstrip())
        for d in r.differences:
            by_kind[d.kind].append(d)
            owners[d.kind].add(r.name)
            if args.verbose:
                print(f"    {d.kind} {d.where}: p4c {d.p4c} | p4lite {d.p4lite}")
    if by_kind:
        print("differences by kind:")
        for kind in sorted(by_kind, key=lambda k: (-len(owners[k]), k)):
            d = by_kind[kind][0]
            print(
                f"  {kind}: {len(owners[kind])} programs ({', '.join(sorted(owners[kind]))});"
                f" e.g. {d.where}: p4c {d.p4c} | p4lite {d.p4lite}"
            )
    counts = totals(results, OUTCOMES, args.json_out)
    return 0 if counts.get("equal", 0) == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
