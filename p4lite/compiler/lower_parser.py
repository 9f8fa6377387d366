"""Lowering pass 4: parser states, select keysets (ranges to value/mask
pairs), checksum controls and the deparser.

Imports `ast`, `frontend`, `diagnostics`, `ir` and `lower_stmt`.
"""

from __future__ import annotations

import logging

from p4lite.compiler import ast
from p4lite.compiler.diagnostics import Pos
from p4lite.compiler.frontend import (
    Bits,
    BoolT,
    StructT,
    type_str,
    width_of,
)
from p4lite.compiler.ir import (
    Ctx,
    J,
    LState,
    LValueSet,
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
    hexstr,
    jexpr,
    jhex,
    mask,
    range_to_masks,
)
from p4lite.compiler.lower_stmt import StmtLowering

logger = logging.getLogger(__name__)


def _flat(s: ast.Stmt | None) -> list[ast.Stmt]:
    if s is None:
        return []
    if isinstance(s, ast.Block):
        return list(s.stmts)
    return [s]


def subparser_call(s: ast.Stmt, scope: dict[str, Place]) -> tuple[ast.Call, PObj] | None:
    """The call and instance of ``sub.apply(...)`` when s applies a sub-parser."""
    if not isinstance(s, ast.CallStmt):
        return None
    f = s.call.func
    if not (isinstance(f, ast.Member) and f.name == "apply" and isinstance(f.expr, ast.Name)):
        return None
    obj = scope.get(f.expr.name)
    if isinstance(obj, PObj) and obj.kind == "parser":
        return s.call, obj
    return None


def split_parser_ifs(
    states: tuple[ast.State, ...] | list[ast.State],
    origins: dict[str, str] | None = None,
) -> list[tuple[ast.State, str]]:
    """p4c's RemoveParserIfs: split states at if statements into select transitions.

    A state `s { A; if (c) { T } else { F } B; transition X }` becomes
    `s { A; transition select(c) { true: s_true; default: s_false; } }`,
    `s_true { T; transition s_join; }`, `s_false { F; transition s_join; }` and
    `s_join { B; transition X }`. Returns each piece with its original state's name.
    """
    used = {st.name for st in states}

    def fresh(base: str) -> str:
        name = base
        n = 0
        while name in used:
            n += 1
            name = f"{base}_{n}"
        used.add(name)
        return name

    out: list[tuple[ast.State, str]] = []
    work: list[tuple[ast.State, str]] = [
        (st, (origins or {}).get(st.name, st.name)) for st in states
    ]
    while work:
        st, origin = work.pop(0)
        idx = next((i for i, x in enumerate(st.stmts) if isinstance(x, ast.If)), None)
        if idx is None:
            out.append((st, origin))
            continue
        cond = st.stmts[idx]
        assert isinstance(cond, ast.If)
        t_name = fresh(f"{st.name}_true")
        f_name = fresh(f"{st.name}_false")
        j_name = fresh(f"{st.name}_join")
        pos = cond.pos
        head = ast.State(
            st.pos,
            st.name,
            st.stmts[:idx],
            ast.Transition(
                pos,
                None,
                (cond.cond,),
                (
                    ast.SelectCase(pos, ast.BoolLit(pos, True), t_name),
                    ast.SelectCase(pos, ast.Default(pos), f_name),
                ),
            ),
            st.annotations,
        )
        to_join = ast.Transition(pos, j_name)
        then = ast.State(pos, t_name, tuple(_flat(cond.then)), to_join)
        other = ast.State(pos, f_name, tuple(_flat(cond.other)), to_join)
        join = ast.State(pos, j_name, st.stmts[idx + 1 :], st.transition)
        out.append((head, origin))
        work[0:0] = [(then, origin), (other, origin), (join, origin)]
    return out


