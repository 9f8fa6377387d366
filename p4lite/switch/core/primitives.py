"""Action primitives p4c emits for v1model, compiled to closures and to source.

Each primitive becomes ``fn(pkt, action_data)``. Unknown primitives are a
``LoadError`` naming them. The frequent ones (field assignment, register read
and write, counting, drop, exit) also have Python source, which the loader
joins into one generated function per action. May import only the standard
library and the sibling modules ``api``, ``codegen`` and ``engine``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from p4lite.switch.core.api import LoadError

if TYPE_CHECKING:
    from p4lite.switch.core.codegen import Scope
    from p4lite.switch.core.engine import Fn, Pkt, Prim, Program

logger = logging.getLogger(__name__)


class AssertionAbortError(Exception):
    """A v1model assert() or assume() failed: BMv2 aborts, the packet is lost."""


def _params(prim: Any, path: str, count: int | tuple[int, ...]) -> list[Any]:
    params = prim.get("parameters")
    if not isinstance(params, list):
        raise LoadError(f"{path}.parameters", f"expected a list, got {params!r:.80}")
    counts = (count,) if isinstance(count, int) else count
    if len(params) not in counts:
        raise LoadError(
            f"{path}.parameters",
            f"primitive {prim.get('op')!r} takes {counts[0]} parameters, got {len(params)}",
        )
    return params


def _header_index(prog: Program, node: Any, path: str) -> Fn:
    if isinstance(node, dict) and node.get("type") == "header":
        h = prog.header(node.get("value"), f"{path}.value")
        return lambda p, a: h
    if isinstance(node, dict) and node.get("type") == "expression":
        return prog.expr(node, path)
    raise LoadError(path, f"expected a header, got {node!r:.80}")


def _named(prog: Program, node: Any, path: str, kind: str, table: dict[str, Any]) -> Any:
    if not isinstance(node, dict) or node.get("type") != kind:
        raise LoadError(path, f"expected a {kind}, got {node!r:.80}")
    name = node.get("value")
    if name not in table:
        raise LoadError(f"{path}.value", f"unknown {kind} {name!r}")
    return table[name]


def add_header_fn(prog: Program) -> Callable[[Pkt, int], None]:
    """``setValid()``: zero the fields of an invalid header, adjust the length register."""
    layouts = prog.layouts
    templates = [lay.template() for lay in layouts]
    union_of = prog.union_of

    def add(p: Pkt, h: int) -> None:
        if p.v[h]:
            return
        lay = layouts[h]
        p.h[h] = list(templates[h])
        p.v[h] = 1
        if not lay.metadata:
            p.plen += lay.nbytes
        for m in union_of.get(h, ()):
            if m != h:
                p.v[m] = 0

    return add


def remove_header_fn(prog: Program) -> Callable[[Pkt, int], None]:
    """``setInvalid()``: clear the validity bit, adjust the length register."""
    layouts = prog.layouts

    def remove(p: Pkt, h: int) -> None:
        if not p.v[h]:
            return
        p.v[h] = 0
        if not layouts[h].metadata:
            p.plen -= layouts[h].nbytes

    return remove


def copy_header(p: Pkt, dst: int, src: int) -> None:
    """Header assignment: fields and validity bit (an invalid source invalidates)."""
    if p.v[src]:
        p.h[dst] = list(p.h[src])
        p.v[dst] = 1
    else:
        p.v[dst] = 0


def compile_primitive(prog: Program, prim: Any, path: str) -> Prim:
    """Compile one primitive of an action (or a parser ``primitive`` op)."""
    if not isinstance(prim, dict) or not isinstance(prim.get("op"), str):
        raise LoadError(path, f"expected a primitive object, got {prim!r:.80}")
    op = prim["op"]
    sm = prog.sm
    smf = prog.smf
    match op:
        case "assign" | "modify_field":
            dstn, srcn = _params(prim, path, 2)
            kind = dstn.get("type") if isinstance(dstn, dict) else None
            if kind == "header":
                return _assign_header(prog, dstn, srcn, path)
            if kind == "header_union":
                return _assign_union(prog, dstn, srcn, path)
            src = prog.expr(srcn, f"{path}.parameters[1]")
            return prog.assign(dstn, src, f"{path}.parameters[0]")
        case "assign_header" | "copy_header":
            dstn, srcn = _params(prim, path, 2)
            return _assign_header(prog, dstn, srcn, path)
        case "assign_union":
            dstn, srcn = _params(prim, path, 2)
            return _assign_union(prog, dstn, srcn, path)
        case "assign_header_stack":
            dstn, srcn = _params(prim, path, 2)
            dsi, dids = prog.stack(dstn.get("value"), f"{path}.parameters[0].value")
            ssi, sids = prog.stack(srcn.get("value"), f"{path}.parameters[1].value")
            if len(dids) != len(sids):
                raise LoadError(path, f"stack sizes differ: {len(dids)} and {len(sids)}")
            pairs = list(zip(dids, sids, strict=True))

            def assign_stack(p: Pkt, a: tuple[int, ...]) -> None:
                for d, s in pairs:
                    copy_header(p, d, s)
                p.nxt[dsi] = p.nxt[ssi]

            return assign_stack
        case "add_header" | "setValid":
            (hn,) = _params(prim, path, 1)
            hf = _header_index(prog, hn, f"{path}.parameters[0]")
            add = add_header_fn(prog)
            return lambda p, a: add(p, hf(p, a))
        case "remove_header" | "setInvalid":
            (hn,) = _params(prim, path, 1)
            hf2 = _header_index(prog, hn, f"{path}.parameters[0]")
            remove = remove_header_fn(prog)
            return lambda p, a: remove(p, hf2(p, a))
        case "push" | "pop":
            sn, cn = _params(prim, path, 2)
            if not isinstance(sn, dict) or sn.get("type") != "header_stack":
                raise LoadError(f"{path}.parameters[0]", f"expected a header stack, got {sn!r:.80}")
            sidx, ids = prog.stack(sn.get("value"), f"{path}.parameters[0].value")
            count = prog.expr(cn, f"{path}.parameters[1]")
            return _stack_shift(sidx, ids, count, op == "push")
        case "modify_field_with_hash_based_offset":
            dstn, basen, calcn, maxn = _params(prim, path, 4)
            dst = prog.lvalue(dstn, f"{path}.parameters[0]")
            base = prog.expr(basen, f"{path}.parameters[1]")
            calc = _named(prog, calcn, f"{path}.parameters[2]", "calculation", prog.calcs)
            size = prog.expr(maxn, f"{path}.parameters[3]")

            def hash_offset(p: Pkt, a: tuple[int, ...]) -> None:
                n = int(size(p, a))
                hv = calc(p)
                dst(p, a, int(base(p, a)) + (hv % n if n else hv))

            return hash_offset
        case "register_read":
            dstn, regn, idxn = _params(prim, path, 3)
            dst = prog.lvalue(dstn, f"{path}.parameters[0]")
            reg = _named(prog, regn, f"{path}.parameters[1]", "register_array", prog.registers)
            idx = prog.expr(idxn, f"{path}.parameters[2]")
            cells = reg.cells

            def reg_read(p: Pkt, a: tuple[int, ...]) -> None:
                i = int(idx(p, a))
                # Out-of-range reads are undefined in BMv2; p4lite reads 0.
                dst(p, a, cells[i] if 0 <= i < len(cells) else 0)

            return reg_read
        case "register_write":
            regn, idxn, valn = _params(prim, path, 3)
            reg = _named(prog, regn, f"{path}.parameters[0]", "register_array", prog.registers)
            idx = prog.expr(idxn, f"{path}.parameters[1]")
            val = prog.expr(valn, f"{path}.parameters[2]")
            cells = reg.cells
            rmask = (1 << reg.width) - 1

            def reg_write(p: Pkt, a: tuple[int, ...]) -> None:
                i = int(idx(p, a))
                if 0 <= i < len(cells):
                    cells[i] = int(val(p, a)) & rmask

            return reg_write
        case "count":
            cn, idxn = _params(prim, path, 2)
            ctr = _named(prog, cn, f"{path}.parameters[0]", "counter_array", prog.counters)
            idx = prog.expr(idxn, f"{path}.parameters[1]")
            ccells = ctr.cells

            def count_fn(p: Pkt, a: tuple[int, ...]) -> None:
                i = int(idx(p, a))
                if 0 <= i < len(ccells):
                    c = ccells[i]
                    c[0] += 1
                    c[1] += p.ingress_len

            return count_fn
        case "execute_meter":
            mn, idxn, dstn = _params(prim, path, 3)
            meter = _named(prog, mn, f"{path}.parameters[0]", "meter_array", prog.meters)
            idx = prog.expr(idxn, f"{path}.parameters[1]")
            dst = prog.lvalue(dstn, f"{path}.parameters[2]")
            clock = prog.clock

            def meter_fn(p: Pkt, a: tuple[int, ...]) -> None:
                i = int(idx(p, a))
                color = 0
                if 0 <= i < len(meter.cells):
                    cell = meter.cells[i]
                    if cell is not None:
                        color = cell.execute(1 if meter.packets else p.ingress_len, clock())
                dst(p, a, color)

            return meter_fn
        case "clone_ingress_pkt_to_egress" | "clone_egress_pkt_to_egress":
            params = _params(prim, path, (1, 2))
            sess = prog.expr(params[0], f"{path}.parameters[0]")
            fl = prog.expr(params[1], f"{path}.parameters[1]") if len(params) > 1 else None

            def clone_fn(p: Pkt, a: tuple[int, ...]) -> None:
                # Bit 31 marks "clone requested" so that session 0 is usable.
                p.clone_sess = (int(sess(p, a)) & 0xFFFFFFFF) | (1 << 31)
                p.clone_fl = int(fl(p, a)) if fl is not None else 0

            return clone_fn
        case "resubmit" | "recirculate":
            params = _params(prim, path, (0, 1))
            flf = prog.expr(params[0], f"{path}.parameters[0]") if params else None
            attr = "resub" if op == "resubmit" else "recirc"

            def flag_fn(p: Pkt, a: tuple[int, ...]) -> None:
                # Field list id 0 still means "requested": store id + 1.
                setattr(p, attr, (int(flf(p, a)) if flf is not None else 0) + 1)

            return flag_fn
        case "truncate":
            (ln,) = _params(prim, path, 1)
            length = prog.expr(ln, f"{path}.parameters[0]")

            def trunc_fn(p: Pkt, a: tuple[int, ...]) -> None:
                n = int(length(p, a))
                p.trunc = n if p.trunc == 0 else min(p.trunc, n)

            return trunc_fn
        case "mark_to_drop" | "drop":
            es = smf["egress_spec"]
            drop_port = prog.drop_port
            mg = smf.get("mcast_grp")

            def drop_fn(p: Pkt, a: tuple[int, ...]) -> None:
                p.h[sm][es] = drop_port
                if mg is not None:
                    p.h[sm][mg] = 0

            return drop_fn
        case "generate_digest":
            params = _params(prim, path, 2)
            lid = prog.expr(params[1], f"{path}.parameters[1]")

            def digest_fn(p: Pkt, a: tuple[int, ...]) -> None:
                p.learn = int(lid(p, a))

            return digest_fn
        case "exit":

            def exit_fn(p: Pkt, a: tuple[int, ...]) -> None:
                p.exit = True

            return exit_fn
        case "log_msg" | "no_op":
            # logging is I/O, kept off the packet path
            return lambda p, a: None
        case "assume" | "assert":
            (condn,) = _params(prim, path, 1)
            cond = prog.expr(condn, f"{path}.parameters[0]")
            si = prim.get("source_info")
            where = (
                f": {si.get('source_fragment')} failed, file {si.get('filename')}, "
                f"line {si.get('line')}"
                if isinstance(si, dict)
                else ""
            )
            message = f"{'Assert' if op == 'assert' else 'Assume'} error{where}"

            def check_fn(p: Pkt, a: tuple[int, ...]) -> None:
                # BMv2 aborts the whole switch here; this packet goes nowhere
                if not int(cond(p, a)):
                    raise AssertionAbortError(message)

            return check_fn
        case "modify_field_rng_uniform":
            dstn, lon, hin = _params(prim, path, 3)
            dst = prog.lvalue(dstn, f"{path}.parameters[0]")
            lo = prog.expr(lon, f"{path}.parameters[1]")
            hi = prog.expr(hin, f"{path}.parameters[2]")
            rng = prog.rng

            def rng_fn(p: Pkt, a: tuple[int, ...]) -> None:
                low, high = int(lo(p, a)), int(hi(p, a))
                dst(p, a, rng.randint(low, high) if high >= low else low)

            return rng_fn
        case "add_to_field" | "subtract_from_field":
            dstn, valn = _params(prim, path, 2)
            dst = prog.lvalue(dstn, f"{path}.parameters[0]")
            cur = prog.expr(dstn, f"{path}.parameters[0]")
            val = prog.expr(valn, f"{path}.parameters[1]")
            sign = 1 if op == "add_to_field" else -1
            return lambda p, a: dst(p, a, cur(p, a) + sign * val(p, a))
        case "_jump" | "_jump_if_zero":
            # Placeholders: the action's jump runner interprets these.
            return lambda p, a: None
        case _:
            raise LoadError(f"{path}.op", f"unknown primitive {op!r}")


def primitive_src(prog: Program, prim: Any, path: str, scope: Scope) -> list[str] | None:
    """Source lines doing what ``compile_primitive`` does, for the frequent primitives.

    Lines read ``p``, ``a``, ``h = p.h`` and ``v = p.v`` and may set ``i`` and
    ``c``. None when the primitive has no source (the caller calls its closure).
    Call it after ``compile_primitive`` accepted the primitive.
    """
    op = prim["op"]
    params = prim.get("parameters")
    match op:
        case "assign" | "modify_field":
            dstn, srcn = params
            val, kind = prog.expr_src(srcn, f"{path}.parameters[1]", scope)
            within = prog.fits_mask(srcn)
            store = prog.store_src(dstn, val, kind, f"{path}.parameters[0]", within)
            return None if store is None else [store]
        case "register_read":
            dstn, regn, idxn = params
            cells = prog.registers[regn["value"]].cells
            idx = _int_src(prog.expr_src(idxn, f"{path}.parameters[2]", scope))
            # Out-of-range reads are undefined in BMv2; p4lite reads 0.
            read = f"({scope.ref(cells, 'r')}[i] if 0 <= i < {len(cells)} else 0)"
            store = prog.store_src(dstn, read, "int", f"{path}.parameters[0]")
            return None if store is None else [f"i = {idx}", store]
        case "register_write":
            regn, idxn, valn = params
            reg = prog.registers[regn["value"]]
            idx = _int_src(prog.expr_src(idxn, f"{path}.parameters[1]", scope))
            val = _int_src(prog.expr_src(valn, f"{path}.parameters[2]", scope))
            return [
                f"i = {idx}",
                f"if 0 <= i < {len(reg.cells)}:",
                f"    {scope.ref(reg.cells, 'r')}[i] = {val} & {(1 << reg.width) - 1}",
            ]
        case "count":
            cn, idxn = params
            ccells = prog.counters[cn["value"]].cells
            idx = _int_src(prog.expr_src(idxn, f"{path}.parameters[1]", scope))
            return [
                f"i = {idx}",
                f"if 0 <= i < {len(ccells)}:",
                f"    c = {scope.ref(ccells, 'c')}[i]",
                "    c[0] += 1",
                "    c[1] += p.ingress_len",
            ]
        case "mark_to_drop" | "drop":
            sm, es, mg = prog.sm, prog.smf["egress_spec"], prog.smf.get("mcast_grp")
            lines = [f"h[{sm}][{es}] = {prog.drop_port}"]
            return lines if mg is None else [*lines, f"h[{sm}][{mg}] = 0"]
        case "exit":
            return ["p.exit = True"]
        case "log_msg" | "no_op":
            return []
    return None


def _int_src(src: tuple[str, str]) -> str:
    """``int(x)`` of an expression's source, left out where x is an int already."""
    text, kind = src
    return text if kind == "int" else f"int({text})"


