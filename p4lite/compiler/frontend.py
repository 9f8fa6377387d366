"""Front end: global declarations, type resolution and constant evaluation.

Imports `ast` and `diagnostics`. Builds the `Env` the mid end lowers from:
named types, constants, errors, match kinds, externs, actions, parsers,
controls and the `main` package instance, and checks what it can see here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, fields, is_dataclass, replace

from p4lite.compiler import ast
from p4lite.compiler.diagnostics import Pos, Sink

logger = logging.getLogger(__name__)

# ---------------------------------------------------------------- semantic types


@dataclass(frozen=True, slots=True)
class Bits:
    """bit<W> (signed=False) or int<W> (signed=True)."""

    width: int
    signed: bool = False


@dataclass(frozen=True, slots=True)
class VarbitT:
    """varbit<W>: a header field of 0..W bits, its length set by a two-argument extract."""

    max: int


@dataclass(frozen=True, slots=True)
class InfInt:
    """The type of unsized integer literals."""


@dataclass(frozen=True, slots=True)
class BoolT:
    """bool."""


@dataclass(frozen=True, slots=True)
class ErrorT:
    """error."""


@dataclass(frozen=True, slots=True)
class StringT:
    """string (only in extern arguments)."""


@dataclass(frozen=True, slots=True)
class VoidT:
    """void."""


@dataclass(frozen=True, slots=True)
class AnyT:
    """An unresolved type parameter."""

    name: str = ""


@dataclass(frozen=True, slots=True)
class StructT:
    """header, header_union or struct; fields in declaration order."""

    kind: str
    name: str
    fields: tuple[tuple[str, Type], ...]

    def field(self, name: str) -> Type | None:
        """The type of field `name`, or None."""
        for n, t in self.fields:
            if n == name:
                return t
        return None


@dataclass(frozen=True, slots=True)
class StackT:
    """A header stack `elem[size]`."""

    elem: StructT
    size: int


@dataclass(frozen=True, slots=True)
class EnumT:
    """An enum; base is set for serializable enums."""

    name: str
    members: tuple[str, ...]
    base: Bits | None = None
    values: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class ExternT:
    """An extern object type with its type arguments."""

    name: str
    args: tuple[Type, ...] = ()


@dataclass(frozen=True, slots=True)
class TupleT:
    """tuple<...> / list."""

    items: tuple[Type, ...]


@dataclass(frozen=True, slots=True)
class MatchKindT:
    """match_kind."""


Type = (
    Bits
    | VarbitT
    | InfInt
    | BoolT
    | ErrorT
    | StringT
    | VoidT
    | AnyT
    | StructT
    | StackT
    | EnumT
    | ExternT
    | TupleT
    | MatchKindT
)


def width_of(t: Type) -> int:
    """Bit width of a type as BMv2 stores it (bool 1, error 32, enums 32 or base)."""
    match t:
        case Bits(width=w) | VarbitT(max=w):
            return w
        case BoolT():
            return 1
        case ErrorT():
            return 32
        case EnumT(base=base):
            return base.width if base else 32
        case StructT(fields=fields):
            return sum(width_of(ft) for _, ft in fields)
        case StackT(elem=elem, size=size):
            return width_of(elem) * size
        case _:
            return 0


def type_str(t: Type) -> str:
    """P4 spelling of a type for messages."""
    match t:
        case Bits(width=w, signed=s):
            return f"{'int' if s else 'bit'}<{w}>"
        case VarbitT(max=w):
            return f"varbit<{w}>"
        case InfInt():
            return "int"
        case BoolT():
            return "bool"
        case ErrorT():
            return "error"
        case StructT(name=n) | EnumT(name=n) | ExternT(name=n):
            return n
        case StackT(elem=e, size=s):
            return f"{e.name}[{s}]"
        case _:
            return type(t).__name__


def _direct_apply_calls(node: object) -> list[tuple[str, Pos]]:
    """The name and position of every `Name.apply(...)` call in a body, in order."""
    out: list[tuple[str, Pos]] = []
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, (tuple, list)):
            stack.extend(reversed(n))
        elif isinstance(n, ast.Call):
            callee = n.func
            if (
                isinstance(callee, ast.Member)
                and callee.name == "apply"
                and isinstance(callee.expr, ast.Name)
            ):
                out.append((callee.expr.name, callee.pos))
            stack.extend((n.args, n.func))
        elif is_dataclass(n) and not isinstance(n, (ast.TypeRef, Pos)):
            stack.extend(getattr(n, fd.name) for fd in reversed(fields(n)))
    return out


# the member values of a struct constant, nested for nested structs
StructValue = dict[str, "int | StructValue"]

# ---------------------------------------------------------------- environment


@dataclass(slots=True)
class Env:
    """Everything declared at the top level of a program."""

    types: dict[str, Type] = field(default_factory=dict)
    consts: dict[str, tuple[Type, int]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    match_kinds: list[str] = field(default_factory=list)
    externs: dict[str, ast.ExternDecl] = field(default_factory=dict)
    functions: dict[str, ast.Method] = field(default_factory=dict)
    p4functions: dict[str, ast.FunctionDecl] = field(default_factory=dict)
    instances: dict[str, str] = field(default_factory=dict)
    actions: dict[str, ast.ActionDecl] = field(default_factory=dict)
    parsers: dict[str, ast.ParserDecl] = field(default_factory=dict)
    controls: dict[str, ast.ControlDecl] = field(default_factory=dict)
    main: ast.Instance | None = None
    decl_order: list[ast.Decl] = field(default_factory=list)
    enum_decls: dict[str, ast.EnumDecl] = field(default_factory=dict)
    struct_annos: dict[str, tuple[ast.Annotation, ...]] = field(default_factory=dict)
    # constants of struct types: their member values (nested for nested structs)
    struct_consts: dict[str, tuple[StructT, StructValue]] = field(default_factory=dict)
    # generic struct and header declarations, and their specializations
    generic_structs: dict[str, ast.StructLike] = field(default_factory=dict)
    specializations: dict[tuple[str, tuple[Type, ...]], StructT] = field(default_factory=dict)
    # `type` declarations (P4Runtime new types) with their annotations
    newtypes: dict[str, tuple[ast.Annotation, ...]] = field(default_factory=dict)
    # typedef / type name -> the type name it is declared over
    type_targets: dict[str, str] = field(default_factory=dict)
    # (header, field) -> the struct type of a struct-typed header field, whose
    # fields are the header's fields '<field>_<member>' (flattened)
    header_structs: dict[tuple[str, str], StructT] = field(default_factory=dict)
    # (struct or header, field) -> the field's @name, where it has one
    field_names: dict[tuple[str, str], str] = field(default_factory=dict)
    # (struct or header, field) -> the type name the field is declared with
    field_type_names: dict[tuple[str, str], str] = field(default_factory=dict)
    # (struct or header, field) -> the field's annotations, where it has any
    field_annos: dict[tuple[str, str], tuple[ast.Annotation, ...]] = field(default_factory=dict)

    def newtype_name(self, declared: str | None) -> str | None:
        """The `type` a declared type name stands for through typedefs, or None."""
        seen: set[str] = set()
        while declared is not None and declared not in seen:
            if declared in self.newtypes:
                return declared
            seen.add(declared)
            declared = self.type_targets.get(declared)
        return None


class FrontEnd:
    """Resolves top-level declarations and evaluates constants."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.env = Env()
        self._seen: set[str] = set()
        self._types_only: set[str] = set()
        # the type arguments of the generic function being inlined
        self.type_bindings: dict[str, Type] = {}

    def run(self, prog: ast.Program) -> Env:
        """Process all declarations; errors go to the sink."""
        decls: list[ast.Decl] = []
        for written in prog.decls:
            # constants are declared before use: those above d are known here
            d = self.fold_structured_annotations(written)
            decls.append(d)
            self.env.decl_order.append(d)
            self.declare(d)
        for d in decls:
            self.check_scopes(d)
        self.instantiate_direct_calls()
        if self.env.main is None:
            where = prog.decls[-1].pos if prog.decls else Pos("<program>", 1, 1)
            self.sink.error(Pos(where.file, 1, 1, ""), "program has no 'main' package instance")
        return self.env

    def instantiate_direct_calls(self) -> None:
        """p4c's InstantiateDirectCalls: `C.apply(...)` on a control or parser type.

        Each such type gets a local instance of its own name (p4c's instance
        carries @name of the type), declared once per control or parser.
        """
        env = self.env
        for name, decl in list(env.controls.items()) + list(env.parsers.items()):
            taken = {p.name for p in decl.params}
            taken |= {d.name for d in decl.locals if hasattr(d, "name")}
            body = decl.body if isinstance(decl, ast.ControlDecl) else decl.states
            types = env.controls if isinstance(decl, ast.ControlDecl) else env.parsers
            extra: list[ast.Decl] = []
            for tname, pos in _direct_apply_calls(body):
                if tname in taken or tname not in types:
                    continue
                taken.add(tname)
                extra.append(ast.Instance(pos, ast.TypeRef(pos, "name", tname), (), tname))
            if not extra:
                continue
            new = replace(decl, locals=tuple(extra) + tuple(decl.locals))
            if isinstance(new, ast.ControlDecl):
                env.controls[name] = new
            else:
                env.parsers[name] = new
            env.decl_order = [new if d is decl else d for d in env.decl_order]

    def check_scopes(self, d: ast.Decl) -> None:
        """Report names declared twice in one scope (parameters, locals, states, blocks)."""

        def unique(items: list[tuple[str, Pos]], what: str) -> None:
            seen: set[str] = set()
            for name, pos in items:
                if name in seen:
                    self.sink.error(pos, f"duplicate declaration of {name!r} in {what}")
                seen.add(name)

        def block(b: ast.Stmt) -> None:
            match b:
                case ast.Block(stmts=stmts):
                    names: list[tuple[str, Pos]] = []
                    for st in stmts:
                        if isinstance(st, ast.VarDecl):
                            names.append((st.name, st.pos))
                        block(st)
                    unique(names, "a block")
                case ast.If(then=t, other=o):
                    block(t)
                    if o is not None:
                        block(o)
                case ast.For(body=body):
                    block(body)
                case ast.Switch(cases=cases):
                    for c in cases:
                        if c.body is not None:
                            block(c.body)

        def params(ps: tuple[ast.Param, ...]) -> list[tuple[str, Pos]]:
            return [(p.name, p.pos) for p in ps]

        def local_name(x: ast.Decl) -> tuple[str, Pos] | None:
            name = getattr(x, "name", None)
            pos = getattr(x, "pos", None)
            return (name, pos) if isinstance(name, str) and isinstance(pos, Pos) else None

        match d:
            case ast.ControlDecl(name=n, params=ps, ctor_params=cps, locals=ls, body=body):
                names = params(ps) + params(cps)
                names += [nm for x in ls if (nm := local_name(x)) is not None]
                unique(names, f"control {n!r}")
                for x in ls:
                    self.check_scopes(x)
                if body is not None:
                    block(body)
            case ast.ParserDecl(name=n, params=ps, ctor_params=cps, locals=ls, states=states):
                names = params(ps) + params(cps)
                names += [nm for x in ls if (nm := local_name(x)) is not None]
                unique(names, f"parser {n!r}")
                unique([(st.name, st.pos) for st in states or ()], f"parser {n!r}")
                for st in states or ():
                    block(ast.Block(st.pos, st.stmts))
            case (
                ast.ActionDecl(name=n, params=ps, body=body)
                | ast.FunctionDecl(name=n, params=ps, body=body)
            ):
                unique(params(ps), f"the parameters of {n!r}")
                block(body)

    def declare(self, d: ast.Decl) -> None:
        """Enter one top-level declaration into the environment."""
        env = self.env
        named = (
            ast.StructLike,
            ast.EnumDecl,
            ast.TypedefDecl,
            ast.ParserDecl,
            ast.ControlDecl,
            ast.ActionDecl,
            ast.VarDecl,
        )
        if isinstance(d, named) and not (
            isinstance(d, (ast.ParserDecl, ast.ControlDecl)) and d.name in self._types_only
        ):
            if d.name in self._seen:
                self.sink.error(d.pos, f"re-declaration of {d.name!r}")
            self._seen.add(d.name)
            if isinstance(d, (ast.ParserDecl, ast.ControlDecl)) and (
                (isinstance(d, ast.ParserDecl) and d.states is None)
                or (isinstance(d, ast.ControlDecl) and d.body is None)
            ):
                self._types_only.add(d.name)
        match d:
            case ast.StructLike(name=name, type_params=tps) if tps:
                # generic: specialized where a type names it with type arguments
                env.generic_structs[name] = d
            case ast.StructLike(kind=kind, name=name, fields=fields):
                fl: list[tuple[str, Type]] = []
                for f in fields:
                    ft = self.resolve(f.type)
                    if f.type.kind == "name":
                        env.field_type_names[(name, f.name)] = f.type.name
                    external = ast.annotation_str(f.annotations, "name")
                    if external is not None:
                        env.field_names[(name, f.name)] = external
                    if f.annotations:
                        env.field_annos[(name, f.name)] = f.annotations
                    if kind == "header" and isinstance(ft, StructT) and ft.kind == "struct":
                        # p4c's FlattenHeaders: the struct's fields become header
                        # fields named by their path joined with '_'
                        flat = self.flatten_struct(ft, f.name, f.pos, name)
                        if flat is not None:
                            env.header_structs[(name, f.name)] = ft
                            fl.extend(flat)
                            continue
                    if kind == "header" and not isinstance(ft, (Bits, BoolT, EnumT, VarbitT)):
                        self.sink.error(
                            f.pos, f"unsupported field type {type_str(ft)!r} in header {name!r}"
                        )
                    fl.append((f.name, ft))
                env.types[name] = StructT(kind, name, tuple(fl))
                env.struct_annos[name] = d.annotations
            case ast.EnumDecl(name=name, members=members, base=base):
                bt = self.resolve(base) if base else None
                vals: list[int] = []
                if bt is not None:
                    if not isinstance(bt, Bits):
                        self.sink.error(d.pos, f"enum {name!r} needs a bit<W> or int<W> base type")
                        bt = None
                    for mname, mval in members:
                        if mval is None:
                            self.sink.error(
                                d.pos, f"member {mname!r} of enum {name!r} needs a value"
                            )
                            vals.append(0)
                        else:
                            vals.append(self.const_int(mval) or 0)
                env.types[name] = EnumT(
                    name,
                    tuple(m for m, _ in members),
                    bt if isinstance(bt, Bits) else None,
                    tuple(vals),
                )
                env.enum_decls[name] = d
            case ast.TypedefDecl(type=ty, name=name, is_new=is_new):
                env.types[name] = self.resolve(ty)
                if ty.kind == "name":
                    env.type_targets[name] = ty.name
                if is_new:
                    env.newtypes[name] = d.annotations
            case ast.ErrorDecl(kind="error", members=members):
                for m in members:
                    if m not in env.errors:
                        env.errors.append(m)
            case ast.ErrorDecl(members=members):
                env.match_kinds.extend(m for m in members if m not in env.match_kinds)
            case ast.ExternDecl(func=None, name=name):
                env.externs[name] = d
                env.types[name] = ExternT(name)
            case ast.ExternDecl(func=func) if func is not None:
                env.functions.setdefault(d.name, func)
            case ast.ActionDecl(name=name):
                env.actions[name] = d
            case ast.ParserDecl(states=None):
                pass
            case ast.ParserDecl(name=name):
                env.parsers[name] = d
            case ast.ControlDecl(body=None):
                pass
            case ast.ControlDecl(name=name):
                env.controls[name] = d
            case ast.PackageDecl():
                pass
            case ast.VarDecl(is_const=True, name=name, type=sty, init=init) if (
                init is not None
                and isinstance(st := self.resolve(sty), StructT)
                and st.kind == "struct"
            ):
                values = self.const_struct(st, init)
                if values is not None:
                    env.struct_consts[name] = (st, values)
            case ast.VarDecl(is_const=True, name=name, type=ty, init=init):
                t = self.resolve(ty)
                if init is not None:
                    v = self.const_int(init)
                    if v is not None:
                        if isinstance(t, Bits):
                            v = wrap(v, t)
                        env.consts[name] = (t, v)
            case ast.Instance(name="main"):
                env.main = d
            case ast.Instance(type=ty) if ty.name in env.parsers or ty.name in env.controls:
                env.instances[d.name] = ty.name
            case ast.Instance():
                self.sink.error(d.pos, f"unsupported top-level instance {d.name!r}")
            case ast.FunctionDecl(name=name):
                env.p4functions[name] = d
            case _:
                self.sink.error(d.pos, f"unsupported declaration {type(d).__name__}")

    def specialize(self, t: ast.TypeRef, tparams: dict[str, Type] | None) -> Type:
        """A generic struct or header with its type arguments (p4c's SpecializeGenericTypes).

        Each specialization is a type of its own, named '<name>_<n>' in the order
        they are first used.
        """
        decl = self.env.generic_structs[t.name]
        args = tuple(self.resolve(a, tparams) for a in t.args)
        if len(args) != len(decl.type_params):
            self.sink.error(
                t.pos,
                f"{t.name!r} takes {len(decl.type_params)} type argument(s), got {len(args)}",
            )
            return AnyT(t.name)
        key = (t.name, args)
        if key not in self.env.specializations:
            n = sum(1 for k in self.env.specializations if k[0] == t.name)
            sname = f"{t.name}_{n}"
            bindings = dict(zip(decl.type_params, args, strict=True))
            fl = [(f.name, self.resolve(f.type, bindings)) for f in decl.fields]
            for f, (_, ft) in zip(decl.fields, fl, strict=True):
                if decl.kind == "header" and not isinstance(ft, (Bits, BoolT, EnumT, VarbitT)):
                    self.sink.error(
                        f.pos, f"unsupported field type {type_str(ft)!r} in header {t.name!r}"
                    )
            st = StructT(decl.kind, sname, tuple(fl))
            self.env.specializations[key] = st
            self.env.types[sname] = st
            self.env.struct_annos[sname] = decl.annotations
        return self.env.specializations[key]

    def flatten_struct(
        self, st: StructT, prefix: str, pos: Pos, header: str
    ) -> list[tuple[str, Type]] | None:
        """The fields of a struct inside a header, flattened; None after an error."""
        out: list[tuple[str, Type]] = []
        for n, ft in st.fields:
            if isinstance(ft, StructT) and ft.kind == "struct":
                inner = self.flatten_struct(ft, f"{prefix}_{n}", pos, header)
                if inner is None:
                    return None
                out.extend(inner)
            elif isinstance(ft, (Bits, BoolT, EnumT)):
                out.append((f"{prefix}_{n}", ft))
            else:
                self.sink.error(
                    pos, f"unsupported field type {type_str(ft)!r} in header {header!r}"
                )
                return None
        return out

    # ------------------------------------------------------------ types
    def resolve(self, t: ast.TypeRef, tparams: dict[str, Type] | None = None) -> Type:
        """Semantic type of a written type."""
        match t.kind:
            case "bit" | "int":
                w = self.const_int(t.width) if t.width is not None else None
                if t.width is None and t.kind == "int":
                    return InfInt()
                if w is None or w <= 0:
                    self.sink.error(
                        t.pos, f"invalid width for {t.kind}: expected a positive constant"
                    )
                    return Bits(1, t.kind == "int")
                return Bits(w, t.kind == "int")
            case "varbit":
                w = self.const_int(t.width) if t.width is not None else None
                if w is None or w <= 0:
                    self.sink.error(t.pos, "invalid width for varbit: expected a positive constant")
                    return VarbitT(8)
                return VarbitT(w)
            case "bool":
                return BoolT()
            case "error":
                return ErrorT()
            case "string":
                return StringT()
            case "void":
                return VoidT()
            case "dontcare":
                return AnyT("_")
            case "tuple":
                return TupleT(tuple(self.resolve(a, tparams) for a in t.args))
            case "stack":
                base = self.resolve(t.args[0], tparams)
                size = self.const_int(t.size) if t.size is not None else None
                if (
                    not isinstance(base, StructT)
                    or base.kind not in ("header", "header_union")
                    or not size
                ):
                    self.sink.error(t.pos, "unsupported header stack: expected header[constant]")
                    return AnyT()
                return StackT(base, size)
            case _:
                if tparams and t.name in tparams:
                    return tparams[t.name]
                if t.name in self.type_bindings:
                    return self.type_bindings[t.name]
                if t.name in self.env.generic_structs:
                    return self.specialize(t, tparams)
                found = self.env.types.get(t.name)
                if found is None:
                    if t.name in ("packet_in", "packet_out"):
                        return ExternT(t.name)
                    if (
                        t.name in self.env.parsers
                        or t.name in self.env.controls
                        or t.name in self._types_only
                    ):
                        # a parser or control type: constructor parameters take instances
                        return ExternT(t.name)
                    self.sink.error(t.pos, f"undeclared type {t.name!r}")
                    return AnyT(t.name)
                if isinstance(found, ExternT) and t.args:
                    decl = self.env.externs.get(found.name)
                    if decl is not None and len(decl.type_params) != len(t.args):
                        self.sink.error(
                            t.pos,
                            f"type {found.name!r} has {len(decl.type_params)} type "
                            f"parameter(s), but it is specialized with {len(t.args)}",
                        )
                    return ExternT(found.name, tuple(self.resolve(a, tparams) for a in t.args))
                return found

    # ------------------------------------------------------------ structured annotations
    def fold_structured_annotations(self, d: ast.Decl) -> ast.Decl:
        """d with each structured annotation checked and its values folded to literals.

        p4c's rules: one structured annotation of a name per element, never
        beside an unstructured one of that name nor in place of a predefined
        annotation; no key twice; every value a compile-time constant of type
        int, string or bool (an int within int64), which P4Info carries.
        """
        out = _map_annotations(d, self._check_run, self._fold_structured)
        assert isinstance(out, type(d))
        return out

    def _check_run(self, annos: tuple[ast.Annotation, ...]) -> None:
        """The rules between the annotations of one element."""
        structured: set[str] = set()
        unstructured = {a.name for a in annos if not a.structured}
        for a in annos:
            if not a.structured:
                continue
            if a.name in PREDEFINED_ANNOTATIONS:
                self.sink.error(
                    a.pos,
                    f"@{a.name}[...]: {a.name!r} is a predefined annotation, "
                    f"written @{a.name}(...)",
                )
            elif a.name in unstructured:
                self.sink.error(
                    a.pos,
                    f"@{a.name}[...]: an element cannot have both a structured and an "
                    f"unstructured annotation called {a.name!r}",
                )
            elif a.name in structured:
                self.sink.error(
                    a.pos,
                    f"@{a.name}[...]: a structured annotation may appear only once on an element",
                )
            structured.add(a.name)

    def _fold_structured(self, a: ast.Annotation) -> ast.Annotation:
        """A structured annotation with literal values (errors for what cannot be one)."""
        keys: set[str] = set()
        for pair in a.kv:
            if pair.key in keys:
                self.sink.error(
                    pair.pos, f"@{a.name}[...]: duplicate key {pair.key!r} in the key-value list"
                )
            keys.add(pair.key)
        args = tuple(self._annotation_literal(a.name, e) for e in a.args)
        kv = tuple(replace(p, value=self._annotation_literal(a.name, p.value)) for p in a.kv)
        return replace(a, args=args, kv=kv)

    def _annotation_literal(self, name: str, e: ast.Expr) -> ast.Expr:
        """The literal a structured annotation's value folds to (e itself after an error)."""
        try:
            v = self._annotation_value(e)
        except _AnnotationValueError as exc:
            self.sink.error(exc.pos, f"@{name}[...]: {exc}")
            return e
        if isinstance(v, bool):
            return ast.BoolLit(e.pos, v)
        if isinstance(v, str):
            return ast.StrLit(e.pos, v)
        if not -(1 << 63) <= v < 1 << 63:
            self.sink.error(
                e.pos,
                f"@{name}[...]: integer {v} in structured annotation must fit in int64, "
                "consider using a string literal for larger values",
            )
            return e
        return ast.IntLit(e.pos, v)

    def _annotation_value(self, e: ast.Expr) -> int | bool | str:
        """Evaluate a structured annotation's value: an int, a bool or a string."""
        match e:
            case ast.StrLit(value=text):
                return text
            case ast.BoolLit(value=flag):
                return flag
            case ast.IntLit(value=v, width=None):
                return v
            case ast.IntLit(width=w, signed=s):
                raise _AnnotationValueError.illegal(e.pos, f"{'int' if s else 'bit'}<{w}>")
            case ast.Name(name=n) if n in self.env.consts:
                t, v = self.env.consts[n]
                if isinstance(t, InfInt):
                    return v
                if isinstance(t, BoolT):
                    return bool(v)
                raise _AnnotationValueError.illegal(e.pos, type_str(t))
            case ast.Unary(op="-", expr=x):
                operand = self._annotation_value(x)
                if isinstance(operand, bool) or not isinstance(operand, int):
                    raise _AnnotationValueError.illegal(e.pos, _value_type(operand))
                return -operand
            case ast.Unary(op="!", expr=x):
                operand = self._annotation_value(x)
                if not isinstance(operand, bool):
                    raise _AnnotationValueError.illegal(e.pos, _value_type(operand))
                return not operand
            case ast.Binary(op=op, left=left, right=right):
                return _annotation_binary(
                    e.pos, op, self._annotation_value(left), self._annotation_value(right)
                )
            case _:
                raise _AnnotationValueError(
                    e.pos, "structured annotation must be compile-time constant values"
                )

    # ------------------------------------------------------------ constants
    def const_int(self, e: ast.Expr | None) -> int | None:
        """Value of a compile-time integer expression, or None (with an error)."""
        if e is None:
            return None
        v = self._fold(e)
        if v is None:
            self.sink.error(e.pos, "expected a compile-time constant expression")
        return v

    def fold(self, e: ast.Expr) -> int | None:
        """Value of a compile-time integer expression, or None (no error)."""
        return self._fold(e)

    def _fold(self, e: ast.Expr) -> int | None:
        match e:
            case ast.IntLit(value=v, width=w, signed=s):
                return wrap(v, Bits(w, s)) if w else v
            case ast.BoolLit(value=flag):
                return int(flag)
            case ast.Name(name=n) if n in self.env.consts:
                return self.env.consts[n][1]
            case ast.Member(expr=ast.Name(name=tn), name=m) if isinstance(
                self.env.types.get(tn), EnumT
            ):
                # a member of a serializable enum is its value
                et = self.env.types[tn]
                assert isinstance(et, EnumT)
                if et.base is None or m not in et.members:
                    return None
                return et.values[et.members.index(m)]
            case ast.Unary(op="-", expr=x):
                neg = self._fold(x)
                return None if neg is None else -neg
            case ast.Unary(op="~", expr=x):
                inv = self._fold(x)
                return None if inv is None else ~inv
            case ast.Cast(type=ty, expr=x):
                inner = self._fold(x)
                t = self.resolve(ty)
                if inner is None:
                    return None
                return wrap(inner, t) if isinstance(t, Bits) else inner
            case ast.Binary(op=op, left=l, right=r):
                a, b = self._fold(l), self._fold(r)
                if a is None or b is None:
                    return None
                return fold_binary(op, a, b)
            case ast.Member() if (value := self.struct_const_member(e)) is not None:
                return value
            case ast.Call(func=ast.Name(name="static_assert")) if (
                "static_assert" in self.env.functions
            ):
                return self.static_assert(e)
            case _:
                return None

    def const_struct(self, st: StructT, init: ast.Expr) -> StructValue | None:
        """The member values of a struct constant's initializer (a list or struct expression)."""
        if not isinstance(init, ast.ListExpr) or init.rest:
            self.sink.error(init.pos, f"expected a struct expression for {st.name!r}")
            return None
        names = init.names or tuple(n for n, _ in st.fields)
        if len(names) != len(st.fields) or len(init.items) != len(st.fields):
            self.sink.error(init.pos, f"{st.name!r} has {len(st.fields)} fields")
            return None
        out: StructValue = {}
        for n, item in zip(names, init.items, strict=True):
            ft = st.field(n)
            if ft is None:
                self.sink.error(item.pos, f"struct {st.name!r} has no field {n!r}")
                return None
            if isinstance(ft, StructT) and ft.kind == "struct":
                inner = self.const_struct(ft, item)
                if inner is None:
                    return None
                out[n] = inner
                continue
            v = self.const_int(item)
            if v is None:
                return None
            out[n] = wrap(v, ft) if isinstance(ft, Bits) else v
        return out

    def struct_const_member(self, e: ast.Member) -> int | None:
        """The value of `K.f.g` where K is a struct constant, or None."""
        path: list[str] = []
        node: ast.Expr = e
        while isinstance(node, ast.Member):
            path.append(node.name)
            node = node.expr
        if not isinstance(node, ast.Name) or node.name not in self.env.struct_consts:
            return None
        value: int | StructValue = self.env.struct_consts[node.name][1]
        for n in reversed(path):
            if not isinstance(value, dict) or n not in value:
                return None
            value = value[n]
        return value if isinstance(value, int) else None

    def static_assert(self, call: ast.Call) -> int | None:
        """Evaluate ``static_assert(check[, message])``: 1, or an error when check is false."""
        if not 1 <= len(call.args) <= 2:
            self.sink.error(call.pos, "static_assert takes 1 or 2 arguments")
            return None
        check = self._fold(call.args[0].expr)
        if check is None:
            self.sink.error(call.args[0].pos, "static_assert needs a compile-time constant")
            return None
        if not check:
            message = "static_assert failed"
            if len(call.args) == 2 and isinstance(call.args[1].expr, ast.StrLit):
                message = call.args[1].expr.value
            self.sink.error(call.pos, message)
        return 1


