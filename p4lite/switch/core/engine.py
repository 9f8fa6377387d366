"""Compile a BMv2 JSON document (format 2.x) into Python closures and runtime objects.

The loader walks the JSON once, checks every node it uses (errors are ``LoadError``
with the JSON path of the bad node) and builds closures for the parser, the
pipelines, actions, expressions and checksums, plus the runtime state objects
(tables, registers, counters, meters, action profiles). The hot paths are then
generated as Python source from the checked nodes: one function per action (its
primitives in order), per parser transition, and per pipeline step (a table or
conditional with the chain of nodes that only it leads to). Expressions become
source where they have one and call their closure where not, with the same
values and the same order of evaluation. Per-packet work is these calls on a
``Pkt``: lists of ints per header instance, no dict walking.

May import only the standard library and the sibling modules ``api``, ``codegen``,
``hashes``, ``primitives`` and ``tables``.
"""

from __future__ import annotations

import logging
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from p4lite.switch.core import hashes
from p4lite.switch.core.api import (
    ActionCall,
    ExactMatch,
    KeyMatch,
    LoadError,
    LpmMatch,
    MatchKind,
    RangeMatch,
    TernaryMatch,
)
from p4lite.switch.core.codegen import Scope, make_concat, make_unpacker
from p4lite.switch.core.primitives import compile_primitive, jump_runner, primitive_src
from p4lite.switch.core.tables import Action, ActionProfile, KeySpec, Table

logger = logging.getLogger(__name__)

Json = Any
Fn = Callable[["Pkt", tuple[int, ...]], Any]
Prim = Callable[["Pkt", tuple[int, ...]], None]

VALID_FIELD = -1
DROP_PORT = 511
# the width of a variable-length field in calculation inputs: known per packet
VL_WIDTH = -1

# Error codes p4c declares in every program (``errors`` may renumber them).
ERR_NAMES = (
    "NoError",
    "PacketTooShort",
    "NoMatch",
    "StackOutOfBounds",
    "HeaderTooShort",
    "ParserTimeout",
    "ParserInvalidArgument",
)
MAX_PARSER_STATES = 10000


class ParseError(Exception):
    """Raised inside the parser to stop it with a parser error code."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class Pkt:
    """The mutable state of one packet in flight (PHV, buffer, intrinsic registers)."""

    __slots__ = (
        "cksum_err",
        "clone_fl",
        "clone_sess",
        "data",
        "err",
        "exit",
        "h",
        "ingress_len",
        "learn",
        "nxt",
        "off",
        "plen",
        "recirc",
        "resub",
        "trunc",
        "v",
    )

    def __init__(self, h: list[list[int]], v: list[int], nstacks: int, data: bytes) -> None:
        self.h = h
        self.v = v
        self.nxt = [0] * nstacks
        self.data = data
        self.off = 0
        self.err = 0
        self.exit = False
        self.clone_sess = 0
        self.clone_fl = 0
        self.resub = 0
        self.recirc = 0
        self.learn = 0
        self.trunc = 0
        self.plen = len(data)
        self.ingress_len = len(data)
        self.cksum_err = 0

    def copy(self) -> Pkt:
        """Copy headers, validity, stacks and buffer; intrinsic registers start clear."""
        c = Pkt([list(x) for x in self.h], list(self.v), 0, self.data)
        c.nxt = list(self.nxt)
        c.off = self.off
        c.err = self.err
        c.plen = self.plen
        c.ingress_len = self.ingress_len
        return c


@dataclass(slots=True)
class HeaderLayout:
    """Field layout of one header instance."""

    name: str
    index: int
    type_name: str
    metadata: bool
    names: list[str]
    widths: list[int]
    signed: list[bool]
    nbits: int
    nbytes: int
    unpack: list[tuple[int, int]] = field(default_factory=list)
    # the variable-length field (-1: none); its current length in bits is kept in
    # an extra value slot after the fields, and widths[vl] holds its maximum
    vl: int = -1

    def template(self) -> list[int]:
        """The values of a fresh instance: zeros (and an empty variable-length field)."""
        return [0] * (len(self.widths) + (1 if self.vl >= 0 else 0))


@dataclass(slots=True)
class Register:
    """A register array."""

    name: str
    width: int
    cells: list[int]


@dataclass(slots=True)
class CounterArray:
    """An indexed or direct counter array; cells are ``[packets, bytes]``."""

    name: str
    size: int
    cells: list[list[int]]
    is_direct: bool = False
    binding: str | None = None


class MeterCell:
    """One two-rate three-colour meter cell with BMv2's integer token buckets.

    Tokens are whole units: each bucket holds ``floor(now_us * rate)`` tokens
    earned since the clock origin, minus what it already received, capped at the
    burst. The peak bucket is checked first (RED), then the committed one (YELLOW).
    """

    __slots__ = ("buckets",)

    def __init__(self, cir: float, cburst: int, pir: float, pburst: int) -> None:
        # Buckets start full, whatever the time.
        # [rate, burst, tokens, tokens_last, colour]
        self.buckets: list[list[Any]] = [
            [pir, int(pburst), int(pburst), 0, 2],
            [cir, int(cburst), int(cburst), 0, 1],
        ]

    def execute(self, units: int, now: int) -> int:
        """Return the colour of a packet of ``units`` at time ``now`` (µs)."""
        for b in self.buckets:
            since_origin = int(now * b[0])
            new = since_origin - b[3]
            b[3] = since_origin
            b[2] = min(b[2] + max(0, new), b[1])
            if b[2] < units:
                return int(b[4])
            b[2] -= units
        return 0


@dataclass(slots=True)
class MeterArray:
    """An indexed or direct meter array."""

    name: str
    size: int
    packets: bool
    cells: list[MeterCell | None]
    rates: list[tuple[float, int, float, int] | None]
    is_direct: bool = False
    binding: str | None = None
    result: tuple[int, int] | None = None


@dataclass(slots=True)
class Checksum:
    """A verify/update checksum of the v1model checksum controls."""

    name: str
    target: tuple[int, int]
    width: int
    calc: Callable[[Pkt], int]
    cond: Fn | None
    verify: bool
    update: bool


@dataclass(slots=True)
class LearnList:
    """A digest's field list."""

    name: str
    id: int
    fields: list[tuple[int, int]]
    field_names: list[str]


Step = Callable[["Pkt"], "Step | None"]


class Node:
    """A pipeline node: a table or a conditional."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


class CondNode(Node):
    """A conditional node: its JSON expression and the nodes it leads to."""

    __slots__ = ("expr", "f", "path", "t")

    def __init__(self, name: str, expr: Json, path: str) -> None:
        super().__init__(name)
        self.expr = expr
        self.path = path
        self.t: Node | None = None
        self.f: Node | None = None


class TableNode(Node):
    """A table node and the nodes it leads to."""

    __slots__ = ("base_next", "hit_next", "miss_next", "next_by_action", "table", "use_hit")

    def __init__(self, table: Table) -> None:
        super().__init__(table.name)
        self.table = table
        self.use_hit = False
        self.hit_next: Node | None = None
        self.miss_next: Node | None = None
        self.next_by_action: dict[str, Node | None] = {}
        self.base_next: Node | None = None


@dataclass(slots=True)
class Pipeline:
    """A control's tables and conditionals, and the generated step of its first node.

    A step applies its node (and the nodes it alone leads to, generated inline)
    and returns the step of the next node, or None at the end or after ``exit``.
    """

    name: str
    init: Node | None
    step: Step | None

    def run(self, p: Pkt) -> None:
        """Apply the control until the end or ``exit``."""
        step = self.step
        if p.exit:
            # Set before the control began: the first node runs, then the control ends.
            if step is not None:
                step(p)
            return
        while step is not None:
            step = step(p)


def _hex(path: str, value: Json) -> int:
    """Parse a JSON hexstr (possibly negative) or a plain int."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value, 16) if "x" in value.lower() else int(value, 0)
        except ValueError:
            pass
    raise LoadError(path, f"invalid number {value!r}, expected a hex string like '0x0a'")


def _req(node: Json, key: str, path: str, kind: type | tuple[type, ...] = object) -> Json:
    """Fetch a required member of a JSON object, checking its type."""
    if not isinstance(node, dict):
        raise LoadError(path, f"expected an object, got {node!r:.80}")
    if key not in node:
        raise LoadError(path, f"missing member {key!r}")
    val = node[key]
    if kind is not object and not isinstance(val, kind):
        raise LoadError(f"{path}.{key}", f"unexpected value {val!r:.80}")
    return val


