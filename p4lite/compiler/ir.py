"""Mid-end IR: BMv2-shaped values, places, tables, actions and JSON helpers.

Imports `ast`, `frontend` (types) and `diagnostics` only; the lowering
passes build it and the back ends (`bmv2`, `p4info`) read it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from p4lite.compiler import ast
from p4lite.compiler.diagnostics import Pos
from p4lite.compiler.frontend import (
    StackT,
    StructT,
    Type,
)

logger = logging.getLogger(__name__)


J = dict[str, Any]

STANDARD_METADATA_FIELDS: tuple[tuple[str, int], ...] = (
    ("ingress_port", 9),
    ("egress_spec", 9),
    ("egress_port", 9),
    ("instance_type", 32),
    ("packet_length", 32),
    ("enq_timestamp", 32),
    ("enq_qdepth", 19),
    ("deq_timedelta", 32),
    ("deq_qdepth", 19),
    ("ingress_global_timestamp", 48),
    ("egress_global_timestamp", 48),
    ("mcast_grp", 16),
    ("egress_rid", 16),
    ("checksum_error", 1),
    ("parser_error", 32),
    ("priority", 3),
)

HASH_ALGOS = {
    "crc32": "crc32",
    "crc32_custom": "crc32_custom",
    "crc16": "crc16",
    "crc16_custom": "crc16_custom",
    "random": "random",
    "identity": "identity",
    "csum16": "csum16",
    "xor16": "xor16",
}


class UnsupportedError(Exception):
    """Internal: a construct outside the supported subset."""

    def __init__(self, pos: Pos, msg: str) -> None:
        self.pos = pos
        super().__init__(msg)


# ---------------------------------------------------------------- IR


def hexstr(value: int, width: int) -> str:
    """p4c's hexstr spelling: at least one byte per 8 bits, '-' for negatives."""
    digits = max(1, (width + 7) // 8) * 2
    if value < 0:
        return f"-0x{-value:0{digits}x}"
    return f"0x{value:0{digits}x}"


def jhex(value: int, width: int) -> J:
    """A hexstr JSON operand."""
    return {"type": "hexstr", "value": hexstr(value, width)}


def jexpr(op: str, left: J | None, right: J | None) -> J:
    """A BMv2 expression node."""
    return {"type": "expression", "value": {"op": op, "left": left, "right": right}}


def mask(width: int) -> int:
    """All-ones of `width` bits."""
    return (1 << width) - 1


@dataclass(slots=True)
class Val:
    """A lowered rvalue: BMv2 JSON, its P4 type, whether JSON is boolean, constant value."""

    json: J
    type: Type
    boolish: bool = False
    const: int | None = None


@dataclass(slots=True)
class PField:
    """A scalar place: a field of a header instance (or of `scalars`)."""

    hdr: str
    name: str
    type: Type


@dataclass(slots=True)
class PHeader:
    """A header instance (or a fixed stack element `hs[0]`)."""

    name: str
    type: StructT


@dataclass(slots=True)
class PDynHeader:
    """A header stack element chosen by a run-time index: `hs[i]`."""

    stack: str
    type: StructT
    index: J

    @property
    def json(self) -> J:
        """BMv2's `dereference_header_stack` expression for the element."""
        return jexpr(
            "dereference_header_stack", {"type": "header_stack", "value": self.stack}, self.index
        )


@dataclass(slots=True)
class PDynField:
    """A field of a run-time indexed stack element: `hs[i].f` (BMv2 `access_field`)."""

    header: PDynHeader
    name: str
    type: Type

    @property
    def json(self) -> J:
        """BMv2's `access_field` expression: the field at its offset in the header type."""
        offset = [n for n, _ in self.header.type.fields].index(self.name)
        return {
            "type": "expression",
            "value": {"op": "access_field", "left": self.header.json, "right": offset},
        }


@dataclass(slots=True)
class PStruct:
    """A flattened struct: members map to places."""

    type: StructT
    members: dict[str, Place]


@dataclass(slots=True)
class PStack:
    """A header stack instance."""

    name: str
    type: StackT


@dataclass(slots=True)
class PUnion:
    """A header union instance."""

    name: str
    type: StructT
    members: dict[str, PHeader]


@dataclass(slots=True)
class PValue:
    """A name bound to an rvalue (action data, constants, in-arguments)."""

    val: Val


@dataclass(slots=True)
class PObj:
    """A named non-data object: extern instance, table, action, packet, control, type."""

    kind: str
    name: str
    decl: Any = None
    type: Type | None = None


Place = PField | PHeader | PStruct | PStack | PUnion | PValue | PObj | PDynHeader | PDynField


@dataclass(slots=True)
class LAction:
    """A BMv2 action."""

    name: str
    id: int
    params: list[tuple[str, int]]
    primitives: list[J]
    hidden: bool = False
    pos: Pos | None = None
    annotations: tuple[ast.Annotation, ...] = ()
    fq_p4: str = ""
    # the P4Runtime new type (`type` declaration) of each param, "" if none
    param_types: tuple[str, ...] = ()
    # the serializable enum type of each param, "" if none
    param_enums: tuple[str, ...] = ()
    # each param's annotations (P4Info copies them)
    param_annos: tuple[tuple[ast.Annotation, ...], ...] = ()


@dataclass(slots=True)
class LKey:
    """A table key."""

    match_type: str
    p4_match: str
    name: str
    target: list[str]
    width: int
    mask: int | None = None
    # the P4Runtime new type (`type` declaration) of the key, if any
    type_name: str = ""
    # the serializable enum type of the key, if any
    enum_name: str = ""
    # the key element's annotations (P4Info copies them, @name aside)
    annotations: tuple[ast.Annotation, ...] = ()
    # the key expression's P4 type (entry values must have it)
    p4_type: Type | None = None


@dataclass(slots=True)
class LTable:
    """A BMv2 table (user or hidden)."""

    name: str
    id: int
    pos: Pos
    keys: list[LKey] = field(default_factory=list)
    actions: list[LAction] = field(default_factory=list)
    default: tuple[LAction, list[int], bool] | None = None
    entries: list[J] = field(default_factory=list)
    size: int = 1024
    hidden: bool = False
    next_tables: dict[str, str | None] = field(default_factory=dict)
    base_default_next: str | None = None
    implementation: str | None = None
    selector: bool = False
    with_counters: bool = False
    direct_meter: str | None = None
    annotations: tuple[ast.Annotation, ...] = ()
    action_refs: list[tuple[LAction, tuple[ast.Annotation, ...]]] = field(default_factory=list)
    const_entries: bool = False
    has_entries: bool = False
    idle_timeout: bool = False
    key_prims: list[J] = field(default_factory=list)


@dataclass(slots=True)
class LCond:
    """A BMv2 conditional."""

    name: str
    id: int
    pos: Pos
    expr: J
    true_next: str | None = None
    false_next: str | None = None


@dataclass(slots=True)
class LPipeline:
    """A control pipeline (ingress or egress)."""

    name: str
    pos: Pos
    p4name: str
    init: str | None = None
    tables: list[LTable] = field(default_factory=list)
    conds: list[LCond] = field(default_factory=list)


@dataclass(slots=True)
class LState:
    """A parser state."""

    name: str
    ops: list[J]
    key: list[J]
    transitions: list[J]


@dataclass(slots=True)
class LExtern:
    """A stateful extern instance (register, counter, meter, action profile)."""

    kind: str
    name: str
    pos: Pos
    size: int = 0
    width: int = 0
    direct_table: str | None = None
    # where the table's counters/meters property binds it (for diagnostics)
    direct_pos: Pos | None = None
    mtype: str = ""
    selector: J | None = None
    annotations: tuple[ast.Annotation, ...] = ()
    counter_type: str = ""
    # a register's P4Runtime value type: '' (bit<W>), 'int' (int<W>), 'bool'
    # or 'serenum:NAME'
    value_type: str = ""
    # an action profile's @max_group_size (0: none)
    max_group_size: int = 0


@dataclass(slots=True)
class LValueSet:
    """A parser value set: its fields (name, width) and maximum size."""

    name: str
    pos: Pos
    size: int
    fields: list[tuple[str, int]]
    annotations: tuple[ast.Annotation, ...] = ()

    @property
    def bitwidth(self) -> int:
        """The unpadded width of one member."""
        return sum(w for _, w in self.fields)


@dataclass(slots=True)
class Lowered:
    """The whole lowered program."""

    header_types: dict[str, list[tuple[str, int, bool]]] = field(default_factory=dict)
    # header types with a varbit field (width VARBIT_WIDTH): their maximum length in bytes
    header_max_length: dict[str, int] = field(default_factory=dict)
    headers: list[tuple[str, str, bool]] = field(default_factory=list)
    stacks: list[tuple[str, str, int, list[int]]] = field(default_factory=list)
    union_types: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    unions: list[tuple[str, str, list[int]]] = field(default_factory=list)
    # header union stacks: name, union type, size, header union ids
    union_stacks: list[tuple[str, str, int, list[int]]] = field(default_factory=list)
    scalars: list[tuple[str, int, bool]] = field(default_factory=list)
    errors: list[tuple[str, int]] = field(default_factory=list)
    enums: list[tuple[str, list[tuple[str, int]]]] = field(default_factory=list)
    states: list[LState] = field(default_factory=list)
    init_state: str = "start"
    actions: list[LAction] = field(default_factory=list)
    pipelines: list[LPipeline] = field(default_factory=list)
    deparser: list[str] = field(default_factory=list)
    deparser_pos: Pos | None = None
    calculations: list[J] = field(default_factory=list)
    checksums: list[J] = field(default_factory=list)
    field_lists: list[J] = field(default_factory=list)
    learn_lists: list[J] = field(default_factory=list)
    externs: list[LExtern] = field(default_factory=list)
    # digest name, learn list id, fields (name, width, P4Runtime type: '' for
    # bit<W>, 'bool', 'error', 'serenum:NAME', 'enum:NAME' or 'newtype:NAME')
    digests: list[tuple[str, int, list[tuple[str, int, str]]]] = field(default_factory=list)
    arch_names: dict[str, str] = field(default_factory=dict)
    extern_calls: bool = False
    # @controller_header name, header type name, annotations, fields (name,
    # width, new type, annotations)
    controller_headers: list[
        tuple[
            str,
            str,
            tuple[ast.Annotation, ...],
            list[tuple[str, int, str | None, tuple[ast.Annotation, ...]]],
        ]
    ] = field(default_factory=list)
    direct_actions: list[tuple[str, ast.ActionDecl]] = field(default_factory=list)
    serializable_enums: list[tuple[str, int, list[tuple[str, int]]]] = field(default_factory=list)
    # P4Runtime new types (`type` declarations): name -> (width, annotations)
    newtypes: dict[str, tuple[int, tuple[ast.Annotation, ...]]] = field(default_factory=dict)
    value_sets: list[LValueSet] = field(default_factory=list)


@dataclass(slots=True)
class Ctx:
    """Lowering context of one block: scope, where primitives go, the action guard."""

    scope: dict[str, Place]
    in_action: bool = False
    in_parser: bool = False
    prims: list[J] | None = None
    guard: J | None = None
    control: str = ""


# the width recorded for a varbit field of a header type (BMv2 writes '*')
VARBIT_WIDTH = -1


def shift_jumps(prims: list[J], offset: int) -> None:
    """Move the targets of ``_jump``/``_jump_if_zero`` primitives by ``offset``.

    Jump targets are primitive indices within the action: primitives moved down
    (inserted before, or the list spliced into another) need this.
    """
    for prim in prims:
        op = prim.get("op")
        if op in ("_jump", "_jump_if_zero"):
            target = prim["parameters"][-1]
            target["value"] = hex(int(target["value"], 16) + offset)


def statement_text(rest: str) -> str:
    """The source text of one statement: up to its ';' (outside brackets) or line end."""
    rest = " ".join(rest.split())
    depth = 0
    for i, ch in enumerate(rest):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth < 0:
                return rest[:i].strip()
        elif ch == ";" and depth == 0:
            return rest[:i].strip()
    return rest.strip()


def range_to_masks(lo: int, hi: int, w: int) -> list[tuple[int, int]]:
    """Cover [lo, hi] with value/mask pairs (largest aligned blocks first)."""
    out: list[tuple[int, int]] = []
    full = mask(w)
    while lo <= hi:
        size = 1
        while (lo & (size * 2 - 1)) == 0 and lo + size * 2 - 1 <= hi and size * 2 <= (1 << w):
            size *= 2
        out.append((lo, full & ~(size - 1)))
        lo += size
    return out


def expr_text(e: ast.Expr) -> str:
    """The source spelling of a key expression, as p4c names keys."""
    match e:
        case ast.Name(name=n):
            return n
        case ast.Member(expr=x, name=n):
            return f"{expr_text(x)}.{n}"
        case ast.Index(expr=x, index=i):
            return f"{expr_text(x)}[{expr_text(i)}]"
        case ast.IntLit(value=v):
            return str(v)
        case ast.Slice(expr=x, hi=h, lo=lo):
            return f"{expr_text(x)}[{expr_text(h)}:{expr_text(lo)}]"
        case ast.Call(func=f, args=args):
            return f"{expr_text(f)}({', '.join(expr_text(a.expr) for a in args)})"
        case ast.Binary(op=op, left=l, right=r):
            return f"{expr_text(l)} {op} {expr_text(r)}"
        case ast.Cast(type=t, expr=x):
            spelled = t.name or t.kind
            if t.width is not None:
                spelled += f"<{expr_text(t.width)}>"
            return f"({spelled}){expr_text(x)}"
        case ast.Unary(op=op, expr=x):
            return f"{op}{expr_text(x)}"
    return "?"
