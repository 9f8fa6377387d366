"""Mid end: lowers the checked program to the BMv2-shaped IR (`ir.Lowered`).

The passes live one per module, each a class on top of the previous one:
`lower_base` (names, storage, struct flattening), `lower_expr`
(expressions), `lower_stmt` (statements, action inlining and predication,
externs), `lower_parser` (parser, checksums, deparser), `lower_control`
(control flow and tables). This module binds the v1model package to them.
Imports `ast`, `frontend`, `diagnostics`, `ir` and `lower_control`.
"""

from __future__ import annotations

import logging

from p4lite.compiler import ast
from p4lite.compiler.diagnostics import Sink
from p4lite.compiler.frontend import (
    Bits,
    EnumT,
    ErrorT,
    ExternT,
    StackT,
    StructT,
    Type,
    type_str,
    width_of,
)
from p4lite.compiler.ir import (
    STANDARD_METADATA_FIELDS,
    Ctx,
    Lowered,
    PHeader,
    Place,
    PObj,
    UnsupportedError,
    hexstr,
    range_to_masks,
)
from p4lite.compiler.lower_control import ControlLowering

logger = logging.getLogger(__name__)

__all__ = ["Lowered", "MidEnd", "UnsupportedError", "hexstr", "range_to_masks"]


class MidEnd(ControlLowering):
    """Lowers an `Env` to a `Lowered` program; errors go to the sink."""

    def run(self) -> Lowered:
        """Lower the program."""
        env = self.env
        main = env.main
        if main is None:
            return self.out
        for i, name in enumerate(env.errors):
            self.out.errors.append((name, i))
        for name, t in env.types.items():
            if isinstance(t, (EnumT, StructT)) and t.name != name:
                continue  # a typedef of an enum or struct: listed under its own name
            if (
                isinstance(t, EnumT)
                and t.base is None
                and name
                not in (
                    "CounterType",
                    "MeterType",
                    "HashAlgorithm",
                    "CloneType",
                )
            ):
                self.out.enums.append((name, sorted((m, i) for i, m in enumerate(t.members))))
            elif isinstance(t, StructT) and t.kind == "header":
                annos = env.struct_annos.get(name, ())
                ch = ast.annotation_str(annos, "controller_header")
                if ch is not None:
                    fields = [
                        (
                            n,
                            width_of(ft),
                            env.newtype_name(env.field_type_names.get((name, n))),
                            env.field_annos.get((name, n), ()),
                        )
                        for n, ft in t.fields
                    ]
                    self.out.controller_headers.append((ch, name, annos, fields))
            elif isinstance(t, EnumT) and t.base is not None:
                self.out.serializable_enums.append(
                    (name, t.base.width, list(zip(t.members, t.values, strict=True)))
                )
        for name, annos in env.newtypes.items():
            self.out.newtypes[name] = (width_of(env.types[name]), annos)
        blocks: list[ast.ParserDecl | ast.ControlDecl] = []
        args = list(main.args)
        if args and all(a.name is not None for a in args):
            # named arguments, in any order: V1Switch's parameter order
            order = ("p", "vr", "ig", "eg", "ck", "dep")
            if sorted(a.name or "" for a in args) != sorted(order):
                self.sink.error(main.pos, f"V1Switch's parameters are {', '.join(order)}")
                return self.out
            args.sort(key=lambda a: order.index(a.name or ""))
        for arg in args:
            e = arg.expr
            if isinstance(e, ast.Name) and e.name in env.instances:
                # `MyParser() p; ... V1Switch(p, ...)`: use the instance's type
                e = ast.Call(e.pos, ast.Name(e.pos, env.instances[e.name]), (), ())
            if isinstance(e, ast.Call) and isinstance(e.func, (ast.Name, ast.TypeExpr)):
                nm = e.func.name if isinstance(e.func, ast.Name) else e.func.type.name
                decl: ast.ParserDecl | ast.ControlDecl | None = env.parsers.get(nm)
                if decl is None:
                    decl = env.controls.get(nm)
                if decl is None:
                    self.sink.error(e.pos, f"undeclared parser or control {nm!r}")
                    return self.out
                blocks.append(decl)
            else:
                self.sink.error(arg.pos, "expected a parser or control instantiation in 'main'")
                return self.out
        if len(blocks) != 6 or not isinstance(blocks[0], ast.ParserDecl):
            self.sink.error(main.pos, "unsupported package: expected V1Switch with 6 arguments")
            return self.out
        if main.type.name != "V1Switch":
            self.sink.error(
                main.pos, f"unsupported package {main.type.name!r}: expected 'V1Switch'"
            )
            return self.out
        parser = blocks[0]
        if parser.states is not None and not any(st.name == "start" for st in parser.states):
            self.sink.error(parser.pos, f"parser {parser.name!r} has no 'start' state")
        # storage: scalars first, then standard_metadata, then headers
        sm_t = StructT(
            "header",
            "standard_metadata",
            tuple(
                (n, ErrorT() if n == "parser_error" else Bits(w))
                for n, w in STANDARD_METADATA_FIELDS
            ),
        )
        self.out.header_types["scalars_0"] = []
        self.out.headers.append(("scalars", "scalars_0", True))
        self.header_type(sm_t)
        self.out.headers.append(("standard_metadata", "standard_metadata", True))
        sm = PHeader("standard_metadata", sm_t)
        self.names.update({"scalars", "standard_metadata"})
        if len(parser.params) != 4:
            self.sink.error(parser.pos, "the v1model parser takes 4 parameters")
            return self.out
        h_t = self.fe.resolve(parser.params[1].type)
        m_t = self.fe.resolve(parser.params[2].type)
        try:
            meta = self.alloc_root(m_t, f"{type_str(m_t)}.")
            hdrs = self.alloc_root(h_t, "")
        except UnsupportedError as exc:
            self.sink.error(exc.pos if exc.pos.line else parser.pos, str(exc))
            return self.out
        roots: dict[str, Place] = {"H": hdrs, "M": meta, "SM": sm}
        self.sm_root = sm
        roles = [
            ("parser", ["PKT", "H", "M", "SM"]),
            ("verify", ["H", "M"]),
            ("ingress", ["H", "M", "SM"]),
            ("egress", ["H", "M", "SM"]),
            ("compute", ["H", "M"]),
            ("deparser", ["PKTOUT", "H"]),
        ]
        if not self.check_signatures(blocks, roles, h_t, m_t):
            return self.out
        for (role, kinds), decl in zip(roles, blocks, strict=True):
            params = decl.params
            scope: dict[str, Place] = {}
            for p, k in zip(params, kinds, strict=True):
                if k in ("PKT", "PKTOUT"):
                    scope[p.name] = PObj("packet", p.name)
                else:
                    scope[p.name] = roots[k]
            self.out.arch_names[role] = decl.name
            try:
                match role:
                    case "parser":
                        assert isinstance(decl, ast.ParserDecl)
                        self.lower_parser(decl, scope)
                    case "ingress" | "egress":
                        assert isinstance(decl, ast.ControlDecl)
                        self.lower_pipeline(role, decl, scope)
                    case "verify" | "compute":
                        assert isinstance(decl, ast.ControlDecl)
                        self.lower_checksums(decl, scope, role == "verify")
                    case "deparser":
                        assert isinstance(decl, ast.ControlDecl)
                        self.lower_deparser(decl, scope)
            except UnsupportedError as exc:
                self.sink.error(exc.pos, str(exc))
        if self.check_unused:
            self.check_globals()
        for ext in self.out.externs:
            if ext.kind in ("direct_counter", "direct_meter") and ext.direct_table is None:
                what = "counter" if ext.kind == "direct_counter" else "meter"
                self.sink.warn(ext.pos, f"{ext.name}: Direct {what} not used; ignoring")
        if not self.check_unused and not self.sink.errors:
            # a second, throw-away lowering that also reaches unused declarations
            checker = MidEnd(self.env, self.fe, Sink(), self.stem)
            checker.check_unused = True
            checker.run()
            self.sink.errors.extend(checker.sink.errors)
        # pad scalars to a whole number of bytes
        total = sum(w for _, w, _ in self.out.scalars)
        if total % 8:
            self.out.scalars.append(
                (self.fresh("_padding_0") if False else "_padding_0", 8 - total % 8, False)
            )
        return self.out

    def check_globals(self) -> None:
        """Lower every top-level function and action once on scratch arguments.

        p4c type-checks declarations nobody calls; this reaches their bodies
        (generic functions are checked where they are called, with their types).
        """
        decls: list[ast.FunctionDecl | ast.ActionDecl] = [
            f for f in self.env.p4functions.values() if not f.type_params
        ]
        decls.extend(self.env.actions.values())
        for decl in decls:
            scope: dict[str, Place] = {}
            args: list[ast.Arg] = []
            try:
                for p in decl.params:
                    name = f"$arg_{p.name}"
                    t = self.fe.resolve(p.type)
                    if self.sm_root is not None and t == self.env.types.get("standard_metadata_t"):
                        scope[name] = self.sm_root
                    else:
                        scope[name] = self.local(t, p.name, p.pos)
                    args.append(ast.Arg(p.pos, None, ast.Name(p.pos, name)))
                ctx = Ctx(scope, in_action=True, prims=[])
                if isinstance(decl, ast.FunctionDecl):
                    if isinstance(self.fe.resolve(decl.ret), StructT | StackT):
                        self.inline_function_place(decl, tuple(args), ctx, decl.pos)
                    else:
                        self.inline_function(decl, tuple(args), ctx, decl.pos)
                else:
                    self.inline_action(decl, tuple(args), ctx, decl.pos)
            except UnsupportedError as exc:
                self.sink.error(exc.pos, str(exc))

    # ============================================================ names

    def check_signatures(
        self,
        blocks: list[ast.ParserDecl | ast.ControlDecl],
        roles: list[tuple[str, list[str]]],
        h_t: Type,
        m_t: Type,
    ) -> bool:
        """Check each block's parameters against V1Switch's (types and directions)."""
        sm_t = self.env.types.get("standard_metadata_t")
        expect_dir = {
            "parser": ["", "out", "inout", "inout"],
            "deparser": ["", "in"],
        }
        ok = True
        for (role, kinds), decl in zip(roles, blocks, strict=True):
            if len(decl.params) != len(kinds):
                self.sink.error(decl.pos, f"{role} {decl.name!r} takes {len(kinds)} parameters")
                ok = False
                continue
            dirs = expect_dir.get(role, ["inout"] * len(kinds))
            names = [p.name for p in decl.params]
            for dup in sorted({n for n in names if names.count(n) > 1}):
                self.sink.error(decl.pos, f"duplicate parameter {dup!r} of {role} {decl.name!r}")
                ok = False
            for p, k, d in zip(decl.params, kinds, dirs, strict=True):
                want: Type | None = {
                    "H": h_t,
                    "M": m_t,
                    "SM": sm_t,
                    "PKT": ExternT("packet_in"),
                    "PKTOUT": ExternT("packet_out"),
                }[k]
                got = self.fe.resolve(p.type)
                if want is not None and got != want:
                    self.sink.error(
                        p.pos,
                        f"parameter {p.name!r} of {role} {decl.name!r} has type "
                        f"{type_str(got)!r}, expected {type_str(want)!r}",
                    )
                    ok = False
                elif p.direction != d and not (p.direction == "in" and d == "inout"):
                    # p4c accepts a read-only 'in' where V1Switch declares 'inout'
                    self.sink.error(
                        p.pos,
                        f"parameter {p.name!r} of {role} {decl.name!r} has direction "
                        f"{p.direction or 'none'!r}, expected {d or 'none'!r}",
                    )
                    ok = False
        return ok