def _assign_header(prog: Program, dstn: Any, srcn: Any, path: str) -> Prim:
    dst = _header_index(prog, dstn, f"{path}.parameters[0]")
    src = _header_index(prog, srcn, f"{path}.parameters[1]")
    union_of = prog.union_of

    def assign_header(p: Pkt, a: tuple[int, ...]) -> None:
        d = dst(p, a)
        copy_header(p, d, src(p, a))
        # Making a union member valid invalidates its siblings (BMv2 mark_valid).
        if p.v[d]:
            for m in union_of.get(d, ()):
                if m != d:
                    p.v[m] = 0

    return assign_header


def _assign_union(prog: Program, dstn: Any, srcn: Any, path: str) -> Prim:
    names = []
    for j, n in enumerate((dstn, srcn)):
        val = n.get("value") if isinstance(n, dict) else None
        if val not in prog.unions:
            raise LoadError(f"{path}.parameters[{j}]", f"unknown header union {val!r}")
        names.append(val)
    pairs = list(zip(prog.unions[names[0]], prog.unions[names[1]], strict=True))

    def assign_union(p: Pkt, a: tuple[int, ...]) -> None:
        for d, s in pairs:
            copy_header(p, d, s)

    return assign_union


def _stack_shift(sidx: int, ids: list[int], count: Fn, forward: bool) -> Prim:
    n = len(ids)

    def shift(p: Pkt, a: tuple[int, ...]) -> None:
        k = int(count(p, a))
        if k <= 0:
            return
        if forward:
            # push_front: elements move towards the end; the first k become invalid.
            for i in range(n - 1, -1, -1):
                if i >= k:
                    copy_header(p, ids[i], ids[i - k])
                else:
                    p.v[ids[i]] = 0
            p.nxt[sidx] = min(n, p.nxt[sidx] + k)
        else:
            for i in range(n):
                if i + k < n:
                    copy_header(p, ids[i], ids[i + k])
                else:
                    p.v[ids[i]] = 0
            p.nxt[sidx] = max(0, p.nxt[sidx] - k)

    return shift


