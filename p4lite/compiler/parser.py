"""Recursive-descent parser: tokens to an `ast.Program`.

Imports `ast`, `lexer` and `diagnostics`. Like p4c's lexer it tracks which
identifiers name types, which resolves `<` between generics and less-than.
"""

from __future__ import annotations

import logging

from p4lite.compiler import ast
from p4lite.compiler.diagnostics import CompileError, Diagnostic, Pos, Sink
from p4lite.compiler.lexer import Token

logger = logging.getLogger(__name__)

# The spec's compound assignments: ``a op= b`` is ``a = a op b``.
COMPOUND_ASSIGN = frozenset(
    ("+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<=", ">>=", "|+|=", "|-|=")
)

# binary operator precedence, higher binds tighter (p4c's grammar order)
_BINPREC: dict[str, int] = {
    "||": 1,
    "&&": 2,
    "==": 3,
    "!=": 3,
    "<": 4,
    ">": 4,
    "<=": 4,
    ">=": 4,
    "|": 5,
    "^": 6,
    "&": 7,
    "<<": 8,
    ">>": 8,
    "++": 9,
    "+": 9,
    "-": 9,
    "|+|": 9,
    "|-|": 9,
    "*": 10,
    "/": 10,
    "%": 10,
}
_BASE_TYPES = frozenset(
    {"bit", "int", "varbit", "bool", "error", "string", "void", "tuple", "list"}
)


class _SyntaxError(Exception):
    """Internal: a syntax error at a token."""

    def __init__(self, diag: Diagnostic) -> None:
        self.diag = diag
        super().__init__(diag.message)


