"""The server's error type: a gRPC status code and a message.

Every failure the P4Runtime server reports is a `P4RuntimeError`; the
servicer turns it into the status (or the per-update `p4.v1.Error`) the
P4Runtime specification names. Imports only grpc.
"""

from __future__ import annotations

import logging

import grpc

logger = logging.getLogger(__name__)


class ServerError(Exception):
    """Base of every error of the server package."""


class StartError(ServerError):
    """The switch server could not start (address in use, TLS files...)."""


class P4RuntimeError(ServerError):
    """A request (or one update) failed with `code`."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __repr__(self) -> str:
        return f"P4RuntimeError({self.code.name}, {self.message!r})"


def invalid(message: str) -> P4RuntimeError:
    """INVALID_ARGUMENT."""
    return P4RuntimeError(grpc.StatusCode.INVALID_ARGUMENT, message)


def not_found(message: str) -> P4RuntimeError:
    """NOT_FOUND."""
    return P4RuntimeError(grpc.StatusCode.NOT_FOUND, message)


def unimplemented(message: str) -> P4RuntimeError:
    """UNIMPLEMENTED."""
    return P4RuntimeError(grpc.StatusCode.UNIMPLEMENTED, message)