def jump_runner(prog: Program, prims: list[Any], fns: list[Prim], path: str) -> Prim:
    """Run an action whose primitives contain ``_jump``/``_jump_if_zero``."""
    steps: list[tuple[int, Any, Any]] = []
    for j, pr in enumerate(prims):
        op = pr.get("op")
        ppath = f"{path}.primitives[{j}]"
        if op == "_jump":
            (tgt,) = _params(pr, ppath, 1)
            steps.append((1, None, prog.expr(tgt, f"{ppath}.parameters[0]")))
        elif op == "_jump_if_zero":
            cond, tgt = _params(pr, ppath, 2)
            steps.append(
                (
                    2,
                    prog.expr(cond, f"{ppath}.parameters[0]"),
                    prog.expr(tgt, f"{ppath}.parameters[1]"),
                )
            )
        else:
            steps.append((0, fns[j], None))
    n = len(steps)

    def run(p: Pkt, a: tuple[int, ...]) -> None:
        pc = 0
        budget = 100000
        while 0 <= pc < n and budget:
            budget -= 1
            kind, f, tgt = steps[pc]
            if kind == 0:
                f(p, a)
                pc += 1
            elif kind == 1 or not f(p, a):
                pc = int(tgt(p, a))
            else:
                pc += 1

    return run
