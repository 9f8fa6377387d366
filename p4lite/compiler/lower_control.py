"""Lowering pass 5: control flow (hidden tables for straight-line code,
conditionals, table-apply results, `switch`, `exit`/`return`, sub-control
inlining) and tables (keys, actions, defaults, const entries).

Imports `ast`, `frontend`, `diagnostics`, `ir` and `lower_parser`.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from typing import Any

from p4lite.compiler import ast
from p4lite.compiler.diagnostics import Pos
from p4lite.compiler.frontend import (
    Bits,
    BoolT,
    EnumT,
    InfInt,
    width_of,
)
from p4lite.compiler.ir import (
    Ctx,
    J,
    LAction,
    LCond,
    LExtern,
    LKey,
    LPipeline,
    LTable,
    PField,
    PHeader,
    Place,
    PObj,
    PStruct,
    PValue,
    UnsupportedError,
    Val,
    expr_text,
    hexstr,
    jexpr,
    mask,
)
from p4lite.compiler.lower_parser import ParserLowering

logger = logging.getLogger(__name__)


class ControlLowering(ParserLowering):
    """Control blocks to BMv2 tables and conditionals."""

    def lower_pipeline(self, role: str, decl: ast.ControlDecl, scope: dict[str, Place]) -> None:
        """Lower an ingress or egress control into a pipeline."""
        pl = LPipeline(role, decl.pos, decl.name)
        self.pipeline = pl
        self.out.pipelines.append(pl)
        self.out_meta = scope.get(decl.params[1].name)
        self.pending_inits = []
        ctx = Ctx(dict(scope), control=decl.name)
        for d in decl.locals:
            try:
                self.control_local(d, ctx, decl.name)
            except UnsupportedError as exc:
                self.sink.error(exc.pos, str(exc))
        assert decl.body is not None
        inits = list(self.pending_inits)
        self.pending_inits = []
        self.ctl_scope = ctx
        body = list(decl.body.stmts)
        init_node = self.block(body, None, ctx, None, inits)
        pl.init = init_node
        if self.check_unused:
            self.lower_unused(decl, ctx)

    # -------------------------------------------------- control flow
    def block(
        self,
        stmts: list[ast.Stmt],
        cont: str | None,
        ctx: Ctx,
        ret: str | None,
        inits: list[tuple[Place, ast.Expr | Val, Pos]] | None = None,
    ) -> str | None:
        """Lower a statement list into a chain of tables/conditionals ending at cont."""
        # group straight-line statements; process from the end (continuation style)
        scope_before = dict(ctx.scope)
        # first pass: split into straight-line runs and control statements
        segments: list[tuple[str, Any]] = []
        cur: list[ast.Stmt] = []
        if inits:
            segments.append(("inits", inits))
        stmts = [h for s in stmts for h in self.hoist_applies(s)]
        for s in stmts:
            if self.is_straight(s, ctx):
                cur.append(s)
            else:
                if cur:
                    segments.append(("straight", cur))
                    cur = []
                segments.append(("ctl", s))
        if cur:
            segments.append(("straight", cur))
        # lower in forward order to get scopes right, creating nodes lazily
        built: list[Any] = []
        for kind, item in segments:
            if kind == "straight":
                built.append(("straight", self.straight(item, ctx)))
            elif kind == "inits":
                prims: list[J] = []
                ictx = Ctx(ctx.scope, prims=prims, control=ctx.control)
                for loc, init, pos in item:
                    try:
                        if isinstance(init, Val):
                            self.assign(loc, None, ictx, pos, init)
                        else:
                            self.assign(loc, init, ictx, pos)
                    except UnsupportedError as exc:
                        self.sink.error(exc.pos, str(exc))
                built.append(("straight", (prims, item[0][2] if item else None)))
            elif isinstance(item, ast.VarDecl) and item.init is not None:
                # declare now so that later statements see the name
                loc = self.local(self.fe.resolve(item.type), item.name, item.pos)
                ctx.scope[item.name] = loc
                built.append(
                    ("ctl", ast.Assign(item.pos, ast.Name(item.pos, item.name), item.init))
                )
            else:
                built.append(("ctl", item))
        # now chain backwards
        nxt = cont
        for kind, item in reversed(built):
            if kind == "straight":
                prims, pos = item
                if prims:
                    nxt = self.hidden_table(prims, pos, nxt)
            else:
                nxt = self.control_stmt(item, nxt, ctx, ret)
        ctx.scope = scope_before | {k: v for k, v in ctx.scope.items() if k in scope_before}
        return nxt

    def lower_unused(self, decl: ast.ControlDecl, ctx: Ctx) -> None:
        """Lower the actions and tables of a control that its body never reaches."""
        assert self.pipeline is not None
        for d in decl.locals:
            if not isinstance(d, ast.ActionDecl | ast.TableDecl):
                continue
            obj = ctx.scope.get(d.name)
            if not isinstance(obj, PObj):
                continue
            try:
                if obj.kind == "action" and not any(
                    k == obj.name or k.startswith(obj.name + "(") for k in self.action_cache
                ):
                    self.check_action_body(obj.decl, ctx)
                elif obj.kind == "table" and id(obj.decl) not in self.built_tables:
                    self.build_table(obj, ctx)
            except UnsupportedError as exc:
                self.sink.error(exc.pos, str(exc))

    def check_action_body(self, decl: ast.ActionDecl, ctx: Ctx) -> None:
        """Lower an action's body with its parameters bound to scratch storage."""
        scope = dict(self.ctl_scope.scope) if self.ctl_scope is not None else {}
        scope.update(ctx.scope)
        for i, p in enumerate(decl.params):
            t = self.fe.resolve(p.type)
            if p.direction in ("out", "inout"):
                scope[p.name] = self.local(t, p.name, p.pos)
            else:
                scope[p.name] = PValue(Val({"type": "runtime_data", "value": i}, t))
        self.action_body(decl.body, Ctx(scope, in_action=True, prims=[], control=ctx.control))

    def hoist_applies(self, s: ast.Stmt) -> list[ast.Stmt]:
        """Move ``t.apply().hit``/``.miss`` out of larger expressions into locals.

        ``x = f(t.apply().hit ? 1 : 2)`` becomes ``bool hit = t.apply().hit;
        x = f(hit ? 1 : 2)``, which the control graph can express. Operands are
        hoisted left to right. An apply that might not run becomes an ``if``, as
        p4c's SideEffectOrdering does: ``a || t.apply().hit`` becomes ``bool c =
        a; if (!c) { c = t.apply().hit; }`` (``&&`` alike), and an assignment or
        initializer ``x = c ? A : B`` with an apply in ``A`` or ``B`` becomes
        ``if (c) { x = A; } else { x = B; }``. An apply in a conditional operand
        deeper in an expression is left (and rejected).
        """
        hoisted: list[ast.Stmt] = []

        def direct(e: ast.Expr) -> bool:
            return (
                isinstance(e, ast.Member)
                and e.name in ("hit", "miss")
                and isinstance(e.expr, ast.Call)
                and isinstance(e.expr.func, ast.Member)
                and e.expr.func.name == "apply"
            )

        def visit(e: ast.Expr) -> ast.Expr:
            if direct(e):
                name = self.fresh("tbl_hit")
                bool_t = ast.TypeRef(e.pos, "bool")
                hoisted.append(ast.VarDecl(e.pos, bool_t, name, e))
                return ast.Name(e.pos, name)
            match e:
                case ast.Unary(expr=x):
                    return replace(e, expr=visit(x))
                case ast.Binary(op="&&" | "||" as op, left=a, right=b) if self.has_apply(b):
                    name = self.fresh("tbl_cond")
                    bool_t = ast.TypeRef(e.pos, "bool")
                    hoisted.append(ast.VarDecl(e.pos, bool_t, name, visit(a)))
                    tmp = ast.Name(e.pos, name)
                    guard: ast.Expr = tmp if op == "&&" else ast.Unary(e.pos, "!", tmp)
                    then = ast.Block(e.pos, (ast.Assign(e.pos, tmp, b),))
                    hoisted.append(ast.If(e.pos, guard, then, None))
                    return tmp
                case ast.Binary(op="&&" | "||", left=a):
                    return replace(e, left=visit(a))
                case ast.Binary(left=a, right=b):
                    left = visit(a)
                    return replace(e, left=left, right=visit(b))
                case ast.Ternary(cond=c):
                    return replace(e, cond=visit(c))
                case ast.Cast(expr=x) | ast.Slice(expr=x):
                    return replace(e, expr=visit(x))
                case ast.Member(expr=x) if not isinstance(x, ast.Call):
                    return replace(e, expr=visit(x))
                case ast.Index(expr=x, index=i):
                    base = visit(x)
                    return replace(e, expr=base, index=visit(i))
                case ast.Call(func=f, args=args) if not (
                    isinstance(f, ast.Member) and f.name == "apply"
                ):
                    return replace(e, args=tuple(replace(a, expr=visit(a.expr)) for a in args))
                case ast.ListExpr(items=items):
                    return replace(e, items=tuple(visit(x) for x in items))
            return e

        def branches_apply(e: ast.Expr | None) -> bool:
            return isinstance(e, ast.Ternary) and (
                self.has_apply(e.then) or self.has_apply(e.other)
            )

        match s:
            case ast.Assign(rhs=ast.Ternary(cond=c, then=a, other=b)) if branches_apply(s.rhs):
                then = ast.Block(s.pos, (replace(s, rhs=a),))
                other = ast.Block(s.pos, (replace(s, rhs=b),))
                return self.hoist_applies(ast.If(s.pos, c, then, other))
            case ast.VarDecl(init=init) if branches_apply(init):
                assert init is not None
                assign = ast.Assign(s.pos, ast.Name(s.pos, s.name), init)
                return [replace(s, init=None), *self.hoist_applies(assign)]
            case ast.Assign(rhs=rhs) if not direct(rhs):
                new: ast.Stmt = replace(s, rhs=visit(rhs))
            case ast.VarDecl(init=init) if init is not None and not direct(init):
                new = replace(s, init=visit(init))
            case ast.CallStmt(call=c) if not (
                isinstance(c.func, ast.Member) and c.func.name == "apply"
            ):
                new = replace(
                    s, call=replace(c, args=tuple(replace(a, expr=visit(a.expr)) for a in c.args))
                )
            case ast.If(cond=c) if self.apply_in_cond_shape(c) is None:
                new = replace(s, cond=visit(c))
            case _:
                return [s]
        return [*hoisted, new] if hoisted else [s]

    @staticmethod
    def apply_in_cond_shape(e: ast.Expr) -> ast.Call | None:
        """The table call of ``t.apply().hit``, ``.miss`` or their negations, else None."""
        while isinstance(e, ast.Unary) and e.op == "!":
            e = e.expr
        if (
            isinstance(e, ast.Member)
            and e.name in ("hit", "miss")
            and isinstance(e.expr, ast.Call)
            and isinstance(e.expr.func, ast.Member)
            and e.expr.func.name == "apply"
        ):
            return e.expr
        return None

    def is_straight(self, s: ast.Stmt, ctx: Ctx) -> bool:
        """Whether a statement can go into a hidden table's action."""
        match s:
            case ast.Assign(rhs=rhs):
                return not self.has_apply(rhs)
            case ast.VarDecl(init=init):
                return init is None or not self.has_apply(init)
            case ast.CallStmt(call=c):
                f = c.func
                return not (isinstance(f, ast.Member) and f.name == "apply")
            case ast.Empty():
                return True
        return False

    def has_apply(self, e: ast.Expr) -> bool:
        """Whether an expression contains a table apply."""
        match e:
            case ast.Call(func=ast.Member(name="apply")):
                return True
            case ast.Call(func=f, args=args):
                return self.has_apply(f) or any(self.has_apply(a.expr) for a in args)
            case ast.Member(expr=x) | ast.Unary(expr=x) | ast.Cast(expr=x) | ast.Slice(expr=x):
                return self.has_apply(x)
            case ast.Binary(left=l, right=r) | ast.Index(expr=l, index=r):
                return self.has_apply(l) or self.has_apply(r)
            case ast.Ternary(cond=c, then=a, other=b):
                return self.has_apply(c) or self.has_apply(a) or self.has_apply(b)
            case ast.ListExpr(items=items):
                return any(self.has_apply(x) for x in items)
        return False

    def straight(self, stmts: list[ast.Stmt], ctx: Ctx) -> tuple[list[J], Pos | None]:
        """Lower straight-line statements into primitives."""
        prims: list[J] = []
        sctx = Ctx(ctx.scope, prims=prims, control=ctx.control)
        for s in stmts:
            try:
                self.guarded_stmt(s, sctx)
            except UnsupportedError as exc:
                self.sink.error(exc.pos, str(exc))
        # return/exit state of inlined actions ends with this hidden action
        ctx.scope = {k: v for k, v in sctx.scope.items() if not k.startswith("$")}
        return prims, stmts[0].pos if stmts else None

    def hidden_table(self, prims: list[J], pos: Pos | None, nxt: str | None) -> str:
        """A keyless hidden table running one action of primitives."""
        assert self.pipeline is not None
        base = f"{self.stem}{pos.line}" if pos is not None and pos.line else "act"
        aname = self.fresh(base)
        act = LAction(aname, 0, [], prims, hidden=True, pos=pos)
        self.add_action(act)
        tname = self.fresh(f"tbl_{aname}")
        t = LTable(tname, self.table_ids, pos or Pos("", 0, 0), hidden=True)
        self.table_ids += 1
        t.actions = [act]
        t.default = (act, [], True)
        t.const_entries = False
        t.next_tables = {aname: nxt}
        t.base_default_next = nxt
        self.pipeline.tables.append(t)
        return tname

    def cond_node(self, expr: J, pos: Pos, t: str | None, f: str | None) -> str:
        """A conditional node of the current pipeline."""
        assert self.pipeline is not None
        name = f"node_{self.node_ids + 2}"
        self.node_ids += 1
        c = LCond(name, len(self.pipeline.conds), pos, expr, t, f)
        self.pipeline.conds.append(c)
        return name

    def control_stmt(self, s: ast.Stmt, nxt: str | None, ctx: Ctx, ret: str | None) -> str | None:
        """Lower one control statement ahead of continuation nxt."""
        try:
            return self._control_stmt(s, nxt, ctx, ret)
        except UnsupportedError as exc:
            self.sink.error(exc.pos, str(exc))
            return nxt

    def _control_stmt(self, s: ast.Stmt, nxt: str | None, ctx: Ctx, ret: str | None) -> str | None:
        match s:
            case ast.Block(stmts=stmts):
                return self.block(list(stmts), nxt, ctx, ret)
            case ast.If(cond=c, then=then, other=other):
                tbl = self.apply_in_cond(c, ctx)
                if tbl is not None:
                    table_expr, hit_sense = tbl
                    tnode = self.branch(then, nxt, ctx, ret)
                    fnode = self.branch(other, nxt, ctx, ret) if other is not None else nxt
                    hit_next, miss_next = (tnode, fnode) if hit_sense else (fnode, tnode)
                    return self.apply_table(
                        table_expr, ctx, {"__HIT__": hit_next, "__MISS__": miss_next}, nxt
                    )
                prims: list[J] = []
                cctx = Ctx(ctx.scope, prims=prims, control=ctx.control)
                cv = self.rvalue(c, cctx, BoolT())
                tnode = self.branch(then, nxt, ctx, ret)
                fnode = self.branch(other, nxt, ctx, ret) if other is not None else nxt
                if cv.const is not None:
                    node = tnode if cv.const else fnode
                else:
                    node = self.cond_node(self.as_bool(cv), c.pos, tnode, fnode)
                if prims:
                    node = self.hidden_table(prims, c.pos, node)
                return node
            case ast.Switch():
                return self.switch(s, nxt, ctx, ret)
            case ast.Exit():
                return self.hidden_table(
                    [
                        {
                            "op": "exit",
                            "parameters": [],
                            **({"source_info": si} if (si := self.src(s.pos)) else {}),
                        }
                    ],
                    s.pos,
                    None,
                )
            case ast.Return(value=value):
                if value is not None:
                    raise UnsupportedError(s.pos, "'return' with a value outside a function")
                return ret
            case ast.CallStmt(call=c):
                f = c.func
                assert isinstance(f, ast.Member)
                obj = self.place(f.expr, ctx)
                if isinstance(obj, PObj) and obj.kind == "control":
                    return self.inline_control(obj, c, nxt, ctx)
                return self.apply_table(c, ctx, None, nxt)
            case ast.Assign() | ast.VarDecl():
                if isinstance(s, ast.VarDecl):
                    rhs = s.init
                    t = self.fe.resolve(s.type)
                    loc = self.local(t, s.name, s.pos)
                    ctx.scope[s.name] = loc
                else:
                    rhs = s.rhs
                    loc = self.place(s.lhs, ctx)
                if rhs is None:
                    raise UnsupportedError(s.pos, "unsupported declaration here")
                if not isinstance(loc, PField):
                    raise UnsupportedError(s.pos, "unsupported assignment of a table apply result")
                tbl = self.apply_in_cond(rhs, ctx)
                if tbl is None:
                    raise UnsupportedError(s.pos, "unsupported table apply in an expression")
                table_expr, sense = tbl
                one = self.hidden_table(
                    [self.assign_prim(loc, 1 if sense else 0, s.pos)], s.pos, nxt
                )
                zero = self.hidden_table(
                    [self.assign_prim(loc, 0 if sense else 1, s.pos)], s.pos, nxt
                )
                return self.apply_table(table_expr, ctx, {"__HIT__": one, "__MISS__": zero}, nxt)
        raise UnsupportedError(s.pos, f"unsupported statement {type(s).__name__} in an apply block")

    def assign_prim(self, loc: PField, v: int, pos: Pos) -> J:
        """An assign primitive storing a boolean constant into a 1-bit field."""
        prim: J = {
            "op": "assign",
            "parameters": [
                {"type": "field", "value": [loc.hdr, loc.name]},
                {
                    "type": "expression",
                    "value": {
                        "op": "b2d",
                        "left": None,
                        "right": {"type": "bool", "value": bool(v)},
                    },
                },
            ],
        }
        si = self.src(pos)
        if si:
            prim["source_info"] = si
        return prim

    def branch(self, s: ast.Stmt | None, nxt: str | None, ctx: Ctx, ret: str | None) -> str | None:
        """Lower an if/else branch ahead of continuation nxt."""
        if s is None:
            return nxt
        stmts: list[ast.Stmt] = list(s.stmts) if isinstance(s, ast.Block) else [s]
        return self.block(stmts, nxt, ctx, ret)

    def apply_in_cond(self, e: ast.Expr, ctx: Ctx) -> tuple[ast.Call, bool] | None:
        """Match `t.apply().hit`, `.miss`, and their negations."""
        match e:
            case ast.Unary(op="!", expr=x):
                r = self.apply_in_cond(x, ctx)
                return (r[0], not r[1]) if r else None
            case ast.Member(
                expr=ast.Call(func=ast.Member(name="apply")) as call, name="hit" | "miss" as what
            ):
                return call, what == "hit"
        if self.has_apply(e):
            raise UnsupportedError(e.pos, "unsupported table apply inside a larger expression")
        return None

    def inline_control(self, obj: PObj, c: ast.Call, nxt: str | None, ctx: Ctx) -> str | None:
        """Inline a sub-control's apply, binding its parameters by reference."""
        decl: ast.ControlDecl = obj.decl
        scope: dict[str, Place] = dict(self.ctor_args.get(obj.name, {}))
        copy_in: list[tuple[Place, ast.Expr | Val, Pos]] = []
        ordered = self.bind_args(decl.params, c.args, c.pos)
        for p, a in zip(decl.params, ordered, strict=True):
            if a is None:
                raise UnsupportedError(c.pos, f"missing argument for {p.name!r}")
            bound = self.place(a, ctx)
            if (
                p.direction in ("", "in")
                and isinstance(bound, PValue)
                and isinstance(bound.val.type, InfInt)
            ):
                # a literal argument takes the parameter's type
                bound = PValue(self.cvt(bound.val, self.fe.resolve(p.type), a.pos))
            if p.direction in ("", "in") and isinstance(bound, PField):
                # an 'in' argument is read-only inside the callee
                bound = PValue(self.read_place(bound, a.pos))
            elif (
                p.direction in ("", "in")
                and isinstance(bound, PValue)
                and bound.val.const is None
                and bound.val.json.get("type") != "field"
            ):
                # computed in-arguments are copied in once, before the body
                ptype = self.fe.resolve(p.type)
                tmp = self.temp(ptype)
                copy_in.append((tmp, self.rvalue(a, ctx, ptype), a.pos))
                bound = PValue(self.read_place(tmp, a.pos))
            scope[p.name] = bound
        sctx = Ctx(scope, control=obj.name)
        saved_inits = self.pending_inits
        self.pending_inits = list(copy_in)
        for d in decl.locals:
            self.control_local(d, sctx, obj.name)
        inits = self.pending_inits
        self.pending_inits = saved_inits
        assert decl.body is not None
        return self.block(list(decl.body.stmts), nxt, sctx, nxt, inits)

    def switch(self, s: ast.Switch, nxt: str | None, ctx: Ctx, ret: str | None) -> str | None:
        """Lower a switch on action_run (next_tables) or on a value (conditionals)."""
        e, cases = s.expr, s.cases
        seen: set[str] = set()
        for i, case in enumerate(cases):
            for label in case.labels:
                key = "default" if isinstance(label, ast.Default) else expr_text(label)
                if key in seen:
                    raise UnsupportedError(label.pos, f"duplicate switch label {key!r}")
                if key == "default" and i != len(cases) - 1:
                    raise UnsupportedError(label.pos, "'default' must be the last switch label")
                seen.add(key)
        if isinstance(e, ast.Member) and e.name == "action_run" and isinstance(e.expr, ast.Call):
            call = e.expr
            self.table_of(call, ctx)
            targets: dict[str, str | None] = {}
            pending: list[str] = []
            default_node = nxt
            for case in cases:
                label = case.labels[0]
                names: list[str] = []
                if isinstance(label, ast.Default):
                    names = ["$default"]
                elif isinstance(label, ast.Name):
                    names = [label.name]
                else:
                    raise UnsupportedError(label.pos, "switch label must be an action name")
                pending.extend(names)
                if case.body is None:
                    continue
                node = self.block(list(case.body.stmts), nxt, ctx, ret)
                for n in pending:
                    if n == "$default":
                        default_node = node
                    else:
                        targets[n] = node
                pending = []
            return self.apply_table(
                call, ctx, {"$actions": None, **targets, "$default": default_node}, nxt
            )
        # switch on a value: chain of conditionals
        v = self.rvalue(e, Ctx(ctx.scope, control=ctx.control))
        node = nxt
        chain: list[tuple[list[ast.Expr], ast.Block | None]] = []
        labels: list[ast.Expr] = []
        for case in cases:
            labels.extend(case.labels)
            if case.body is not None:
                chain.append((labels, case.body))
                labels = []
        for lbls, body in reversed(chain):
            assert body is not None
            bnode = self.block(list(body.stmts), nxt, ctx, ret)
            if any(isinstance(lb, ast.Default) for lb in lbls):
                node = bnode
                continue
            conds = [jexpr("==", v.json, self.rvalue(lb, ctx, v.type).json) for lb in lbls]
            cj = conds[0]
            for extra in conds[1:]:
                cj = jexpr("or", cj, extra)
            node = self.cond_node(cj, s.pos, bnode, node)
        return node

    def table_of(self, call: ast.Call, ctx: Ctx) -> PObj:
        """The table applied by `t.apply()`."""
        f = call.func
        if not isinstance(f, ast.Member) or f.name != "apply":
            raise UnsupportedError(call.pos, "expected a table apply")
        obj = self.place(f.expr, ctx)
        if not isinstance(obj, PObj) or obj.kind != "table":
            raise UnsupportedError(call.pos, "apply() on something that is not a table")
        return obj

    def apply_table(
        self, call: ast.Call, ctx: Ctx, nexts: dict[str, str | None] | None, nxt: str | None
    ) -> str:
        """Build the applied table and wire its next nodes."""
        obj = self.table_of(call, ctx)
        t = self.build_table(obj, ctx)
        if nexts is None:
            t.next_tables = {a.name: nxt for a in t.actions}
            t.base_default_next = nxt
        elif "__HIT__" in nexts:
            t.next_tables = {"__HIT__": nexts["__HIT__"], "__MISS__": nexts["__MISS__"]}
            t.base_default_next = nxt
        else:
            default = nexts.get("$default", nxt)
            known = {a.fq_p4.split(".")[-1] for a in t.actions}
            for label in nexts:
                if not label.startswith("$") and label not in known:
                    raise UnsupportedError(
                        call.pos, f"{label!r} is not an action of table {t.name!r}"
                    )
            t.next_tables = {}
            for a in t.actions:
                short = a.fq_p4.split(".")[-1]
                t.next_tables[a.name] = nexts.get(short, nexts.get(a.fq_p4, default))
            t.base_default_next = nxt
        if t.key_prims:
            return self.hidden_table(t.key_prims, call.pos, t.name)
        return t.name

    # -------------------------------------------------- tables
    def action_for(self, obj: PObj, ctx: Ctx, bound: tuple[ast.Arg, ...] = ()) -> LAction:
        """The BMv2 action for a P4 action used by a table (lowered once per binding).

        ``bound`` are the arguments given in the table's ``actions`` list: they
        bind the first parameters (directional ones by reference), and only the
        remaining parameters are action data set by the control plane.
        """
        decl: ast.ActionDecl = obj.decl
        fq = obj.name
        name_anno = ast.annotation_str(decl.annotations, "name")
        bmv2_name = fq
        if name_anno is not None:
            bmv2_name = (
                name_anno.lstrip(".")
                if name_anno.startswith(".")
                else (f"{fq.rsplit('.', 1)[0]}.{name_anno}" if "." in fq else name_anno)
            )
        key = fq if not bound else f"{fq}({', '.join(expr_text(a.expr) for a in bound)})"
        if key in self.action_cache:
            return self.action_cache[key]
        if bound and any(k.startswith(fq + "(") or k == fq for k in self.action_cache):
            # another binding of the same action: a copy under a fresh name
            bmv2_name = self.fresh(bmv2_name)
        params: list[tuple[str, int]] = []
        param_types: list[str] = []
        param_enums: list[str] = []
        param_annos: list[tuple[ast.Annotation, ...]] = []
        scope = dict(self.ctl_scope.scope) if self.ctl_scope is not None else {}
        scope.update(ctx.scope)
        if len(bound) > len(decl.params):
            raise UnsupportedError(bound[-1].pos, f"too many arguments for action {decl.name!r}")
        bctx = Ctx(dict(scope), control=ctx.control)
        for p, a in zip(decl.params, bound, strict=False):
            t = self.fe.resolve(p.type)
            if p.direction in ("out", "inout"):
                scope[p.name] = self.place(a.expr, bctx)
                continue
            v = self.rvalue(a.expr, bctx, t)
            if v.const is None and v.json.get("type") != "field":
                raise UnsupportedError(
                    a.pos, f"argument for {p.name!r} must be a constant or a field here"
                )
            scope[p.name] = PValue(v)
        for i, p in enumerate(decl.params[len(bound) :]):
            t = self.fe.resolve(p.type)
            if p.direction:
                raise UnsupportedError(
                    p.pos,
                    f"directional parameter {p.name!r} of action {decl.name!r} "
                    "needs an argument in the table's actions list",
                )
            w = width_of(t)
            params.append((p.name, w))
            declared = p.type.name if p.type.kind == "name" else None
            param_types.append(self.env.newtype_name(declared) or "")
            param_enums.append(t.name if isinstance(t, EnumT) and t.base is not None else "")
            param_annos.append(p.annotations)
            scope[p.name] = PValue(Val({"type": "runtime_data", "value": i}, t))
        prims: list[J] = []
        act = LAction(
            bmv2_name,
            0,
            params,
            prims,
            pos=decl.pos,
            annotations=decl.annotations,
            fq_p4=fq,
            param_types=tuple(param_types),
            param_enums=tuple(param_enums),
            param_annos=tuple(param_annos),
        )
        self.action_cache[key] = act
        actx = Ctx(scope, in_action=True, prims=prims, control=ctx.control)
        try:
            self.action_body(decl.body, actx)
        except UnsupportedError as exc:
            self.sink.error(exc.pos, str(exc))
        self.add_action(act)
        return act

    def build_table(self, obj: PObj, ctx: Ctx) -> LTable:
        """Lower a table declaration."""
        assert self.pipeline is not None
        decl: ast.TableDecl = obj.decl
        self.built_tables.add(id(decl))
        name_anno = ast.annotation_str(decl.annotations, "name")
        name = obj.name
        if name_anno is not None:
            name = (
                name_anno.lstrip(".")
                if name_anno.startswith(".")
                else f"{obj.name.rsplit('.', 1)[0]}.{name_anno}"
            )
        if any(t.name == name for t in self.pipeline.tables):
            raise UnsupportedError(
                decl.pos, f"table {name!r} is applied more than once; unsupported"
            )
        t = LTable(name, self.table_ids, decl.pos, annotations=decl.annotations)
        self.table_ids += 1
        tctx = Ctx(ctx.scope, prims=[], control=ctx.control)
        has_default = False
        # each action of the list: its BMv2 action and how many parameters the list binds
        bound_of: dict[str, tuple[LAction, int]] = {}
        self.table_bound = bound_of
        for prop in decl.props:
            match prop.name:
                case "key":
                    for k in prop.keys:
                        t.keys.append(self.table_key(k, tctx))
                case "actions":
                    for ar in prop.actions:
                        p = self.lookup(ar.name.split(".")[-1], ctx, ar.pos)
                        if not isinstance(p, PObj) or p.kind != "action":
                            raise UnsupportedError(ar.pos, f"{ar.name!r} is not an action")
                        act = self.action_for(p, ctx, ar.args or ())
                        bound_of[p.name] = (act, len(ar.args or ()))
                        t.actions.append(act)
                        t.action_refs.append((act, ar.annotations))
                case "default_action":
                    has_default = True
                    ar = prop.actions[0]
                    p = self.lookup(ar.name, ctx, ar.pos)
                    if not isinstance(p, PObj) or p.kind != "action":
                        raise UnsupportedError(ar.pos, f"{ar.name!r} is not an action")
                    act, nbound = bound_of.get(p.name) or (self.action_for(p, ctx), 0)
                    if act not in t.actions:
                        raise UnsupportedError(
                            ar.pos, f"default action {ar.name!r} is not in the table's actions"
                        )
                    data = self.action_args(p.decl, ar, ctx, nbound)
                    t.default = (act, data, prop.is_const)
                case "size":
                    assert prop.value is not None
                    t.size = self.const_in(prop.value, ctx) or 0
                case "entries":
                    t.has_entries = True
                    t.const_entries = prop.is_const
                case "implementation":
                    assert prop.value is not None
                    impl = prop.value
                    if isinstance(impl, ast.Call) and isinstance(impl.func, ast.Name):
                        # an inline instance: named by the property's @name as it
                        # is (p4c's property controlPlaneName), else after the table
                        short = name.rsplit(".", 1)[-1]
                        annos: tuple[ast.Annotation, ...] = ()
                        renamed = ast.annotation_str(prop.annotations, "name")
                        if renamed is not None:
                            annos = (
                                ast.Annotation(
                                    prop.pos,
                                    "name",
                                    (ast.StrLit(prop.pos, "." + renamed.lstrip(".")),),
                                ),
                            )
                        inst = ast.Instance(
                            impl.pos,
                            ast.TypeRef(impl.pos, "name", impl.func.name),
                            impl.args,
                            short,
                            annos,
                        )
                        self.instance(inst, ctx, name.rsplit(".", 1)[0])
                        impl = ast.Name(impl.pos, short)
                    ip = self.place(impl, ctx)
                    if (
                        not isinstance(ip, PObj)
                        or ip.kind != "extern"
                        or not isinstance(ip.decl, LExtern)
                    ):
                        raise UnsupportedError(
                            prop.pos,
                            "implementation must be an action_profile or action_selector instance",
                        )
                    t.implementation = ip.name
                    t.selector = ip.decl.kind == "action_selector"
                    group = ast.annotation(prop.annotations, "max_group_size")
                    if group is not None and group.args:
                        ip.decl.max_group_size = self.fe.const_int(group.args[0]) or 0
                case "counters":
                    assert prop.value is not None
                    cp = self.place(prop.value, ctx)
                    if isinstance(cp, PObj) and isinstance(cp.decl, LExtern):
                        self.attach_direct(cp.decl, "counters", t.name, prop.pos)
                        t.with_counters = True
                case "meters":
                    assert prop.value is not None
                    mp = self.place(prop.value, ctx)
                    if isinstance(mp, PObj) and isinstance(mp.decl, LExtern):
                        self.attach_direct(mp.decl, "meters", t.name, prop.pos)
                        t.direct_meter = mp.name
                case "support_timeout":
                    assert prop.value is not None
                    t.idle_timeout = bool(self.fe.const_int(prop.value))
                case "largest_priority_wins" | "priority_delta":
                    pass  # read with the entries (entry_priorities)
                case _:
                    self.sink.warn(prop.pos, f"table property {prop.name!r} ignored")
        if not has_default and t.implementation is None:
            na = self.lookup("NoAction", ctx, decl.pos)
            if isinstance(na, PObj) and na.kind == "action":
                act = self.action_for(na, ctx)
                if act not in t.actions:
                    # p4c adds the implicit NoAction as a default-only action
                    t.actions.append(act)
                    t.action_refs.append((act, (ast.Annotation(decl.pos, "defaultonly"),)))
                t.default = (act, [], False)
        for prop in decl.props:
            if prop.name == "entries":
                t.entries = self.const_entries(t, prop, ctx, decl)
        if t.implementation is not None and t.selector:
            sel_inputs = [k for k in t.keys if k.p4_match == "selector"]
            ext = next(x for x in self.out.externs if x.name == t.implementation)
            ext.selector = {
                "algo": ext.mtype,
                "input": [{"type": "field", "value": k.target} for k in sel_inputs],
            }
        # selector keys feed the selector's hash, never the match (p4c drops
        # them from a table with no action_selector as well)
        t.keys = [k for k in t.keys if k.p4_match != "selector"]
        # keys that need computation (p4c's SimplifyKey) are evaluated into
        # temporaries by a hidden action that runs just before the table
        t.key_prims = tctx.prims or []
        self.pipeline.tables.append(t)
        return t

    def table_key(self, k: ast.KeyElem, ctx: Ctx) -> LKey:
        """Lower one table key (field, slice, mask or isValid()), with its annotations."""
        key = self._table_key(k, ctx)
        key.annotations = k.annotations
        return key

    def _table_key(self, k: ast.KeyElem, ctx: Ctx) -> LKey:
        mk = k.match_kind
        if mk not in ("exact", "lpm", "ternary", "range", "optional", "selector"):
            raise UnsupportedError(k.pos, f"unsupported match kind {mk!r}")
        name = ast.annotation_str(k.annotations, "name") or self.key_name(k.expr, ctx)
        if name is None:
            raise UnsupportedError(
                k.pos, f"{expr_text(k.expr)}: Complex key expression requires a @name annotation"
            )
        e = k.expr
        if isinstance(e, ast.Call) and isinstance(e.func, ast.Member) and e.func.name == "isValid":
            p = self.place(e.func.expr, ctx)
            if not isinstance(p, PHeader):
                raise UnsupportedError(k.pos, "isValid() key needs a header")
            return LKey(mk, mk, name, [p.name, "$valid$"], 1, p4_type=BoolT())
        m: int | None = None
        # 'f & MASK' is computed into a temporary, as p4c's SimplifyKey does; only a
        # slice becomes a BMv2 key mask (whose entries are in the slice's bits)
        if isinstance(e, ast.Slice):
            inner = self.rvalue(e.expr, ctx)
            hi = self.const_in(e.hi, ctx) or 0
            lo = self.const_in(e.lo, ctx) or 0
            if inner.json.get("type") != "field":
                raise UnsupportedError(k.pos, "unsupported table key expression")
            m = mask(hi - lo + 1) << lo
            return LKey(
                mk, mk, name, inner.json["value"], hi - lo + 1, m, p4_type=Bits(hi - lo + 1)
            )
        v = self.rvalue(e, ctx)
        if v.json.get("type") != "field" or v.boolish:
            if mk == "selector" or not isinstance(v.type, (Bits, BoolT)):
                raise UnsupportedError(
                    k.pos, "unsupported table key expression; use a field, a slice or isValid()"
                )
            tmp = self.temp(v.type)
            self.assign(tmp, None, ctx, k.pos, v)
            return LKey(mk, mk, name, ["scalars", tmp.name], width_of(v.type), m, p4_type=v.type)
        return LKey(
            mk,
            mk,
            name,
            v.json["value"],
            width_of(v.type),
            m,
            self.newtype_of(e, ctx) or "",
            v.type.name if isinstance(v.type, EnumT) and v.type.base is not None else "",
            p4_type=v.type,
        )

    def key_name(self, e: ast.Expr, ctx: Ctx) -> str | None:
        """The control-plane name p4c's KeyNameGenerator gives a key, or None.

        Names, fields (their @name where they have one; a global '.x' one
        drops what is left of it), stack indices, slices, constants as
        written, 'a & b' and 'h.isValid()' (as 'h.$valid$'); anything else
        needs a @name annotation.
        """
        match e:
            case ast.Name(name=n):
                return n
            case ast.IntLit():
                return literal_text(e)
            case ast.Call(func=ast.Member(expr=x, name="isValid"), args=()):
                base = self.key_name(x, ctx)
                return None if base is None else f"{base}.$valid$"
            case ast.Member(expr=x, name=n):
                try:
                    owner = self.place(x, ctx)
                except UnsupportedError:
                    owner = None
                if isinstance(owner, (PHeader, PStruct)):
                    n = self.env.field_names.get((owner.type.name, n), n)
                if n.startswith("."):
                    return n[1:]
                base = self.key_name(x, ctx)
                return None if base is None else f"{base}.{n}"
            case ast.Index(expr=x, index=i):
                a, b = self.key_name(x, ctx), self.key_name(i, ctx)
                return None if a is None or b is None else f"{a}[{b}]"
            case ast.Slice(expr=x, hi=hi, lo=lo):
                parts = [self.key_name(x, ctx), self.key_name(hi, ctx), self.key_name(lo, ctx)]
                if any(p is None for p in parts):
                    return None
                return f"{parts[0]}[{parts[1]}:{parts[2]}]"
            case ast.Binary(op="&", left=a, right=b):
                left, right = self.key_name(a, ctx), self.key_name(b, ctx)
                return None if left is None or right is None else f"{left} & {right}"
        return None

    def newtype_of(self, e: ast.Expr, ctx: Ctx) -> str | None:
        """The P4Runtime new type a field expression is declared with, or None."""
        if not isinstance(e, ast.Member):
            return None
        try:
            base = self.place(e.expr, ctx)
        except UnsupportedError:
            return None
        if not isinstance(base, (PHeader, PStruct)):
            return None
        return self.env.newtype_name(self.env.field_type_names.get((base.type.name, e.name)))

    def action_args(
        self, decl: ast.ActionDecl, ar: ast.ActionRef, ctx: Ctx, skip: int = 0
    ) -> list[int]:
        """Constant action data of an action call in a table property.

        The first ``skip`` parameters are bound by the table's actions list and
        are no action data.
        """
        args = ar.args or ()
        ordered = self.bind_args(decl.params, args, ar.pos)
        out: list[int] = []
        for p, a in list(zip(decl.params, ordered, strict=True))[skip:]:
            if a is None:
                raise UnsupportedError(
                    ar.pos, f"missing argument for parameter {p.name!r} of {decl.name!r}"
                )
            t = self.fe.resolve(p.type)
            v = self.rvalue(a, Ctx(ctx.scope, control=ctx.control), t)
            if v.const is None:
                raise UnsupportedError(a.pos, "action arguments in a table must be constants")
            out.append(v.const)
        return out

    @staticmethod
    def attach_direct(ext: LExtern, prop: str, table: str, pos: Pos) -> None:
        """Bind a direct counter or meter to its one table, as p4c allows it."""
        kind = "direct_counter" if prop == "counters" else "direct_meter"
        if ext.kind != kind:
            raise UnsupportedError(
                pos,
                f"Expected {prop} property value for table {table} to resolve to an extern "
                f"instance of type {kind}; got {ext.kind}",
            )
        if ext.direct_table is not None and ext.direct_table != table:
            # in source order, reported at the later property, whichever table
            # happens to be lowered first
            bound = [(ext.direct_pos or pos, ext.direct_table), (pos, table)]
            bound.sort(key=lambda b: (b[0].line, b[0].col))
            what = "Direct counters" if prop == "counters" else "Direct meters"
            raise UnsupportedError(
                bound[1][0],
                f"{ext.name}: {what} cannot be attached to multiple tables "
                f"{bound[0][1]} and {bound[1][1]}",
            )
        ext.direct_table = table
        ext.direct_pos = pos

    def entry_priorities(self, decl: ast.TableDecl, prop: ast.TableProp) -> list[int]:
        """BMv2 priorities (lower wins) of a table's entries, as p4c's EntryPriorities ranks them.

        Entries rank by position unless they have `priority = N:` (P4's
        priorities: larger wins unless `largest_priority_wins = false`; an entry
        without one gets the previous one's minus, or plus, `priority_delta`);
        a trailing `@priority(N)` is BMv2's priority as it is.
        """
        entries = prop.entries
        if not any(e.priority_kw for e in entries):
            return [
                (self.fe.const_int(e.priority) or 0) if e.priority is not None else i + 1
                for i, e in enumerate(entries)
            ]
        first = next(e for e in entries if e.priority_kw)
        if prop.is_const:
            raise UnsupportedError(first.pos, "Table with 'const' entries cannot have priorities")
        if not entries[0].priority_kw:
            raise UnsupportedError(entries[0].pos, "entry must have a priority")
        largest_wins, delta = True, 1
        for p in decl.props:
            if p.name == "largest_priority_wins" and p.value is not None:
                largest_wins = bool(self.fe.const_int(p.value))
            elif p.name == "priority_delta" and p.value is not None:
                delta = self.fe.const_int(p.value) or 0
        ranks: list[int] = []
        current = 0
        for e in entries:
            if e.priority_kw and e.priority is not None:
                current = self.fe.const_int(e.priority) or 0
            ranks.append(current)
            current = current - delta if largest_wins else current + delta
        if not largest_wins:
            return ranks
        top = max(ranks)
        return [top + 1 - r for r in ranks]

    def const_entries(
        self, t: LTable, prop: ast.TableProp, ctx: Ctx, decl: ast.TableDecl
    ) -> list[J]:
        """Lower a table's entries (priority = position unless given)."""
        out: list[J] = []
        priorities = self.entry_priorities(decl, prop)
        for i, ent in enumerate(prop.entries):
            if len(ent.keys) != len(t.keys):
                raise UnsupportedError(
                    ent.pos, f"entry has {len(ent.keys)} keys, table {t.name!r} has {len(t.keys)}"
                )
            mk: list[J] = []
            for ke, key in zip(ent.keys, t.keys, strict=True):
                mk.append(self.entry_key(ke, key, ctx))
            p = self.lookup(ent.action.name, ctx, ent.action.pos)
            if not isinstance(p, PObj) or p.kind != "action":
                raise UnsupportedError(ent.action.pos, f"{ent.action.name!r} is not an action")
            act, nbound = self.table_bound.get(p.name) or (self.action_for(p, ctx), 0)
            if act not in t.actions:
                raise UnsupportedError(
                    ent.action.pos,
                    f"entry action {ent.action.name!r} is not in the table's actions",
                )
            data = self.action_args(p.decl, ent.action, ctx, nbound)
            prio = priorities[i]
            frag = (
                ent.pos.text[ent.pos.col - 1 :].strip().rstrip(";").strip() if ent.pos.text else ""
            )
            out.append(
                {
                    "source_info": self.src(ent.pos, frag),
                    "match_key": mk,
                    "action_entry": {
                        "action_id": act.id,
                        "action_data": [
                            hex(x & mask(w)) for x, (_, w) in zip(data, act.params, strict=True)
                        ],
                    },
                    "priority": prio,
                }
            )
        return out

    def entry_key(self, e: ast.Expr, key: LKey, ctx: Ctx) -> J:
        """One match key of a const entry in BMv2's spelling."""
        w = key.width
        full = mask(w)
        mt = "ternary" if key.match_type == "optional" else key.match_type
        match e:
            case ast.Default():
                if mt == "ternary":
                    return {"match_type": "ternary", "key": hexstr(0, w), "mask": hexstr(0, w)}
                if mt == "lpm":
                    return {"match_type": "lpm", "key": hexstr(0, w), "prefix_length": 0}
                if mt == "range":
                    return {"match_type": "range", "start": hexstr(0, w), "end": hexstr(full, w)}
                raise UnsupportedError(e.pos, "'_' is not allowed for an exact key")
            case ast.Binary(op="&&&", left=l, right=r):
                a = self.const_in(l, ctx) or 0
                b = self.const_in(r, ctx) or 0
                if mt == "lpm":
                    plen = bin(b & full).count("1")
                    return {
                        "match_type": "lpm",
                        "key": hexstr(a & b & full, w),
                        "prefix_length": plen,
                    }
                return {
                    "match_type": "ternary",
                    "key": hexstr(a & b & full, w),
                    "mask": hexstr(b & full, w),
                }
            case ast.Binary(op="..", left=l, right=r):
                lo = self.const_in(l, ctx) or 0
                hi = self.const_in(r, ctx) or 0
                return {
                    "match_type": "range",
                    "start": hexstr(lo & full, w),
                    "end": hexstr(hi & full, w),
                }
        v = self.rvalue(e, Ctx(ctx.scope, control=ctx.control), key.p4_type)
        if v.const is None:
            raise UnsupportedError(e.pos, "entry keys must be constants")
        c = v.const & full
        match mt:
            case "ternary":
                return {"match_type": "ternary", "key": hexstr(c, w), "mask": hexstr(full, w)}
            case "lpm":
                return {"match_type": "lpm", "key": hexstr(c, w), "prefix_length": w}
            case "range":
                return {"match_type": "range", "start": hexstr(c, w), "end": hexstr(c, w)}
        return {"match_type": mt, "key": hexstr(c, w)}


def literal_text(lit: ast.IntLit) -> str:
    """An integer literal as p4c prints a constant: its value in the base it was written in."""
    spelled = lit.pos.text[lit.pos.col - 1 :] if lit.pos.text else ""
    m = re.match(r"(?:\d+[ws])?0([xXbBoOdD])", spelled)
    base = {"x": 16, "b": 2, "o": 8, "d": 10}[m.group(1).lower()] if m else 10
    v = lit.value
    sign = "-" if v < 0 else ""
    v = abs(v)
    match base:
        case 16:
            return f"{sign}0x{v:x}"
        case 2:
            return f"{sign}0b{v:b}"
        case 8:
            return f"{sign}0o{v:o}"
    return f"{sign}{v}"
