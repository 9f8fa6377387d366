"""Lowering pass 2: names to places and expressions to BMv2 expressions.

BMv2 evaluates with unbounded precision, so every result that can overflow
is masked (`&`) or wrapped (`two_comp_mod`) as p4c does. Imports `ast`,
`frontend`, `diagnostics`, `ir` and `lower_base`.
"""

from __future__ import annotations

import logging

from p4lite.compiler import ast
from p4lite.compiler.diagnostics import Pos
from p4lite.compiler.frontend import (
    AnyT,
    Bits,
    BoolT,
    EnumT,
    ErrorT,
    ExternT,
    InfInt,
    StackT,
    StructT,
    StructValue,
    Type,
    fold_binary,
    type_str,
    width_of,
    wrap,
)
from p4lite.compiler.ir import (
    Ctx,
    J,
    PDynField,
    PDynHeader,
    PField,
    PHeader,
    Place,
    PObj,
    PStack,
    PStruct,
    PUnion,
    PValue,
    UnsupportedError,
    Val,
    expr_text,
    jexpr,
    jhex,
    mask,
    shift_jumps,
)
from p4lite.compiler.lower_base import TUPLE_PREFIX, LowerBase

logger = logging.getLogger(__name__)


class ExprLowering(LowerBase):
    """Expressions to BMv2 expressions, with p4c's masking and wrapping."""

    def lookup(self, name: str, ctx: Ctx, pos: Pos) -> Place:
        """Resolve a name in scope, then among top-level declarations."""
        if name in ctx.scope:
            return ctx.scope[name]
        env = self.env
        if name in env.consts:
            t, v = env.consts[name]
            return PValue(
                Val(jhex(v, width_of(t)), t if not isinstance(t, InfInt) else InfInt(), False, v)
            )
        if name in env.struct_consts:
            st, values = env.struct_consts[name]
            return self.struct_const_place(st, values)
        if name in env.actions:
            return PObj("action", name, env.actions[name])
        if name in env.types:
            return PObj("type", name, None, env.types[name])
        if name == "error":
            return PObj("type", "error", None, ErrorT())
        if name in env.functions:
            return PObj("function", name, env.functions[name])
        if name in env.p4functions:
            return PObj("p4function", name, env.p4functions[name])
        if name in env.match_kinds:
            return PObj("match_kind", name)
        raise UnsupportedError(pos, f"undeclared name {name!r}")

    def place(self, e: ast.Expr, ctx: Ctx) -> Place:
        """Resolve an expression that denotes a storage location or object."""
        match e:
            case ast.Name(name=n):
                return self.lookup(n, ctx, e.pos)
            case ast.Call(func=ast.Member(name="lookahead"), type_args=(ty,)) if (
                ctx.in_parser and ctx.prims is not None
            ):
                # pkt.lookahead<H>() used as a header (e.g. '.field' of it): a copy
                t = self.fe.resolve(ty)
                if not isinstance(t, StructT) or t.kind != "header":
                    raise UnsupportedError(e.pos, f"{expr_text(e)!r} does not denote storage")
                loc = self.local(t, "lookahead_tmp", e.pos)
                self.lookahead_assign(loc, e, ctx, e.pos)
                return loc
            case ast.Call(func=ast.Name(name=fname), args=args):
                # a function returning a header, struct or stack: its result's storage
                target = self.lookup(fname, ctx, e.pos)
                if isinstance(target, PObj) and isinstance(target.decl, ast.FunctionDecl):
                    ret_t = self.fe.resolve(target.decl.ret)
                    if isinstance(ret_t, StructT | StackT):
                        return self.inline_function_place(target.decl, args, ctx, e.pos)
                raise UnsupportedError(e.pos, f"{expr_text(e)!r} does not denote storage")
            case ast.Member(expr=base, name=n):
                b = self.place(base, ctx)
                match b:
                    case PStruct(members=m):
                        if n not in m:
                            raise UnsupportedError(
                                e.pos, f"struct {b.type.name!r} has no field {n!r}"
                            )
                        return m[n]
                    case PHeader(name=hn, type=ht):
                        ft = ht.field(n)
                        if ft is None:
                            nested = self.env.header_structs.get((ht.name, n))
                            if nested is not None:
                                return self.header_struct_place(hn, nested, n)
                            raise UnsupportedError(e.pos, f"header {ht.name!r} has no field {n!r}")
                        return PField(hn, n, ft)
                    case PUnion(members=m):
                        if n not in m:
                            raise UnsupportedError(
                                e.pos, f"header union {b.type.name!r} has no member {n!r}"
                            )
                        return m[n]
                    case PStack(type=st) if st.elem.kind == "header_union" and n in (
                        "next",
                        "last",
                    ):
                        raise UnsupportedError(
                            e.pos, f"{expr_text(e)}: '{n}' of a header union stack is unsupported"
                        )
                    case PStack(name=sn, type=st):
                        if n in ("next", "last") and not ctx.in_parser:
                            raise UnsupportedError(
                                e.pos,
                                f"{expr_text(e)}: 'last', and 'next' for stacks can only be "
                                "used in a parser",
                            )
                        if n == "last":
                            return PObj("stack_last", sn, None, st)
                        if n in ("next", "last"):
                            return PObj(f"stack_{n}", sn, None, st)
                        return PObj("stack_member", n, b, st)
                    case PDynHeader(type=ht):
                        ft = ht.field(n)
                        if ft is None:
                            raise UnsupportedError(e.pos, f"header {ht.name!r} has no field {n!r}")
                        return PDynField(b, n, ft)
                    case PObj(kind="stack_last", name=sn, type=st) if isinstance(st, StackT):
                        ft = st.elem.field(n)
                        if ft is None:
                            raise UnsupportedError(
                                e.pos, f"header {st.elem.name!r} has no field {n!r}"
                            )
                        return PValue(Val({"type": "stack_field", "value": [sn, n]}, ft))
                    case PObj(kind="type", type=EnumT() as et):
                        if n not in et.members:
                            raise UnsupportedError(e.pos, f"enum {et.name!r} has no member {n!r}")
                        idx = et.members.index(n)
                        if et.base is not None:
                            v = et.values[idx]
                            return PValue(Val(jhex(wrap(v, et.base), et.base.width), et, False, v))
                        return PValue(Val(jhex(idx, 32), et, False, idx))
                    case PObj(kind="type", type=ErrorT()):
                        if n not in self.env.errors:
                            raise UnsupportedError(e.pos, f"undeclared error {n!r}")
                        v = self.env.errors.index(n)
                        return PValue(Val(jhex(v, 32), ErrorT(), False, v))
                    case _:
                        return PObj("member", n, b)
            case ast.Index(expr=base, index=idx):
                b = self.place(base, ctx)
                if isinstance(b, PStruct) and b.type.name.startswith(TUPLE_PREFIX):
                    # a tuple local: its elements are the members f0, f1, ...
                    k = self.const_in(idx, ctx)
                    if k is None or f"f{k}" not in b.members:
                        raise UnsupportedError(idx.pos, f"tuple index {k} out of range")
                    return b.members[f"f{k}"]
                if not isinstance(b, PStack):
                    raise UnsupportedError(e.pos, "unsupported indexing: expected a header stack")
                iv = self.rvalue(idx, ctx)
                if b.type.elem.kind == "header_union":
                    if iv.const is None:
                        raise UnsupportedError(
                            idx.pos, "a header union stack needs a constant index here"
                        )
                    if not 0 <= iv.const < b.type.size:
                        raise UnsupportedError(
                            idx.pos, f"stack index {iv.const} out of range for {b.name!r}"
                        )
                    return union_element(b, iv.const)
                if iv.const is None:
                    if not isinstance(iv.type, Bits) or iv.boolish:
                        raise UnsupportedError(
                            idx.pos,
                            f"header stack index must be bit<W> or int<W>, "
                            f"got {type_str(iv.type)!r}",
                        )
                    return PDynHeader(b.name, b.type.elem, iv.json)
                if not 0 <= iv.const < b.type.size:
                    raise UnsupportedError(
                        idx.pos, f"stack index {iv.const} out of range for {b.name!r}"
                    )
                return PHeader(f"{b.name}[{iv.const}]", b.type.elem)
            case _:
                return PValue(self.rvalue(e, ctx))

    def struct_const_place(self, st: StructT, values: StructValue) -> PStruct:
        """A struct constant as a struct of constant members."""
        members: dict[str, Place] = {}
        for n, ft in st.fields:
            v = values[n]
            if isinstance(v, dict) and isinstance(ft, StructT):
                members[n] = self.struct_const_place(ft, v)
            elif isinstance(v, int):
                base = ft.base if isinstance(ft, EnumT) and ft.base is not None else ft
                val = self.const_val(v, base)
                members[n] = PValue(Val(val.json, ft, val.boolish, val.const))
        return PStruct(st, members)

    def header_struct_place(self, hn: str, st: StructT, prefix: str) -> PStruct:
        """A struct-typed header field: its members are the header's flattened fields."""
        members: dict[str, Place] = {}
        for n, ft in st.fields:
            if isinstance(ft, StructT) and ft.kind == "struct":
                members[n] = self.header_struct_place(hn, ft, f"{prefix}_{n}")
            else:
                members[n] = PField(hn, f"{prefix}_{n}", ft)
        return PStruct(st, members)

    # ============================================================ expressions
    def as_data(self, v: Val) -> J:
        """The value as BMv2 data (b2d on booleans)."""
        if v.boolish:
            return jexpr("b2d", None, v.json)
        return v.json

    def as_bool(self, v: Val) -> J:
        """The value as a BMv2 boolean (d2b on data)."""
        if v.boolish:
            return v.json
        if v.json.get("type") == "bool":
            return v.json
        return jexpr("d2b", None, v.json)

    def cvt(self, v: Val, t: Type, pos: Pos) -> Val:
        """Implicit conversion of v to type t (literals and same types only)."""
        if isinstance(t, (AnyT,)) or v.type == t:
            return v
        if isinstance(v.type, InfInt) and isinstance(t, Bits) and v.const is not None:
            c = wrap(v.const, t)
            return Val(jhex(c, t.width), t, False, c)
        if isinstance(v.type, InfInt) and isinstance(t, (EnumT,)) and v.const is not None:
            return v
        if isinstance(v.type, EnumT) and v.type.base is not None and t == v.type.base:
            return Val(v.json, t, v.boolish, v.const)
        if isinstance(t, EnumT) and t.base is not None and v.type == t.base:
            return Val(v.json, t, v.boolish, v.const)
        if isinstance(t, InfInt):
            return v
        raise UnsupportedError(
            pos, f"type mismatch: expected {type_str(t)!r}, got {type_str(v.type)!r}"
        )

    def fix(self, json: J, t: Type) -> J:
        """Wrap an arithmetic result into type t's range."""
        if isinstance(t, Bits):
            if t.signed:
                return jexpr("two_comp_mod", json, jhex(t.width, 8))
            return jexpr("&", json, jhex(mask(t.width), t.width))
        return json

    def const_val(self, v: int, t: Type) -> Val:
        """A constant of type t (wrapped into its range)."""
        if isinstance(t, Bits):
            v = wrap(v, t)
            return Val(jhex(v, t.width), t, False, v)
        if isinstance(t, BoolT):
            return Val({"type": "bool", "value": bool(v)}, t, True, int(bool(v)))
        return Val(jhex(v, 32), t, False, v)

    def const_in(self, e: ast.Expr, ctx: Ctx) -> int | None:
        """A compile-time integer in ctx's scope (local constants and constructor
        parameters too), or None after an error, as `FrontEnd.const_int` does."""
        try:
            v = self.rvalue(e, Ctx(ctx.scope, control=ctx.control))
        except UnsupportedError:
            v = None
        if v is not None and isinstance(v.type, BoolT):
            self.sink.error(e.pos, "type mismatch: expected an integer, got 'bool'")
            return None
        if v is not None and v.const is not None:
            return v.const
        return self.fe.const_int(e)

    def rvalue(self, e: ast.Expr, ctx: Ctx, want: Type | None = None) -> Val:
        """Lower an expression to a value."""
        v = self._rvalue(e, ctx, want)
        if want is not None and not isinstance(want, AnyT):
            v = self.cvt(v, want, e.pos)
        return v

    def read_place(self, p: Place, pos: Pos) -> Val:
        """Read a scalar place as a value."""
        match p:
            case PField(hdr=h, name=n, type=t):
                return Val({"type": "field", "value": [h, n]}, t)
            case PValue(val=v):
                return v
            case PDynField(type=t):
                return Val(p.json, t)
            case PHeader() | PStruct() | PStack() | PUnion() | PDynHeader():
                raise UnsupportedError(
                    pos, "unsupported use of a header, struct or stack as a value here"
                )
            case PObj(kind=k, name=n):
                raise UnsupportedError(pos, f"unsupported use of {k} {n!r} as a value")

    def _rvalue(self, e: ast.Expr, ctx: Ctx, want: Type | None) -> Val:
        match e:
            case ast.IntLit(value=lit, width=lw, signed=ls):
                if lw is None:
                    if want is not None and isinstance(want, Bits):
                        return self.const_val(lit, want)
                    return Val(jhex(lit, 32), InfInt(), False, lit)
                return self.const_val(lit, Bits(lw, ls))
            case ast.BoolLit(value=flag):
                return Val({"type": "bool", "value": flag}, BoolT(), True, int(flag))
            case ast.Name() | ast.Member() | ast.Index() if not (
                isinstance(e, ast.Member) and e.name in ("lastIndex", "size")
            ):
                p = self.place(e, ctx)
                return self.read_place(p, e.pos)
            case ast.Member(expr=base, name="lastIndex" | "size" as what):
                stack = self.place(base, ctx)
                if not isinstance(stack, PStack):
                    raise UnsupportedError(e.pos, f"unsupported member {what!r}")
                if what == "size":
                    return self.const_val(stack.type.size, Bits(32))
                if not ctx.in_parser:
                    raise UnsupportedError(
                        e.pos,
                        f"{expr_text(e)}: 'lastIndex' for stacks can only be used in a parser",
                    )
                j = jexpr("last_stack_index", None, {"type": "header_stack", "value": stack.name})
                return Val(j, Bits(32))
            case ast.Unary(op="!", expr=x):
                v = self.rvalue(x, ctx, BoolT())
                if v.const is not None:
                    return self.const_val(int(not v.const), BoolT())
                return Val(jexpr("not", None, self.as_bool(v)), BoolT(), True)
            case ast.Unary(op="-", expr=x):
                v = self._rvalue(x, ctx, want)
                if not isinstance(v.type, Bits | InfInt):
                    raise UnsupportedError(
                        e.pos, f"'-' needs a bit<W> or int<W> operand, got {type_str(v.type)!r}"
                    )
                if v.const is not None:
                    return (
                        self.const_val(-v.const, v.type)
                        if not isinstance(v.type, InfInt)
                        else Val(jhex(-v.const, 32), InfInt(), False, -v.const)
                    )
                w = width_of(v.type)
                return Val(self.fix(jexpr("-", jhex(0, w), v.json), v.type), v.type)
            case ast.Unary(op="~", expr=x):
                v = self._rvalue(x, ctx, want)
                t = v.type
                if v.const is not None and isinstance(t, Bits):
                    return self.const_val(~v.const, t)
                if not isinstance(t, Bits):
                    raise UnsupportedError(e.pos, "'~' needs a bit<W> or int<W> operand")
                return Val(self.fix(jexpr("~", None, v.json), t), t)
            case ast.Binary():
                return self.binary(e, ctx, want)
            case ast.Ternary(cond=c, then=a, other=b):
                cv = self.rvalue(c, ctx, BoolT())
                if cv.const is not None:
                    # only the chosen operand is evaluated (its side effects included)
                    return self.rvalue(a if cv.const else b, ctx, want)
                want_a = want
                if self.unsized_literal(a) and not self.unsized_literal(b):
                    # '? 2 : 3w1': the literal takes the other operand's type
                    scratch = Ctx(ctx.scope, ctx.in_action, ctx.in_parser, [], None, ctx.control)
                    other = self._rvalue(b, scratch, want)
                    if not isinstance(other.type, InfInt):
                        want_a = other.type
                elif not self.unsized_literal(a):
                    # a typed operand gives the type; 'want' only sizes literals
                    want_a = None
                av, tflag = self.guarded_rvalue(a, ctx, want_a, cv, when=True)
                if tflag is not None:
                    cv = Val(tflag, BoolT(), True)
                bv, _ = self.guarded_rvalue(
                    b,
                    ctx,
                    av.type if not isinstance(av.type, InfInt) else want,
                    cv,
                    when=False,
                )
                if isinstance(av.type, InfInt) and not isinstance(bv.type, InfInt):
                    av = self.cvt(av, bv.type, a.pos)
                t = av.type
                if isinstance(t, BoolT):
                    j = {
                        "type": "expression",
                        "value": {
                            "op": "?",
                            "left": self.as_data(av),
                            "right": self.as_data(bv),
                            "cond": self.as_bool(cv),
                        },
                    }
                    return Val(jexpr("d2b", None, j), t, True)
                j = {
                    "type": "expression",
                    "value": {
                        "op": "?",
                        "left": av.json,
                        "right": bv.json,
                        "cond": self.as_bool(cv),
                    },
                }
                return Val(j, t)
            case ast.Cast(type=ty, expr=x):
                target = self.fe.resolve(ty)
                # the target type only sizes literals here; no implicit conversion
                inner = self._rvalue(x, ctx, target if isinstance(target, Bits) else None)
                return self.cast(inner, target, e.pos)
            case ast.Slice(expr=x, hi=hi, lo=lo):
                v = self.rvalue(x, ctx)
                h = self.const_in(hi, ctx)
                low = self.const_in(lo, ctx)
                if h is None or low is None or h < low:
                    raise UnsupportedError(e.pos, "slice bounds must be constants with hi >= lo")
                w = h - low + 1
                t = Bits(w)
                if v.const is not None:
                    return self.const_val((v.const >> low) & mask(w), t)
                if not isinstance(v.type, Bits):
                    raise UnsupportedError(
                        e.pos, f"cannot slice a value of type {type_str(v.type)!r}"
                    )
                if h >= v.type.width:
                    raise UnsupportedError(
                        e.pos, f"slice [{h}:{low}] out of range for {type_str(v.type)!r}"
                    )
                j = v.json
                if low:
                    j = jexpr(">>", j, jhex(low, 8))
                return Val(jexpr("&", j, jhex(mask(w), w)), t)
            case ast.Call():
                return self.call_value(e, ctx, want)
            case ast.ListExpr():
                raise UnsupportedError(e.pos, "unsupported list expression here")
            case _:
                raise UnsupportedError(e.pos, f"unsupported expression {type(e).__name__}")

    @staticmethod
    def unsized_literal(e: ast.Expr) -> bool:
        """Whether e is an integer literal without a width (its type comes from context)."""
        while isinstance(e, ast.Unary) and e.op == "-":
            e = e.expr
        return isinstance(e, ast.IntLit) and e.width is None

    def guarded_rvalue(
        self, e: ast.Expr, ctx: Ctx, want: Type | None, cond: Val, *, when: bool
    ) -> tuple[Val, J | None]:
        """Lower an operand that runs only when ``cond`` is ``when`` (``&&``, ``||``, ``?:``).

        An operand without side effects is lowered as is and no flag is returned.
        One that emits primitives (a function or extern call) gets them guarded by
        ``cond``, first copied to a flag so that the operand cannot change its own
        guard; the flag's boolean expression is returned to stand for ``cond``.
        """
        if ctx.prims is None:
            return self.rvalue(e, ctx, want), None
        outer_prims, outer_guard = ctx.prims, ctx.guard
        slot: J = {"type": "field", "value": ["scalars", "$pending"]}
        flag_j = jexpr("d2b", None, slot)
        own = flag_j if when else jexpr("not", None, flag_j)
        sub: list[J] = []
        ctx.prims = sub
        ctx.guard = own if outer_guard is None else jexpr("and", outer_guard, own)
        try:
            v = self.rvalue(e, ctx, want)
        finally:
            ctx.prims, ctx.guard = outer_prims, outer_guard
        if not sub:
            return v, None
        if ctx.in_parser:
            raise UnsupportedError(
                e.pos, "unsupported call with side effects in a conditional operand in a parser"
            )
        flag = self.new_scalar("cond", 1)
        slot["value"] = ["scalars", flag.name]
        # a fresh flag: assigned unconditionally ('assign' is never jumped over)
        target = {"type": "field", "value": ["scalars", flag.name]}
        self.emit(ctx, "assign", [target, self.as_data(cond)], e.pos)
        shift_jumps(sub, len(outer_prims))
        outer_prims.extend(sub)
        return v, flag_j

    def cast(self, v: Val, t: Type, pos: Pos) -> Val:
        """Explicit cast of v to type t."""
        src = v.type
        if v.const is not None and isinstance(t, Bits):
            return self.const_val(v.const, t)
        if v.const is not None and isinstance(t, BoolT):
            return self.const_val(v.const, t)
        match (src, t):
            case (Bits(width=w1, signed=s1), Bits(width=w2, signed=s2)):
                if s2:
                    if not s1 and w2 > w1:
                        return Val(v.json, t)
                    if s1 and w1 <= w2:
                        return Val(v.json, t)
                    return Val(jexpr("two_comp_mod", v.json, jhex(w2, 8)), t)
                if s1 or w2 < w1:
                    return Val(jexpr("&", v.json, jhex(mask(w2), w2)), t)
                return Val(v.json, t)
            case (BoolT(), Bits(width=1)):
                return Val(self.as_data(v), t)
            case (Bits(width=1), BoolT()):
                return Val(self.as_bool(v), t, True)
            case (EnumT(base=Bits() as b), Bits()):
                return self.cast(Val(v.json, b), t, pos)
            case (Bits(), EnumT(base=Bits() as b)):
                c = self.cast(v, b, pos)
                return Val(c.json, t)
            case _ if src == t:
                return v
        raise UnsupportedError(pos, f"unsupported cast from {type_str(src)!r} to {type_str(t)!r}")

    def aggregate_place(self, e: ast.Expr, ctx: Ctx) -> PHeader | PStruct | PStack | None:
        """The header, struct or stack an expression names, if it names one."""
        if not isinstance(e, (ast.Name, ast.Member, ast.Index)):
            return None
        if isinstance(e, ast.Member) and e.name in ("lastIndex", "size"):
            return None
        p = self.place(e, ctx)
        return p if isinstance(p, (PHeader, PStruct, PStack)) else None

    def aggregate_equal(self, a: Place, b: Place, pos: Pos) -> J:
        """BMv2 boolean for `a == b` on headers (validity, then fields) and structs."""
        match (a, b):
            case (PHeader(), PHeader()) if a.type == b.type:
                va = jexpr("d2b", None, {"type": "field", "value": [a.name, "$valid$"]})
                vb = jexpr("d2b", None, {"type": "field", "value": [b.name, "$valid$"]})
                fields: J | None = None
                for n, _ in a.type.fields:
                    eq = jexpr(
                        "==",
                        {"type": "field", "value": [a.name, n]},
                        {"type": "field", "value": [b.name, n]},
                    )
                    fields = eq if fields is None else jexpr("and", fields, eq)
                both_invalid = jexpr("and", jexpr("not", None, va), jexpr("not", None, vb))
                if fields is None:
                    return jexpr("==", jexpr("b2d", None, va), jexpr("b2d", None, vb))
                both_equal = jexpr("and", jexpr("and", va, vb), fields)
                return jexpr("or", both_invalid, both_equal)
            case (PStruct(), PStruct()) if a.type == b.type:
                out: J | None = None
                for n in a.members:
                    sub = self.aggregate_equal(a.members[n], b.members[n], pos)
                    out = sub if out is None else jexpr("and", out, sub)
                return out if out is not None else {"type": "bool", "value": True}
            case (PField(), PField()):
                return jexpr(
                    "==",
                    {"type": "field", "value": [a.hdr, a.name]},
                    {"type": "field", "value": [b.hdr, b.name]},
                )
            case (PStack(), PStack()) if a.type == b.type:
                # element by element, each compared as a header
                res: J | None = None
                for k in range(a.type.size):
                    sub = self.aggregate_equal(
                        PHeader(f"{a.name}[{k}]", a.type.elem),
                        PHeader(f"{b.name}[{k}]", b.type.elem),
                        pos,
                    )
                    res = sub if res is None else jexpr("and", res, sub)
                return res if res is not None else {"type": "bool", "value": True}
        raise UnsupportedError(pos, "unsupported comparison of values of different types")

    def binary(self, e: ast.Binary, ctx: Ctx, want: Type | None) -> Val:
        """Lower a binary operation."""
        op = e.op
        if op in ("==", "!="):
            left = self.aggregate_place(e.left, ctx)
            if left is not None:
                right = self.aggregate_place(e.right, ctx)
                if right is None:
                    raise UnsupportedError(e.pos, f"unsupported operand of {op!r}")
                eq = self.aggregate_equal(left, right, e.pos)
                return Val(eq if op == "==" else jexpr("not", None, eq), BoolT(), True)
        if op in ("&&", "||"):
            a = self.rvalue(e.left, ctx, BoolT())
            if a.const is not None and bool(a.const) == (op == "||"):
                # the right operand is not evaluated at all: no side effects
                return self.const_val(int(op == "||"), BoolT())
            if a.const is not None:
                b = self.rvalue(e.right, ctx, BoolT())
                if b.const is not None:
                    return self.const_val(b.const, BoolT())
                return Val(self.as_bool(b), BoolT(), True)
            b, sc_flag = self.guarded_rvalue(e.right, ctx, BoolT(), a, when=op == "&&")
            lhs_j = self.as_bool(a) if sc_flag is None else sc_flag
            if b.const is not None:
                taken = bool(b.const)
                if taken == (op == "||"):
                    return self.const_val(int(taken), BoolT())
                return Val(lhs_j, BoolT(), True)
            return Val(
                jexpr("and" if op == "&&" else "or", lhs_j, self.as_bool(b)),
                BoolT(),
                True,
            )
        if op in ("&&&", ".."):
            raise UnsupportedError(e.pos, f"{op!r} is only allowed in keysets")
        sub_want = want if op not in ("==", "!=", "<", ">", "<=", ">=", "<<", ">>", "++") else None
        if isinstance(sub_want, BoolT):
            sub_want = None
        # operand types come from the operands; the context's type only sizes literals
        a = self._rvalue(e.left, ctx, None if self.unsized_literal(e.left) else sub_want)
        if op in ("<<", ">>", "++"):
            b = self.rvalue(e.right, ctx, None)
        elif isinstance(a.type, InfInt):
            b = self._rvalue(e.right, ctx, sub_want)
        else:
            b = self.rvalue(e.right, ctx, a.type)
        if (
            isinstance(a.type, InfInt)
            and not isinstance(b.type, InfInt)
            and op not in ("<<", ">>", "++")
        ):
            a = self.cvt(a, b.type, e.left.pos)
        if op in ("<<", ">>"):
            return self.shift(e, a, b, want)
        if op == "++":
            return self.concat(e, a, b)
        t = a.type
        if op in ("==", "!="):
            if isinstance(t, BoolT) or isinstance(b.type, BoolT):
                return Val(jexpr(op, self.as_data(a), self.as_data(b)), BoolT(), True)
            self.same(a, b, e)
            if a.const is not None and b.const is not None:
                return self.const_val(fold_binary(op, a.const, b.const) or 0, BoolT())
            return Val(jexpr(op, a.json, b.json), BoolT(), True)
        self.same(a, b, e)
        if op in ("<", ">", "<=", ">="):
            if a.const is not None and b.const is not None:
                return self.const_val(fold_binary(op, a.const, b.const) or 0, BoolT())
            return Val(jexpr(op, a.json, b.json), BoolT(), True)
        if a.const is not None and b.const is not None:
            if op in ("|+|", "|-|"):
                r = a.const + b.const if op == "|+|" else a.const - b.const
                if isinstance(t, Bits):
                    lo = -(1 << (t.width - 1)) if t.signed else 0
                    hi = (1 << (t.width - 1)) - 1 if t.signed else mask(t.width)
                    r = max(lo, min(hi, r))
                return (
                    self.const_val(r, t)
                    if not isinstance(t, InfInt)
                    else Val(jhex(r, 32), t, False, r)
                )
            r2 = fold_binary(op, a.const, b.const)
            if r2 is None:
                raise UnsupportedError(
                    e.pos, f"cannot evaluate constant {op!r} (division by zero?)"
                )
            return (
                self.const_val(r2, t)
                if not isinstance(t, InfInt)
                else Val(jhex(r2, 32), t, False, r2)
            )
        if not isinstance(t, Bits):
            raise UnsupportedError(
                e.pos, f"operator {op!r} needs bit<W> or int<W> operands, got {type_str(t)!r}"
            )
        if op in ("|+|", "|-|"):
            inner = jexpr("+" if op == "|+|" else "-", a.json, b.json)
            return Val(jexpr("sat_cast" if t.signed else "usat_cast", inner, jhex(t.width, 8)), t)
        if (
            op in ("/", "%")
            and not t.signed
            and b.const is not None
            and b.const > 0
            and b.const & (b.const - 1) == 0
        ):
            # p4c's strength reduction: x / 2^k == x >> k, x % 2^k == x & (2^k - 1)
            k = b.const.bit_length() - 1
            if op == "/":
                shifted = jexpr(">>", a.json, jhex(k, 8))
                return Val(jexpr("&", shifted, jhex(mask(t.width), t.width)), t)
            return Val(jexpr("&", a.json, jhex((b.const - 1) & mask(t.width), t.width)), t)
        if op in ("/", "%"):
            # BMv2 expressions have no division; p4c folds constants only
            raise UnsupportedError(e.pos, f"unsupported {op!r} of run-time values on this target")
        j = jexpr(op, a.json, b.json)
        if op in ("+", "-", "*"):
            j = self.fix(j, t)
        return Val(j, t)

    def same(self, a: Val, b: Val, e: ast.Binary) -> None:
        """Check that two operands have the same type."""
        if isinstance(a.type, InfInt) or isinstance(b.type, InfInt):
            return
        if a.type != b.type:
            raise UnsupportedError(
                e.pos,
                f"operands of {e.op!r} have different types: "
                f"{type_str(a.type)!r} and {type_str(b.type)!r}",
            )

    def shift(self, e: ast.Binary, a: Val, b: Val, want: Type | None) -> Val:
        """Lower `<<` or `>>` (result masked or wrapped to the left operand's type)."""
        if b.const is not None and b.const < 0:
            raise UnsupportedError(e.pos, f"shift by a negative amount {b.const}")
        t = a.type
        if isinstance(t, InfInt):
            if a.const is not None and b.const is not None:
                r = fold_binary(e.op, a.const, b.const) or 0
                return Val(jhex(r, 32), t, False, r)
            # p4c's TypeInference, whatever the context's type
            raise UnsupportedError(
                e.pos,
                f"{expr_text(e)}: shift result type is arbitrary-precision int, but right "
                "operand is not constant; width of left operand of shift needs to be "
                "specified or both operands need to be constant",
            )
        if not isinstance(t, Bits):
            raise UnsupportedError(
                e.pos, f"shift needs a bit<W> or int<W> operand, got {type_str(t)!r}"
            )
        if isinstance(b.type, Bits) and b.type.signed:
            raise UnsupportedError(e.pos, "shift amount must be unsigned")
        if a.const is not None and b.const is not None:
            return self.const_val(fold_binary(e.op, a.const, b.const) or 0, t)
        bj = b.json if b.const is None else jhex(b.const, 8)
        j = jexpr(e.op, a.json, bj)
        if e.op == "<<" or t.signed:
            j = self.fix(j, t)
        return Val(j, t)

    def concat(self, e: ast.Binary, a: Val, b: Val) -> Val:
        """Lower `++`."""
        ta, tb = a.type, b.type
        if not isinstance(ta, Bits) or not isinstance(tb, Bits):
            raise UnsupportedError(e.pos, "'++' needs bit<W> or int<W> operands with known widths")
        t = Bits(ta.width + tb.width, ta.signed)
        aj = a.json if not ta.signed else jexpr("&", a.json, jhex(mask(ta.width), ta.width))
        bj = b.json if not tb.signed else jexpr("&", b.json, jhex(mask(tb.width), tb.width))
        if a.const is not None and b.const is not None:
            return self.const_val(
                ((a.const & mask(ta.width)) << tb.width) | (b.const & mask(tb.width)), t
            )
        hi = jexpr("&", jexpr("<<", aj, jhex(tb.width, 8)), jhex(mask(t.width), t.width))
        j = jexpr("|", hi, bj)
        if t.signed:
            j = jexpr("two_comp_mod", j, jhex(t.width, 8))
        return Val(j, t)

    # ============================================================ calls as values
    def call_value(self, e: ast.Call, ctx: Ctx, want: Type | None) -> Val:
        """Lower a call used as a value (isValid, register read, sizeInBits...)."""
        f = e.func
        if isinstance(f, ast.Member):
            if f.name in ("minSizeInBits", "minSizeInBytes", "maxSizeInBits", "maxSizeInBytes"):
                size_t = self.type_of_arg(f.expr, ctx)
                bits = width_of(size_t)
                size = bits if f.name.endswith("Bits") else (bits + 7) // 8
                return Val(jhex(size, 32), InfInt(), False, size)
            if f.name == "isValid":
                b = self.place(f.expr, ctx)
                match b:
                    case PHeader(name=hn):
                        return Val(
                            jexpr("d2b", None, {"type": "field", "value": [hn, "$valid$"]}),
                            BoolT(),
                            True,
                        )
                    case PDynHeader():
                        return Val(jexpr("valid", None, b.json), BoolT(), True)
                    case PUnion(name=un):
                        return Val(
                            jexpr("valid_union", None, {"type": "header_union", "value": un}),
                            BoolT(),
                            True,
                        )
                raise UnsupportedError(e.pos, "isValid() needs a header or header union")
            if f.name in ("hit", "miss") or (isinstance(f.expr, ast.Call)):
                raise UnsupportedError(e.pos, "unsupported table apply result in this expression")
            if f.name == "read":
                obj = self.place(f.expr, ctx)
                if isinstance(obj, PObj) and obj.kind == "extern" and obj.type is not None:
                    if ctx.prims is None:
                        raise UnsupportedError(e.pos, "register read outside a statement context")
                    assert isinstance(obj.type, ExternT)
                    vt = obj.type.args[0] if obj.type.args else Bits(32)
                    tmp = self.temp(vt)
                    it = obj.type.args[1] if len(obj.type.args) > 1 else Bits(32)
                    idx = self.rvalue(e.args[0].expr, ctx, it)
                    self.emit(
                        ctx,
                        "register_read",
                        [
                            {"type": "field", "value": ["scalars", tmp.name]},
                            {"type": "register_array", "value": obj.name},
                            self.idx_json(idx),
                        ],
                        e.pos,
                    )
                    return Val({"type": "field", "value": ["scalars", tmp.name]}, vt)
            if f.name == "lookahead" and ctx.in_parser and ctx.prims is not None and e.type_args:
                # inside a larger expression: read into a temporary first
                lt = self.fe.resolve(e.type_args[0])
                if isinstance(lt, Bits):
                    tmp = self.temp(lt)
                    self.lookahead_assign(tmp, e, ctx, e.pos)
                    return Val({"type": "field", "value": ["scalars", tmp.name]}, lt)
            if f.name == "lookahead":
                raise UnsupportedError(
                    e.pos, "unsupported lookahead<T>() outside select or a local initializer"
                )
        if isinstance(f, ast.Name) and f.name in (
            "sizeInBits",
            "sizeInBytes",
            "minSizeInBits",
            "minSizeInBytes",
        ):
            a = e.args[0].expr
            t = self.type_of_arg(a, ctx)
            w = width_of(t)
            return Val(
                jhex(w if "Bits" in f.name else (w + 7) // 8, 32),
                InfInt(),
                False,
                w if "Bits" in f.name else (w + 7) // 8,
            )
        if isinstance(f, ast.Name):
            target = self.lookup(f.name, ctx, f.pos)
            if isinstance(target, PObj) and isinstance(target.decl, ast.FunctionDecl):
                return self.inline_function(target.decl, e.args, ctx, e.pos, e.type_args)
        raise UnsupportedError(e.pos, "unsupported call in an expression")

    def type_of_arg(self, a: ast.Expr, ctx: Ctx) -> Type:
        """The type named or carried by a sizeInBits/sizeInBytes argument."""
        if isinstance(a, ast.TypeExpr):
            return self.fe.resolve(a.type)
        p = self.place(a, ctx)
        match p:
            case PHeader(type=t) | PStruct(type=t):
                return t
            case PField(type=t):
                return t
            case PObj(kind="type", type=t) if t is not None:
                return t
            case PValue(val=v):
                return v.type
        raise UnsupportedError(a.pos, "cannot determine the size of this argument")

    def idx_json(self, v: Val) -> J:
        """An index or count operand (32-bit hexstr for constants)."""
        if v.const is not None:
            return jhex(v.const, 32)
        return self.as_data(v)

    # ============================================================ statements in actions


def union_element(stack: PStack, k: int) -> PUnion:
    """Element k of a header union stack: union 's[k]' with headers 's[k].member'."""
    elem = stack.type.elem
    uname = f"{stack.name}[{k}]"
    members = {
        fname: PHeader(f"{uname}.{fname}", ft)
        for fname, ft in elem.fields
        if isinstance(ft, StructT)
    }
    return PUnion(uname, elem, members)
