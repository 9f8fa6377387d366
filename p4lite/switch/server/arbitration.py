"""StreamChannel clients and primary/backup arbitration by election id.

Per role, the client with the highest election id is the primary; a client
that leaves its election id unset is lower than any and never becomes
primary (the P4Runtime specification's standby controller). Every
arbitration reply carries the primary's election id and the status the
specification gives: OK to the primary, ALREADY_EXISTS to a backup
(NOT_FOUND when there is no primary). A change of primary is announced to
every client of the role. Imports protobuf stubs, grpc and `server.errors`.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading

import grpc
from google.rpc import code_pb2, status_pb2  # type: ignore[import-untyped]
from p4.v1 import p4runtime_pb2

from p4lite.switch.server.errors import P4RuntimeError, invalid

logger = logging.getLogger(__name__)

StreamItem = p4runtime_pb2.StreamMessageResponse | P4RuntimeError | None

# A client that reads nothing must not make the server grow without bound:
# past this many queued PacketIns/digests, new ones are dropped (PI drops too).
MAX_PENDING = 10000


def election_int(eid: p4runtime_pb2.Uint128) -> int:
    """An election id as one int."""
    return (eid.high << 64) | eid.low


def election_proto(value: int) -> p4runtime_pb2.Uint128:
    """An int as a Uint128 election id."""
    return p4runtime_pb2.Uint128(high=value >> 64, low=value & ((1 << 64) - 1))


class Client:
    """One StreamChannel: its outgoing queue and, once arbitrated, its election id."""

    _ids = itertools.count(1)

    def __init__(self) -> None:
        self.id = next(self._ids)
        self.queue: queue.SimpleQueue[StreamItem] = queue.SimpleQueue()
        self.arbitrated = False
        # None until arbitration, and for a client that leaves it unset.
        self.election_id: int | None = None
        self.role = ""
        self.role_proto: p4runtime_pb2.Role | None = None
        self.dropped = 0

    def send(self, item: StreamItem) -> None:
        """Queue a message (or an error, or None to end the stream)."""
        self.queue.put(item)

    def offer(self, message: p4runtime_pb2.StreamMessageResponse) -> bool:
        """Queue a PacketIn or digest unless the client lags too far behind."""
        if self.queue.qsize() >= MAX_PENDING:
            self.dropped += 1
            return False
        self.queue.put(message)
        return True


class Arbitration:
    """The arbitrated clients of one device."""

    def __init__(self, device_id: int) -> None:
        self.device_id = device_id
        self._lock = threading.Lock()
        self._clients: dict[int, Client] = {}

    def _primary(self, role: str) -> Client | None:
        members = [
            c for c in self._clients.values() if c.role == role and c.election_id is not None
        ]
        return max(members, key=lambda c: c.election_id or 0, default=None)

    def _connected(self, role: str) -> bool:
        return any(c.role == role for c in self._clients.values())

    def _reply(self, client: Client, primary: Client | None) -> p4runtime_pb2.StreamMessageResponse:
        update = p4runtime_pb2.MasterArbitrationUpdate(device_id=self.device_id)
        if client.role_proto is not None:
            update.role.CopyFrom(client.role_proto)
        if primary is not None and primary.election_id is not None:
            update.election_id.CopyFrom(election_proto(primary.election_id))
        if primary is client:
            update.status.CopyFrom(status_pb2.Status(code=code_pb2.OK, message="Is primary"))
        elif primary is not None:
            update.status.CopyFrom(
                status_pb2.Status(code=code_pb2.ALREADY_EXISTS, message="Is backup")
            )
        else:
            update.status.CopyFrom(status_pb2.Status(code=code_pb2.NOT_FOUND, message="No primary"))
        return p4runtime_pb2.StreamMessageResponse(arbitration=update)

    def arbitrate(self, client: Client, update: p4runtime_pb2.MasterArbitrationUpdate) -> None:
        """Handle an arbitration message; raises to end the client's stream."""
        if update.device_id != self.device_id:
            # PI: an unknown device is NOT_FOUND; a registered client changing
            # its device id is FAILED_PRECONDITION.
            registered = client.arbitrated
            raise P4RuntimeError(
                grpc.StatusCode.FAILED_PRECONDITION if registered else grpc.StatusCode.NOT_FOUND,
                f"arbitration: device id {update.device_id!r}, this switch is {self.device_id!r}",
            )
        role = update.role.name if update.HasField("role") else ""
        election = election_int(update.election_id) if update.HasField("election_id") else None
        with self._lock:
            for other in self._clients.values():
                if (
                    election is not None
                    and other is not client
                    and other.role == role
                    and other.election_id == election
                ):
                    raise invalid(
                        f"arbitration: election id {election!r} is already used by another client"
                    )
            old_role = client.role if client.id in self._clients else None
            old_primary = self._primary(old_role) if old_role is not None else None
            before = self._primary(role)
            client.role = role
            client.role_proto = update.role if update.HasField("role") else None
            client.election_id = election
            client.arbitrated = True
            self._clients[client.id] = client
            after = self._primary(role)
            if old_role is not None and old_role != role:
                # The client moved to another role: its old role may need a new primary.
                new_old_primary = self._primary(old_role)
                if new_old_primary is not old_primary:
                    for other in self._clients.values():
                        if other.role == old_role:
                            other.send(self._reply(other, new_old_primary))
            if after is not before:
                for other in self._clients.values():
                    if other.role == role:
                        other.send(self._reply(other, after))
            else:
                client.send(self._reply(client, after))
        logger.info(
            "arbitration: client %d role %r election id %s (%s)",
            client.id,
            role,
            election,
            "primary" if after is client else "backup",
        )

    def remove(self, client: Client) -> None:
        """Forget a closed stream; announce a new primary if it was the primary."""
        with self._lock:
            if client.id not in self._clients:
                return
            role = client.role
            was_primary = self._primary(role) is client
            del self._clients[client.id]
            if was_primary:
                primary = self._primary(role)
                for other in self._clients.values():
                    if other.role == role:
                        other.send(self._reply(other, primary))

    def is_primary(self, role: str, election: int) -> bool:
        """True if `election` is the primary's election id for `role`.

        Like PI, a request without an election id is accepted while no client
        of the role is connected (for debugging and simple tools).
        """
        with self._lock:
            primary = self._primary(role)
            if primary is None:
                return election == 0 and not self._connected(role)
            return primary.election_id == election

    def client_is_primary(self, client: Client) -> bool:
        """True if this stream is its role's primary."""
        with self._lock:
            return client.arbitrated and self._primary(client.role) is client

    def send_to_primaries(self, message: p4runtime_pb2.StreamMessageResponse) -> None:
        """Deliver a PacketIn or digest to the primary of every role."""
        with self._lock:
            roles = {c.role for c in self._clients.values()}
            targets = [self._primary(r) for r in roles]
        for target in targets:
            if target is not None and not target.offer(message):
                logger.debug("client %d lags behind: stream message dropped", target.id)

    def close_all(self) -> None:
        """End every stream (server shutdown)."""
        with self._lock:
            clients = list(self._clients.values())
            self._clients.clear()
        for c in clients:
            c.send(None)
