"""AST of P4-16 programs: frozen dataclasses, each with a source position.

Imports only `diagnostics` (for Pos).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from p4lite.compiler.diagnostics import Pos

logger = logging.getLogger(__name__)

# ---------------------------------------------------------------- annotations


@dataclass(frozen=True, slots=True)
class KeyValue:
    """`key=value`, one pair of a structured annotation's key-value list."""

    pos: Pos
    key: str
    value: Expr


@dataclass(frozen=True, slots=True)
class Annotation:
    """`@name(args)`; args are expressions when parseable.

    A structured annotation, `@name[...]`, has structured set and either an
    expression list (args) or a key-value list (kv); `@name[]` has neither.
    """

    pos: Pos
    name: str
    args: tuple[Expr, ...] = ()
    structured: bool = False
    kv: tuple[KeyValue, ...] = ()


# ---------------------------------------------------------------- types


@dataclass(frozen=True, slots=True)
class TypeRef:
    """A type as written; kind: bit int varbit bool error string void name tuple stack dontcare."""

    pos: Pos
    kind: str
    name: str = ""
    width: Expr | None = None
    args: tuple[TypeRef, ...] = ()
    size: Expr | None = None


# ---------------------------------------------------------------- expressions


@dataclass(frozen=True, slots=True)
class IntLit:
    """Integer literal; width None means an infinite-precision `int`."""

    pos: Pos
    value: int
    width: int | None = None
    signed: bool = False


@dataclass(frozen=True, slots=True)
class BoolLit:
    """`true` or `false`."""

    pos: Pos
    value: bool


@dataclass(frozen=True, slots=True)
class StrLit:
    """A string literal."""

    pos: Pos
    value: str


@dataclass(frozen=True, slots=True)
class Name:
    """A reference to a declaration; dot_prefix for `.x`."""

    pos: Pos
    name: str


@dataclass(frozen=True, slots=True)
class Member:
    """`expr.name`."""

    pos: Pos
    expr: Expr
    name: str


@dataclass(frozen=True, slots=True)
class Index:
    """`expr[index]`."""

    pos: Pos
    expr: Expr
    index: Expr


@dataclass(frozen=True, slots=True)
class Slice:
    """`expr[hi:lo]`."""

    pos: Pos
    expr: Expr
    hi: Expr
    lo: Expr


@dataclass(frozen=True, slots=True)
class Unary:
    """Unary `-`, `~`, `!`."""

    pos: Pos
    op: str
    expr: Expr


@dataclass(frozen=True, slots=True)
class Binary:
    """Binary operators including `&&&` (mask) and `..` (range) in keysets."""

    pos: Pos
    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Ternary:
    """`cond ? a : b`."""

    pos: Pos
    cond: Expr
    then: Expr
    other: Expr


@dataclass(frozen=True, slots=True)
class Cast:
    """`(type) expr`."""

    pos: Pos
    type: TypeRef
    expr: Expr


@dataclass(frozen=True, slots=True)
class Arg:
    """A call argument, optionally named; `_` is a dont-care Default."""

    pos: Pos
    name: str | None
    expr: Expr


@dataclass(frozen=True, slots=True)
class Call:
    """`func<type_args>(args)`."""

    pos: Pos
    func: Expr
    type_args: tuple[TypeRef, ...]
    args: tuple[Arg, ...]


@dataclass(frozen=True, slots=True)
class ListExpr:
    """`{a, b, c}`; names set for `{f = a, g = b}`; rest for a final `...`."""

    pos: Pos
    items: tuple[Expr, ...]
    names: tuple[str, ...] = ()
    rest: bool = False


@dataclass(frozen=True, slots=True)
class InvalidHeader:
    """`{#}`: an invalid header (or header union)."""

    pos: Pos


@dataclass(frozen=True, slots=True)
class Default:
    """`default` or `_` in a keyset or argument."""

    pos: Pos


@dataclass(frozen=True, slots=True)
class TypeExpr:
    """A type used where an expression is expected (e.g. `sizeInBits(h_t)`)."""

    pos: Pos
    type: TypeRef


Expr = (
    IntLit
    | BoolLit
    | StrLit
    | Name
    | Member
    | Index
    | Slice
    | Unary
    | Binary
    | Ternary
    | Cast
    | Call
    | ListExpr
    | InvalidHeader
    | Default
    | TypeExpr
)

# ---------------------------------------------------------------- statements


@dataclass(frozen=True, slots=True)
class Assign:
    """`lhs = rhs;`."""

    pos: Pos
    lhs: Expr
    rhs: Expr


@dataclass(frozen=True, slots=True)
class CallStmt:
    """A call used as a statement."""

    pos: Pos
    call: Call