# annotations p4c parses itself: never written as structured annotations
PREDEFINED_ANNOTATIONS = frozenset(
    {
        "atomic",
        "brief",
        "command_line",
        "controller_header",
        "defaultonly",
        "deprecated",
        "description",
        "disable_optimization",
        "field_list",
        "hidden",
        "id",
        "length",
        "likely",
        "match",
        "max_group_size",
        "max_member_weight",
        "name",
        "noSideEffects",
        "noWarn",
        "nounroll",
        "optional",
        "p4runtime_translation",
        "persistent",
        "pkginfo",
        "pure",
        "selector_size_semantics",
        "synchronous",
        "tableonly",
        "unlikely",
        "unroll",
    }
)


class _AnnotationValueError(Exception):
    """A structured annotation's value that P4Info cannot carry."""

    def __init__(self, pos: Pos, message: str) -> None:
        super().__init__(message)
        self.pos = pos

    @classmethod
    def illegal(cls, pos: Pos, type_name: str) -> _AnnotationValueError:
        """A value of another type than int, string or bool."""
        return cls(
            pos,
            f"illegal type {type_name} for structured annotation; must be int, string or bool",
        )


def _value_type(v: int | bool | str) -> str:
    return "bool" if isinstance(v, bool) else "string" if isinstance(v, str) else "int"


