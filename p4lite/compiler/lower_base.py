"""Lowering pass 1: names, storage allocation (struct flattening into `scalars`,
headers, stacks, unions, locals and temporaries) and primitive emission.

Imports `ast`, `frontend`, `diagnostics` and `ir`.
"""

from __future__ import annotations

import logging

from p4lite.compiler import ast
from p4lite.compiler.diagnostics import Pos, Sink
from p4lite.compiler.frontend import (
    Bits,
    BoolT,
    EnumT,
    Env,
    ErrorT,
    FrontEnd,
    StackT,
    StructT,
    TupleT,
    Type,
    VarbitT,
    type_str,
    width_of,
)
from p4lite.compiler.ir import (
    VARBIT_WIDTH,
    Ctx,
    J,
    LAction,
    Lowered,
    LPipeline,
    PField,
    PHeader,
    Place,
    PStack,
    PStruct,
    PUnion,
    UnsupportedError,
    Val,
    statement_text,
)

logger = logging.getLogger(__name__)

# the struct a tuple local becomes is named with this prefix (no P4 name has '$')
TUPLE_PREFIX = "tuple$"

# parser_ops BMv2 knows by name; anything else goes inside a "primitive" op
PARSER_OPS = frozenset({"extract", "extract_VL", "set", "verify", "shift", "advance", "primitive"})


