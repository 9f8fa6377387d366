"""Lowering pass 3: statements, action-call inlining with copy-in/copy-out,
predication of `if`/`return` inside actions, v1model externs, local
declarations and extern instances.

Imports `ast`, `frontend`, `diagnostics`, `ir` and `lower_expr`.
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
    Type,
    VarbitT,
    VoidT,
    type_str,
    width_of,
)
from p4lite.compiler.ir import (
    HASH_ALGOS,
    Ctx,
    J,
    LExtern,
    LValueSet,
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
from p4lite.compiler.lower_expr import ExprLowering

logger = logging.getLogger(__name__)


def _leaves(p: Place) -> set[tuple[str, str]]:
    """The storage a place covers: (instance, field) pairs, field '*' for a whole instance."""
    match p:
        case PField(hdr=h, name=n):
            return {(h, n)}
        case PHeader(name=n) | PStack(name=n) | PUnion(name=n):
            return {(n, "*")}
        case PStruct(members=m):
            return {leaf for member in m.values() for leaf in _leaves(member)}
    return set()


def _headers_of(p: Place) -> list[str]:
    """The header instances inside a place (a header, a struct of headers, a stack)."""
    match p:
        case PHeader(name=n):
            return [n]
        case PUnion(members=m):
            return [h.name for h in m.values()]
        case PStack(name=n, type=t) if t.elem.kind == "header_union":
            return [f"{n}[{k}].{fname}" for k in range(t.size) for fname, _ in t.elem.fields]
        case PStack(name=n, type=t):
            return [f"{n}[{k}]" for k in range(t.size)]
        case PStruct(members=m):
            return [h for member in m.values() for h in _headers_of(member)]
    return []


def _overlap(a: set[tuple[str, str]], b: set[tuple[str, str]]) -> bool:
    """Whether two sets of leaves share storage."""
    return any(
        inst_a == inst_b and (fa == fb or "*" in (fa, fb)) for inst_a, fa in a for inst_b, fb in b
    )


def p4rt_type(t: Type) -> str:
    """How P4Runtime types a digest field: '' (bit<W>), 'bool', 'error',
    'serenum:NAME' (a serializable enum) or 'enum:NAME'."""
    match t:
        case BoolT():
            return "bool"
        case ErrorT():
            return "error"
        case EnumT(name=n, base=None):
            return f"enum:{n}"
        case EnumT(name=n):
            return f"serenum:{n}"
    return ""


class StmtLowering(ExprLowering):
    """Statements and actions to BMv2 primitives."""

    def assign(
        self, dst: Place, src: ast.Expr | None, ctx: Ctx, pos: Pos, val: Val | None = None
    ) -> None:
        """Assign src (or a lowered val) to dst, honouring the action guard."""
        setop = "set" if ctx.in_parser else "assign"
        match dst:
            case PField(type=t) | PDynField(type=t):
                v = (
                    val
                    if val is not None
                    else self.rvalue(src, ctx, t)
                    if src is not None
                    else None
                )
                assert v is not None
                v = (
                    self.cvt(v, t, pos)
                    if not isinstance(v.type, InfInt) or v.const is not None
                    else v
                )
                j = self.as_data(v) if isinstance(t, BoolT) else v.json
                if v.boolish and not isinstance(t, BoolT):
                    j = self.as_data(v)
                target = (
                    {"type": "field", "value": [dst.hdr, dst.name]}
                    if isinstance(dst, PField)
                    else dst.json
                )
                if ctx.guard is not None:
                    j = {
                        "type": "expression",
                        "value": {"op": "?", "left": j, "right": target, "cond": ctx.guard},
                    }
                self.emit(ctx, setop, [target, j], pos)
            case PHeader(name=hn, type=ht):
                if src is None:
                    raise UnsupportedError(pos, "unsupported header assignment")
                if isinstance(src, ast.Cast) and isinstance(
                    src.expr, (ast.ListExpr, ast.InvalidHeader)
                ):
                    src = src.expr
                if isinstance(src, ast.InvalidHeader):
                    self.emit_guarded_header(ctx, "remove_header", hn, pos)
                    return
                if isinstance(src, ast.ListExpr):
                    self.emit_guarded_header(ctx, "add_header", hn, pos)
                    fields: dict[str, Place] = {
                        fname: PField(hn, fname, ft) for fname, ft in ht.fields
                    }
                    self.assign_list(fields, src, ht.name, ctx, pos)
                    return
                sp = self.place(src, ctx)
                if not isinstance(sp, PHeader):
                    raise UnsupportedError(pos, f"cannot assign this value to header {hn!r}")
                self.emit(
                    ctx,
                    "assign_header",
                    [{"type": "header", "value": hn}, {"type": "header", "value": sp.name}],
                    pos,
                )
            case PUnion(members=um) if isinstance(src, ast.InvalidHeader):
                for member in um.values():
                    self.emit_guarded_header(ctx, "remove_header", member.name, pos)
            case PStack(type=dt) if dt.elem.kind == "header_union":
                raise UnsupportedError(pos, "assignment of a whole header union stack")
            case PStack(name=dn, type=dt) | PUnion(name=dn, type=dt):
                whole = self.place(src, ctx) if src is not None else None
                if not isinstance(whole, type(dst)) or whole.type != dt:
                    raise UnsupportedError(pos, f"cannot assign this value to {dn!r}")
                kind = "header_stack" if isinstance(dst, PStack) else "header_union"
                op = "assign_header_stack" if kind == "header_stack" else "assign_union"
                params = [{"type": kind, "value": dn}, {"type": kind, "value": whole.name}]
                if ctx.in_parser:
                    assert ctx.prims is not None
                    ctx.prims.append(
                        {"parameters": [{"op": op, "parameters": params}], "op": "primitive"}
                    )
                else:
                    self.emit(ctx, op, params, pos)
            case PStruct(type=st, members=m):
                if src is None:
                    raise UnsupportedError(pos, "unsupported struct assignment")
                if isinstance(src, ast.Cast) and isinstance(src.expr, ast.ListExpr):
                    src = src.expr
                if isinstance(src, ast.ListExpr):
                    self.assign_list(m, src, st.name, ctx, pos)
                    return
                sp = self.place(src, ctx)
                if not isinstance(sp, PStruct) or sp.type != st:
                    raise UnsupportedError(
                        pos, f"cannot assign this value to a struct of type {st.name!r}"
                    )
                self.copy_struct(m, sp.members, ctx, pos)
            case _:
                raise UnsupportedError(pos, "unsupported assignment target")

    def assign_list(
        self, members: dict[str, Place], src: ast.ListExpr, tname: str, ctx: Ctx, pos: Pos
    ) -> None:
        """Assign a list or struct expression member by member (by name where named).

        With a final `...` the members not given get their default values.
        """
        names = src.names or tuple(members)[: len(src.items)]
        values: list[Val | None] = []
        for n, item in zip(names, src.items, strict=False):
            if n not in members:
                raise UnsupportedError(item.pos, f"{tname!r} has no field {n!r}")
            member = members[n]
            values.append(None)
            if len(src.items) > 1 and isinstance(member, PField):
                # the whole right-hand side is read before any member is written
                # ('h = { b = h.a, a = h.b }' swaps), as p4c's RemoveAliases does
                v = self.rvalue(item, ctx, member.type)
                if v.const is None:
                    tmp = self.temp(member.type)
                    self.assign(tmp, None, ctx, pos, v)
                    v = Val({"type": "field", "value": ["scalars", tmp.name]}, member.type)
                values[-1] = v
        for n, item, pre in zip(names, src.items, values, strict=False):
            self.assign(members[n], None if pre is not None else item, ctx, pos, pre)
        if src.rest:
            for n, member in members.items():
                if n not in names:
                    self.assign_default(member, ctx, pos)

    def assign_default(self, dst: Place, ctx: Ctx, pos: Pos) -> None:
        """Give dst P4's default value: 0, false, an invalid header."""
        match dst:
            case PField(type=t):
                base = t.base if isinstance(t, EnumT) and t.base is not None else t
                self.assign(dst, None, ctx, pos, self.const_val(0, base))
            case PHeader(name=hn):
                self.emit_guarded_header(ctx, "remove_header", hn, pos)
            case PUnion(members=um):
                for member in um.values():
                    self.emit_guarded_header(ctx, "remove_header", member.name, pos)
            case PStruct(members=m):
                for sub in m.values():
                    self.assign_default(sub, ctx, pos)
            case _:
                raise UnsupportedError(pos, "unsupported default value ('...') for this member")

    def copy_struct(self, dst: dict[str, Place], src: dict[str, Place], ctx: Ctx, pos: Pos) -> None:
        """Copy a flattened struct member by member."""
        for n, d in dst.items():
            s = src[n]
            match (d, s):
                case (PField(), PField() | PValue()):
                    self.assign(d, None, ctx, pos, self.read_place(s, pos))
                case (PHeader(), PHeader()):
                    self.emit(
                        ctx,
                        "assign_header",
                        [{"type": "header", "value": d.name}, {"type": "header", "value": s.name}],
                        pos,
                    )
                case (PStruct(), PStruct()):
                    self.copy_struct(d.members, s.members, ctx, pos)
                case _:
                    raise UnsupportedError(pos, "unsupported struct copy member")

    def emit_guarded_header(self, ctx: Ctx, op: str, hn: str, pos: Pos) -> None:
        """Emit add_header/remove_header (wrapped as 'primitive' in parsers)."""
        params = [{"type": "header", "value": hn}]
        if ctx.in_parser:
            assert ctx.prims is not None
            ctx.prims.append({"parameters": [{"op": op, "parameters": params}], "op": "primitive"})
            return
        self.emit(ctx, op, params, pos)

    def stmt(self, s: ast.Stmt, ctx: Ctx) -> None:
        """Lower a statement inside an action body (or a straight-line group)."""
        match s:
            case ast.Assign(lhs=lhs, rhs=rhs):
                if isinstance(lhs, ast.Slice):
                    self.slice_assign(lhs, rhs, ctx, s.pos)
                    return
                dst = self.place(lhs, ctx)
                if isinstance(dst, PValue):
                    raise UnsupportedError(
                        lhs.pos,
                        f"cannot assign to {expr_text(lhs)!r}: not an l-value "
                        "(a constant, an action parameter or an 'in' parameter)",
                    )
                if (
                    isinstance(rhs, ast.Call)
                    and isinstance(rhs.func, ast.Member)
                    and rhs.func.name == "lookahead"
                    and ctx.in_parser
                ):
                    self.lookahead_assign(dst, rhs, ctx, s.pos)
                    return
                self.assign(dst, rhs, ctx, s.pos)
            case ast.VarDecl(type=ty, name=n, init=init, is_const=is_const):
                t = self.fe.resolve(ty)
                if is_const and init is not None:
                    v = self.rvalue(init, ctx, t)
                    ctx.scope[n] = PValue(v)
                    return
                loc = self.local(t, n, s.pos)
                ctx.scope[n] = loc
                if init is not None:
                    if (
                        isinstance(init, ast.Call)
                        and isinstance(init.func, ast.Member)
                        and init.func.name == "lookahead"
                        and ctx.in_parser
                    ):
                        self.lookahead_assign(loc, init, ctx, s.pos)
                    else:
                        self.assign(loc, init, ctx, s.pos)
            case ast.CallStmt(call=c):
                self.call_stmt(c, ctx)
            case ast.Block(stmts=stmts):
                saved = dict(ctx.scope)
                for x in stmts:
                    if ctx.in_action:
                        # a 'return' or 'exit' earlier in the block guards the rest
                        self.guarded_stmt(x, ctx)
                    else:
                        self.stmt(x, ctx)
                # '$' entries carry an action's early-return state out of the block
                ctx.scope = saved | {
                    k: v for k, v in ctx.scope.items() if k in saved or k.startswith("$")
                }
            case ast.Empty():
                pass
            case ast.If(cond=c, then=then, other=other) if ctx.in_action:
                cv = self.rvalue(c, ctx, BoolT())
                if cv.const is not None:
                    branch = then if cv.const else other
                    if branch is not None:
                        self.stmt(branch, ctx)
                    return
                flag = self.new_scalar("cond", 1)
                self.assign(flag, None, ctx, s.pos, Val(self.as_data(cv), Bits(1)))
                fj = jexpr("d2b", None, {"type": "field", "value": ["scalars", flag.name]})
                outer = ctx.guard
                ctx.guard = fj if outer is None else jexpr("and", outer, fj)
                self.stmt(then, ctx)
                ret_then = ctx.guard is None
                ctx.guard = outer
                if other is not None:
                    nj = jexpr("not", None, fj)
                    ctx.guard = nj if outer is None else jexpr("and", outer, nj)
                    self.stmt(other, ctx)
                    ctx.guard = outer
                del ret_then
            case ast.Return(value=value) if ctx.in_action:
                if value is not None:
                    result = ctx.scope.get("$result")
                    if result is None:
                        raise UnsupportedError(s.pos, "'return' with a value outside a function")
                    self.assign(result, value, ctx, s.pos)
                self.action_return(ctx, s.pos)
            case ast.Exit() if ctx.in_action:
                self.emit(ctx, "exit", [], s.pos)
                # BMv2 finishes the action after 'exit': guard the rest of it
                self.action_return(ctx, s.pos, "$exited", "$exitguard")
            case ast.For() if ctx.prims is not None:
                self.for_loop(s, ctx)
            case ast.Break() | ast.Continue() if ctx.prims is not None:
                if not self.loops:
                    word = "break" if isinstance(s, ast.Break) else "continue"
                    raise UnsupportedError(s.pos, f"'{word}' outside a loop")
                target: J = {"type": "hexstr", "value": "0x0"}
                self.loops[-1][0 if isinstance(s, ast.Break) else 1].append(target)
                self.emit(ctx, "_jump", [target], s.pos)
            case _:
                raise UnsupportedError(s.pos, f"unsupported statement {type(s).__name__} here")

    def for_loop(self, s: ast.For, ctx: Ctx) -> None:
        """Lower a for loop inside an action with BMv2's ``_jump``/``_jump_if_zero``.

        Layout: init; top: ``_jump_if_zero(cond, end)``; body; update: update
        statements; ``_jump(top)``; end. ``break`` jumps to end and ``continue``
        to update. The condition also holds the action's guards (enclosing ``if``,
        ``return``, ``exit``), so that a loop under a false guard runs no
        iteration and one left by ``return`` or ``exit`` ends.
        """
        assert ctx.prims is not None
        prims = ctx.prims
        saved_scope = dict(ctx.scope)
        saved_in_action = ctx.in_action
        ctx.in_action = True
        for st in s.init:
            self.guarded_stmt(st, ctx)
        mark = len(prims)
        cond = (
            self.as_bool(self.rvalue(s.cond, ctx, BoolT()))
            if s.cond is not None
            else {"type": "bool", "value": True}
        )
        check_cond: J = {"type": "expression", "value": {"op": "b2d", "left": None, "right": cond}}
        end: J = {"type": "hexstr", "value": "0x0"}
        check: J = {"op": "_jump_if_zero", "parameters": [check_cond, end]}
        prims.append(check)
        top = prims[mark] if len(prims) > mark else check
        breaks: list[J] = []
        continues: list[J] = []
        self.loops.append((breaks, continues))
        try:
            self.guarded_stmt(s.body, ctx)
        finally:
            self.loops.pop()
        first_update = len(prims)
        for st in s.update:
            self.guarded_stmt(st, ctx)
        back: J = {"type": "hexstr", "value": "0x0"}
        back_jump: J = {"op": "_jump", "parameters": [back]}
        prims.append(back_jump)
        update_at = prims[first_update]
        # guards known only now (a 'return' in the body) end the loop as well
        guard = ctx.guard
        for key in ("$retguard", "$exitguard"):
            g = ctx.scope.get(key)
            if isinstance(g, PValue):
                guard = g.val.json if guard is None else jexpr("and", guard, g.val.json)
        if guard is not None:
            check_cond["value"]["right"] = jexpr("and", guard, cond)
        index = {id(p): i for i, p in enumerate(prims)}
        back["value"] = hex(index[id(top)])
        end["value"] = hex(len(prims))
        for t in breaks:
            t["value"] = hex(len(prims))
        for t in continues:
            t["value"] = hex(index[id(update_at)])
        ctx.in_action = saved_in_action
        ctx.scope = saved_scope | {
            k: v for k, v in ctx.scope.items() if k in saved_scope or k.startswith("$")
        }

    def action_return(
        self, ctx: Ctx, pos: Pos, flag_key: str = "$returned", guard_key: str = "$retguard"
    ) -> None:
        """Lower `return` inside an action by guarding what follows."""
        # a return under guard g disables every later statement of the action:
        # fold it into the enclosing guard by recording the returned flag
        flag = ctx.scope.get(flag_key)
        if not isinstance(flag, PField):
            flag = self.new_scalar("hasReturned", 1)
            ctx.scope[flag_key] = flag
            assert ctx.prims is not None
            # the flag is cleared first; jump targets move down by one
            shift_jumps(ctx.prims, 1)
            ctx.prims.insert(
                0,
                {
                    "op": "assign",
                    "parameters": [
                        {"type": "field", "value": ["scalars", flag.name]},
                        {"type": "hexstr", "value": "0x00"},
                    ],
                },
            )
        self.assign(flag, None, ctx, pos, self.const_val(1, Bits(1)))
        ctx.scope[guard_key] = PValue(
            Val(
                jexpr(
                    "not",
                    None,
                    jexpr("d2b", None, {"type": "field", "value": ["scalars", flag.name]}),
                ),
                BoolT(),
                True,
            )
        )

    def slice_assign(self, lhs: ast.Slice, rhs: ast.Expr, ctx: Ctx, pos: Pos) -> None:
        """Lower an assignment to a slice as a read-modify-write.

        A slice of a slice (``x[7:4][1:0] = v``) is the slice of ``x`` it names
        (``x[5:4]``).
        """
        h = self.const_in(lhs.hi, ctx)
        lo = self.const_in(lhs.lo, ctx)
        base = lhs.expr
        while isinstance(base, ast.Slice) and h is not None and lo is not None:
            bh = self.const_in(base.hi, ctx)
            blo = self.const_in(base.lo, ctx)
            if bh is None or blo is None or bh < blo or h >= bh - blo + 1:
                raise UnsupportedError(lhs.pos, "slice bounds must be constants within the field")
            h, lo, base = h + blo, lo + blo, base.expr
        dst = self.place(base, ctx)
        if not isinstance(dst, (PField, PDynField)) or not isinstance(dst.type, Bits):
            raise UnsupportedError(lhs.pos, "unsupported slice assignment target")
        if h is None or lo is None or h < lo or h >= dst.type.width:
            raise UnsupportedError(lhs.pos, "slice bounds must be constants within the field")
        w = h - lo + 1
        v = self.rvalue(rhs, ctx, Bits(w))
        fw = dst.type.width
        m = mask(w) << lo
        cur = self.read_place(dst, lhs.pos).json
        keep = jexpr("&", cur, jhex(mask(fw) ^ m, fw))
        new = jexpr("&", jexpr("<<", v.json, jhex(lo, 8)), jhex(m, fw))
        self.assign(dst, None, ctx, pos, Val(jexpr("|", keep, new), dst.type))

    def check_packet_in(self, call: ast.Call, ctx: Ctx, pos: Pos) -> None:
        """Check that a lookahead call is made on the packet_in."""
        assert isinstance(call.func, ast.Member)
        recv = self.place(call.func.expr, ctx)
        if not (isinstance(recv, PObj) and recv.kind == "packet"):
            raise UnsupportedError(pos, f"{call.func.name}() must be called on the packet_in")

    def lookahead_assign(self, dst: Place, call: ast.Call, ctx: Ctx, pos: Pos) -> None:
        """Lower `x = pkt.lookahead<T>()` in a parser state."""
        self.check_packet_in(call, ctx, pos)
        t = self.fe.resolve(call.type_args[0]) if call.type_args else None
        if t is None:
            raise UnsupportedError(pos, "lookahead needs a type argument")
        w = width_of(t)
        tmp = self.temp(Bits(w))
        assert ctx.prims is not None
        ctx.prims.append(
            {
                "parameters": [
                    {"type": "field", "value": ["scalars", tmp.name]},
                    {"type": "lookahead", "value": [0, w]},
                ],
                "op": "set",
            }
        )
        src = {"type": "field", "value": ["scalars", tmp.name]}
        match dst:
            case PField():
                self.assign(dst, None, ctx, pos, Val(src, dst.type))
            case PHeader(name=hn, type=ht):
                self.emit_guarded_header(ctx, "add_header", hn, pos)
                off = w
                for fname, ft in ht.fields:
                    fw = width_of(ft)
                    off -= fw
                    j = jexpr(
                        "&", jexpr(">>", src, jhex(off, 8)) if off else src, jhex(mask(fw), fw)
                    )
                    self.assign(PField(hn, fname, ft), None, ctx, pos, Val(j, ft))
            case _:
                raise UnsupportedError(pos, "unsupported lookahead target")

    def call_stmt(self, c: ast.Call, ctx: Ctx) -> None:
        """Lower a call statement (methods, actions, extern functions)."""
        f = c.func
        pos = c.pos
        if isinstance(f, ast.Member):
            obj = self.place(f.expr, ctx)
            m = f.name
            if (
                isinstance(obj, PHeader | PDynHeader | PUnion | PStack)
                and m in ("setValid", "setInvalid", "isValid")
                and c.args
            ):
                raise UnsupportedError(pos, f"{m}() takes no arguments, got {len(c.args)}")
            match obj:
                case PHeader(name=hn) if m in ("setValid", "setInvalid"):
                    self.emit_guarded_header(
                        ctx, "add_header" if m == "setValid" else "remove_header", hn, pos
                    )
                    return
                case PDynHeader() if m in ("setValid", "setInvalid"):
                    op = "add_header" if m == "setValid" else "remove_header"
                    if ctx.in_parser:
                        assert ctx.prims is not None
                        prim = {"op": op, "parameters": [obj.json]}
                        ctx.prims.append({"parameters": [prim], "op": "primitive"})
                    else:
                        self.emit(ctx, op, [obj.json], pos)
                    return
                case PStack(type=st) if m in ("push_front", "pop_front") and (
                    st.elem.kind == "header_union"
                ):
                    raise UnsupportedError(pos, f"{m} on a header union stack is unsupported")
                case PStack(name=sn) if m in ("push_front", "pop_front"):
                    n = self.rvalue(c.args[0].expr, ctx)
                    if n.const is None:
                        raise UnsupportedError(pos, f"{m} needs a constant count")
                    self.emit(
                        ctx,
                        "push" if m == "push_front" else "pop",
                        [{"type": "header_stack", "value": sn}, jhex(n.const, 32)],
                        pos,
                    )
                    return
                case PObj(kind="packet") if m == "extract" and ctx.in_parser:
                    self.extract(c, ctx)
                    return
                case PObj(kind="packet") if m == "advance" and ctx.in_parser:
                    n = self.rvalue(c.args[0].expr, ctx, Bits(32))
                    if n.const is not None:
                        arg = jhex(n.const, 32)
                    else:
                        tmp = self.temp(Bits(32))
                        self.assign(tmp, None, ctx, pos, n)
                        arg = {"type": "field", "value": ["scalars", tmp.name]}
                    assert ctx.prims is not None
                    ctx.prims.append({"parameters": [arg], "op": "advance"})
                    return
                case PObj(kind="extern"):
                    self.extern_method(obj, m, c, ctx)
                    return
                case PObj(kind="table") if m == "apply":
                    raise UnsupportedError(pos, "unsupported table apply inside an action")
            raise UnsupportedError(pos, f"unsupported method call {m!r}")
        if isinstance(f, ast.Name):
            p = self.lookup(f.name, ctx, f.pos)
            match p:
                case PObj(kind="action", decl=decl, name=fq):
                    if not ctx.in_action and not ctx.in_parser:
                        # p4c keeps a parameter-less copy of a directly called action
                        self.out.direct_actions.append((fq, decl))
                    self.inline_action(decl, c.args, ctx, pos)
                    return
                case PObj(kind="function", name=fname):
                    self.extern_function(fname, c, ctx)
                    return
                case PObj(kind="p4function", decl=fdecl):
                    self.inline_function(fdecl, c.args, ctx, pos, c.type_args)
                    return
        raise UnsupportedError(pos, "unsupported call")

    def generic_bindings(
        self,
        decl: ast.FunctionDecl,
        args: tuple[ast.Arg, ...],
        type_args: tuple[ast.TypeRef, ...],
        ctx: Ctx,
        pos: Pos,
    ) -> dict[str, Type]:
        """The type arguments of a generic function call: given, or from the arguments."""
        tps = decl.type_params
        if not tps:
            return {}
        if type_args:
            if len(type_args) != len(tps):
                raise UnsupportedError(
                    pos, f"{decl.name} takes {len(tps)} type arguments, got {len(type_args)}"
                )
            return {n: self.fe.resolve(t) for n, t in zip(tps, type_args, strict=True)}
        out: dict[str, Type] = {}
        ordered = self.bind_args(decl.params, args, pos)
        scratch = Ctx(ctx.scope, ctx.in_action, ctx.in_parser, [], None, ctx.control)
        for p, a in zip(decl.params, ordered, strict=True):
            if a is None or p.type.kind != "name" or p.type.name not in tps:
                continue
            if p.type.name in out:
                continue
            arg_t: Type
            if p.direction in ("out", "inout"):
                where = self.place(a, scratch)
                if not isinstance(where, PField | PHeader | PStruct | PStack):
                    raise UnsupportedError(a.pos, f"cannot infer {p.type.name!r} from this")
                arg_t = where.type
            else:
                arg_t = self._rvalue(a, scratch, None).type
            if isinstance(arg_t, InfInt):
                raise UnsupportedError(
                    a.pos, f"cannot infer type {p.type.name!r} of {decl.name} from an int literal"
                )
            out[p.type.name] = arg_t
        missing = [n for n in tps if n not in out]
        if missing:
            raise UnsupportedError(pos, f"cannot infer type argument(s) {missing} of {decl.name}")
        return out

    def inline_function(
        self,
        decl: ast.FunctionDecl,
        args: tuple[ast.Arg, ...],
        ctx: Ctx,
        pos: Pos,
        type_args: tuple[ast.TypeRef, ...] = (),
    ) -> Val:
        """Inline a P4 function call; its `return` values go to a temporary."""
        if ctx.prims is None:
            raise UnsupportedError(pos, f"unsupported call of function {decl.name!r} here")
        saved = self.fe.type_bindings
        self.fe.type_bindings = {
            **saved,
            **self.generic_bindings(decl, args, type_args, ctx, pos),
        }
        try:
            ret_t = self.fe.resolve(decl.ret)
            result = None if isinstance(ret_t, VoidT) else self.temp(ret_t)
            self.inline_action(decl, args, ctx, pos, result)
        finally:
            self.fe.type_bindings = saved
        if result is None:
            return Val({"type": "bool", "value": False}, ret_t, True, 0)
        return Val({"type": "field", "value": ["scalars", result.name]}, ret_t)

    def inline_function_place(
        self, decl: ast.FunctionDecl, args: tuple[ast.Arg, ...], ctx: Ctx, pos: Pos
    ) -> Place:
        """Inline a P4 function returning a header, struct or stack into fresh storage."""
        if ctx.prims is None:
            raise UnsupportedError(pos, f"unsupported call of function {decl.name!r} here")
        result = self.local(self.fe.resolve(decl.ret), f"{decl.name}_retval", pos)
        self.inline_action(decl, args, ctx, pos, result)
        return result

    def inline_action(
        self,
        decl: ast.ActionDecl | ast.FunctionDecl,
        args: tuple[ast.Arg, ...],
        ctx: Ctx,
        pos: Pos,
        result: Place | None = None,
    ) -> None:
        """Inline an action call: in-arguments copied, out/inout bound by reference.

        Out/inout arguments that overlap another one (``f(x, x)``) are copied in
        and out instead, in parameter order, as P4's copy-in/copy-out demands:
        by reference, a write through one would show through the other.
        """
        scope = dict(ctx.scope)
        for k in ("$returned", "$retguard", "$result"):
            scope.pop(k, None)
        if result is not None:
            scope["$result"] = result
        ordered = self.bind_args(decl.params, args, pos)
        for n, (p, a) in enumerate(zip(decl.params, ordered, strict=True)):
            if isinstance(a, ast.Default) and p.direction in ("out", "inout"):
                # '_' for an out argument: a temporary nobody reads
                key = f"$dontcare_{self.fresh('dc')}"
                ctx.scope[key] = self.local(self.fe.resolve(p.type), f"{p.name}_dc", a.pos)
                ordered[n] = ast.Name(a.pos, key)
        directional = [
            (p, a, self.place(a, ctx))
            for p, a in zip(decl.params, ordered, strict=True)
            if p.direction in ("out", "inout") and a is not None
        ]
        aliased = {
            p.name
            for i, (p, _, pl) in enumerate(directional)
            for j, (_, _, other) in enumerate(directional)
            if i != j and _overlap(_leaves(pl), _leaves(other))
        }
        copies: list[tuple[Place, ast.Expr]] = []
        for p, a in zip(decl.params, ordered, strict=True):
            t = self.fe.resolve(p.type)
            if a is None:
                raise UnsupportedError(
                    pos, f"missing argument for parameter {p.name!r} of action {decl.name!r}"
                )
            if p.direction in ("out", "inout"):
                if p.name not in aliased:
                    bound = self.place(a, ctx)
                    if p.direction == "out":
                        # an 'out' header starts invalid, as a fresh copy would be
                        for hn in _headers_of(bound):
                            self.emit_guarded_header(ctx, "remove_header", hn, pos)
                    scope[p.name] = bound
                    continue
                copy = self.local(t, f"{decl.name}_{p.name}", p.pos)
                if p.direction == "inout":
                    self.assign(copy, a, ctx, pos)
                else:
                    for hn in _headers_of(copy):
                        self.emit_guarded_header(ctx, "remove_header", hn, pos)
                scope[p.name] = copy
                copies.append((copy, a))
                continue
            if isinstance(t, (StructT, StackT)):
                # a header, struct or stack passed in: a copy of its own
                copy = self.local(t, f"{decl.name}_{p.name}", p.pos)
                self.assign(copy, a, ctx, pos)
                scope[p.name] = copy
                continue
            v = self.rvalue(a, ctx, t)
            if v.const is None and v.json.get("type") not in ("runtime_data",):
                tmp = self.temp(t)
                self.assign(tmp, None, ctx, pos, v)
                v = Val({"type": "field", "value": ["scalars", tmp.name]}, t)
            scope[p.name] = PValue(v)
        sub = Ctx(scope, True, ctx.in_parser, ctx.prims, ctx.guard, ctx.control)
        if any(d is decl for d in self.inlining):
            kind = "action" if isinstance(decl, ast.ActionDecl) else "function"
            raise UnsupportedError(pos, f"recursive call of {kind} {decl.name!r}")
        self.inlining.append(decl)
        try:
            self.action_body(decl.body, sub)
        finally:
            self.inlining.pop()
        for idx, (copy, a) in enumerate(copies):
            # copy-out happens after a 'return' too: under the caller's guard only
            name = f"$copy{idx}"
            cctx = Ctx(
                {**ctx.scope, name: copy},
                ctx.in_action,
                ctx.in_parser,
                ctx.prims,
                ctx.guard,
                ctx.control,
            )
            self.assign(self.place(a, ctx), ast.Name(a.pos, name), cctx, pos)
        # an exit inside the callee also ends the caller
        for key in ("$exited", "$exitguard"):
            if key in sub.scope:
                ctx.scope[key] = sub.scope[key]

    def action_body(self, body: ast.Block, ctx: Ctx) -> None:
        """Lower an action body, applying the early-return guard to each statement."""
        for s in body.stmts:
            self.guarded_stmt(s, ctx)

    def guarded_stmt(self, s: ast.Stmt, ctx: Ctx) -> None:
        """Lower a statement under the current guard and any return/exit guard."""
        outer = ctx.guard
        guard = outer
        for key in ("$retguard", "$exitguard"):
            g = ctx.scope.get(key)
            if isinstance(g, PValue):
                guard = g.val.json if guard is None else jexpr("and", guard, g.val.json)
        ctx.guard = guard
        try:
            self.stmt(s, ctx)
        finally:
            ctx.guard = outer

    @staticmethod
    def bind_args(
        params: tuple[ast.Param, ...], args: tuple[ast.Arg, ...], pos: Pos
    ) -> list[ast.Expr | None]:
        """Arguments in parameter order (named arguments and defaults resolved)."""
        out: list[ast.Expr | None] = [None] * len(params)
        names = [p.name for p in params]
        for i, a in enumerate(args):
            if a.name is not None:
                if a.name not in names:
                    raise UnsupportedError(a.pos, f"no parameter named {a.name!r}")
                out[names.index(a.name)] = a.expr
            elif i < len(out):
                out[i] = a.expr
            else:
                raise UnsupportedError(a.pos, f"too many arguments: expected {len(params)}")
        for i, p in enumerate(params):
            if out[i] is None and p.default is not None:
                out[i] = p.default
        return out

    def positional(self, params: tuple[ast.Param, ...], c: ast.Call) -> list[ast.Expr]:
        """The arguments of an extern call in parameter order (named ones bound by name)."""
        if not any(a.name is not None for a in c.args):
            return [a.expr for a in c.args]
        bound = self.bind_args(params, c.args, c.pos)
        while bound and bound[-1] is None:
            bound.pop()
        for p, b in zip(params, bound, strict=False):
            if b is None:
                raise UnsupportedError(c.pos, f"missing argument for parameter {p.name!r}")
        return [b for b in bound if b is not None]

    def method_params(self, extern: str, method: str, nargs: int) -> tuple[ast.Param, ...]:
        """The parameters of an extern method (the overload taking ``nargs`` arguments)."""
        decl = self.env.externs.get(extern)
        if decl is None:
            return ()
        found = [m.params for m in decl.methods if m.name == method]
        for params in found:
            if len(params) == nargs:
                return params
        return found[0] if found else ()

    # ============================================================ externs
    def field_list(self, e: ast.Expr, ctx: Ctx) -> list[Val]:
        """Flatten a list/struct/header argument into field values."""
        if isinstance(e, ast.ListExpr):
            out: list[Val] = []
            for it in e.items:
                out.extend(self.field_list(it, ctx))
            return out
        p = self.place(e, ctx)
        return self.flatten_place(p, e.pos)

    def flatten_place(self, p: Place, pos: Pos) -> list[Val]:
        """The scalar values of a header, struct or field, in order."""
        match p:
            case PHeader(name=hn, type=ht):
                return [Val({"type": "field", "value": [hn, n]}, t) for n, t in ht.fields]
            case PStruct(members=m):
                out: list[Val] = []
                for sub in m.values():
                    out.extend(self.flatten_place(sub, pos))
                return out
            case PField() | PValue():
                return [self.read_place(p, pos)]
        raise UnsupportedError(pos, "unsupported field list element")

    def fields_as_json(self, vals: list[Val], ctx: Ctx, pos: Pos) -> list[J]:
        """Field operands for a list, copying non-fields into temporaries."""
        out: list[J] = []
        for v in vals:
            if v.json.get("type") == "field" and not v.boolish:
                out.append(v.json)
            else:
                t = v.type if not isinstance(v.type, InfInt) else Bits(32)
                tmp = self.temp(t)
                self.assign(tmp, None, ctx, pos, v)
                out.append({"type": "field", "value": ["scalars", tmp.name]})
        return out

    def enum_member(self, e: ast.Expr, enum: str, ctx: Ctx) -> str:
        """The member name of a constant `Enum.member` argument."""
        if isinstance(e, ast.Member) and isinstance(e.expr, ast.Name) and e.expr.name == enum:
            et = self.env.types.get(enum)
            if isinstance(et, EnumT) and e.name not in et.members:
                raise UnsupportedError(
                    e.pos, f"{e.name!r} is not a member of {enum}: expected one of {et.members!r}"
                )
            return e.name
        raise UnsupportedError(e.pos, f"expected a constant {enum} member")

    def extern_function(self, name: str, c: ast.Call, ctx: Ctx) -> None:
        """Lower a call of a v1model or core extern function."""
        pos = c.pos
        proto = self.env.functions.get(name)
        args = self.positional(proto.params, c) if proto is not None else [a.expr for a in c.args]
        if proto is not None and name not in ("log_msg", "static_assert"):  # overloaded
            needed = [
                p
                for p in proto.params
                if p.default is None
                and ast.annotation_str(p.annotations, "optional") is None
                and not any(an.name == "optional" for an in p.annotations)
            ]
            if not len(needed) <= len(args) <= len(proto.params):
                want = (
                    str(len(proto.params))
                    if len(needed) == len(proto.params)
                    else f"{len(needed)} to {len(proto.params)}"
                )
                raise UnsupportedError(pos, f"{name}() takes {want} argument(s), got {len(args)}")
        if not ctx.in_parser:
            self.out.extern_calls = True
        match name:
            case "mark_to_drop":
                p = self.place(args[0], ctx)
                if not isinstance(p, PHeader) or p.name != "standard_metadata":
                    got = type_str(p.type) if isinstance(p, PField | PHeader | PStruct) else "?"
                    raise UnsupportedError(
                        args[0].pos,
                        f"type mismatch: expected 'standard_metadata_t', got {got!r}",
                    )
                self.emit(ctx, "mark_to_drop", [{"type": "header", "value": p.name}], pos)
            case "static_assert":
                self.fe.static_assert(c)
            case "verify" if ctx.in_parser:
                cond = self.rvalue(args[0], ctx, BoolT())
                err = self.rvalue(args[1], ctx, ErrorT())
                tmp = self.new_scalar("tmp", 1)
                self.assign(tmp, None, ctx, pos, Val(self.as_data(cond), Bits(1)))
                assert ctx.prims is not None
                verify_cond = jexpr("d2b", None, {"type": "field", "value": ["scalars", tmp.name]})
                ctx.prims.append(
                    {
                        "parameters": [
                            verify_cond,
                            {"type": "hexstr", "value": hex(err.const or 0)},
                        ],
                        "op": "verify",
                    }
                )
            case "hash":
                dst = self.place(args[0], ctx)
                if not isinstance(dst, PField) or not isinstance(dst.type, Bits):
                    raise UnsupportedError(pos, "hash result must be a bit<W> field")
                algo = self.enum_member(args[1], "HashAlgorithm", ctx)
                base = self.rvalue(args[2], ctx)
                maxv = self.rvalue(args[4], ctx)
                bt = base.type if isinstance(base.type, Bits) else Bits(dst.type.width)
                mt = maxv.type if isinstance(maxv.type, Bits) else Bits(dst.type.width)
                inputs = self.fields_as_json(self.field_list(args[3], ctx), ctx, pos)
                calc = self.add_calc(algo, inputs, None)
                bj = jhex(base.const, bt.width) if base.const is not None else base.json
                mj = jhex(maxv.const, mt.width * 2) if maxv.const is not None else maxv.json
                if maxv.const is not None:
                    mj = jhex(maxv.const, mt.width)
                self.emit(
                    ctx,
                    "modify_field_with_hash_based_offset",
                    [
                        {"type": "field", "value": [dst.hdr, dst.name]},
                        bj,
                        {"type": "calculation", "value": calc},
                        mj,
                    ],
                    pos,
                )
            case "clone" | "clone_preserving_field_list" | "clone3":
                ctype = self.enum_member(args[0], "CloneType", ctx)
                sess = self.rvalue(args[1], ctx, Bits(32))
                fl = 0
                if name == "clone_preserving_field_list":
                    idx = self.rvalue(args[2], ctx, Bits(8))
                    fl = self.field_list_for_index(idx.const or 0, ctx)
                elif name == "clone3":
                    fl = self.field_list_of_data(args[2], ctx)
                else:
                    fl = self.empty_field_list()
                op = (
                    "clone_ingress_pkt_to_egress"
                    if ctype == "I2E"
                    else "clone_egress_pkt_to_egress"
                )
                self.emit(ctx, op, [self.idx_json(sess), {"type": "hexstr", "value": hex(fl)}], pos)
            case "resubmit_preserving_field_list" | "recirculate_preserving_field_list":
                idx = self.rvalue(args[0], ctx, Bits(8))
                fl = self.field_list_for_index(idx.const or 0, ctx)
                self.emit(
                    ctx,
                    "resubmit" if name.startswith("resubmit") else "recirculate",
                    [{"type": "hexstr", "value": hex(fl)}],
                    pos,
                )
            case "resubmit" | "recirculate":
                fl = self.field_list_of_data(args[0], ctx) if args else self.empty_field_list()
                self.emit(ctx, name, [{"type": "hexstr", "value": hex(fl)}], pos)
            case "truncate":
                n = self.rvalue(args[0], ctx, Bits(32))
                self.emit(ctx, "truncate", [self.idx_json(n)], pos)
            case "digest":
                recv = self.rvalue(args[0], ctx, Bits(32))
                t_name = c.type_args[0].name if c.type_args else ""
                if not t_name:
                    data_place = self.place(args[1], ctx)
                    if isinstance(data_place, PStruct):
                        t_name = data_place.type.name
                vals = self.field_list(args[1], ctx)
                fields = self.fields_as_json(vals, ctx, pos)
                lid = len(self.out.learn_lists) + 1
                lname = t_name or f"digest_{lid}"
                self.out.learn_lists.append({"id": lid, "name": lname, "elements": fields})
                st = self.env.types.get(t_name)
                if isinstance(st, StructT):
                    members: list[tuple[str, int, str]] = []
                    for fname, ft in st.fields:
                        declared = self.env.field_type_names.get((t_name, fname))
                        newtype = self.env.newtype_name(declared)
                        tag = f"newtype:{newtype}" if newtype else p4rt_type(ft)
                        members.append((fname, width_of(ft), tag))
                    self.out.digests.append((lname, lid, members))
                else:
                    self.out.digests.append(
                        (
                            lname,
                            lid,
                            [
                                (f"f{i}", width_of(v.type), p4rt_type(v.type))
                                for i, v in enumerate(vals)
                            ],
                        )
                    )
                self.emit(
                    ctx,
                    "generate_digest",
                    [self.idx_json(recv), {"type": "hexstr", "value": hex(lid)}],
                    pos,
                )
            case "random":
                dst = self.place(args[0], ctx)
                if not isinstance(dst, PField) or not isinstance(dst.type, Bits):
                    raise UnsupportedError(pos, "random result must be a bit<W> field")
                lo = self.rvalue(args[1], ctx, dst.type)
                hi = self.rvalue(args[2], ctx, dst.type)
                self.emit(
                    ctx,
                    "modify_field_rng_uniform",
                    [{"type": "field", "value": [dst.hdr, dst.name]}, lo.json, hi.json],
                    pos,
                )
            case "log_msg":
                msg = args[0]
                if not isinstance(msg, ast.StrLit):
                    raise UnsupportedError(pos, "log_msg needs a string literal")
                vals = self.field_list(args[1], ctx) if len(args) > 1 else []
                params: list[J] = [{"type": "string", "value": msg.value}]
                # booleans as data, as p4c converts them (BMv2 prints data)
                data = [self.as_data(v) for v in vals]
                params.append({"type": "parameters_vector", "value": data})
                self.emit(ctx, "log_msg", params, pos)
            case "assert" | "assume":
                cond = self.rvalue(args[0], ctx, BoolT())
                self.emit(ctx, name, [jexpr("b2d", None, self.as_bool(cond))], pos)
            case (
                "verify_checksum"
                | "update_checksum"
                | "verify_checksum_with_payload"
                | "update_checksum_with_payload"
            ):
                raise UnsupportedError(pos, f"{name} is only supported in the checksum controls")
            case _:
                raise UnsupportedError(pos, f"unsupported extern function {name!r}")

    def field_list_of_data(self, e: ast.Expr, ctx: Ctx) -> int:
        """A field list of the fields named by a struct or list argument."""
        elems: list[J] = []
        for v in self.field_list(e, ctx):
            if v.json.get("type") != "field":
                raise UnsupportedError(e.pos, "the preserved data must name fields")
            elems.append(v.json)
        fid = len(self.out.field_lists) + 1
        self.out.field_lists.append({"id": fid, "name": self.fresh("fl"), "elements": elems})
        return fid

    def empty_field_list(self) -> int:
        """A new empty field list (plain clone)."""
        fid = len(self.out.field_lists) + 1
        self.out.field_lists.append({"id": fid, "name": self.fresh("fl"), "elements": []})
        return fid

    def field_list_for_index(self, index: int, ctx: Ctx) -> int:
        """The field list of the metadata fields tagged @field_list(index)."""
        if index in self.field_list_ids:
            return self.field_list_ids[index]
        elems: list[J] = []

        def collect(st: PStruct) -> None:
            # tagged fields at any depth of the metadata struct, in declaration order;
            # a tagged struct member brings all of its fields
            for fname, p in st.members.items():
                tagged = any(
                    an.name == "field_list" and any(self.fe.fold(x) == index for x in an.args)
                    for an in self.field_annos(st.type.name, fname)
                )
                if tagged:
                    elems.extend(v.json for v in self.flatten_place(p, Pos("", 0, 0)))
                elif isinstance(p, PStruct):
                    collect(p)

        if isinstance(self.out_meta, PStruct):
            collect(self.out_meta)
        fid = len(self.out.field_lists) + 1
        self.out.field_lists.append({"id": fid, "name": f"field_list{index}", "elements": elems})
        self.field_list_ids[index] = fid
        return fid

    def field_annos(self, struct_name: str, fname: str) -> tuple[ast.Annotation, ...]:
        """Annotations of field fname of struct struct_name."""
        for d in self.env.decl_order:
            if isinstance(d, ast.StructLike) and d.name == struct_name:
                for f in d.fields:
                    if f.name == fname:
                        return f.annotations
        return ()

    def add_calc(self, algo: str, inputs: list[J], si: J | None) -> str:
        """A new calculation (hash or checksum) over inputs."""
        if algo not in HASH_ALGOS:
            raise UnsupportedError(Pos("", 0, 0), f"unsupported hash algorithm {algo!r}")
        name = self.fresh("calc")
        calc: J = {"name": name, "id": len(self.out.calculations)}
        if si is not None:
            calc["source_info"] = si
        calc["algo"] = HASH_ALGOS[algo]
        calc["input"] = inputs
        self.out.calculations.append(calc)
        return name

    def extern_method(self, obj: PObj, m: str, c: ast.Call, ctx: Ctx) -> None:
        """Lower a method call on an extern instance."""
        pos = c.pos
        et = obj.type
        assert isinstance(et, ExternT)
        args = self.positional(self.method_params(et.name, m, len(c.args)), c)
        decl = self.env.externs.get(et.name)
        arities = sorted({len(d.params) for d in decl.methods if d.name == m}) if decl else []
        if arities and len(args) not in arities:
            want = " or ".join(str(n) for n in arities)
            raise UnsupportedError(
                pos, f"{et.name}.{m}() takes {want} argument(s), got {len(args)}"
            )
        match (et.name, m):
            case ("register", "write"):
                vt = et.args[0] if et.args else Bits(32)
                idx = self.rvalue(args[0], ctx, et.args[1] if len(et.args) > 1 else Bits(32))
                val = self.rvalue(args[1], ctx, vt)
                self.emit(
                    ctx,
                    "register_write",
                    [
                        {"type": "register_array", "value": obj.name},
                        self.idx_json(idx),
                        self.as_data(val) if val.const is None else jhex(val.const, width_of(vt)),
                    ],
                    pos,
                )
            case ("register", "read"):
                dst = self.place(args[0], ctx)
                if not isinstance(dst, PField):
                    raise UnsupportedError(pos, "register read needs a field destination")
                self.check_out_type(dst, et.args[0] if et.args else None, args[0].pos)
                idx = self.rvalue(args[1], ctx, et.args[1] if len(et.args) > 1 else Bits(32))
                self.emit(
                    ctx,
                    "register_read",
                    [
                        {"type": "field", "value": [dst.hdr, dst.name]},
                        {"type": "register_array", "value": obj.name},
                        self.idx_json(idx),
                    ],
                    pos,
                )
            case ("counter", "count"):
                idx = self.rvalue(args[0], ctx, et.args[0] if et.args else Bits(32))
                self.emit(
                    ctx,
                    "count",
                    [{"type": "counter_array", "value": obj.name}, self.idx_json(idx)],
                    pos,
                )
            case ("direct_counter", "count"):
                pass
            case ("meter", "execute_meter"):
                idx = self.rvalue(args[0], ctx, et.args[0] if et.args else Bits(32))
                dst = self.place(args[1], ctx)
                if not isinstance(dst, PField):
                    raise UnsupportedError(pos, "meter result needs a field destination")
                self.emit(
                    ctx,
                    "execute_meter",
                    [
                        {"type": "meter_array", "value": obj.name},
                        self.idx_json(idx),
                        {"type": "field", "value": [dst.hdr, dst.name]},
                    ],
                    pos,
                )
            case ("direct_meter", "read"):
                dst = self.place(args[0], ctx)
                if not isinstance(dst, PField):
                    raise UnsupportedError(pos, "direct meter result needs a field destination")
                self.check_out_type(dst, et.args[0] if et.args else None, args[0].pos)
                ext = next((x for x in self.out.externs if x.name == obj.name), None)
                if ext is not None:
                    # 'p4' keeps the expression as written, for the diagnostic below
                    target = {"value": [dst.hdr, dst.name], "p4": expr_text(args[0])}
                    if ext.selector is not None and ext.selector["value"] != target["value"]:
                        # BMv2 writes a direct meter's colour to one field per table
                        raise UnsupportedError(
                            args[0].pos,
                            "On this target all meter operations must write to the same "
                            f"destination but {ext.selector['p4']} and {target['p4']} "
                            "are different",
                        )
                    ext.selector = target
            case _:
                raise UnsupportedError(pos, f"unsupported method {et.name}.{m}")

    @staticmethod
    def check_out_type(dst: PField, want: Type | None, pos: Pos) -> None:
        """An extern's out argument has exactly its parameter's type (no conversion)."""
        if want is not None and not isinstance(want, AnyT) and dst.type != want:
            raise UnsupportedError(
                pos, f"type mismatch: expected {type_str(want)!r}, got {type_str(dst.type)!r}"
            )

    # ============================================================ parser
    def extract(self, c: ast.Call, ctx: Ctx) -> None:
        """Lower `pkt.extract(h)` (a header or a stack's next element) and `extract(h, bits)`."""
        if len(c.args) not in (1, 2):
            raise UnsupportedError(c.pos, f"extract takes 1 or 2 arguments, got {len(c.args)}")
        p = self.place(c.args[0].expr, ctx)
        assert ctx.prims is not None
        elem_t = (
            p.type
            if isinstance(p, PHeader)
            else p.type.elem
            if isinstance(p, PObj) and p.kind == "stack_next" and isinstance(p.type, StackT)
            else None
        )
        has_varbit = elem_t is not None and any(isinstance(ft, VarbitT) for _, ft in elem_t.fields)
        if len(c.args) == 2 or has_varbit:
            if not (has_varbit and len(c.args) == 2):
                raise UnsupportedError(
                    c.pos,
                    "a header with a varbit field is extracted with extract(hdr, bits), "
                    "and only such a header",
                )
            n = self.rvalue(c.args[1].expr, ctx, Bits(32))
            length = (
                n.json
                if n.json.get("type") == "expression"
                else jexpr("&", self.as_data(n), jhex(0xFFFFFFFF, 32))
            )
            assert isinstance(p, PHeader | PObj)
            target = {"type": "regular" if isinstance(p, PHeader) else "stack", "value": p.name}
            ctx.prims.append({"parameters": [target, length], "op": "extract_VL"})
            return
        match p:
            case PHeader(name=hn):
                ctx.prims.append(
                    {"parameters": [{"type": "regular", "value": hn}], "op": "extract"}
                )
            case PObj(kind="stack_next", name=sn):
                ctx.prims.append({"parameters": [{"type": "stack", "value": sn}], "op": "extract"})
            case _:
                raise UnsupportedError(c.pos, "extract needs a header or a stack's .next")

    def constructor_values(
        self, decl: ast.ControlDecl | ast.ParserDecl, inst: ast.Instance, ctx: Ctx
    ) -> dict[str, Place]:
        """The constructor parameters of an instantiated control or parser, as constants."""
        ordered = self.bind_args(decl.ctor_params, inst.args, inst.pos)
        out: dict[str, Place] = {}
        for p, a in zip(decl.ctor_params, ordered, strict=True):
            if a is None:
                raise UnsupportedError(
                    inst.pos, f"missing constructor argument {p.name!r} of {decl.name!r}"
                )
            pt = self.fe.resolve(p.type)
            if isinstance(pt, ExternT) and isinstance(a, ast.Name):
                # a control (or parser) instance passed to a control-typed parameter
                obj = self.place(a, ctx)
                if isinstance(obj, PObj) and obj.kind in ("control", "parser"):
                    out[p.name] = obj
                    continue
            v = self.rvalue(a, Ctx(ctx.scope, control=ctx.control), pt)
            if v.const is None:
                raise UnsupportedError(
                    a.pos, f"constructor argument {p.name!r} must be a compile-time constant"
                )
            out[p.name] = PValue(v)
        return out

    def control_local(self, d: ast.Decl, ctx: Ctx, prefix: str) -> None:
        """Declare one local of a control or parser."""
        match d:
            case ast.VarDecl(is_const=True, name=n, type=ty, init=init):
                t = self.fe.resolve(ty)
                if init is None:
                    raise UnsupportedError(d.pos, f"constant {n!r} needs a value")
                if isinstance(t, StructT) and t.kind == "struct":
                    values = self.fe.const_struct(t, init)
                    if values is None:
                        raise UnsupportedError(init.pos, f"constant {n!r} needs a constant value")
                    ctx.scope[n] = self.struct_const_place(t, values)
                    return
                ctx.scope[n] = PValue(self.rvalue(init, ctx, t))
            case ast.VarDecl(name=n, type=ty, init=init):
                t = self.fe.resolve(ty)
                loc = self.local(t, n, d.pos)
                ctx.scope[n] = loc
                if init is not None:
                    self.pending_inits.append((loc, init, d.pos))
            case ast.Instance():
                self.instance(d, ctx, prefix)
            case ast.ActionDecl(name=n):
                ctx.scope[n] = PObj("action", f"{prefix}.{n}", d)
            case ast.TableDecl(name=n):
                ctx.scope[n] = PObj("table", f"{prefix}.{n}", d)
            case ast.ValueSetDecl(name=n, type=ty, size=sz):
                if not ctx.in_parser:
                    raise UnsupportedError(d.pos, "value_set is only allowed in a parser")
                t = self.fe.resolve(ty)
                fields: list[tuple[str, int]]
                if isinstance(t, Bits) and not t.signed:
                    fields = [("", t.width)]
                elif (
                    isinstance(t, StructT)
                    and t.kind == "struct"
                    and t.fields
                    and all(isinstance(ft, Bits) and not ft.signed for _, ft in t.fields)
                ):
                    fields = [(fn, width_of(ft)) for fn, ft in t.fields]
                else:
                    raise UnsupportedError(
                        d.pos,
                        f"unsupported value_set element type {type_str(t)!r}; "
                        "expected bit<W> or a struct of bit<W> fields",
                    )
                size = self.const_in(sz, ctx)
                if size is None or size < 1:
                    raise UnsupportedError(sz.pos, "value_set size must be a positive constant")
                vs = LValueSet(f"{prefix}.{n}", d.pos, size, fields, d.annotations)
                self.out.value_sets.append(vs)
                ctx.scope[n] = PObj("value_set", vs.name, vs, t)
            case _:
                raise UnsupportedError(d.pos, f"unsupported local declaration {type(d).__name__}")

    def instance(self, d: ast.Instance, ctx: Ctx, prefix: str) -> None:
        """Declare an extern or sub-control instance."""
        ty = d.type
        t = self.fe.resolve(ty)
        fq = f"{prefix}.{d.name}"
        renamed = ast.annotation_str(d.annotations, "name")
        if renamed is not None:
            # @name(".x") is global, @name("x") replaces the local name
            fq = renamed[1:] if renamed.startswith(".") else f"{prefix}.{renamed}"
        tname = ty.name
        if tname in self.env.controls:
            ctx.scope[d.name] = PObj("control", fq, self.env.controls[tname])
            self.ctor_args[fq] = self.constructor_values(self.env.controls[tname], d, ctx)
            return
        if tname in self.env.parsers and ctx.in_parser:
            # a sub-parser: its states are inlined where it is applied
            ctx.scope[d.name] = PObj("parser", fq, self.env.parsers[tname])
            self.ctor_args[fq] = self.constructor_values(self.env.parsers[tname], d, ctx)
            return
        if not isinstance(t, ExternT):
            raise UnsupportedError(d.pos, f"unsupported instantiation of {tname!r}")
        same = next((x for x in self.out.externs if x.name == fq and x.kind == t.name), None)
        if same is not None:
            # a control instance applied again: its extern instances are the same
            ctx.scope[d.name] = PObj("extern", fq, same, t)
            return
        args = [a.expr for a in d.args]
        ext = LExtern(t.name, fq, d.pos, annotations=d.annotations)
        match t.name:
            case "register":
                ext.size = self.const_in(args[0], ctx) or 0
                ext.width = width_of(t.args[0]) if t.args else 32
                if t.args:
                    vt = t.args[0]
                    signed = isinstance(vt, Bits) and vt.signed
                    ext.value_type = "int" if signed else p4rt_type(vt)
            case "counter":
                ext.size = self.const_in(args[0], ctx) or 0
                ext.counter_type = self.enum_member(args[1], "CounterType", ctx)
            case "direct_counter":
                ext.counter_type = self.enum_member(args[0], "CounterType", ctx)
            case "meter":
                ext.size = self.const_in(args[0], ctx) or 0
                ext.mtype = self.enum_member(args[1], "MeterType", ctx)
            case "direct_meter":
                ext.mtype = self.enum_member(args[0], "MeterType", ctx)
            case "action_profile":
                ext.size = self.const_in(args[0], ctx) or 0
            case "action_selector":
                ext.mtype = self.enum_member(args[0], "HashAlgorithm", ctx)
                ext.size = self.const_in(args[1], ctx) or 0
                ext.width = self.const_in(args[2], ctx) or 0
            case _:
                raise UnsupportedError(d.pos, f"unsupported extern instance of type {t.name!r}")
        self.out.externs.append(ext)
        ctx.scope[d.name] = PObj("extern", fq, ext, t)