@dataclass(frozen=True, slots=True)
class If:
    """`if (cond) then else other`."""

    pos: Pos
    cond: Expr
    then: Stmt
    other: Stmt | None


@dataclass(frozen=True, slots=True)
class Block:
    """`{ stmts }`."""

    pos: Pos
    stmts: tuple[Stmt, ...]


@dataclass(frozen=True, slots=True)
class Exit:
    """`exit;`."""

    pos: Pos


@dataclass(frozen=True, slots=True)
class Return:
    """`return;` (value-less in controls and actions)."""

    pos: Pos
    value: Expr | None = None


@dataclass(frozen=True, slots=True)
class SwitchCase:
    """One switch case: labels (names or Default) and a body (None = fall through)."""

    pos: Pos
    labels: tuple[Expr, ...]
    body: Block | None


@dataclass(frozen=True, slots=True)
class Switch:
    """`switch (expr) { cases }`."""

    pos: Pos
    expr: Expr
    cases: tuple[SwitchCase, ...]


@dataclass(frozen=True, slots=True)
class VarDecl:
    """A local variable or constant declaration."""

    pos: Pos
    type: TypeRef
    name: str
    init: Expr | None
    is_const: bool = False
    annotations: tuple[Annotation, ...] = ()


@dataclass(frozen=True, slots=True)
class Empty:
    """`;`."""

    pos: Pos


@dataclass(frozen=True, slots=True)
class For:
    """`for (init; cond; update) body` (P4-16 1.2.5)."""

    pos: Pos
    init: tuple[Stmt, ...]
    cond: Expr | None
    update: tuple[Stmt, ...]
    body: Stmt


@dataclass(frozen=True, slots=True)
class Break:
    """`break;` inside a loop."""

    pos: Pos


@dataclass(frozen=True, slots=True)
class Continue:
    """`continue;` inside a loop."""

    pos: Pos


Stmt = (
    Assign
    | CallStmt
    | If
    | Block
    | Exit
    | Return
    | Switch
    | VarDecl
    | Empty
    | For
    | Break
    | Continue
)

# ---------------------------------------------------------------- declarations


@dataclass(frozen=True, slots=True)
class Field:
    """A struct/header field."""

    pos: Pos
    type: TypeRef
    name: str
    annotations: tuple[Annotation, ...] = ()


@dataclass(frozen=True, slots=True)
class StructLike:
    """header, header_union or struct declaration (kind names which), maybe generic."""

    pos: Pos
    kind: str
    name: str
    fields: tuple[Field, ...]
    annotations: tuple[Annotation, ...] = ()
    type_params: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class EnumDecl:
    """`enum [bit<W>] Name { A [= v], ... }`."""

    pos: Pos
    name: str
    members: tuple[tuple[str, Expr | None], ...]
    base: TypeRef | None = None
    annotations: tuple[Annotation, ...] = ()


@dataclass(frozen=True, slots=True)
class TypedefDecl:
    """`typedef T name;` or `type T name;` (is_new)."""

    pos: Pos
    type: TypeRef
    name: str
    is_new: bool = False
    annotations: tuple[Annotation, ...] = ()


@dataclass(frozen=True, slots=True)
class ErrorDecl:
    """`error { ... }` or `match_kind { ... }`."""

    pos: Pos
    kind: str
    members: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Param:
    """A parameter with direction ('' when directionless)."""

    pos: Pos
    direction: str
    type: TypeRef
    name: str
    default: Expr | None = None
    annotations: tuple[Annotation, ...] = ()


@dataclass(frozen=True, slots=True)
class Method:
    """An extern method, constructor or extern function prototype."""

    pos: Pos
    name: str
    ret: TypeRef | None
    params: tuple[Param, ...]
    type_params: tuple[str, ...] = ()
    annotations: tuple[Annotation, ...] = ()


@dataclass(frozen=True, slots=True)
class ExternDecl:
    """`extern Name<T> { methods }` (methods) or an extern function (func)."""

    pos: Pos
    name: str
    type_params: tuple[str, ...]
    methods: tuple[Method, ...]
    func: Method | None = None
    annotations: tuple[Annotation, ...] = ()


@dataclass(frozen=True, slots=True)
class ActionDecl:
    """`action name(params) { body }`."""

    pos: Pos
    name: str
    params: tuple[Param, ...]
    body: Block
    annotations: tuple[Annotation, ...] = ()


@dataclass(frozen=True, slots=True)
class KeyElem:
    """A table key: `expr : match_kind @annotations;`."""

    pos: Pos
    expr: Expr
    match_kind: str
    annotations: tuple[Annotation, ...] = ()


