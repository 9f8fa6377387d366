"""Source positions, diagnostics and the compiler's single exception base.

Imports only the standard library; every other compiler stage imports it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Pos:
    """A position in a source file (1-based line and column)."""

    file: str
    line: int
    col: int
    text: str = ""

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


NOPOS = Pos("<builtin>", 0, 0)


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One error or warning with its position."""

    pos: Pos
    message: str
    severity: str = "error"

    def render(self) -> str:
        """Render as `file:line:col: error: msg`, the source line and a caret."""
        head = f"{self.pos}: {self.severity}: {self.message}"
        if not self.pos.text:
            return head
        caret = " " * max(self.pos.col - 1, 0) + "^"
        return f"{head}\n{self.pos.text}\n{caret}"


class CompileError(Exception):
    """Raised when a phase reports one or more errors."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = list(diagnostics)
        super().__init__("\n".join(d.render() for d in self.diagnostics))


@dataclass(slots=True)
class Sink:
    """Collects the diagnostics of one phase."""

    errors: list[Diagnostic] = field(default_factory=list)
    warnings: list[Diagnostic] = field(default_factory=list)

    def error(self, pos: Pos, message: str) -> None:
        """Record an error (once: code inlined twice reports its mistake once)."""
        diag = Diagnostic(pos, message)
        if diag not in self.errors:
            self.errors.append(diag)

    def warn(self, pos: Pos, message: str) -> None:
        """Record a warning."""
        self.warnings.append(Diagnostic(pos, message, "warning"))

    def check(self) -> None:
        """Raise CompileError if any error was recorded."""
        if self.errors:
            raise CompileError(self.errors)