class LowerBase:
    """Shared state of the lowering passes: names, storage, primitives."""

    def __init__(self, env: Env, fe: FrontEnd, sink: Sink, file_stem: str) -> None:
        self.env = env
        self.fe = fe
        self.sink = sink
        self.stem = file_stem
        self.out = Lowered()
        self.names: set[str] = set()
        self.action_ids = 0
        self.node_ids = 0
        self.table_ids = 0
        self.pipeline: LPipeline | None = None
        self.action_cache: dict[str, LAction] = {}
        self.field_list_ids: dict[int, int] = {}
        # the metadata struct of the control being lowered (for @field_list)
        self.out_meta: Place | None = None
        # control-level variable initializers, run before the apply body
        self.pending_inits: list[tuple[Place, ast.Expr | Val, Pos]] = []
        self.ctl_scope: Ctx | None = None
        # enclosing loops of the statement being lowered: (break, continue) targets
        self.loops: list[tuple[list[J], list[J]]] = []
        # the table being lowered: its actions and how many parameters its list binds
        self.table_bound: dict[str, tuple[LAction, int]] = {}
        # also lower the actions and tables a control declares but never uses, to
        # report their errors (p4c checks every declaration); set on a second pass
        self.check_unused = False
        # the table declarations lowered so far (by identity)
        self.built_tables: set[int] = set()
        # constructor arguments of instantiated controls and parsers, by instance name
        self.ctor_args: dict[str, dict[str, Place]] = {}
        # the actions and functions being inlined, innermost last (P4 has no recursion)
        self.inlining: list[ast.ActionDecl | ast.FunctionDecl] = []
        # the standard_metadata instance, once allocated
        self.sm_root: PHeader | None = None

    # ============================================================ helpers
    def fresh(self, base: str) -> str:
        """A name not used before (p4c style: base, base_0, base_1...)."""
        if base not in self.names:
            self.names.add(base)
            return base
        k = 0
        while f"{base}_{k}" in self.names:
            k += 1
        name = f"{base}_{k}"
        self.names.add(name)
        return name

    def src(self, pos: Pos | None, fragment: str | None = None) -> J | None:
        """p4c-style source_info for a position (0-based column), or None."""
        if pos is None or pos.line <= 0 or pos.file.startswith("/usr/local/share"):
            return None
        frag = fragment
        if frag is None:
            frag = statement_text(pos.text[pos.col - 1 :]) if pos.text else ""
        return {
            "filename": pos.file,
            "line": pos.line,
            "column": pos.col - 1,
            "source_fragment": frag,
        }

    def new_scalar(self, base: str, width: int, signed: bool = False) -> PField:
        """A fresh field of the `scalars` header."""
        name = self.fresh(base)
        self.out.scalars.append((name, width, signed))
        return PField("scalars", name, Bits(width, signed))

    def temp(self, t: Type) -> PField:
        """A fresh scalar temporary of type t."""
        w = max(width_of(t), 1)
        f = self.new_scalar("tmp", w, isinstance(t, Bits) and t.signed)
        f.type = t
        return f

    def header_type(self, t: StructT) -> str:
        """Register the BMv2 header type of a header (padded to whole bytes)."""
        if t.name not in self.out.header_types:
            fields: list[tuple[str, int, bool]] = []
            varbits = [ft for _, ft in t.fields if isinstance(ft, VarbitT)]
            if len(varbits) > 1:
                raise UnsupportedError(
                    Pos("", 0, 0), f"header {t.name!r} has more than one varbit field"
                )
            for n, ft in t.fields:
                if isinstance(ft, VarbitT):
                    # BMv2 writes the width '*' and the header's max_length in bytes
                    fields.append((n, VARBIT_WIDTH, False))
                    continue
                fields.append((n, width_of(ft), isinstance(ft, Bits) and ft.signed))
            total = sum(f[1] for f in fields if f[1] != VARBIT_WIDTH)
            if total % 8 and not varbits:
                fields.append(("_padding", 8 - total % 8, False))
            if varbits:
                if (total + varbits[0].max) % 8:
                    raise UnsupportedError(
                        Pos("", 0, 0),
                        f"header {t.name!r}: fixed fields plus varbit<{varbits[0].max}> "
                        "are not a whole number of bytes",
                    )
                self.out.header_max_length[t.name] = (total + varbits[0].max) // 8
            self.out.header_types[t.name] = fields
        return t.name

    def new_union(self, uname: str, t: StructT) -> PUnion:
        """A new header union instance: its member headers are 'uname.member'."""
        members: dict[str, PHeader] = {}
        ids: list[int] = []
        for fname, ft in t.fields:
            assert isinstance(ft, StructT)
            ids.append(len(self.out.headers))
            members[fname] = self.new_header(f"{uname}.{fname}", ft)
        self.out.union_types.setdefault(
            t.name, [(fn, ft.name) for fn, ft in t.fields if isinstance(ft, StructT)]
        )
        self.out.unions.append((uname, t.name, ids))
        return PUnion(uname, t, members)

    def new_header(self, name: str, t: StructT, metadata: bool = False) -> PHeader:
        """A new header instance of type t."""
        self.header_type(t)
        self.out.headers.append((name, t.name, metadata))
        return PHeader(name, t)

    # ============================================================ storage
    def alloc(
        self, t: Type, path: list[str], prefix: str, nested: bool, counter: list[int]
    ) -> Place:
        """Allocate storage for a value of type t at `path` (flattening structs)."""
        leaf = "_" + "_".join(path) + str(counter[0]) if nested else path[-1]
        match t:
            case StructT(kind="header"):
                counter[0] += 1
                return self.new_header(self.fresh(leaf), t)
            case StructT(kind="header_union"):
                counter[0] += 1
                return self.new_union(self.fresh(leaf), t)
            case StackT(elem=StructT(kind="header_union") as elem, size=size):
                # a stack of header unions: unions 's[k]' with headers 's[k].member'
                counter[0] += 1
                sname = self.fresh(leaf)
                union_ids: list[int] = []
                for k in range(size):
                    union_ids.append(len(self.out.unions))
                    self.new_union(f"{sname}[{k}]", elem)
                self.out.union_stacks.append((sname, elem.name, size, union_ids))
                return PStack(sname, t)
            case StackT(elem=elem, size=size):
                counter[0] += 1
                sname = self.fresh(leaf)
                ids = []
                for k in range(size):
                    ids.append(len(self.out.headers))
                    self.new_header(f"{sname}[{k}]", elem)
                self.out.stacks.append((sname, elem.name, size, ids))
                return PStack(sname, t)
            case StructT(kind="struct", fields=fields):
                mem: dict[str, Place] = {}
                for fname, ft in fields:
                    mem[fname] = self.alloc(ft, [*path, fname], prefix, nested, counter)
                return PStruct(t, mem)
            case Bits() | BoolT() | ErrorT() | EnumT():
                counter[0] += 1
                name = prefix + leaf
                f = self.new_scalar(name, width_of(t), isinstance(t, Bits) and t.signed)
                f.type = t
                return f
            case _:
                raise UnsupportedError(Pos("", 0, 0), f"unsupported storage type {type_str(t)!r}")

    @staticmethod
    def has_nested(t: StructT) -> bool:
        """Whether a struct has struct-typed fields (p4c then renames all leaves)."""
        return any(isinstance(ft, StructT) and ft.kind == "struct" for _, ft in t.fields)

    def alloc_root(self, t: Type, prefix: str) -> Place:
        """Storage for the headers or metadata struct of the package."""
        if isinstance(t, StructT) and t.kind == "struct":
            nested = self.has_nested(t)
            counter = [0]
            mem: dict[str, Place] = {}
            for fname, ft in t.fields:
                mem[fname] = self.alloc(ft, [fname], prefix, nested, counter)
            return PStruct(t, mem)
        raise UnsupportedError(Pos("", 0, 0), f"expected a struct type, got {type_str(t)!r}")

    def local(self, t: Type, name: str, pos: Pos) -> Place:
        """Storage for a local variable."""
        match t:
            case StructT(kind="header"):
                return self.new_header(self.fresh(name), t)
            case StructT(kind="struct"):
                counter = [0]
                mem: dict[str, Place] = {}
                for fname, ft in t.fields:
                    mem[fname] = self.local(ft, f"{name}_{fname}", pos)
                del counter
                return PStruct(t, mem)
            case Bits() | BoolT() | ErrorT() | EnumT():
                f = self.new_scalar(f"{name}_0", width_of(t), isinstance(t, Bits) and t.signed)
                f.type = t
                return f
            case StackT() | StructT(kind="header_union"):
                # header instances, invalid until set, like the package's own
                return self.alloc(t, [name], "", False, [0])
            case TupleT(items=items):
                # a struct of members f0, f1, ..., as p4c's EliminateTuples makes it
                fields = tuple((f"f{i}", it) for i, it in enumerate(items))
                return self.local(StructT("struct", f"{TUPLE_PREFIX}{name}", fields), name, pos)
            case _:
                raise UnsupportedError(pos, f"unsupported local variable type {type_str(t)!r}")

    # ============================================================ program

    def emit(self, ctx: Ctx, op: str, params: list[J], pos: Pos | None) -> None:
        """Append one primitive to the current action (jumped over when its guard is false)."""
        if ctx.prims is None:
            raise UnsupportedError(pos or Pos("", 0, 0), f"unsupported {op} here")
        if ctx.guard is not None and op not in ("assign", "set"):
            # only assignments can be predicated with ?:; anything else is
            # skipped with BMv2's _jump_if_zero to the primitive after it
            skip = len(ctx.prims) + 2
            cond = {"type": "expression", "value": {"op": "b2d", "left": None, "right": ctx.guard}}
            ctx.prims.append(
                {
                    "op": "_jump_if_zero",
                    "parameters": [cond, {"type": "hexstr", "value": hex(skip)}],
                }
            )
        prim: J = {"op": op, "parameters": params}
        si = self.src(pos)
        if ctx.in_parser:
            if op not in PARSER_OPS:
                # an extern call in a parser state is a 'primitive' parser op
                prim = {"parameters": [prim], "op": "primitive"}
        elif si is not None:
            prim["source_info"] = si
        ctx.prims.append(prim)

    def inline_function(
        self,
        decl: ast.FunctionDecl,
        args: tuple[ast.Arg, ...],
        ctx: Ctx,
        pos: Pos,
        type_args: tuple[ast.TypeRef, ...] = (),
    ) -> Val:
        """Inline a P4 function call and return its result (see `lower_stmt`)."""
        raise UnsupportedError(pos, f"unsupported call of function {decl.name!r} here")

    def inline_function_place(
        self, decl: ast.FunctionDecl, args: tuple[ast.Arg, ...], ctx: Ctx, pos: Pos
    ) -> Place:
        """Inline a P4 function returning a header or struct; its result's storage."""
        raise UnsupportedError(pos, f"unsupported call of function {decl.name!r} here")

    def lookahead_assign(self, dst: Place, call: ast.Call, ctx: Ctx, pos: Pos) -> None:
        """Lower ``dst = pkt.lookahead<T>()`` in a parser state (see `lower_stmt`)."""
        raise UnsupportedError(pos, "unsupported lookahead here")

    def add_action(self, act: LAction) -> None:
        """Give an action its id and add it to the program."""
        act.id = self.action_ids
        self.action_ids += 1
        self.out.actions.append(act)