@dataclass(frozen=True, slots=True)
class ActionRef:
    """An entry of a table's `actions` list."""

    pos: Pos
    name: str
    args: tuple[Arg, ...] | None
    annotations: tuple[Annotation, ...] = ()


@dataclass(frozen=True, slots=True)
class Entry:
    """A table entry: keyset, action call, optional priority.

    ``priority_kw`` tells a `priority = N:` prefix (P4's priority, see
    `largest_priority_wins`) from a trailing `@priority(N)` (BMv2's, lower
    wins); ``is_const`` is an entry's own `const`.
    """

    pos: Pos
    keys: tuple[Expr, ...]
    action: ActionRef
    priority: Expr | None = None
    priority_kw: bool = False
    is_const: bool = False


@dataclass(frozen=True, slots=True)
class TableProp:
    """A table property; value depends on name (keys, actions, entries or an expression)."""

    pos: Pos
    name: str
    is_const: bool
    keys: tuple[KeyElem, ...] = ()
    actions: tuple[ActionRef, ...] = ()
    entries: tuple[Entry, ...] = ()
    value: Expr | None = None
    annotations: tuple[Annotation, ...] = ()


@dataclass(frozen=True, slots=True)
class TableDecl:
    """`table name { props }`."""

    pos: Pos
    name: str
    props: tuple[TableProp, ...]
    annotations: tuple[Annotation, ...] = ()


@dataclass(frozen=True, slots=True)
class Instance:
    """`Type<args>(ctor args) name;`."""

    pos: Pos
    type: TypeRef
    args: tuple[Arg, ...]
    name: str
    annotations: tuple[Annotation, ...] = ()


@dataclass(frozen=True, slots=True)
class SelectCase:
    """`keyset : state;`."""

    pos: Pos
    keyset: Expr
    state: str


@dataclass(frozen=True, slots=True)
class Transition:
    """`transition state;` (state) or `transition select(...) {...}`."""

    pos: Pos
    state: str | None
    select: tuple[Expr, ...] = ()
    cases: tuple[SelectCase, ...] = ()


@dataclass(frozen=True, slots=True)
class State:
    """A parser state."""

    pos: Pos
    name: str
    stmts: tuple[Stmt, ...]
    transition: Transition | None
    annotations: tuple[Annotation, ...] = ()


@dataclass(frozen=True, slots=True)
class ValueSetDecl:
    """`value_set<T>(size) name;`."""

    pos: Pos
    type: TypeRef
    size: Expr
    name: str
    annotations: tuple[Annotation, ...] = ()


@dataclass(frozen=True, slots=True)
class ParserDecl:
    """A parser declaration (or type declaration when states is None)."""

    pos: Pos
    name: str
    params: tuple[Param, ...]
    ctor_params: tuple[Param, ...]
    locals: tuple[Decl, ...]
    states: tuple[State, ...] | None
    type_params: tuple[str, ...] = ()
    annotations: tuple[Annotation, ...] = ()


@dataclass(frozen=True, slots=True)
class ControlDecl:
    """A control declaration (or type declaration when body is None)."""

    pos: Pos
    name: str
    params: tuple[Param, ...]
    ctor_params: tuple[Param, ...]
    locals: tuple[Decl, ...]
    body: Block | None
    type_params: tuple[str, ...] = ()
    annotations: tuple[Annotation, ...] = ()


@dataclass(frozen=True, slots=True)
class PackageDecl:
    """`package Name<T>(params);`."""

    pos: Pos
    name: str
    params: tuple[Param, ...]
    type_params: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FunctionDecl:
    """A P4 function with a body."""

    pos: Pos
    name: str
    ret: TypeRef
    params: tuple[Param, ...]
    body: Block
    type_params: tuple[str, ...] = ()


Decl = (
    StructLike
    | EnumDecl
    | TypedefDecl
    | ErrorDecl
    | ExternDecl
    | ActionDecl
    | TableDecl
    | Instance
    | VarDecl
    | ParserDecl
    | ControlDecl
    | PackageDecl
    | FunctionDecl
    | ValueSetDecl
)


@dataclass(frozen=True, slots=True)
class Program:
    """A whole program: top-level declarations in order."""

    decls: tuple[Decl, ...]


def annotation(annos: tuple[Annotation, ...], name: str) -> Annotation | None:
    """The (unstructured) annotation called `name`, if any."""
    for a in annos:
        if a.name == name and not a.structured:
            return a
    return None


def annotation_str(annos: tuple[Annotation, ...], name: str) -> str | None:
    """The string argument of annotation `name`, if present."""
    a = annotation(annos, name)
    if a and a.args and isinstance(a.args[0], StrLit):
        return a.args[0].value
    return None