class ParserLowering(StmtLowering):
    """Parser, checksum controls and deparser."""

    def lower_parser(self, decl: ast.ParserDecl, scope: dict[str, Place]) -> None:
        """Lower the parser's states."""
        ctx = Ctx(dict(scope), in_parser=True)
        self.pending_inits = []
        for d in decl.locals:
            self.control_local(d, ctx, decl.name)
        inits = self.pending_inits
        self.pending_inits = []
        assert decl.states is not None
        scopes: dict[str, dict[str, Place]] = {}
        states, origins = self.inline_subparsers(list(decl.states), ctx, scopes)
        pieces = split_parser_ifs(states, origins)
        names = {s.name for s, _ in pieces}
        for st, origin in pieces:
            ops: list[J] = []
            ctx.prims = ops
            # the pieces of a state split at its if statements share its locals
            scope = scopes.setdefault(origin, dict(ctx.scope))
            sctx = Ctx(scope, in_parser=True, prims=ops)
            if st.name == "start":
                # parser-level variable initializers run on entry
                for loc, init, ipos in inits:
                    try:
                        if isinstance(init, Val):
                            self.assign(loc, None, sctx, ipos, init)
                        else:
                            self.assign(loc, init, sctx, ipos)
                    except UnsupportedError as exc:
                        self.sink.error(exc.pos, str(exc))
            for s in st.stmts:
                try:
                    self.stmt(s, sctx)
                except UnsupportedError as exc:
                    self.sink.error(exc.pos, str(exc))
            key: list[J] = []
            trans: list[J] = []
            tr = st.transition
            if tr is None or tr.state is not None:
                nxt = tr.state if tr is not None else "reject"
                if nxt not in names and nxt not in ("accept", "reject"):
                    self.sink.error(tr.pos if tr else st.pos, f"undeclared parser state {nxt!r}")
                if nxt == "reject" and tr is not None:
                    self.sink.warn(
                        tr.pos, "Explicit transition to reject not supported on this target"
                    )
                trans.append(
                    {
                        "type": "default",
                        "value": None,
                        "mask": None,
                        "next_state": None if nxt in ("accept", "reject") else nxt,
                    }
                )
            else:
                widths: list[int] = []
                for ke in tr.select:
                    j, w = self.select_key(ke, sctx)
                    key.append(j)
                    widths.append(w)
                for case in tr.cases:
                    nxt = case.state
                    if nxt not in names and nxt not in ("accept", "reject"):
                        self.sink.error(case.pos, f"undeclared parser state {nxt!r}")
                    target = None if nxt in ("accept", "reject") else nxt
                    try:
                        trans.extend(self.keyset_transitions(case.keyset, widths, target, sctx))
                    except UnsupportedError as exc:
                        self.sink.error(exc.pos, str(exc))
            self.out.states.append(LState(st.name, ops, key, trans))

    def inline_subparsers(
        self, states: list[ast.State], ctx: Ctx, scopes: dict[str, dict[str, Place]]
    ) -> tuple[list[ast.State], dict[str, str]]:
        """Inline ``sub.apply(...)`` calls of sub-parsers (p4c's parser inlining).

        A state ``s { A; sub.apply(args); B; transition X }`` becomes
        ``s { A; transition sub_start }``, a renamed copy of each of the
        sub-parser's states (their ``accept`` going to ``s_cont``) and
        ``s_cont { B; transition X }``. The copies are lowered in a scope where the
        sub-parser's parameters are bound to the arguments (by reference) and its
        locals are its own; ``origins`` maps each new state to its scope's key.
        """
        used = {st.name for st in states}
        origins: dict[str, str] = {}

        def fresh(base: str) -> str:
            name, n = base, 0
            while name in used:
                n += 1
                name = f"{base}_{n}"
            used.add(name)
            return name

        out: list[ast.State] = []
        work = list(states)
        depth = 0
        while work:
            st = work.pop(0)
            scope = scopes.get(origins.get(st.name, st.name), ctx.scope)
            idx = next(
                (i for i, x in enumerate(st.stmts) if subparser_call(x, scope) is not None), None
            )
            if idx is None:
                out.append(st)
                continue
            depth += 1
            if depth > 64:
                raise UnsupportedError(st.pos, "sub-parsers nested too deeply (recursive?)")
            found = subparser_call(st.stmts[idx], scope)
            assert found is not None
            call, obj = found
            sub: ast.ParserDecl = obj.decl
            if sub.states is None:
                raise UnsupportedError(call.pos, f"parser {sub.name!r} has no states")
            inst = obj.name.rsplit(".", 1)[-1]
            cont = fresh(f"{st.name}_cont")
            rename = {sst.name: fresh(f"{inst}_{sst.name}") for sst in sub.states}
            rename["accept"] = cont
            rename["reject"] = "reject"
            key = f"$sub:{rename['start']}"
            # bind the parameters in the caller's scope, then the sub-parser's locals
            sub_scope: dict[str, Place] = dict(self.ctor_args.get(obj.name, {}))
            ordered = self.bind_args(sub.params, call.args, call.pos)
            for prm, arg in zip(sub.params, ordered, strict=True):
                if arg is None:
                    raise UnsupportedError(call.pos, f"missing argument for {prm.name!r}")
                bound = self.place(arg, Ctx(scope, in_parser=True, prims=[]))
                if prm.direction in ("", "in") and isinstance(bound, PField):
                    bound = PValue(self.read_place(bound, arg.pos))
                sub_scope[prm.name] = bound
            sctx = Ctx(sub_scope, in_parser=True, prims=[])
            for d in sub.locals:
                self.control_local(d, sctx, obj.name)
            scopes[key] = sctx.scope
            out_state = ast.State(
                st.pos,
                st.name,
                st.stmts[:idx],
                ast.Transition(call.pos, rename["start"]),
                st.annotations,
            )
            work.insert(0, out_state)
            for sst in sub.states:
                tr = sst.transition
                if tr is None:
                    new_tr: ast.Transition | None = None
                elif tr.state is not None:
                    new_tr = ast.Transition(tr.pos, rename.get(tr.state, tr.state))
                else:
                    new_tr = ast.Transition(
                        tr.pos,
                        None,
                        tr.select,
                        tuple(
                            ast.SelectCase(c.pos, c.keyset, rename.get(c.state, c.state))
                            for c in tr.cases
                        ),
                    )
                copy = ast.State(sst.pos, rename[sst.name], sst.stmts, new_tr, sst.annotations)
                origins[copy.name] = key
                work.append(copy)
            rest = ast.State(st.pos, cont, st.stmts[idx + 1 :], st.transition)
            origins[cont] = origins.get(st.name, st.name)
            work.append(rest)
        return out, origins

    def select_key(self, e: ast.Expr, ctx: Ctx) -> tuple[J, int]:
        """One select key as a field (copied into a temporary when needed)."""
        if (
            isinstance(e, ast.Call)
            and isinstance(e.func, ast.Member)
            and e.func.name == "lookahead"
        ):
            self.check_packet_in(e, ctx, e.pos)
            t = self.fe.resolve(e.type_args[0]) if e.type_args else Bits(8)
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
            return {"type": "field", "value": ["scalars", tmp.name]}, w
        part = self.lookahead_part(e, ctx)
        if part is not None:
            return part
        v = self.rvalue(e, ctx)
        w = width_of(v.type)
        if v.json.get("type") in ("field", "stack_field") and not v.boolish:
            return v.json, w
        tmp = self.temp(v.type)
        self.assign(tmp, None, ctx, e.pos, v)
        return {"type": "field", "value": ["scalars", tmp.name]}, max(w, 1)

    def lookahead_part(self, e: ast.Expr, ctx: Ctx) -> tuple[J, int] | None:
        """A select key `lookahead<T>().f` or `lookahead<bit<W>>()[hi:lo]`, or None.

        The whole T is looked ahead (so a packet shorter than T gives PacketTooShort,
        as with p4c's temporary), then the part is shifted out into a temporary.
        """
        call = e.expr if isinstance(e, (ast.Member, ast.Slice)) else None
        if not (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Member)
            and call.func.name == "lookahead"
        ):
            return None
        self.check_packet_in(call, ctx, call.pos)
        if not call.type_args:
            raise UnsupportedError(call.pos, "lookahead needs a type argument")
        t = self.fe.resolve(call.type_args[0])
        total = width_of(t)
        if isinstance(e, ast.Member):
            if not isinstance(t, StructT) or t.field(e.name) is None:
                raise UnsupportedError(e.pos, f"{type_str(t)!r} has no field {e.name!r}")
            offset = 0
            for fname, ft in t.fields:
                if fname == e.name:
                    break
                offset += width_of(ft)
            w = width_of(t.field(e.name) or Bits(0))
        else:
            assert isinstance(e, ast.Slice)
            hi = self.const_in(e.hi, ctx)
            lo = self.const_in(e.lo, ctx)
            if not isinstance(t, Bits) or hi is None or lo is None or not 0 <= lo <= hi < total:
                raise UnsupportedError(e.pos, "unsupported slice of a lookahead")
            offset = total - 1 - hi
            w = hi - lo + 1
        whole = self.temp(Bits(total))
        assert ctx.prims is not None
        ctx.prims.append(
            {
                "parameters": [
                    {"type": "field", "value": ["scalars", whole.name]},
                    {"type": "lookahead", "value": [0, total]},
                ],
                "op": "set",
            }
        )
        shift = total - offset - w
        j: J = {"type": "field", "value": ["scalars", whole.name]}
        if shift:
            j = jexpr(">>", j, jhex(shift, 8))
        tmp = self.temp(Bits(w))
        self.assign(tmp, None, ctx, e.pos, Val(jexpr("&", j, jhex(mask(w), w)), Bits(w)))
        return {"type": "field", "value": ["scalars", tmp.name]}, w

    def keyset_transitions(
        self, ks: ast.Expr, widths: list[int], target: str | None, ctx: Ctx
    ) -> list[J]:
        """The transitions of one select case (ranges expand to masks)."""
        items = list(ks.items) if isinstance(ks, ast.ListExpr) else [ks]
        if len(items) == 1 and isinstance(items[0], ast.Default):
            return [{"type": "default", "value": None, "mask": None, "next_state": target}]
        vs = self.value_set_ref(items[0], ctx) if len(items) == 1 else None
        if vs is not None:
            if [w for _, w in vs.fields] != widths:
                raise UnsupportedError(
                    ks.pos,
                    f"value set {vs.name!r} does not match the select key "
                    f"(widths {[w for _, w in vs.fields]} vs {widths})",
                )
            return [{"type": "parse_vset", "value": vs.name, "mask": None, "next_state": target}]
        for it in items:
            if self.value_set_ref(it, ctx) is not None:
                raise UnsupportedError(
                    it.pos, "unsupported value set as one component of a tuple keyset"
                )
        if len(items) != len(widths):
            raise UnsupportedError(
                ks.pos, f"keyset has {len(items)} components, select has {len(widths)}"
            )
        # each component: list of (value, mask) alternatives (ranges expand to several)
        comps: list[list[tuple[int, int]]] = []
        for it, w in zip(items, widths, strict=True):
            comps.append(self.keyset_component(it, w, ctx))
        combos: list[tuple[int, int]] = [(0, 0)]
        total_w = 0
        for comp, w in zip(comps, widths, strict=True):
            bw = ((w + 7) // 8) * 8
            combos = [((v0 << bw) | v, (m0 << bw) | m) for v0, m0 in combos for v, m in comp]
            total_w += bw
        out: list[J] = []
        all_exact = all(
            m == mask(w) for comp, w in zip(comps, widths, strict=True) for _, m in comp
        )
        for v, m in combos:
            out.append(
                {
                    "type": "hexstr",
                    "value": hexstr(v, total_w),
                    "mask": None if all_exact else hexstr(m, total_w),
                    "next_state": target,
                }
            )
        return out

    def value_set_ref(self, e: ast.Expr, ctx: Ctx) -> LValueSet | None:
        """The value set a keyset expression names, or None."""
        if isinstance(e, ast.Name) and e.name in ctx.scope:
            p = ctx.scope[e.name]
            if isinstance(p, PObj) and p.kind == "value_set" and isinstance(p.decl, LValueSet):
                return p.decl
        return None

    def keyset_component(self, e: ast.Expr, w: int, ctx: Ctx) -> list[tuple[int, int]]:
        """Value/mask pairs of one keyset component."""
        full = mask(w)
        match e:
            case ast.Default():
                return [(0, 0)]
            case ast.Binary(op="&&&", left=l, right=r):
                a = self.const_in(l, ctx)
                b = self.const_in(r, ctx)
                if a is None or b is None:
                    raise UnsupportedError(e.pos, "mask keyset needs constants")
                return [(a & b & full, b & full)]
            case ast.Binary(op="..", left=l, right=r):
                lo = self.const_in(l, ctx)
                hi = self.const_in(r, ctx)
                if lo is None or hi is None:
                    raise UnsupportedError(e.pos, "range keyset needs constants")
                return range_to_masks(lo & full, hi & full, w)
        v = self.rvalue(e, ctx)
        if v.const is None:
            raise UnsupportedError(
                e.pos, "unsupported non-constant keyset: expected a constant or a value set"
            )
        if isinstance(v.type, BoolT) and w != 1:
            raise UnsupportedError(e.pos, f"type mismatch: expected 'bit<{w}>', got 'bool'")
        return [(v.const & full, full)]

    # ============================================================ checksums / deparser
    def lower_checksums(self, decl: ast.ControlDecl, scope: dict[str, Place], verify: bool) -> None:
        """Lower verify_checksum/update_checksum calls of a checksum control."""
        ctx = Ctx(dict(scope))
        assert decl.body is not None
        for s in decl.body.stmts:
            if isinstance(s, ast.Empty):
                continue
            if not (isinstance(s, ast.CallStmt) and isinstance(s.call.func, ast.Name)):
                raise UnsupportedError(
                    s.pos,
                    "unsupported statement in a checksum control "
                    "(only verify_checksum/update_checksum calls)",
                )
            name = s.call.func.name
            want = "verify_checksum" if verify else "update_checksum"
            if name not in (want, want + "_with_payload"):
                raise UnsupportedError(s.pos, f"unsupported call {name!r} in a checksum control")
            proto = self.env.functions.get(name)
            args = (
                self.positional(proto.params, s.call)
                if proto is not None
                else [a.expr for a in s.call.args]
            )
            self.out.extern_calls = True
            cond = self.rvalue(args[0], ctx, BoolT())
            vals = self.field_list(args[1], ctx)
            inputs: list[J] = []
            for v in vals:
                if v.const is not None and isinstance(v.type, Bits):
                    # constants (e.g. pseudo-header zero bytes) keep their width
                    inputs.append({**jhex(v.const, v.type.width), "bitwidth": v.type.width})
                elif v.json.get("type") == "field":
                    inputs.append(v.json)
                else:
                    raise UnsupportedError(s.pos, "checksum inputs must be fields or constants")
            target = self.place(args[2], ctx)
            if not isinstance(target, PField):
                raise UnsupportedError(s.pos, "checksum target must be a field")
            algo = self.enum_member(args[3], "HashAlgorithm", ctx)
            frag = s.call.pos.text[s.call.pos.col - 1 :].strip()
            if frag.endswith(";"):
                frag = frag[:-1]
            if not frag.endswith(")"):
                frag = frag + " ..."
            si = self.src(s.call.pos, frag)
            if name.endswith("_with_payload"):
                inputs = [*inputs, {"type": "payload", "value": None}]
            calc = self.add_calc(algo, inputs, si)
            ck: J = {"name": self.fresh("cksum"), "id": len(self.out.checksums)}
            if si is not None:
                ck["source_info"] = si
            ck.update(
                {
                    "target": [target.hdr, target.name],
                    "type": "generic",
                    "calculation": calc,
                    "verify": verify,
                    "update": not verify,
                    "if_cond": self.as_bool(cond)
                    if cond.const is None
                    else {"type": "bool", "value": bool(cond.const)},
                }
            )
            self.out.checksums.append(ck)

    def lower_deparser(self, decl: ast.ControlDecl, scope: dict[str, Place]) -> None:
        """Lower the deparser's emit calls into the emit order."""
        ctx = Ctx(dict(scope))
        self.out.deparser_pos = decl.pos
        assert decl.body is not None
        self._deparse_block(decl.body, ctx)

    def _deparse_block(self, b: ast.Block, ctx: Ctx) -> None:
        for s in b.stmts:
            match s:
                case ast.Block():
                    self._deparse_block(s, ctx)
                case ast.Empty():
                    pass
                case ast.CallStmt(
                    call=ast.Call(func=ast.Member(expr=recv, name="emit"), args=args)
                ):
                    target = self.place(recv, ctx)
                    if not (isinstance(target, PObj) and target.kind == "packet"):
                        raise UnsupportedError(s.pos, "emit() must be called on the packet_out")
                    if len(args) != 1:
                        raise UnsupportedError(s.pos, "emit() takes one argument")
                    p = self.place(args[0].expr, ctx)
                    self.out.deparser.extend(self._emit_order(p, s.pos))
                case _:
                    raise UnsupportedError(
                        s.pos, "unsupported statement in the deparser (only emit calls)"
                    )

    def _emit_order(self, p: Place, pos: Pos) -> list[str]:
        match p:
            case PHeader(name=n):
                return [n]
            case PStack(name=n, type=st) if st.elem.kind == "header_union":
                return [f"{n}[{k}].{fname}" for k in range(st.size) for fname, _ in st.elem.fields]
            case PStack(name=n, type=st):
                return [f"{n}[{k}]" for k in range(st.size)]
            case PUnion(members=m):
                return [h.name for h in m.values()]
            case PStruct(members=m):
                out: list[str] = []
                for sub in m.values():
                    if not isinstance(sub, PField):
                        out.extend(self._emit_order(sub, pos))
                return out
        raise UnsupportedError(pos, "emit needs a header, stack, union or struct of headers")

    # ============================================================ controls