def _annotation_binary(
    pos: Pos, op: str, a: int | bool | str, b: int | bool | str
) -> int | bool | str:
    """`a op b` for the values of a structured annotation."""
    ta, tb = _value_type(a), _value_type(b)
    if ta != tb:
        raise _AnnotationValueError(pos, f"cannot apply {op!r} to {ta} and {tb}")
    if op in ("==", "!="):
        return (a == b) == (op == "==")
    if ta == "bool" and op in ("&&", "||"):
        return (a and b) if op == "&&" else (a or b)
    if ta == "int" and isinstance(a, int) and isinstance(b, int):
        if op in ("<", ">", "<=", ">="):
            return bool(fold_binary(op, a, b))
        if op in ("+", "-", "*", "/", "%", "<<", ">>", "&", "|", "^"):
            if op in ("/", "%") and (b <= 0 or a < 0):
                raise _AnnotationValueError(
                    pos, f"{op!r} needs a non-negative and a positive operand"
                )
            if op in ("<<", ">>") and b < 0:
                raise _AnnotationValueError(pos, f"{op!r} needs a non-negative shift amount")
            value = fold_binary(op, a, b)
            assert value is not None
            return value
    raise _AnnotationValueError(pos, f"cannot apply {op!r} to {ta} values")


def _map_annotations(
    node: object,
    check_run: Callable[[tuple[ast.Annotation, ...]], None],
    fold: Callable[[ast.Annotation], ast.Annotation],
) -> object:
    """node with fold applied to every structured annotation under it (shared where unchanged)."""
    if isinstance(node, ast.Annotation):
        return fold(node) if node.structured else node
    if isinstance(node, tuple):
        if node and all(isinstance(x, ast.Annotation) for x in node):
            check_run(node)  # one element's annotations
        items = tuple(_map_annotations(x, check_run, fold) for x in node)
        return items if any(x is not y for x, y in zip(items, node, strict=True)) else node
    if isinstance(node, Pos) or not is_dataclass(node) or isinstance(node, type):
        return node
    changes = {}
    for f in fields(node):
        value = getattr(node, f.name)
        new = _map_annotations(value, check_run, fold)
        if new is not value:
            changes[f.name] = new
    return replace(node, **changes) if changes else node


def wrap(v: int, t: Bits) -> int:
    """Reduce v to the value range of t (two's complement for int<W>)."""
    v &= (1 << t.width) - 1
    if t.signed and v >> (t.width - 1):
        v -= 1 << t.width
    return v


def fold_binary(op: str, a: int, b: int) -> int | None:
    """Infinite-precision value of `a op b`, or None if not foldable."""
    match op:
        case "+":
            return a + b
        case "-":
            return a - b
        case "*":
            return a * b
        case "/":
            return a // b if b else None
        case "%":
            return a % b if b else None
        case "<<":
            return a << b
        case ">>":
            return a >> b
        case "&":
            return a & b
        case "|":
            return a | b
        case "^":
            return a ^ b
        case "==":
            return int(a == b)
        case "!=":
            return int(a != b)
        case "<":
            return int(a < b)
        case ">":
            return int(a > b)
        case "<=":
            return int(a <= b)
        case ">=":
            return int(a >= b)
        case "&&":
            return int(bool(a) and bool(b))
        case "||":
            return int(bool(a) or bool(b))
    return None