class Program:
    """A loaded BMv2 JSON program: layouts, closures and runtime objects."""

    def __init__(
        self,
        doc: Json,
        clock: Callable[[], int],
        drop_port: int = DROP_PORT,
        seed: int | None = None,
    ) -> None:
        self.clock = clock
        self.drop_port = drop_port
        self.rng = random.Random(seed)
        if not isinstance(doc, dict):
            raise LoadError(
                "", f"expected a JSON object at the top level, got {type(doc).__name__}"
            )
        self.doc = doc
        meta = doc.get("__meta__")
        if isinstance(meta, dict):
            version = meta.get("version")
            if isinstance(version, list) and version and version[0] != 2:
                raise LoadError(
                    "__meta__.version", f"unsupported version {version!r}, expected 2.x"
                )
        self.layouts: list[HeaderLayout] = []
        self.hdr_index: dict[str, int] = {}
        self.stacks: dict[str, tuple[int, list[int]]] = {}
        self.unions: dict[str, list[int]] = {}
        self.union_stacks: dict[str, list[str]] = {}
        self.union_of: dict[int, list[int]] = {}
        self.errors: dict[str, int] = {}
        self.field_lists: dict[int, list[tuple[int, int]]] = {}
        self.learn_lists: dict[int, LearnList] = {}
        self.registers: dict[str, Register] = {}
        self.counters: dict[str, CounterArray] = {}
        self.meters: dict[str, MeterArray] = {}
        self.calcs: dict[str, Callable[[Pkt], int]] = {}
        self.actions: dict[int, Action] = {}
        self.actions_by_name: dict[str, Action] = {}
        self.tables: dict[str, Table] = {}
        self.profiles: dict[str, ActionProfile] = {}
        self.pipelines: dict[str, Pipeline] = {}
        self.checksums: list[Checksum] = []
        self.vsets: dict[str, set[tuple[int, int]]] = {}
        self.sm = 0
        self.smf: dict[str, int] = {}
        self._where = ""
        self._nparams = 0
        try:
            self._load()
        except LoadError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            # A node of an unexpected shape deep inside: name the closest path seen.
            raise LoadError(self._where, f"malformed node ({type(exc).__name__}: {exc})") from exc

    def _req(self, node: Json, key: str, path: str, kind: type | tuple[type, ...] = object) -> Json:
        """``_req`` that also remembers where the loader is, for error messages."""
        self._where = path
        return _req(node, key, path, kind)

    # ------------------------------------------------------------------ layout
    def _load(self) -> None:
        d = self.doc
        types: dict[str, tuple[list[str], list[int], list[bool], int]] = {}
        for i, ht in enumerate(d.get("header_types", [])):
            path = f"header_types[{i}]"
            name = self._req(ht, "name", path, str)
            names: list[str] = []
            widths: list[int] = []
            signed: list[bool] = []
            vl = -1
            for j, fdesc in enumerate(self._req(ht, "fields", path, list)):
                fpath = f"{path}.fields[{j}]"
                if not isinstance(fdesc, list) or len(fdesc) < 2:
                    raise LoadError(fpath, f"expected [name, width, signed], got {fdesc!r}")
                if fdesc[1] == "*" and vl < 0:
                    # a variable-length field: its maximum comes from 'max_length'
                    vl = j
                    widths.append(0)
                elif not isinstance(fdesc[1], int) or isinstance(fdesc[1], bool) or fdesc[1] <= 0:
                    raise LoadError(
                        fpath, f"invalid width {fdesc[1]!r}: expected a positive int or '*'"
                    )
                else:
                    widths.append(fdesc[1])
                names.append(str(fdesc[0]))
                signed.append(bool(fdesc[2]) if len(fdesc) > 2 else False)
            if vl >= 0:
                max_len = ht.get("max_length")
                if not isinstance(max_len, int) or max_len * 8 < sum(widths):
                    raise LoadError(
                        f"{path}.max_length",
                        f"a header type with a '*' field needs max_length (bytes), got {max_len!r}",
                    )
                signed[vl] = False
                widths[vl] = max_len * 8 - sum(widths)
            types[name] = (names, widths, signed, vl)
        for i, hd in enumerate(d.get("headers", [])):
            path = f"headers[{i}]"
            name = self._req(hd, "name", path, str)
            tname = self._req(hd, "header_type", path, str)
            if tname not in types:
                raise LoadError(f"{path}.header_type", f"unknown header type {tname!r}")
            names, widths, signed, vl = types[tname]
            # a variable-length field counts as empty in the fixed size
            nbits = sum(widths) - (widths[vl] if vl >= 0 else 0)
            lay = HeaderLayout(
                name,
                len(self.layouts),
                tname,
                bool(hd.get("metadata", False)),
                names,
                widths,
                signed,
                nbits,
                (nbits + 7) // 8,
                vl=vl,
            )
            if not lay.metadata and nbits % 8 and vl < 0:
                raise LoadError(path, f"header {name!r} is {nbits} bits, expected a multiple of 8")
            shift = nbits
            for w in widths:
                shift -= w
                lay.unpack.append((shift, (1 << w) - 1))
            self.hdr_index[name] = lay.index
            self.layouts.append(lay)
        if "standard_metadata" not in self.hdr_index:
            raise LoadError("headers", "no 'standard_metadata' header (not a v1model program?)")
        self.sm = self.hdr_index["standard_metadata"]
        self.smf = {n: j for j, n in enumerate(self.layouts[self.sm].names)}
        for need in ("ingress_port", "egress_spec", "egress_port", "instance_type"):
            if need not in self.smf:
                raise LoadError("headers", f"standard_metadata lacks field {need!r}")
        for i, st in enumerate(d.get("header_stacks", [])):
            path = f"header_stacks[{i}]"
            ids = self._req(st, "header_ids", path, list)
            for j, hid in enumerate(ids):
                if not isinstance(hid, int) or not 0 <= hid < len(self.layouts):
                    raise LoadError(f"{path}.header_ids[{j}]", f"unknown header id {hid!r}")
            self.stacks[self._req(st, "name", path, str)] = (len(self.stacks), list(ids))
        for i, un in enumerate(d.get("header_unions", [])):
            path = f"header_unions[{i}]"
            ids = list(self._req(un, "header_ids", path, list))
            self.unions[self._req(un, "name", path, str)] = ids
            for hid in ids:
                self.union_of[hid] = ids
        for i, us in enumerate(d.get("header_union_stacks", [])):
            # its elements are header unions of their own; stack operations on
            # them (push/pop, 'next') are refused where a primitive names one
            path = f"header_union_stacks[{i}]"
            ids = self._req(us, "header_union_ids", path, list)
            names = list(self.unions)
            for j, uid in enumerate(ids):
                if not isinstance(uid, int) or not 0 <= uid < len(names):
                    raise LoadError(f"{path}.header_union_ids[{j}]", f"unknown union id {uid!r}")
            self.union_stacks[self._req(us, "name", path, str)] = [names[u] for u in ids]
        for i, err in enumerate(d.get("errors", [])):
            if (
                not isinstance(err, list)
                or len(err) != 2
                or not isinstance(err[0], str)
                or not isinstance(err[1], int)
            ):
                raise LoadError(f"errors[{i}]", f"expected [name, value], got {err!r:.80}")
            self.errors[err[0]] = err[1]
        force_arith = d.get("force_arith", [])
        if not isinstance(force_arith, list):
            raise LoadError("force_arith", f"expected a list of fields, got {force_arith!r:.80}")
        for i, ref in enumerate(force_arith):
            # BMv2 keeps these fields as integers too; p4lite keeps every field so.
            # The names must still be real (a '$' header is one of BMv2's own).
            if isinstance(ref, list) and ref and str(ref[0]).startswith("$"):
                continue
            self.field_ref(ref, f"force_arith[{i}]")
        for i, fl in enumerate(d.get("field_lists", [])):
            path = f"field_lists[{i}]"
            refs = [
                self.field_ref(e.get("value"), f"{path}.elements[{j}]")
                for j, e in enumerate(self._req(fl, "elements", path, list))
            ]
            self.field_lists[self._req(fl, "id", path, int)] = refs
        for i, ll in enumerate(d.get("learn_lists", [])):
            path = f"learn_lists[{i}]"
            elems = self._req(ll, "elements", path, list)
            refs = [
                self.field_ref(e.get("value"), f"{path}.elements[{j}]") for j, e in enumerate(elems)
            ]
            names = [".".join(map(str, e.get("value", []))) for e in elems]
            lid = self._req(ll, "id", path, int)
            self.learn_lists[lid] = LearnList(self._req(ll, "name", path, str), lid, refs, names)
        for i, ra in enumerate(d.get("register_arrays", [])):
            path = f"register_arrays[{i}]"
            size = self._req(ra, "size", path, int)
            self.registers[self._req(ra, "name", path, str)] = Register(
                ra["name"], self._req(ra, "bitwidth", path, int), [0] * size
            )
        for i, ca in enumerate(d.get("counter_arrays", [])):
            path = f"counter_arrays[{i}]"
            direct = bool(ca.get("is_direct", False))
            size = 0 if direct else self._req(ca, "size", path, int)
            name = self._req(ca, "name", path, str)
            self.counters[name] = CounterArray(
                name, size, [[0, 0] for _ in range(size)], direct, ca.get("binding")
            )
        for i, ma in enumerate(d.get("meter_arrays", [])):
            path = f"meter_arrays[{i}]"
            direct = bool(ma.get("is_direct", False))
            size = 0 if direct else self._req(ma, "size", path, int)
            mtype = ma.get("type", "bytes")
            if mtype not in ("packets", "bytes"):
                raise LoadError(f"{path}.type", f"unknown meter type {mtype!r}")
            result = None
            if direct and ma.get("result_target") is not None:
                result = self.field_ref(ma["result_target"], f"{path}.result_target")
            name = self._req(ma, "name", path, str)
            self.meters[name] = MeterArray(
                name,
                size,
                mtype == "packets",
                [None] * size,
                [None] * size,
                direct,
                ma.get("binding"),
                result,
            )
        for i, pv in enumerate(d.get("parse_vsets", [])):
            self.vsets[self._req(pv, "name", f"parse_vsets[{i}]", str)] = set()
        for i, calc in enumerate(d.get("calculations", [])):
            path = f"calculations[{i}]"
            self.calcs[self._req(calc, "name", path, str)] = self._calculation(calc, path)
        for i, act in enumerate(d.get("actions", [])):
            self._action(act, f"actions[{i}]")
        for i, pl in enumerate(d.get("pipelines", [])):
            self._pipeline(pl, f"pipelines[{i}]")
        for i, ck in enumerate(d.get("checksums", [])):
            self._checksum(ck, f"checksums[{i}]")
        parsers = d.get("parsers", [])
        if not parsers:
            raise LoadError("parsers", "no parser")
        self.parse = self._parser(parsers[0], "parsers[0]")
        deps = d.get("deparsers", [])
        if not deps:
            raise LoadError("deparsers", "no deparser")
        self.deparse_order = [
            self.header(h, f"deparsers[0].order[{j}]")
            for j, h in enumerate(self._req(deps[0], "order", "deparsers[0]", list))
        ]
        if deps[0].get("primitives"):
            raise LoadError("deparsers[0].primitives", "deparser primitives are not implemented")
        for name in ("ingress", "egress"):
            if name not in self.pipelines:
                raise LoadError("pipelines", f"no {name!r} pipeline")
        self.metadata_ids = [lay.index for lay in self.layouts if lay.metadata]
        self.hdr_templates = [lay.template() for lay in self.layouts]
        self.valid_template = [1 if lay.metadata else 0 for lay in self.layouts]

    # ------------------------------------------------------------- references
    def header(self, name: Json, path: str) -> int:
        """Header instance index by name."""
        if not isinstance(name, str) or name not in self.hdr_index:
            raise LoadError(path, f"unknown header {name!r}")
        return self.hdr_index[name]

    def stack(self, name: Json, path: str) -> tuple[int, list[int]]:
        """Header stack (index, header ids) by name."""
        if not isinstance(name, str) or name not in self.stacks:
            raise LoadError(path, f"unknown header stack {name!r}")
        return self.stacks[name]

    def field_ref(self, ref: Json, path: str) -> tuple[int, int]:
        """Resolve ``[header, field]`` to (header index, field index or VALID_FIELD)."""
        if not isinstance(ref, list) or len(ref) != 2:
            raise LoadError(path, f"expected [header, field], got {ref!r}")
        hidx = self.header(ref[0], path)
        fname = ref[1]
        if fname == "$valid$":
            return hidx, VALID_FIELD
        lay = self.layouts[hidx]
        if fname not in lay.names:
            raise LoadError(path, f"header {lay.name!r} has no field {fname!r}")
        return hidx, lay.names.index(fname)

    def width(self, ref: tuple[int, int]) -> int:
        """Bit width of a resolved field."""
        hidx, fidx = ref
        return 1 if fidx == VALID_FIELD else self.layouts[hidx].widths[fidx]

    def getter(self, ref: tuple[int, int]) -> Fn:
        """Closure reading a field."""
        hidx, fidx = ref
        if fidx == VALID_FIELD:
            return lambda p, a: p.v[hidx]
        return lambda p, a: p.h[hidx][fidx]

    def setter(self, ref: tuple[int, int]) -> Callable[[Pkt, int], None]:
        """Closure writing a field with BMv2's truncation to its width."""
        hidx, fidx = ref
        if fidx == VALID_FIELD:

            def set_valid(p: Pkt, val: int) -> None:
                p.v[hidx] = 1 if val else 0

            return set_valid
        lay = self.layouts[hidx]
        w = lay.widths[fidx]
        mask = (1 << w) - 1
        if lay.signed[fidx]:
            half = 1 << (w - 1)

            def set_signed(p: Pkt, val: int) -> None:
                p.h[hidx][fidx] = ((int(val) + half) & mask) - half

            return set_signed

        def set_unsigned(p: Pkt, val: int) -> None:
            p.h[hidx][fidx] = int(val) & mask

        return set_unsigned

    # ------------------------------------------------------------ expressions
    def expr(self, node: Json, path: str) -> Fn:
        """Compile a typed JSON value (field, hexstr, expression, ...) to a closure."""
        self._where = path
        if not isinstance(node, dict):
            raise LoadError(path, f"expected a typed value, got {node!r:.80}")
        if "op" in node:
            return self._op(node, path)
        kind = node.get("type")
        val = node.get("value")
        vpath = f"{path}.value"
        match kind:
            case "field":
                return self.getter(self.field_ref(val, vpath))
            case "hexstr":
                const = _hex(vpath, val)
                return lambda p, a: const
            case "bool":
                bconst = bool(val)
                return lambda p, a: bconst
            case "runtime_data" | "local":
                idx = _hex(vpath, val)
                if not 0 <= idx < self._nparams:
                    raise LoadError(
                        vpath, f"action parameter index {idx!r} out of range (has {self._nparams})"
                    )
                return lambda p, a: a[idx]
            case "expression":
                return self.expr(val, vpath)
            case "header":
                hconst = self.header(val, vpath)
                return lambda p, a: hconst
            case "stack_field":
                if not isinstance(val, list) or len(val) != 2:
                    raise LoadError(vpath, f"expected [stack, field], got {val!r}")
                _, ids = self.stack(val[0], vpath)
                lay = self.layouts[ids[0]]
                if val[1] not in lay.names:
                    raise LoadError(vpath, f"stack {val[0]!r} has no field {val[1]!r}")
                fidx = lay.names.index(val[1])
                sidx = self.stacks[val[0]][0]

                def stack_last(p: Pkt, a: tuple[int, ...]) -> int:
                    n = p.nxt[sidx]
                    if n == 0:
                        raise ParseError(self.errors.get("StackOutOfBounds", 3))
                    return p.h[ids[n - 1]][fidx]

                return stack_last
            case "lookahead":
                if not isinstance(val, list) or len(val) != 2:
                    raise LoadError(vpath, f"expected [offset, bitwidth], got {val!r}")
                offset, width = int(val[0]), int(val[1])
                too_short = self.errors.get("PacketTooShort", 1)

                def lookahead(p: Pkt, a: tuple[int, ...]) -> int:
                    start = p.off * 8 + offset
                    end = start + width
                    if end > len(p.data) * 8:
                        raise ParseError(too_short)
                    b0 = start // 8
                    b1 = (end + 7) // 8
                    x = int.from_bytes(p.data[b0:b1], "big")
                    return (x >> (b1 * 8 - end)) & ((1 << width) - 1)

                return lookahead
            case "string":
                sconst = str(val)
                return lambda p, a: sconst
            case "header_stack":
                sconst_i = self.stack(val, vpath)[0]
                return lambda p, a: sconst_i
            case "header_union":
                if val not in self.unions:
                    raise LoadError(vpath, f"unknown header union {val!r}")
                uname = str(val)
                return lambda p, a: uname
            case _:
                raise LoadError(f"{path}.type", f"unknown value type {kind!r}")

    def _op(self, node: Json, path: str) -> Fn:
        """Compile an ``{op, left, right}`` expression node."""
        op = node["op"]
        left = node.get("left")
        right = node.get("right")
        lf = self.expr(left, f"{path}.left") if left is not None and op not in _NO_LEFT else None
        rf = (
            self.expr(right, f"{path}.right")
            if right is not None
            and op not in ("valid", "valid_union", "last_stack_index", "size_stack", "access_field")
            else None
        )
        match op:
            case "-" if lf is None and rf is not None:
                r0 = rf
                return lambda p, a: -r0(p, a)
            case "-":
                l1, r1 = _both(lf, rf, path)
                return lambda p, a: l1(p, a) - r1(p, a)
            case "+" | "*" | "/" | "%" | "&" | "|" | "^" | "==" | "!=" | "<" | ">" | "<=" | ">=":
                l2, r2 = _both(lf, rf, path)
                fn = _BIN_OPS[op]
                rc = _const_of(right)
                if rc is not None:
                    # Constant right operand (masks, increments): one call less per use.
                    if op == "&":
                        return lambda p, a: l2(p, a) & rc
                    if op == "+":
                        return lambda p, a: l2(p, a) + rc
                    if op == "==":
                        return lambda p, a: l2(p, a) == rc
                    if op == "!=":
                        return lambda p, a: l2(p, a) != rc
                if op == "&":
                    return lambda p, a: l2(p, a) & r2(p, a)
                if op == "+":
                    return lambda p, a: l2(p, a) + r2(p, a)
                if op == "==":
                    return lambda p, a: l2(p, a) == r2(p, a)
                return lambda p, a: fn(l2(p, a), r2(p, a))
            case "<<":
                l3, r3 = _both(lf, rf, path)
                return lambda p, a: _shl(l3(p, a), r3(p, a))
            case ">>":
                l4, r4 = _both(lf, rf, path)
                return lambda p, a: l4(p, a) >> min(int(r4(p, a)), 1 << 16)
            case "~":
                r5 = _one(rf, path)
                return lambda p, a: ~int(r5(p, a))
            case "not":
                r6 = _one(rf, path)
                return lambda p, a: not r6(p, a)
            case "and":
                l7, r7 = _both(lf, rf, path)
                return lambda p, a: bool(l7(p, a)) and bool(r7(p, a))
            case "or":
                l8, r8 = _both(lf, rf, path)
                return lambda p, a: bool(l8(p, a)) or bool(r8(p, a))
            case "d2b":
                r9 = _one(rf, path)
                return lambda p, a: bool(r9(p, a))
            case "b2d":
                r10 = _one(rf, path)
                return lambda p, a: 1 if r10(p, a) else 0
            case "valid":
                if isinstance(right, dict) and right.get("type") == "header":
                    hv = self.header(right.get("value"), f"{path}.right.value")
                    return lambda p, a: bool(p.v[hv])
                hf = self.expr(right, f"{path}.right")
                return lambda p, a: bool(p.v[hf(p, a)])
            case "valid_union":
                if not isinstance(right, dict) or right.get("value") not in self.unions:
                    raise LoadError(f"{path}.right", f"unknown header union {right!r:.80}")
                members = self.unions[right["value"]]
                return lambda p, a: any(p.v[m] for m in members)
            case "?":
                cond = self.expr(node.get("cond"), f"{path}.cond")
                l11, r11 = _both(lf, rf, path)
                return lambda p, a: l11(p, a) if cond(p, a) else r11(p, a)
            case "two_comp_mod":
                l12, r12 = _both(lf, rf, path)

                def two_comp(p: Pkt, a: tuple[int, ...]) -> int:
                    w = int(r12(p, a))
                    m = (1 << w) - 1
                    half = 1 << (w - 1)
                    return ((int(l12(p, a)) + half) & m) - half

                return two_comp
            case "sat_cast":
                l13, r13 = _both(lf, rf, path)

                def sat(p: Pkt, a: tuple[int, ...]) -> int:
                    w = int(r13(p, a))
                    hi = (1 << (w - 1)) - 1
                    return max(-hi - 1, min(hi, int(l13(p, a))))

                return sat
            case "usat_cast":
                l14, r14 = _both(lf, rf, path)

                def usat(p: Pkt, a: tuple[int, ...]) -> int:
                    w = int(r14(p, a))
                    return max(0, min((1 << w) - 1, int(l14(p, a))))

                return usat
            case "last_stack_index" | "size_stack":
                if not isinstance(right, dict):
                    raise LoadError(f"{path}.right", f"expected a header stack, got {right!r}")
                sidx, _ids = self.stack(right.get("value"), f"{path}.right.value")
                if op == "size_stack":
                    return lambda p, a: p.nxt[sidx]
                return lambda p, a: p.nxt[sidx] - 1
            case "dereference_header_stack":
                if not isinstance(left, dict):
                    raise LoadError(f"{path}.left", f"expected a header stack, got {left!r}")
                _s, ids = self.stack(left.get("value"), f"{path}.left.value")
                r15 = _one(rf, path)
                n = len(ids)

                def deref(p: Pkt, a: tuple[int, ...]) -> int:
                    i = int(r15(p, a))
                    if not 0 <= i < n:
                        raise ParseError(self.errors.get("StackOutOfBounds", 3))
                    return ids[i]

                return deref
            case "access_field":
                l16 = _one(lf, path)
                if not isinstance(right, int):
                    raise LoadError(f"{path}.right", f"expected a field offset, got {right!r}")
                off = right
                nfields = [len(lay.widths) for lay in self.layouts]

                def access(p: Pkt, a: tuple[int, ...]) -> Any:
                    h = l16(p, a)
                    # Offset == number of fields is BMv2's hidden $valid$ field.
                    return p.h[h][off] if off < nfields[h] else p.v[h]

                return access
            case _:
                raise LoadError(f"{path}.op", f"unknown expression op {op!r}")

    # ---------------------------------------------------- expression source
    def expr_src(self, node: Json, path: str, scope: Scope) -> tuple[str, str]:
        """Python source of an expression, and what it yields: "int", "bool" or "any".

        The source reads ``p`` (the packet), ``a`` (action data), ``h = p.h`` and
        ``v = p.v``; it gives the values ``expr`` gives, evaluates operands in the
        same order and raises what it raises. Forms without a source of their own
        call the closure ``expr`` makes.
        """
        if isinstance(node, dict):
            kind = node.get("type")
            val = node.get("value")
            vpath = f"{path}.value"
            if "op" in node:
                src = self._op_src(node, path, scope)
                if src is not None:
                    return src
            elif kind == "field":
                hidx, fidx = self.field_ref(val, vpath)
                return (f"v[{hidx}]" if fidx == VALID_FIELD else f"h[{hidx}][{fidx}]"), "int"
            elif kind == "hexstr":
                return f"({_hex(vpath, val)})", "int"
            elif kind == "bool":
                return ("True" if val else "False"), "bool"
            elif kind in ("runtime_data", "local"):
                self.expr(node, path)  # checks the index
                return f"a[{_hex(vpath, val)}]", "int"
            elif kind == "expression":
                return self.expr_src(val, vpath, scope)
            elif kind == "header":
                return str(self.header(val, vpath)), "int"
        return f"{scope.ref(self.expr(node, path), 'e')}(p, a)", "any"

    def _op_src(self, node: Json, path: str, scope: Scope) -> tuple[str, str] | None:
        """``expr_src`` of an ``{op, left, right}`` node, or None where it has none."""
        op = node["op"]
        left = node.get("left")
        right = node.get("right")
        if op == "valid":
            if isinstance(right, dict) and right.get("type") == "header":
                return f"(v[{self.header(right.get('value'), f'{path}.right.value')}] != 0)", "bool"
            return None
        if op in _SRC_UNARY and right is not None and (left is None or op != "-"):
            r, rk = self.expr_src(right, f"{path}.right", scope)
            match op:
                case "-":
                    return f"(-{r})", "int" if rk == "int" else "any"
                case "~":
                    return (f"(~{r})" if rk == "int" else f"(~int({r}))"), "int"
                case "not":
                    return f"(not {r})", "bool"
                case "d2b":
                    return _bool_src(r, rk), "bool"
                case _:  # b2d
                    return f"(1 if {r} else 0)", "int"
        if op not in _SRC_BINARY or left is None or right is None:
            return None
        if op == "?":
            cnode = node.get("cond")
            if cnode is None:
                return None
            c, _ = self.expr_src(cnode, f"{path}.cond", scope)
        lsrc, lk = self.expr_src(left, f"{path}.left", scope)
        rsrc, rk = self.expr_src(right, f"{path}.right", scope)
        ints = "int" if lk == rk == "int" else "any"
        match op:
            case "==" | "!=" | "<" | ">" | "<=" | ">=":
                return f"({lsrc} {op} {rsrc})", "bool"
            case "and" | "or":
                return f"({_bool_src(lsrc, lk)} {op} {_bool_src(rsrc, rk)})", "bool"
            case "/" | "%":
                helper = scope.ref(_BIN_OPS[op], "div" if op == "/" else "mod")
                return f"{helper}({lsrc}, {rsrc})", "any"
            case "<<":
                return f"{scope.ref(_shl, 'shl')}({lsrc}, {rsrc})", "int"
            case ">>":
                shift = _const_of(right)
                if shift is not None and 0 <= shift <= 1 << 16:
                    return f"({lsrc} >> {shift})", lk if lk == "int" else "any"
                count = rsrc if rk == "int" else f"int({rsrc})"
                return f"({lsrc} >> min({count}, 65536))", ints
            case "?":
                return f"({lsrc} if {c} else {rsrc})", lk if lk == rk else "any"
            case _:  # + - * & | ^
                return f"({lsrc} {op} {rsrc})", ints

    @staticmethod
    def fits_mask(node: Json) -> int | None:
        """M when an expression is ``x & M`` with a constant M >= 0 (its value fits M)."""
        while isinstance(node, dict) and node.get("type") == "expression":
            node = node.get("value")
        if isinstance(node, dict) and node.get("op") == "&":
            mask = _const_of(node.get("right"))
            if mask is not None and mask >= 0:
                return mask
        return None

    def store_src(
        self, dst_node: Json, value: str, kind: str, path: str, within: int | None = None
    ) -> str | None:
        """A statement assigning a value's source to a plain field, with BMv2's
        truncation (as ``assign``); None for other targets. ``within``: a mask
        the value is known to fit (an int), so that truncation may be left out."""
        if not isinstance(dst_node, dict) or dst_node.get("type") != "field":
            return None
        hidx, fidx = self.field_ref(dst_node.get("value"), f"{path}.value")
        if fidx == VALID_FIELD:
            return f"v[{hidx}] = 1 if {value} else 0"
        lay = self.layouts[hidx]
        mask = (1 << lay.widths[fidx]) - 1
        num = value if kind != "any" else f"int({value})"
        if lay.signed[fidx]:
            half = 1 << (lay.widths[fidx] - 1)
            return f"h[{hidx}][{fidx}] = (({num} + {half}) & {mask}) - {half}"
        if within is not None and within & ~mask == 0:
            return f"h[{hidx}][{fidx}] = {num}"
        return f"h[{hidx}][{fidx}] = {num} & {mask}"

    def assign(self, dst_node: Json, src: Fn, path: str) -> Prim:
        """Compile ``dst = src`` with BMv2's truncation, specialised for plain fields."""
        if isinstance(dst_node, dict) and dst_node.get("type") == "field":
            hidx, fidx = self.field_ref(dst_node.get("value"), f"{path}.value")
            if fidx != VALID_FIELD and not self.layouts[hidx].signed[fidx]:
                mask = (1 << self.layouts[hidx].widths[fidx]) - 1

                def assign_field(p: Pkt, a: tuple[int, ...]) -> None:
                    p.h[hidx][fidx] = int(src(p, a)) & mask

                return assign_field
        dst = self.lvalue(dst_node, path)
        return lambda p, a: dst(p, a, src(p, a))

    def lvalue(self, node: Json, path: str) -> Callable[[Pkt, tuple[int, ...], int], None]:
        """Compile an assignment target (a field, or a field reached through an expression)."""
        if isinstance(node, dict) and node.get("type") == "field":
            s = self.setter(self.field_ref(node.get("value"), f"{path}.value"))
            return lambda p, a, v: s(p, v)
        if isinstance(node, dict) and node.get("type") == "expression":
            inner = node.get("value")
            if isinstance(inner, dict) and inner.get("op") == "access_field":
                href = self.expr(inner.get("left"), f"{path}.value.left")
                off = inner.get("right")
                if not isinstance(off, int):
                    raise LoadError(f"{path}.value.right", f"expected a field offset, got {off!r}")
                setters = [
                    self.setter((h, off if off < len(self.layouts[h].widths) else VALID_FIELD))
                    if off <= len(self.layouts[h].widths)
                    else None
                    for h in range(len(self.layouts))
                ]

                def set_dyn(p: Pkt, a: tuple[int, ...], v: int) -> None:
                    st = setters[href(p, a)]
                    if st is not None:
                        st(p, v)

                return set_dyn
        raise LoadError(path, f"unsupported assignment target {node!r:.80}")

    # ----------------------------------------------------------- calculations
    def field_bytes_fn(self, inputs: Json, path: str) -> Callable[[Pkt], bytes]:
        """Closure building BMv2's byte buffer from a list of fields/constants."""
        if not isinstance(inputs, list):
            raise LoadError(path, f"expected a list of fields, got {inputs!r:.80}")
        # (header, field, mask, width); header -2 marks a constant held in "field".
        items: list[tuple[int, int, int, int]] = []
        with_payload = False
        for j, inp in enumerate(inputs):
            ipath = f"{path}[{j}]"
            kind = inp.get("type") if isinstance(inp, dict) else None
            if with_payload:
                raise LoadError(ipath, "nothing may follow the payload in a calculation")
            if kind == "payload":
                with_payload = True
            elif kind == "field":
                ref = self.field_ref(inp.get("value"), f"{ipath}.value")
                w = self.width(ref)
                if ref[1] >= 0 and ref[1] == self.layouts[ref[0]].vl:
                    w = VL_WIDTH
                items.append((ref[0], ref[1], (1 << max(w, 0)) - 1, w))
            elif kind == "hexstr":
                bw = inp.get("bitwidth")
                if not isinstance(bw, int):
                    raise LoadError(ipath, "a constant input needs a 'bitwidth'")
                const = _hex(ipath, inp.get("value"))
                items.append((-2, const & ((1 << bw) - 1), (1 << bw) - 1, bw))
            elif kind == "header":
                hidx = self.header(inp.get("value"), f"{ipath}.value")
                hlay = self.layouts[hidx]
                for fidx, fw in enumerate(hlay.widths):
                    w = VL_WIDTH if fidx == hlay.vl else fw
                    items.append((hidx, fidx, (1 << max(w, 0)) - 1, w))
            else:
                raise LoadError(ipath, f"unsupported calculation input {inp!r:.80}")
        nbits = sum(w for _, _, _, w in items)
        pad = (-nbits) % 8
        nbytes = (nbits + pad) // 8

        def build(p: Pkt) -> bytes:
            hs = p.h
            valid = p.v
            acc = 0
            bits = 0
            for h, f, fm, fw in items:
                m, w = fm, fw
                if h < 0:
                    v = f
                elif not valid[h]:
                    # BMv2's BufBuilder leaves out fields of invalid headers.
                    continue
                elif f < 0:
                    v = 1
                else:
                    v = hs[h][f]
                    if w == VL_WIDTH:
                        # a variable-length field: as many bits as were extracted
                        w = hs[h][-1]
                        m = (1 << w) - 1
                acc = (acc << w) | (v & m)
                bits += w
            if bits == nbits:
                return (acc << pad).to_bytes(nbytes, "big")
            extra = (-bits) % 8
            return (acc << extra).to_bytes((bits + extra) // 8, "big")

        if any(w == VL_WIDTH for _, _, _, w in items):
            build_fast = build
        else:
            fast = make_concat(items)

            def build_fast(p: Pkt) -> bytes:
                out = fast(p.h, p.v)
                return out if out is not None else build(p)

        if with_payload:

            def build_with_payload(p: Pkt) -> bytes:
                return build_fast(p) + p.data[p.off :]

            return build_with_payload
        return build_fast

    def _calculation(self, calc: Json, path: str) -> Callable[[Pkt], int]:
        algo = self._req(calc, "algo", path, str)
        fn = hashes.make(algo, self.rng)
        if fn is None:
            raise LoadError(f"{path}.algo", f"unknown hash algorithm {algo!r}")
        build = self.field_bytes_fn(self._req(calc, "input", path, list), f"{path}.input")
        return lambda p: fn(build(p))

    def _checksum(self, ck: Json, path: str) -> None:
        name = self._req(ck, "name", path, str)
        target = self.field_ref(self._req(ck, "target", path, list), f"{path}.target")
        ctype = ck.get("type", "generic")
        if ctype not in ("generic", "ipv4"):
            raise LoadError(f"{path}.type", f"unknown checksum type {ctype!r}")
        cname = self._req(ck, "calculation", path, str)
        if cname not in self.calcs:
            raise LoadError(f"{path}.calculation", f"unknown calculation {cname!r}")
        cond = self.expr(ck["if_cond"], f"{path}.if_cond") if ck.get("if_cond") else None
        self.checksums.append(
            Checksum(
                name,
                target,
                self.width(target),
                self.calcs[cname],
                cond,
                bool(ck.get("verify", True)),
                bool(ck.get("update", True)),
            )
        )

    # ---------------------------------------------------------------- parser
    def _parser(self, parser: Json, path: str) -> Callable[[Pkt], None]:
        states: dict[str, Any] = {}
        slist = self._req(parser, "parse_states", path, list)
        compiled: list[tuple[str, list[Prim], Any, str]] = []
        for i, st in enumerate(slist):
            spath = f"{path}.parse_states[{i}]"
            name = self._req(st, "name", spath, str)
            ops = [
                self._parser_op(op, f"{spath}.parser_ops[{j}]")
                for j, op in enumerate(self._req(st, "parser_ops", spath, list))
            ]
            compiled.append((name, ops, st, spath))
            states[name] = None
        timeout = self.errors.get("ParserTimeout", 5)
        state_objs: dict[str, tuple[list[Prim], Callable[[Pkt], str | None]]] = {}
        for name, ops, st, spath in compiled:
            state_objs[name] = (ops, self._transition(st, spath, states))
        init = self._req(parser, "init_state", path, str)
        if init not in state_objs:
            raise LoadError(f"{path}.init_state", f"unknown parse state {init!r}")

        def parse(p: Pkt) -> None:
            name: str | None = init
            steps = 0
            try:
                while name is not None:
                    steps += 1
                    if steps > MAX_PARSER_STATES:
                        raise ParseError(timeout)
                    ops, trans = state_objs[name]
                    for op in ops:
                        op(p, ())
                    name = trans(p)
            except ParseError as exc:
                p.err = exc.code

        return parse

    def _transition(
        self, st: Json, path: str, states: dict[str, Any]
    ) -> Callable[[Pkt], str | None]:
        key_fns: list[Fn] = []
        key_nodes: list[tuple[Json, str]] = []
        key_bytes: list[int] = []
        for j, k in enumerate(self._req(st, "transition_key", path, list)):
            kpath = f"{path}.transition_key[{j}]"
            kind = k.get("type") if isinstance(k, dict) else None
            if kind == "field":
                ref = self.field_ref(k.get("value"), f"{kpath}.value")
                w = self.width(ref)
            elif kind == "stack_field":
                _s, ids = self.stack(k["value"][0], f"{kpath}.value")
                lay = self.layouts[ids[0]]
                if k["value"][1] not in lay.names:
                    raise LoadError(kpath, f"unknown stack field {k['value']!r}")
                w = lay.widths[lay.names.index(k["value"][1])]
            elif kind == "lookahead":
                w = int(k["value"][1])
            else:
                raise LoadError(f"{kpath}.type", f"unsupported transition key type {kind!r}")
            key_fns.append(self.expr(k, kpath))
            key_nodes.append((k, kpath))
            key_bytes.append((w + 7) // 8)
        cases: list[tuple[int, int, str | None, str | None]] = []
        has_default = False
        default_next: str | None = None
        for j, t in enumerate(self._req(st, "transitions", path, list)):
            tpath = f"{path}.transitions[{j}]"
            nxt = t.get("next_state")
            if nxt is not None and nxt not in states:
                raise LoadError(f"{tpath}.next_state", f"unknown parse state {nxt!r}")
            ttype = t.get("type", "hexstr")
            match ttype:
                case "default":
                    if not has_default:
                        has_default, default_next = True, nxt
                case "hexstr":
                    val = _hex(f"{tpath}.value", t.get("value"))
                    mask = _hex(f"{tpath}.mask", t["mask"]) if t.get("mask") is not None else -1
                    cases.append((val & mask, mask, None, nxt))
                case "parse_vset":
                    vname = t.get("value")
                    if vname not in self.vsets:
                        raise LoadError(f"{tpath}.value", f"unknown parse value set {vname!r}")
                    mask = _hex(f"{tpath}.mask", t["mask"]) if t.get("mask") is not None else -1
                    cases.append((0, mask, vname, nxt))
                case _:
                    raise LoadError(f"{tpath}.type", f"unknown transition type {ttype!r}")
        vsets = self.vsets

        if not key_fns:
            return lambda p: default_next
        if all(vset is None for _, _, vset, _ in cases):
            return self._select_src(key_nodes, key_bytes, cases, default_next)

        def select(p: Pkt) -> str | None:
            key = 0
            for fn, nb in zip(key_fns, key_bytes, strict=True):
                key = (key << (nb * 8)) | (int(fn(p, ())) & ((1 << (nb * 8)) - 1))
            for val, mask, vset, nxt in cases:
                if vset is not None:
                    km = key & mask
                    for vv, vm in vsets[vset]:
                        if km & vm == vv & vm & mask:
                            return nxt
                    continue
                if key & mask == val:
                    return nxt
            # BMv2 tries the default last; no default means accept, without an error.
            return default_next

        return select

    def _select_src(
        self,
        key_nodes: list[tuple[Json, str]],
        key_bytes: list[int],
        cases: list[tuple[int, int, str | None, str | None]],
        default_next: str | None,
    ) -> Callable[[Pkt], str | None]:
        """A generated transition without value sets: the key (each part cut to
        whole bytes, as ``select`` builds it), then the cases in order."""
        scope = Scope()
        parts = []
        shift = sum(key_bytes) * 8
        for (node, kpath), nb in zip(key_nodes, key_bytes, strict=True):
            src, kind = self.expr_src(node, kpath, scope)
            shift -= nb * 8
            part = f"({src if kind == 'int' else f'int({src})'} & {(1 << (nb * 8)) - 1})"
            parts.append(f"({part} << {shift})" if shift else part)
        body = ["h = p.h", "v = p.v", "a = ()", f"key = {' | '.join(parts)}"]
        for val, mask, _, nxt in cases:
            body += [f"if key & {mask} == {val}:", f"    return {scope.ref(nxt, 's')}"]
        body.append(f"return {scope.ref(default_next, 's')}")
        return cast(Callable[[Pkt], "str | None"], scope.function("select", "p", body))

    def _extract_fn(self, hidx: int) -> Prim:
        lay = self.layouts[hidx]
        n = lay.nbytes
        unpack = make_unpacker(lay.widths, lay.signed)
        too_short = self.errors.get("PacketTooShort", 1)
        siblings = [m for m in self.union_of.get(hidx, []) if m != hidx]

        def extract(p: Pkt, a: tuple[int, ...]) -> None:
            off = p.off
            end = off + n
            if end > len(p.data):
                raise ParseError(too_short)
            p.h[hidx] = unpack(int.from_bytes(p.data[off:end], "big"))
            p.v[hidx] = 1
            for m in siblings:
                p.v[m] = 0
            p.off = end

        return extract

    def _extract_vl_fn(self, hidx: int, length: Fn) -> Prim:
        lay = self.layouts[hidx]
        vl, vmax = lay.vl, lay.widths[lay.vl]
        widths, signed = lay.widths, lay.signed
        too_short = self.errors.get("PacketTooShort", 1)
        # BMv2 rejects a length beyond the field's maximum as too short a header
        bad_length = self.errors.get("HeaderTooShort", 4)
        invalid_arg = self.errors.get("ParserInvalidArgument", 6)
        siblings = [m for m in self.union_of.get(hidx, []) if m != hidx]

        def extract_vl(p: Pkt, a: tuple[int, ...]) -> None:
            vbits = int(length(p, a))
            if vbits < 0 or vbits > vmax:
                raise ParseError(bad_length)
            total = lay.nbits + vbits
            if total % 8:
                raise ParseError(invalid_arg)
            off = p.off
            end = off + total // 8
            if end > len(p.data):
                raise ParseError(too_short)
            x = int.from_bytes(p.data[off:end], "big")
            vals = [0] * (len(widths) + 1)
            shift = total
            for j, fw in enumerate(widths):
                w = vbits if j == vl else fw
                shift -= w
                v = (x >> shift) & ((1 << w) - 1)
                if signed[j] and w:
                    half = 1 << (w - 1)
                    v = (v ^ half) - half
                vals[j] = v
            vals[-1] = vbits
            p.h[hidx] = vals
            p.v[hidx] = 1
            for m in siblings:
                p.v[m] = 0
            p.off = end

        return extract_vl

    def _parser_op(self, op: Json, path: str) -> Prim:
        name = self._req(op, "op", path, str)
        params = self._req(op, "parameters", path, list)
        match name:
            case "extract":
                if len(params) != 1:
                    raise LoadError(f"{path}.parameters", "extract takes one parameter")
                prm = params[0]
                kind = prm.get("type")
                if kind == "regular":
                    return self._extract_fn(
                        self.header(prm.get("value"), f"{path}.parameters[0].value")
                    )
                if kind == "stack":
                    sidx, ids = self.stack(prm.get("value"), f"{path}.parameters[0].value")
                    fns = [self._extract_fn(h) for h in ids]
                    oob = self.errors.get("StackOutOfBounds", 3)

                    def extract_next(p: Pkt, a: tuple[int, ...]) -> None:
                        i = p.nxt[sidx]
                        if i >= len(fns):
                            raise ParseError(oob)
                        fns[i](p, a)
                        p.nxt[sidx] = i + 1

                    return extract_next
                raise LoadError(
                    f"{path}.parameters[0].type", f"unsupported extract target {kind!r}"
                )
            case "extract_VL":
                if len(params) != 2 or not isinstance(params[0], dict):
                    raise LoadError(f"{path}.parameters", "extract_VL takes two parameters")
                kind = params[0].get("type")
                vpath = f"{path}.parameters[0].value"
                if kind == "regular":
                    ids = [self.header(params[0].get("value"), vpath)]
                elif kind == "stack":
                    sidx, ids = self.stack(params[0].get("value"), vpath)
                else:
                    raise LoadError(
                        f"{path}.parameters[0].type", f"unsupported extract_VL target {kind!r}"
                    )
                for h in ids:
                    if self.layouts[h].vl < 0:
                        raise LoadError(
                            f"{path}.parameters[0]",
                            f"header {self.layouts[h].name!r} has no variable-length field",
                        )
                length = self.expr(params[1], f"{path}.parameters[1]")
                if kind == "regular":
                    return self._extract_vl_fn(ids[0], length)
                vfns = [self._extract_vl_fn(h, length) for h in ids]
                oob_vl = self.errors.get("StackOutOfBounds", 3)

                def extract_vl_next(p: Pkt, a: tuple[int, ...]) -> None:
                    i = p.nxt[sidx]
                    if i >= len(vfns):
                        raise ParseError(oob_vl)
                    vfns[i](p, a)
                    p.nxt[sidx] = i + 1

                return extract_vl_next
            case "set":
                src = self.expr(params[1], f"{path}.parameters[1]")
                return self.assign(params[0], src, f"{path}.parameters[0]")
            case "verify":
                cond = self.expr(params[0], f"{path}.parameters[0]")
                err = self.expr(params[1], f"{path}.parameters[1]")

                def verify(p: Pkt, a: tuple[int, ...]) -> None:
                    if not cond(p, a):
                        raise ParseError(int(err(p, a)))

                return verify
            case "advance" | "shift":
                amount = self.expr(params[0], f"{path}.parameters[0]")
                too_short = self.errors.get("PacketTooShort", 1)
                per_byte = name == "shift"

                invalid_arg = self.errors.get("ParserInvalidArgument", 6)

                def advance(p: Pkt, a: tuple[int, ...]) -> None:
                    n = int(amount(p, a))
                    if not per_byte and n % 8:
                        raise ParseError(invalid_arg)
                    nbytes = n if per_byte else n // 8
                    if p.off + nbytes > len(p.data):
                        raise ParseError(too_short)
                    p.off += nbytes

                return advance
            case "primitive":
                if len(params) != 1:
                    raise LoadError(f"{path}.parameters", "'primitive' takes one parameter")
                return self.primitive(params[0], f"{path}.parameters[0]")
            case _:
                raise LoadError(f"{path}.op", f"unknown parser op {name!r}")

    # ------------------------------------------------------------ primitives
    def primitive(self, prim: Json, path: str) -> Prim:
        """Compile one action primitive."""
        return compile_primitive(self, prim, path)

    def _action(self, act: Json, path: str) -> None:
        name = self._req(act, "name", path, str)
        aid = self._req(act, "id", path, int)
        params = []
        for j, rd in enumerate(act.get("runtime_data", [])):
            rpath = f"{path}.runtime_data[{j}]"
            params.append(
                (self._req(rd, "name", rpath, str), self._req(rd, "bitwidth", rpath, int))
            )
        prims = self._req(act, "primitives", path, list)
        self._nparams = len(params)
        fns = [self.primitive(pr, f"{path}.primitives[{j}]") for j, pr in enumerate(prims)]
        jumps = any(
            isinstance(pr, dict) and str(pr.get("op", "")).startswith("_jump") for pr in prims
        )
        if jumps:
            run = jump_runner(self, prims, fns, path)
        else:
            # One generated function: the primitives' source in order, a call of
            # the closure for those without. BMv2 runs every primitive; ``exit``
            # only stops the control.
            scope = Scope()
            body = []
            inline = True
            for j, (pr, fn) in enumerate(zip(prims, fns, strict=True)):
                lines = primitive_src(self, pr, f"{path}.primitives[{j}]", scope)
                if lines is None:
                    inline = False
                    lines = [f"{scope.ref(fn, 'p')}(p, a)"]
                body += lines
            if inline:
                # No primitive here replaces a header's value list (only closures
                # such as setValid do): each list is looked up once.
                body = _header_locals(body)
            run = scope.function(f"action_{aid}", "p, a", ["h = p.h", "v = p.v", *body])
        self._nparams = 0
        action = Action(name, aid, tuple(params), run)
        self.actions[aid] = action
        # Several actions may share a name (p4c copies); the first keeps the name.
        self.actions_by_name.setdefault(name, action)

    # -------------------------------------------------------------- pipelines
    def _pipeline(self, pl: Json, path: str) -> None:
        pname = self._req(pl, "name", path, str)
        nodes: dict[str, Node] = {}
        links: list[tuple[Node, Json, str]] = []
        for i, ap in enumerate(pl.get("action_profiles", [])):
            self._profile(ap, f"{path}.action_profiles[{i}]")
        for i, t in enumerate(self._req(pl, "tables", path, list)):
            tpath = f"{path}.tables[{i}]"
            table = self._table(t, tpath)
            node = TableNode(table)
            nodes[table.name] = node
            links.append((node, t, tpath))
        for i, c in enumerate(pl.get("conditionals", [])):
            cpath = f"{path}.conditionals[{i}]"
            cname = self._req(c, "name", cpath, str)
            cexpr = self._req(c, "expression", cpath)
            # compiled here for its checks; the steps generate its source
            self.expr(cexpr, f"{cpath}.expression")
            cnode = CondNode(cname, cexpr, f"{cpath}.expression")
            nodes[cname] = cnode
            links.append((cnode, c, cpath))
        if pl.get("action_calls"):
            raise LoadError(f"{path}.action_calls", "pipeline action_calls are not implemented")

        def resolve(name: Json, npath: str) -> Node | None:
            if name is None:
                return None
            if not isinstance(name, str) or name not in nodes:
                raise LoadError(npath, f"unknown table or conditional {name!r}")
            return nodes[name]

        for lnode, js, npath in links:
            if isinstance(lnode, CondNode):
                lnode.t = resolve(js.get("true_next"), f"{npath}.true_next")
                lnode.f = resolve(js.get("false_next"), f"{npath}.false_next")
            elif isinstance(lnode, TableNode):
                node = lnode
                node.base_next = resolve(js.get("base_default_next"), f"{npath}.base_default_next")
                nt = js.get("next_tables", {}) or {}
                if "__HIT__" in nt or "__MISS__" in nt:
                    node.use_hit = True
                    node.hit_next = resolve(nt.get("__HIT__"), f"{npath}.next_tables.__HIT__")
                    node.miss_next = resolve(nt.get("__MISS__"), f"{npath}.next_tables.__MISS__")
                else:
                    for aname, nxt in nt.items():
                        node.next_by_action[aname] = resolve(nxt, f"{npath}.next_tables.{aname}")
        init = resolve(pl.get("init_table"), f"{path}.init_table")
        self.pipelines[pname] = Pipeline(pname, init, self._steps(list(nodes.values()), init))

    # ------------------------------------------------------ generated steps
    def _steps(self, nodes: list[Node], init: Node | None) -> Step | None:
        """Generate the step functions of a pipeline; return the first node's.

        A node whose code appears at one place only (the one successor of one
        node) is generated inline there, to a bounded depth, so that a chain of
        conditionals and tables is one call. Other nodes get a step function of
        their own, named in the generated code and bound once all exist.
        """
        if init is None:
            return None
        scope = Scope()
        sites: dict[int, int] = {id(n): 0 for n in nodes}
        for n in nodes:
            for m in _emitted(n):
                if m is not None:
                    sites[id(m)] += 1
        names: dict[int, str] = {}
        todo: list[Node] = []
        maps: list[tuple[str, dict[str, str]]] = []

        def name_of(n: Node | None) -> str:
            if n is None:
                return "None"
            if id(n) not in names:
                names[id(n)] = scope.reserve("n")
                todo.append(n)
            return names[id(n)]

        def goto(n: Node | None, depth: int) -> list[str]:
            if n is not None and sites[id(n)] == 1 and depth < _INLINE_DEPTH:
                return node_src(n, depth + 1)
            return [f"return {name_of(n)}"]

        def node_src(n: Node, depth: int) -> list[str]:
            if isinstance(n, CondNode):
                cond, _ = self.expr_src(n.expr, n.path, scope)
                if n.t is n.f:
                    return [cond, *goto(n.t, depth)]
                return [f"if {cond}:", *_indent(goto(n.t, depth)), *goto(n.f, depth)]
            node = cast(TableNode, n)
            if node.use_hit:
                miss, hit = goto(node.miss_next, depth), goto(node.hit_next, depth)
                return self._table_src(node, scope, miss, hit)
            if _uniform(node):
                return self._table_src(node, scope, None, goto(node.base_next, depth))
            xname = scope.reserve("x")
            maps.append((xname, {k: name_of(m) for k, m in node.next_by_action.items()}))
            base = name_of(node.base_next)
            by_name = [f"return {xname}.get(name, {base})"]
            return self._table_src(node, scope, [f"return {base}"], by_name, by_name=True)

        first = name_of(init)
        while todo:
            n = todo.pop()
            body = ["h = p.h", "v = p.v", "a = ()", *node_src(n, 0)]
            scope.env[names[id(n)]] = scope.function(f"step{names[id(n)]}", "p", body)
        for xname, by_action in maps:
            scope.env[xname] = {k: scope.env.get(m) for k, m in by_action.items()}
        return cast(Step, scope.env[first])

    def _table_src(
        self,
        node: TableNode,
        scope: Scope,
        on_miss: list[str] | None,
        after: list[str],
        by_name: bool = False,
    ) -> list[str]:
        """Source applying a table node, then going on (the last line returns).

        ``after`` follows a hit, and a miss too when ``on_miss`` is None; with
        ``by_name`` it follows any action run (its name in ``name``) and
        ``on_miss`` a miss that runs none.
        """
        t = node.table
        tname = scope.ref(t, "t")
        if t.profile is not None or t.direct_meter is not None:
            # action profiles and direct meters: the table's general apply
            lines = [f"hit, name = {tname}.apply(p)", "if p.exit:", "    return None"]
            if on_miss is not None:
                lines += ["if name is None:" if by_name else "if not hit:", *_indent(on_miss)]
            return [*lines, *after]
        run_default = ["d[0].run(p, d[1])", "if p.exit:", "    return None"]
        run_entry = ["c = e.counter", "c[0] += 1", "c[1] += p.ingress_len"]
        run_entry += ["r = e.call", "r[0](p, r[1])", "if p.exit:", "    return None"]
        lines = [f"e = {t.lookup_src(scope)}", "if e is None:", f"    d = {tname}.default"]
        if by_name:
            assert on_miss is not None
            lines += ["    if d is None:", *_indent(on_miss, 2)]
            lines += [*_indent(run_default), "    name = d[0].name"]
            lines += ["else:", *_indent(run_entry), "    name = r[2]"]
        elif on_miss is not None:
            lines += ["    if d is not None:", *_indent(run_default, 2), *_indent(on_miss)]
            lines += run_entry
        else:
            lines += ["    if d is not None:", *_indent(run_default, 2)]
            lines += ["else:", *_indent(run_entry)]
        return [*lines, *after]

    def _profile(self, ap: Json, path: str) -> None:
        name = self._req(ap, "name", path, str)
        sel = ap.get("selector")
        selector = None
        if sel:
            algo = self._req(sel, "algo", f"{path}.selector", str)
            sel_fn = hashes.make(algo, self.rng)
            if sel_fn is None:
                raise LoadError(f"{path}.selector.algo", f"unknown hash algorithm {algo!r}")
            fn = sel_fn
            build = self.field_bytes_fn(
                self._req(sel, "input", f"{path}.selector", list), f"{path}.selector.input"
            )

            def selector_fn(p: Pkt) -> int:
                return fn(build(p))

            selector = selector_fn
        self.profiles[name] = ActionProfile(name, int(ap.get("max_size", 0) or 0), selector)

    def _table(self, t: Json, path: str) -> Table:
        name = self._req(t, "name", path, str)
        keys: list[KeySpec] = []
        for j, k in enumerate(self._req(t, "key", path, list)):
            kpath = f"{path}.key[{j}]"
            mt = self._req(k, "match_type", kpath, str)
            try:
                kind = MatchKind(mt)
            except ValueError:
                raise LoadError(f"{kpath}.match_type", f"unknown match type {mt!r}") from None
            target = self._req(k, "target", kpath)
            if kind is MatchKind.VALID:
                hidx = self.header(target, f"{kpath}.target")
                getter: Fn = _valid_fn(hidx)
                source = f"v[{hidx}]"
                width = 1
            else:
                ref = self.field_ref(target, f"{kpath}.target")
                getter = self.getter(ref)
                source = f"v[{ref[0]}]" if ref[1] == VALID_FIELD else f"h[{ref[0]}][{ref[1]}]"
                width = self.width(ref)
                if ref[1] != VALID_FIELD and self.layouts[ref[0]].signed[ref[1]]:
                    getter = _masked_fn(getter, (1 << width) - 1)
                    source = f"({source} & {(1 << width) - 1})"
            mask = _hex(f"{kpath}.mask", k["mask"]) if k.get("mask") is not None else None
            if mask is not None and mask > 0:
                shift = (mask & -mask).bit_length() - 1
                if (mask >> shift) & ((mask >> shift) + 1) == 0:
                    # p4c's mask is a slice 'f[hi:lo]': entries hold the slice's bits
                    width = (mask >> shift).bit_length()
                    getter = _slice_fn(getter, mask, shift)
                    source = f"(({source} & {mask}) >> {shift})"
                    mask = None
            keys.append(KeySpec(str(k.get("name", "")), kind, width, getter, mask, source))
        mtype = self._req(t, "match_type", path, str)
        if mtype not in ("exact", "lpm", "ternary", "range"):
            raise LoadError(f"{path}.match_type", f"unknown table match type {mtype!r}")
        ttype = t.get("type", "simple")
        if ttype not in ("simple", "indirect", "indirect_ws"):
            raise LoadError(f"{path}.type", f"unknown table type {ttype!r}")
        profile = None
        if ttype != "simple":
            pname = self._req(t, "action_profile", path, str)
            if pname not in self.profiles:
                raise LoadError(f"{path}.action_profile", f"unknown action profile {pname!r}")
            profile = self.profiles[pname]
            profile.tables.append(name)
        actions: dict[str, Action] = {}
        for j, aid in enumerate(self._req(t, "action_ids", path, list)):
            if aid not in self.actions:
                raise LoadError(f"{path}.action_ids[{j}]", f"unknown action id {aid!r}")
            actions[self.actions[aid].name] = self.actions[aid]
        dcounter = None
        if t.get("with_counters"):
            for c in self.counters.values():
                if c.is_direct and c.binding == name:
                    dcounter = c.name
            if dcounter is None:
                dcounter = f"{name}.$counter"
        dmeter = t.get("direct_meters")
        if dmeter is not None and dmeter not in self.meters:
            raise LoadError(f"{path}.direct_meters", f"unknown meter {dmeter!r}")
        table = Table(
            name=name,
            keys=keys,
            match_type=mtype,
            actions=actions,
            max_size=int(t.get("max_size", 1024)),
            profile=profile,
            direct_counter=dcounter,
            direct_meter=self.meters[dmeter] if dmeter else None,
            clock=self.clock,
            support_timeout=bool(t.get("support_timeout", False)),
        )
        de = t.get("default_entry")
        if de is not None and profile is None:
            dpath = f"{path}.default_entry"
            aid = self._req(de, "action_id", dpath, int)
            if aid not in self.actions:
                raise LoadError(f"{dpath}.action_id", f"unknown action id {aid!r}")
            data = tuple(
                _hex(f"{dpath}.action_data[{j}]", x)
                for j, x in enumerate(de.get("action_data", []))
            )
            if len(data) != len(self.actions[aid].params):
                raise LoadError(
                    f"{dpath}.action_data",
                    f"action {self.actions[aid].name!r} takes {len(self.actions[aid].params)} "
                    f"values, got {len(data)}",
                )
            table.set_program_default(
                self.actions[aid],
                data,
                bool(de.get("action_const")),
                bool(de.get("action_entry_const")),
            )
        elif profile is None:
            noop = self.actions_by_name.get("NoAction")
            if noop is not None:
                table.set_program_default(noop, (), False, False)
        entries = t.get("entries")
        if entries:
            table.const_entries = True
            self._const_entries(table, entries, f"{path}.entries")
        elif t.get("entries") is not None:
            table.const_entries = bool(t.get("const_entries", False))
        self.tables[name] = table
        return table

    def _const_entries(self, table: Table, entries: Json, path: str) -> None:
        prios = [e.get("priority", 0) for e in entries if isinstance(e, dict)]
        top = max([p for p in prios if isinstance(p, int)] or [0]) + 1
        for i, e in enumerate(entries):
            epath = f"{path}[{i}]"
            matches: list[KeyMatch | None] = []
            for j, mk in enumerate(self._req(e, "match_key", epath, list)):
                mpath = f"{epath}.match_key[{j}]"
                mt = self._req(mk, "match_type", mpath, str)
                match mt:
                    case "exact" | "valid":
                        matches.append(ExactMatch(_hex(f"{mpath}.key", mk.get("key"))))
                    case "lpm":
                        matches.append(
                            LpmMatch(
                                _hex(f"{mpath}.key", mk.get("key")), int(mk.get("prefix_length", 0))
                            )
                        )
                    case "ternary" | "optional":
                        matches.append(
                            TernaryMatch(
                                _hex(f"{mpath}.key", mk.get("key")),
                                _hex(f"{mpath}.mask", mk.get("mask")),
                            )
                        )
                    case "range":
                        matches.append(
                            RangeMatch(
                                _hex(f"{mpath}.start", mk.get("start")),
                                _hex(f"{mpath}.end", mk.get("end")),
                            )
                        )
                    case _:
                        raise LoadError(f"{mpath}.match_type", f"unknown match type {mt!r}")
            ae = self._req(e, "action_entry", epath, dict)
            aid = self._req(ae, "action_id", f"{epath}.action_entry", int)
            if aid not in self.actions:
                raise LoadError(f"{epath}.action_entry.action_id", f"unknown action id {aid!r}")
            data = tuple(
                _hex(f"{epath}.action_entry.action_data[{j}]", x)
                for j, x in enumerate(ae.get("action_data", []))
            )
            prio = e.get("priority", 0)
            # BMv2: smaller priority value wins; the API's priority: larger wins.
            api_prio = top - prio if table.needs_priority else 0
            try:
                table.add(matches, ActionCall(self.actions[aid].name, data), api_prio, const=True)
            except Exception as exc:
                raise LoadError(epath, f"invalid const entry: {exc}") from exc


_BIN_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "+": lambda x, y: x + y,
    "*": lambda x, y: x * y,
    "/": lambda x, y: x // y if y else 0,
    "%": lambda x, y: x % y if y else 0,
    "&": lambda x, y: x & y,
    "|": lambda x, y: x | y,
    "^": lambda x, y: x ^ y,
    "==": lambda x, y: x == y,
    "!=": lambda x, y: x != y,
    "<": lambda x, y: x < y,
    ">": lambda x, y: x > y,
    "<=": lambda x, y: x <= y,
    ">=": lambda x, y: x >= y,
}
_NO_LEFT = frozenset({"valid", "valid_union", "last_stack_index", "size_stack"})
# The operators ``expr_src`` writes as Python source.
_SRC_UNARY = frozenset({"-", "~", "not", "d2b", "b2d"})
_SRC_BINARY = frozenset(
    {"+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>", "?", "and", "or"}
    | {"==", "!=", "<", ">", "<=", ">="}
)


def _both(lf: Fn | None, rf: Fn | None, path: str) -> tuple[Fn, Fn]:
    if lf is None or rf is None:
        raise LoadError(path, "binary operator needs 'left' and 'right'")
    return lf, rf


def _one(f: Fn | None, path: str) -> Fn:
    if f is None:
        raise LoadError(path, "operator needs an operand")
    return f


def _const_of(node: Json) -> int | None:
    """The value of a ``hexstr`` node, else None."""
    if isinstance(node, dict) and node.get("type") == "hexstr":
        try:
            return _hex("", node.get("value"))
        except LoadError:
            return None
    return None


def _valid_fn(hidx: int) -> Fn:
    return lambda p, a: p.v[hidx]


def _slice_fn(g: Fn, mask: int, shift: int) -> Fn:
    return lambda p, a: (int(g(p, a)) & mask) >> shift


def _masked_fn(g: Fn, mask: int) -> Fn:
    return lambda p, a: int(g(p, a)) & mask


def _shl(x: Any, n: Any) -> int:
    k = int(n)
    if k > 1 << 16:
        # Results are masked by the caller; a huge shift would only waste memory.
        return 0
    return int(x) << k


_INLINE_DEPTH = 24


def _indent(lines: list[str], levels: int = 1) -> list[str]:
    return [("    " * levels) + line for line in lines]


def _uniform(node: TableNode) -> bool:
    """Whether a table node goes on to the same node whatever action it runs."""
    return all(m is node.base_next for m in node.next_by_action.values())


def _emitted(n: Node) -> list[Node | None]:
    """The nodes whose code a node's generated code may contain inline, once each."""
    if isinstance(n, CondNode):
        return [n.t, n.f]
    node = cast(TableNode, n)
    if node.use_hit:
        return [node.hit_next, node.miss_next]
    return [node.base_next] if _uniform(node) else []


def _bool_src(src: str, kind: str) -> str:
    """``bool(x)`` of an expression's source (for an int, the cheaper ``x != 0``)."""
    if kind == "bool":
        return src
    return f"({src} != 0)" if kind == "int" else f"bool({src})"


_HEADER_REF = re.compile(r"\bh\[(\d+)\]")


def _header_locals(body: list[str]) -> list[str]:
    """Generated lines with each ``h[K]`` read once into a local ``hK`` first.

    Only for code in which no header's value list is replaced; every ``h[`` in
    generated code is such a look-up (the generator names its globals ``_...``).
    """
    used = sorted({int(m) for line in body for m in _HEADER_REF.findall(line)})
    return [*(f"h{k} = h[{k}]" for k in used), *(_HEADER_REF.sub(r"h\1", x) for x in body)]
