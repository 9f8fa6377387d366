"""Exception hierarchy of the P4Runtime client layer.

Every error raised by ``controller.p4rt`` derives from :class:`P4RTError`.
May import only the standard library.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class P4RTError(Exception):
    """Base of every error raised by the P4Runtime client layer."""


class P4InfoError(P4RTError):
    """A P4Info file or message could not be loaded or is inconsistent."""


class P4InfoLookupError(P4InfoError):
    """A P4 object named by the caller does not exist in the P4Info."""

    def __init__(
        self,
        kind: str,
        key: str | int,
        suggestions: tuple[str, ...] = (),
        *,
        ambiguous: bool = False,
    ) -> None:
        """Build the message from the object kind, the key asked for and close names."""
        self.kind = kind
        self.key = key
        self.suggestions = suggestions
        what = "id" if isinstance(key, int) else "name"
        message = f"no {kind} with {what} {key!r} in the P4Info"
        if ambiguous:
            message = f"{kind} alias {key!r} is ambiguous: use a full name"
        if suggestions:
            message += "; did you mean " + " or ".join(repr(s) for s in suggestions) + "?"
        super().__init__(message)


class UsageError(P4RTError, ValueError):
    """A caller passed an option outside its allowed values."""


class EncodingError(P4RTError, ValueError):
    """A value cannot be encoded, decoded or parsed for its P4 type."""


class EntityError(P4RTError, ValueError):
    """An entity is malformed or does not fit the P4Info."""


class ReconcileError(P4RTError):
    """Intended and current state cannot be reconciled."""


class SwitchConnectionError(P4RTError):
    """The connection to a switch failed, timed out or was closed."""


class ArbitrationError(SwitchConnectionError):
    """Master arbitration did not complete or the client is not primary."""


class P4RuntimeRPCError(P4RTError):
    """A P4Runtime RPC failed with a gRPC status."""

    def __init__(self, rpc: str, code: str, details: str) -> None:
        """Record the RPC name, the gRPC status code name and its details."""
        self.rpc = rpc
        self.code = code
        self.details = details
        super().__init__(f"{rpc} failed: {code}: {details}")


@dataclass(frozen=True, slots=True)
class UpdateFailure:
    """The status of one failed update of a Write (index into the caller's list)."""

    index: int
    update: Any
    code: str
    message: str


class P4RuntimeWriteError(P4RuntimeRPCError):
    """A Write failed; ``errors`` lists each failed update with its status."""

    def __init__(self, code: str, details: str, errors: list[UpdateFailure]) -> None:
        """Record the overall status and the per-update failures."""
        self.errors = errors
        super().__init__("Write", code, details)
        lines = [f"  update #{f.index}: {f.code}: {f.message}" for f in errors]
        if lines:
            self.args = (str(self.args[0]) + "\n" + "\n".join(lines),)