class Parser:
    """Parses one token list; use `parse_program`."""

    def __init__(self, toks: list[Token]) -> None:
        self.toks = toks
        self.i = 0
        self.type_names: set[str] = {"packet_in", "packet_out"}

    # ------------------------------------------------------------ helpers
    @property
    def tok(self) -> Token:
        """The current token."""
        return self.toks[self.i]

    def peek(self, k: int = 1) -> Token:
        """The token k positions ahead."""
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def fail(self, msg: str, tok: Token | None = None) -> _SyntaxError:
        """A syntax error at a token."""
        t = tok or self.tok
        return _SyntaxError(Diagnostic(t.pos, msg))

    def at(self, kind: str) -> bool:
        """Whether the current token has this kind."""
        return self.tok.kind == kind

    def accept(self, kind: str) -> Token | None:
        """Consume the current token if it has this kind."""
        if self.tok.kind == kind:
            t = self.tok
            self.i += 1
            return t
        return None

    def expect(self, kind: str, what: str = "") -> Token:
        """Consume a token of this kind or fail (splitting '>>' when closing generics)."""
        if self.tok.kind == kind:
            t = self.tok
            self.i += 1
            return t
        if kind == ">" and self.tok.kind in (">>", ">=", ">>="):
            # split '>>' when it closes two generic argument lists
            t = self.tok
            rest = t.kind[1:]
            self.toks[self.i] = Token(
                rest, rest, Pos(t.pos.file, t.pos.line, t.pos.col + 1, t.pos.text)
            )
            return Token(">", ">", t.pos)
        shown = self.tok.text or "end of input"
        raise self.fail(f"syntax error: expected {what or repr(kind)}, got {shown!r}")

    def ident(self) -> Token:
        """Consume an identifier (or a contextual keyword used as one)."""
        # some keywords are valid names in member/method positions
        if self.tok.kind == "ID" or self.tok.kind in (
            "apply",
            "key",
            "actions",
            "state",
            "type",
            "entries",
            "priority",
            "value_set",
        ):
            t = self.tok
            self.i += 1
            return Token("ID", t.text, t.pos)
        shown = self.tok.text or "end of input"
        raise self.fail(f"syntax error: expected an identifier, got {shown!r}")

    # ------------------------------------------------------------ program
    def parse_program(self) -> ast.Program:
        """Parse all declarations; raise CompileError on a syntax error."""
        decls: list[ast.Decl] = []
        try:
            while not self.at("EOF"):
                if self.accept(";"):
                    continue
                decls.append(self.declaration())
        except _SyntaxError as exc:
            raise CompileError([exc.diag]) from None
        return ast.Program(tuple(decls))

    def annotations(self) -> tuple[ast.Annotation, ...]:
        """Parse a run of annotations."""
        out: list[ast.Annotation] = []
        while self.at("@"):
            at = self.expect("@")
            name = self.ident().text
            args: list[ast.Expr] = []
            if (self.at("(") and self.tok.pos.line == at.pos.line) or self.at("("):
                self.expect("(")
                depth = 1
                start = self.i
                while depth:
                    if self.at("EOF"):
                        raise self.fail("unterminated annotation")
                    if self.tok.kind == "(":
                        depth += 1
                    elif self.tok.kind == ")":
                        depth -= 1
                    self.i += 1
                body = self.toks[start : self.i - 1]
                args = self._annotation_args(body)
            elif self.at("["):
                out.append(self._structured_annotation(at, name))
                continue
            out.append(ast.Annotation(at.pos, name, tuple(args)))
        return tuple(out)

    def _structured_annotation(self, at: Token, name: str) -> ast.Annotation:
        """`@name[expressionList]` or `@name[kvList]` (a trailing comma allowed)."""
        self.expect("[")
        args: list[ast.Expr] = []
        kv: list[ast.KeyValue] = []
        while not self.accept("]"):
            if self.at("EOF"):
                raise self.fail("unterminated annotation", at)
            t = self.tok
            # a key is a name; keywords such as 'type' are names here as well
            is_name = t.kind == "ID" or (t.kind == t.text and t.text.isidentifier())
            if is_name and self.peek().kind == "=":
                if args:
                    raise self.fail(
                        f"syntax error: structured annotation @{name} mixes expressions "
                        "and key=value pairs"
                    )
                self.i += 2
                kv.append(ast.KeyValue(t.pos, t.text, self.expression()))
            else:
                if kv:
                    raise self.fail(
                        f"syntax error: structured annotation @{name} mixes key=value pairs "
                        "and expressions"
                    )
                args.append(self.expression())
            if not self.accept(","):
                self.expect("]", "',' or ']'")
                break
        return ast.Annotation(at.pos, name, tuple(args), structured=True, kv=tuple(kv))

    def _annotation_args(self, body: list[Token]) -> list[ast.Expr]:
        if not body:
            return []
        sub = Parser([*body, Token("EOF", "", body[-1].pos)])
        sub.type_names = self.type_names
        args: list[ast.Expr] = []
        try:
            while not sub.at("EOF"):
                if sub.at("STRING") or sub.at("INT") or sub.at("ID"):
                    args.append(sub.expression())
                elif sub.tok.kind in ("bit", "int", "string"):
                    # a type argument, e.g. @p4runtime_translation("uri", bit<32>)
                    pos = sub.tok.pos
                    args.append(ast.TypeExpr(pos, sub.type_ref()))
                else:
                    sub.i += 1
                sub.accept(",")
        except _SyntaxError:
            return []
        return args

    def declaration(self) -> ast.Decl:
        """Parse one top-level declaration."""
        annos = self.annotations()
        t = self.tok
        match t.kind:
            case "const":
                return self.const_decl(annos)
            case "header" | "header_union" | "struct":
                return self.struct_like(annos)
            case "enum":
                return self.enum_decl(annos)
            case "typedef" | "type":
                self.i += 1
                ty = self.type_ref()
                name = self.ident()
                self.expect(";")
                self.type_names.add(name.text)
                return ast.TypedefDecl(name.pos, ty, name.text, t.kind == "type", annos)
            case "error" | "match_kind" if self.peek().kind == "{":
                self.i += 1
                self.expect("{")
                members: list[str] = []
                while not self.accept("}"):
                    members.append(self.ident().text)
                    if not self.accept(","):
                        self.expect("}")
                        break
                return ast.ErrorDecl(t.pos, t.kind, tuple(members))
            case "extern":
                return self.extern_decl(annos)
            case "action":
                return self.action_decl(annos)
            case "parser":
                return self.parser_decl(annos)
            case "control":
                return self.control_decl(annos)
            case "package":
                self.i += 1
                name = self.ident()
                self.type_names.add(name.text)
                tps = self.type_params()
                params = self.params()
                self.expect(";")
                return ast.PackageDecl(name.pos, name.text, params, tps)
            case _:
                ty = self.type_ref()
                if self.at("("):
                    return self.instance(ty, annos)
                name = self.ident()
                tps = self.type_params() if self.at("<") else ()
                if self.at("("):
                    params = self.params()
                    body = self.block()
                    return ast.FunctionDecl(name.pos, name.text, ty, params, body, tps)
                raise self.fail(f"syntax error: unexpected {self.tok.text!r} after {name.text!r}")

    def const_decl(self, annos: tuple[ast.Annotation, ...]) -> ast.VarDecl:
        """Parse `const T name = expr;`."""
        self.expect("const")
        ty = self.type_ref()
        name = self.ident()
        self.expect("=")
        init = self.expression()
        self.expect(";")
        return ast.VarDecl(name.pos, ty, name.text, init, True, annos)

    def struct_like(self, annos: tuple[ast.Annotation, ...]) -> ast.StructLike:
        """Parse a header, header_union or struct declaration."""
        kind = self.tok.kind
        self.i += 1
        name = self.ident()
        self.type_names.add(name.text)
        tps = self.type_params()
        self.expect("{")
        fields: list[ast.Field] = []
        while not self.accept("}"):
            fa = self.annotations()
            ty = self.type_ref()
            fname = self.ident()
            self.expect(";")
            fields.append(ast.Field(fname.pos, ty, fname.text, fa))
        return ast.StructLike(name.pos, kind, name.text, tuple(fields), annos, tps)

    def enum_decl(self, annos: tuple[ast.Annotation, ...]) -> ast.EnumDecl:
        """Parse an enum declaration."""
        self.expect("enum")
        base = None
        if self.at("bit") or self.at("int"):
            base = self.type_ref()
        name = self.ident()
        self.type_names.add(name.text)
        self.expect("{")
        members: list[tuple[str, ast.Expr | None]] = []
        while not self.accept("}"):
            m = self.ident()
            val = self.expression() if self.accept("=") else None
            members.append((m.text, val))
            if not self.accept(","):
                self.expect("}")
                break
        return ast.EnumDecl(name.pos, name.text, tuple(members), base, annos)

    def type_params(self) -> tuple[str, ...]:
        """Parse `<T, U>` type parameters (they become type names)."""
        if not self.accept("<"):
            return ()
        names: list[str] = []
        while True:
            n = self.ident().text
            names.append(n)
            self.type_names.add(n)
            if not self.accept(","):
                break
        self.expect(">")
        return tuple(names)

    def extern_decl(self, annos: tuple[ast.Annotation, ...]) -> ast.ExternDecl:
        """Parse an extern object or extern function declaration."""
        self.expect("extern")
        if (
            self.tok.kind == "ID"
            and self.peek().kind in ("{", "<")
            and not (self.peek().kind == "<" and self.tok.text in self.type_names)
        ):
            name = self.ident()
            self.type_names.add(name.text)
            tps = self.type_params()
            self.expect("{")
            methods: list[ast.Method] = []
            while not self.accept("}"):
                ma = self.annotations()
                if self.at("abstract"):
                    self.i += 1
                if self.tok.kind == "ID" and self.tok.text == name.text and self.peek().kind == "(":
                    mname = self.ident()
                    params = self.params()
                    self.expect(";")
                    methods.append(ast.Method(mname.pos, mname.text, None, params, (), ma))
                    continue
                ret = self.type_ref()
                mname = self.ident()
                mtps = self.type_params()
                params = self.params()
                self.expect(";")
                methods.append(ast.Method(mname.pos, mname.text, ret, params, mtps, ma))
            return ast.ExternDecl(name.pos, name.text, tps, tuple(methods), None, annos)
        ret = self.type_ref()
        name = self.ident()
        tps = self.type_params()
        params = self.params()
        self.expect(";")
        func = ast.Method(name.pos, name.text, ret, params, tps, annos)
        return ast.ExternDecl(name.pos, name.text, tps, (), func, annos)

    def params(self) -> tuple[ast.Param, ...]:
        """Parse a parameter list."""
        self.expect("(")
        out: list[ast.Param] = []
        if self.accept(")"):
            return ()
        while True:
            pa = self.annotations()
            direction = ""
            if self.tok.kind in ("in", "out", "inout"):
                direction = self.tok.kind
                self.i += 1
            ty = self.type_ref()
            name = self.ident()
            default = self.expression() if self.accept("=") else None
            out.append(ast.Param(name.pos, direction, ty, name.text, default, pa))
            if not self.accept(","):
                break
        self.expect(")")
        return tuple(out)

    def action_decl(self, annos: tuple[ast.Annotation, ...]) -> ast.ActionDecl:
        """Parse an action declaration."""
        self.expect("action")
        name = self.ident()
        params = self.params()
        body = self.block()
        return ast.ActionDecl(name.pos, name.text, params, body, annos)

    def instance(self, ty: ast.TypeRef, annos: tuple[ast.Annotation, ...]) -> ast.Instance:
        """Parse an instantiation after its type."""
        args = self.arguments()
        name = self.ident()
        self.expect(";")
        return ast.Instance(name.pos, ty, args, name.text, annos)

    def parser_decl(self, annos: tuple[ast.Annotation, ...]) -> ast.ParserDecl:
        """Parse a parser declaration or parser type."""
        self.expect("parser")
        name = self.ident()
        self.type_names.add(name.text)
        tps = self.type_params()
        params = self.params()
        if self.accept(";"):
            return ast.ParserDecl(name.pos, name.text, params, (), (), None, tps, annos)
        ctor = self.params() if self.at("(") else ()
        self.expect("{")
        locals_: list[ast.Decl] = []
        states: list[ast.State] = []
        while not self.accept("}"):
            la = self.annotations()
            if self.at("state"):
                states.append(self.state(la))
            elif self.at("const"):
                locals_.append(self.const_decl(la))
            elif self.at("value_set"):
                vt = self.expect("value_set")
                self.expect("<")
                ty = self.type_ref()
                self.expect(">")
                self.expect("(")
                size = self.expression()
                self.expect(")")
                vname = self.ident()
                self.expect(";")
                locals_.append(ast.ValueSetDecl(vt.pos, ty, size, vname.text, la))
            else:
                ty = self.type_ref()
                if self.at("("):
                    locals_.append(self.instance(ty, la))
                else:
                    vname = self.ident()
                    init = self.expression() if self.accept("=") else None
                    self.expect(";")
                    locals_.append(ast.VarDecl(vname.pos, ty, vname.text, init, False, la))
        return ast.ParserDecl(
            name.pos, name.text, params, ctor, tuple(locals_), tuple(states), tps, annos
        )

    def state(self, annos: tuple[ast.Annotation, ...]) -> ast.State:
        """Parse a parser state."""
        self.expect("state")
        name = self.ident()
        self.expect("{")
        stmts: list[ast.Stmt] = []
        trans: ast.Transition | None = None
        while not self.accept("}"):
            if self.at("transition"):
                trans = self.transition()
                if not self.at("}"):
                    # the transition statement ends a state
                    raise self.fail(
                        f"syntax error: expected '}}' after the transition of state "
                        f"{name.text!r}, got {self.tok.text or 'end of input'!r}"
                    )
                continue
            stmts.append(self.statement())
        return ast.State(name.pos, name.text, tuple(stmts), trans, annos)

    def transition(self) -> ast.Transition:
        """Parse a transition statement."""
        t = self.expect("transition")
        if self.at("select"):
            self.i += 1
            self.expect("(")
            exprs: list[ast.Expr] = []
            while not self.accept(")"):
                exprs.append(self.expression())
                if not self.accept(","):
                    self.expect(")")
                    break
            self.expect("{")
            cases: list[ast.SelectCase] = []
            while not self.accept("}"):
                ks = self.keyset()
                self.expect(":")
                st = self.ident()
                self.expect(";")
                cases.append(ast.SelectCase(ks.pos, ks, st.text))
            return ast.Transition(t.pos, None, tuple(exprs), tuple(cases))
        st = self.ident()
        self.expect(";")
        return ast.Transition(t.pos, st.text)

    def keyset(self) -> ast.Expr:
        """Parse a select or entry keyset (a tuple or a single component)."""
        if self.at("("):
            save = self.i
            p = self.expect("(")
            items = [self.simple_keyset()]
            if self.accept(","):
                while True:
                    items.append(self.simple_keyset())
                    if not self.accept(","):
                        break
                self.expect(")")
                return ast.ListExpr(p.pos, tuple(items))
            self.i = save
        return self.simple_keyset()

    def simple_keyset(self) -> ast.Expr:
        """Parse one keyset component (default, _, mask, range or value)."""
        if self.at("default") or self.at("_"):
            t = self.tok
            self.i += 1
            return ast.Default(t.pos)
        e = self.expression()
        if self.at("&&&") or self.at(".."):
            op = self.tok
            self.i += 1
            r = self.expression()
            return ast.Binary(op.pos, op.kind, e, r)
        return e

    def control_decl(self, annos: tuple[ast.Annotation, ...]) -> ast.ControlDecl:
        """Parse a control declaration or control type."""
        self.expect("control")
        name = self.ident()
        self.type_names.add(name.text)
        tps = self.type_params()
        params = self.params()
        if self.accept(";"):
            return ast.ControlDecl(name.pos, name.text, params, (), (), None, tps, annos)
        ctor = self.params() if self.at("(") else ()
        self.expect("{")
        locals_: list[ast.Decl] = []
        body: ast.Block | None = None
        while not self.accept("}"):
            la = self.annotations()
            if self.at("apply"):
                self.i += 1
                body = self.block()
            elif self.at("action"):
                locals_.append(self.action_decl(la))
            elif self.at("table"):
                locals_.append(self.table_decl(la))
            elif self.at("const"):
                locals_.append(self.const_decl(la))
            else:
                ty = self.type_ref()
                if self.at("("):
                    locals_.append(self.instance(ty, la))
                else:
                    vname = self.ident()
                    init = self.expression() if self.accept("=") else None
                    self.expect(";")
                    locals_.append(ast.VarDecl(vname.pos, ty, vname.text, init, False, la))
        if body is None:
            raise self.fail(f"control {name.text!r} has no apply block", self.toks[self.i - 1])
        return ast.ControlDecl(name.pos, name.text, params, ctor, tuple(locals_), body, tps, annos)

    def table_decl(self, annos: tuple[ast.Annotation, ...]) -> ast.TableDecl:
        """Parse a table declaration."""
        self.expect("table")
        name = self.ident()
        if self.accept("("):  # an empty parameter list, as older programs write it
            self.expect(")")
        self.expect("{")
        props: list[ast.TableProp] = []
        while not self.accept("}"):
            pa = self.annotations()
            is_const = bool(self.accept("const"))
            pt = self.ident()
            pname = pt.text
            self.expect("=")
            if pname == "key":
                self.expect("{")
                keys: list[ast.KeyElem] = []
                while not self.accept("}"):
                    e = self.expression()
                    self.expect(":")
                    mk = self.ident()
                    ka = self.annotations()
                    self.expect(";")
                    keys.append(ast.KeyElem(e.pos, e, mk.text, ka))
                props.append(
                    ast.TableProp(pt.pos, pname, is_const, keys=tuple(keys), annotations=pa)
                )
            elif pname == "actions":
                self.expect("{")
                acts: list[ast.ActionRef] = []
                while not self.accept("}"):
                    aa = self.annotations()
                    acts.append(self.action_ref(aa))
                    self.expect(";")
                props.append(
                    ast.TableProp(pt.pos, pname, is_const, actions=tuple(acts), annotations=pa)
                )
            elif pname == "entries":
                self.expect("{")
                ents: list[ast.Entry] = []
                while not self.accept("}"):
                    prio = None
                    entry_const = self.accept("const") is not None
                    priority_kw = self.at("priority")
                    if priority_kw:
                        self.i += 1
                        self.expect("=")
                        prio = self.expression()
                        self.expect(":")
                    ks = self.keyset()
                    keys_t = ks.items if isinstance(ks, ast.ListExpr) else (ks,)
                    self.expect(":")
                    ar = self.action_ref(())
                    ea = self.annotations()
                    self.expect(";")
                    if prio is None:
                        # '@priority(N)' after the action: BMv2's priority, lower wins
                        prio = next(
                            (an.args[0] for an in ea if an.name == "priority" and an.args), None
                        )
                    ents.append(
                        ast.Entry(ks.pos, tuple(keys_t), ar, prio, priority_kw, entry_const)
                    )
                props.append(
                    ast.TableProp(pt.pos, pname, is_const, entries=tuple(ents), annotations=pa)
                )
            elif pname == "default_action":
                ar = self.action_ref(())
                self.expect(";")
                props.append(ast.TableProp(pt.pos, pname, is_const, actions=(ar,), annotations=pa))
            else:
                val = self.expression()
                self.expect(";")
                props.append(ast.TableProp(pt.pos, pname, is_const, value=val, annotations=pa))
        return ast.TableDecl(name.pos, name.text, tuple(props), annos)

    def action_ref(self, annos: tuple[ast.Annotation, ...]) -> ast.ActionRef:
        """Parse an action reference with optional arguments."""
        first = self.tok
        self.accept(".")
        parts = [self.ident().text]
        while self.accept("."):
            parts.append(self.ident().text)
        args = self.arguments() if self.at("(") else None
        return ast.ActionRef(first.pos, ".".join(parts), args, annos)

    # ------------------------------------------------------------ types
    def is_type_start(self, k: int = 0) -> bool:
        """Whether the token k ahead starts a type."""
        t = self.peek(k)
        return t.kind in _BASE_TYPES or (t.kind == "ID" and t.text in self.type_names)

    def type_ref(self) -> ast.TypeRef:
        """Parse a type."""
        t = self.tok
        ty: ast.TypeRef
        if t.kind in ("bit", "int", "varbit"):
            self.i += 1
            width: ast.Expr | None = None
            if self.accept("<"):
                if self.at("("):
                    self.i += 1
                    width = self.expression()
                    self.expect(")")
                else:
                    w = self.tok
                    if w.kind == "INT":
                        self.i += 1
                        width = ast.IntLit(w.pos, w.value)
                    else:
                        width = ast.Name(w.pos, self.ident().text)
                self.expect(">", "'>'")
            elif t.kind == "bit":
                width = ast.IntLit(t.pos, 1)
            ty = ast.TypeRef(t.pos, t.kind, width=width)
        elif t.kind in ("bool", "error", "string", "void"):
            self.i += 1
            ty = ast.TypeRef(t.pos, t.kind)
        elif t.kind in ("tuple", "list"):
            self.i += 1
            self.expect("<")
            args = self.type_args_body()
            ty = ast.TypeRef(t.pos, "tuple", args=args)
        elif t.kind == "_":
            self.i += 1
            ty = ast.TypeRef(t.pos, "dontcare")
        elif t.kind in {"ID", "."}:
            self.accept(".")
            name = self.ident()
            args_t: tuple[ast.TypeRef, ...] = ()
            if self.at("<"):
                self.i += 1
                args_t = self.type_args_body()
            ty = ast.TypeRef(name.pos, "name", name.text, args=args_t)
        else:
            raise self.fail(f"syntax error: expected a type, got {t.text or 'end of input'!r}")
        while self.at("["):
            self.i += 1
            size = self.expression()
            self.expect("]")
            ty = ast.TypeRef(ty.pos, "stack", args=(ty,), size=size)
        return ty

    def type_args_body(self) -> tuple[ast.TypeRef, ...]:
        """Parse type arguments after '<' up to the closing '>'."""
        args: list[ast.TypeRef] = []
        while True:
            args.append(self.type_ref())
            if not self.accept(","):
                break
        self.expect(">", "'>'")
        return tuple(args)

    # ------------------------------------------------------------ statements
    def block(self) -> ast.Block:
        """Parse a block statement."""
        t = self.expect("{")
        stmts: list[ast.Stmt] = []
        while not self.accept("}"):
            if self.at("EOF"):
                raise self.fail("syntax error: missing '}'")
            stmts.append(self.statement())
        return ast.Block(t.pos, tuple(stmts))

    def statement(self) -> ast.Stmt:
        """Parse one statement."""
        annos = self.annotations()
        t = self.tok
        match t.kind:
            case "{":
                return self.block()
            case ";":
                self.i += 1
                return ast.Empty(t.pos)
            case "if":
                self.i += 1
                self.expect("(")
                cond = self.expression()
                self.expect(")")
                then = self.statement()
                other = self.statement() if self.accept("else") else None
                return ast.If(t.pos, cond, then, other)
            case "exit":
                self.i += 1
                self.expect(";")
                return ast.Exit(t.pos)
            case "return":
                self.i += 1
                val = None if self.at(";") else self.expression()
                self.expect(";")
                return ast.Return(t.pos, val)
            case "switch":
                return self.switch_stmt()
            case "const":
                return self.const_decl(annos)
            case "for":
                return self.for_stmt()
            case "break" | "continue":
                self.i += 1
                self.expect(";")
                return ast.Break(t.pos) if t.kind == "break" else ast.Continue(t.pos)
        if self.starts_declaration():
            ty = self.type_ref()
            if self.at("("):
                inst = self.instance(ty, annos)
                raise self.fail(f"unsupported instantiation {inst.name!r} inside a block", t)
            name = self.ident()
            init = self.expression() if self.accept("=") else None
            self.expect(";")
            return ast.VarDecl(name.pos, ty, name.text, init, False, annos)
        lhs = self.expression()
        if self.accept("="):
            rhs = self.expression()
            self.expect(";")
            return ast.Assign(t.pos, lhs, rhs)
        if self.tok.kind in COMPOUND_ASSIGN:
            assign = self.compound_assign(t, lhs)
            self.expect(";")
            return assign
        self.expect(";")
        if isinstance(lhs, ast.Call):
            return ast.CallStmt(t.pos, lhs)
        raise self.fail("syntax error: expression statement must be a call or an assignment", t)

    def starts_declaration(self) -> bool:
        """Whether the statement here declares a variable (``T x``, ``T[N] x``, ``T<..> x``)."""
        t = self.tok
        if not self.is_type_start() or (t.kind == "error" and self.peek().kind == "."):
            return False
        if t.kind != "ID":
            return True
        nxt = self.peek().kind
        if nxt in (".", "(", "="):
            return False
        if nxt == "[":
            # 'H[2] tmp;' declares a stack; 'a[i] = x;' indexes one
            depth, k = 0, 1
            while self.peek(k).kind != "EOF":
                kind = self.peek(k).kind
                depth += kind == "["
                depth -= kind == "]"
                k += 1
                if depth == 0:
                    break
            return self.peek(k).kind == "ID"
        return True

    def simple_statement(self) -> ast.Stmt:
        """A declaration, assignment or call without its ';' (for-loop init/update)."""
        t = self.tok
        if self.starts_declaration():
            ty = self.type_ref()
            name = self.ident()
            init = self.expression() if self.accept("=") else None
            return ast.VarDecl(name.pos, ty, name.text, init, False)
        lhs = self.expression()
        if self.accept("="):
            return ast.Assign(t.pos, lhs, self.expression())
        if self.tok.kind in COMPOUND_ASSIGN:
            return self.compound_assign(t, lhs)
        if isinstance(lhs, ast.Call):
            return ast.CallStmt(t.pos, lhs)
        raise self.fail("syntax error: expected an assignment or a call", t)

    def compound_assign(self, t: Token, lhs: ast.Expr) -> ast.Assign:
        """``lhs op= rhs`` as ``lhs = lhs op rhs`` (the spec's compound assignments)."""
        op = self.tok
        self.i += 1
        rhs = self.expression()
        return ast.Assign(t.pos, lhs, ast.Binary(op.pos, op.kind[:-1], lhs, rhs))

    def for_stmt(self) -> ast.For:
        """Parse ``for (init; cond; update) statement``."""
        t = self.expect("for")
        self.expect("(")
        init: list[ast.Stmt] = []
        while not self.at(";"):
            init.append(self.simple_statement())
            if not self.accept(","):
                break
        if self.at("in"):
            raise self.fail("unsupported 'for ... in' loop", t)
        self.expect(";")
        cond = None if self.at(";") else self.expression()
        self.expect(";")
        update: list[ast.Stmt] = []
        while not self.at(")"):
            update.append(self.simple_statement())
            if not self.accept(","):
                break
        self.expect(")")
        body = self.statement()
        return ast.For(t.pos, tuple(init), cond, tuple(update), body)

    def switch_stmt(self) -> ast.Switch:
        """Parse a switch statement."""
        t = self.expect("switch")
        self.expect("(")
        e = self.expression()
        self.expect(")")
        self.expect("{")
        cases: list[ast.SwitchCase] = []
        while not self.accept("}"):
            ct = self.tok
            label: ast.Expr
            label = ast.Default(ct.pos) if self.accept("default") else self.expression()
            self.expect(":")
            body = self.block() if self.at("{") else None
            cases.append(ast.SwitchCase(ct.pos, (label,), body))
        return ast.Switch(t.pos, e, tuple(cases))

    # ------------------------------------------------------------ expressions
    def expression(self) -> ast.Expr:
        """Parse an expression (including ?:)."""
        cond = self.binary(1)
        if self.at("?"):
            q = self.expect("?")
            a = self.expression()
            self.expect(":")
            b = self.expression()
            return ast.Ternary(q.pos, cond, a, b)
        return cond

    def binary(self, minprec: int) -> ast.Expr:
        """Parse binary operators by precedence climbing."""
        left = self.unary()
        while True:
            op = self.tok.kind
            prec = _BINPREC.get(op)
            if prec is None or prec < minprec:
                return left
            t = self.tok
            self.i += 1
            right = self.binary(prec + 1)
            left = ast.Binary(t.pos, op, left, right)

    def unary(self) -> ast.Expr:
        """Parse a unary expression or a cast."""
        t = self.tok
        if t.kind in ("-", "~", "!", "+"):
            self.i += 1
            e = self.unary()
            return e if t.kind == "+" else ast.Unary(t.pos, t.kind, e)
        if t.kind == "(" and self._looks_like_cast():
            self.i += 1
            ty = self.type_ref()
            self.expect(")")
            return ast.Cast(t.pos, ty, self.unary())
        return self.postfix(self.primary())

    def _looks_like_cast(self) -> bool:
        t = self.peek()
        if t.kind in ("bit", "int", "varbit", "bool", "tuple"):
            return True
        if t.kind == "ID" and t.text in self.type_names:
            nxt = self.peek(2).kind
            return nxt in (")", "<")
        return False

    def primary(self) -> ast.Expr:
        """Parse a primary expression."""
        t = self.tok
        match t.kind:
            case "INT":
                self.i += 1
                return ast.IntLit(t.pos, t.value, t.width, t.signed)
            case "true" | "false":
                self.i += 1
                return ast.BoolLit(t.pos, t.kind == "true")
            case "STRING":
                self.i += 1
                return ast.StrLit(t.pos, t.text)
            case "(":
                self.i += 1
                e = self.expression()
                self.expect(")")
                return e
            case "{#}":
                self.i += 1
                return ast.InvalidHeader(t.pos)
            case "{":
                self.i += 1
                items: list[ast.Expr] = []
                names: list[str] = []
                rest = False
                while not self.accept("}"):
                    if self.accept("..."):
                        # default values for every field not given
                        rest = True
                        self.expect("}")
                        break
                    if self.tok.kind == "ID" and self.peek().kind == "=":
                        names.append(self.ident().text)
                        self.expect("=")
                    items.append(self.expression())
                    if not self.accept(","):
                        self.expect("}")
                        break
                return ast.ListExpr(t.pos, tuple(items), tuple(names), rest)
            case "error":
                self.i += 1
                return ast.Name(t.pos, "error")
            case "_" | "default":
                self.i += 1
                return ast.Default(t.pos)
            case ".":
                self.i += 1
                n = self.ident()
                return ast.Name(n.pos, n.text)
            case "bit" | "int" | "bool" | "varbit":
                return ast.TypeExpr(t.pos, self.type_ref())
            case "ID" | "apply" | "key" | "state" | "type":
                n = self.ident()
                if n.text in self.type_names and self.at("<"):
                    save = self.i
                    try:
                        self.i += 1
                        args = self.type_args_body()
                        return ast.TypeExpr(n.pos, ast.TypeRef(n.pos, "name", n.text, args=args))
                    except _SyntaxError:
                        self.i = save
                return ast.Name(n.pos, n.text)
        raise self.fail(f"syntax error: unexpected {t.text or 'end of input'!r}")

    def postfix(self, e: ast.Expr) -> ast.Expr:
        """Parse member access, indexing, slicing and calls."""
        while True:
            t = self.tok
            if t.kind == ".":
                self.i += 1
                n = self.ident()
                # p4c points diagnostics at the start of a member expression
                e = ast.Member(e.pos, e, n.text)
            elif t.kind == "[":
                self.i += 1
                idx = self.expression()
                if self.accept(":"):
                    lo = self.expression()
                    self.expect("]")
                    e = ast.Slice(e.pos, e, idx, lo)
                else:
                    self.expect("]")
                    e = ast.Index(e.pos, e, idx)
            elif t.kind == "(":
                args = self.arguments()
                e = ast.Call(e.pos, e, (), args)
            elif t.kind == "<" and isinstance(e, (ast.Name, ast.Member)) and self.is_type_start(1):
                save = self.i
                try:
                    self.i += 1
                    targs = self.type_args_body()
                    if not self.at("("):
                        raise self.fail("not a generic call")
                    args = self.arguments()
                    e = ast.Call(e.pos, e, targs, args)
                except _SyntaxError:
                    self.i = save
                    return e
            else:
                return e

    def arguments(self) -> tuple[ast.Arg, ...]:
        """Parse a call's argument list."""
        self.expect("(")
        args: list[ast.Arg] = []
        if self.accept(")"):
            return ()
        while True:
            t = self.tok
            name = None
            if t.kind == "ID" and self.peek().kind == "=":
                name = self.ident().text
                self.expect("=")
            args.append(ast.Arg(t.pos, name, self.expression()))
            if not self.accept(","):
                break
        self.expect(")")
        return tuple(args)


def parse(toks: list[Token], sink: Sink | None = None) -> ast.Program:
    """Parse tokens into a Program, raising CompileError on the first syntax error."""
    del sink
    return Parser(toks).parse_program()
