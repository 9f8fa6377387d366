"""One P4Runtime device: the forwarding pipeline, Write and Read of every
entity, PacketIn/PacketOut framing, digests and idle-timeout notifications,
over the switch core.

All core calls happen under `Device.lock`, which the data-plane loop also
takes per packet, so a batch is atomic towards packets. Imports protobuf
stubs, `p4lite.switch.core.api` (and the core module itself, lazily),
`p4lite.switch.ports.cpu` and sibling server modules.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import cast

import grpc
from p4.config.v1 import p4info_pb2
from p4.v1 import p4data_pb2, p4runtime_pb2

from p4lite.switch.core import api
from p4lite.switch.ports.cpu import ControllerHeader, controller_header
from p4lite.switch.server.codec import decode, encode, p4data_int
from p4lite.switch.server.digests import DigestEngine, Sample
from p4lite.switch.server.errors import P4RuntimeError, invalid, not_found, unimplemented
from p4lite.switch.server.idle import IdleSweeper
from p4lite.switch.server.p4info import ObjectDef, P4InfoIndex, TableDef
from p4lite.switch.server.translate import (
    action_call_from_core,
    action_call_to_core,
    check_priority,
    matches_from_core,
    matches_to_core,
    table_action_from_core,
    table_action_to_core,
)

logger = logging.getLogger(__name__)

SwitchFactory = Callable[[str, api.SwitchOptions], api.SwitchApi]
Undo = Callable[[], None]
UpdateType = p4runtime_pb2.Update.Type
CounterUnit = p4info_pb2.CounterSpec.Unit

# Clone sessions with several replicas use a multicast group outside the
# 16-bit range a program can name in mcast_grp, so they never collide.
_CLONE_GROUP_BASE = 1 << 16
# A one-shot action set becomes a group and members of the selector in the core,
# under ids above P4Runtime's 32-bit ones, so no client can name them.
_ONESHOT_BASE = 1 << 32


def default_switch_factory(json_text: str, options: api.SwitchOptions) -> api.SwitchApi:
    """Load a BMv2 JSON program into the p4lite switch core."""
    core = importlib.import_module("p4lite.switch.core")
    return cast(api.SwitchApi, core.Switch.from_json(json_text, options))


def permission_denied(message: str) -> P4RuntimeError:
    """PERMISSION_DENIED."""
    return P4RuntimeError(grpc.StatusCode.PERMISSION_DENIED, message)


def failed_precondition(message: str) -> P4RuntimeError:
    """FAILED_PRECONDITION."""
    return P4RuntimeError(grpc.StatusCode.FAILED_PRECONDITION, message)


@contextlib.contextmanager
def core_errors(what: str) -> Iterator[None]:
    """Map the core's runtime errors to P4Runtime status codes."""
    try:
        yield
    except api.NotFoundError as exc:
        raise not_found(f"{what}: {exc}") from exc
    except api.AlreadyExistsError as exc:
        raise P4RuntimeError(grpc.StatusCode.ALREADY_EXISTS, f"{what}: {exc}") from exc
    except api.TableFullError as exc:
        raise P4RuntimeError(grpc.StatusCode.RESOURCE_EXHAUSTED, f"{what}: {exc}") from exc
    except api.ConstTableError as exc:
        raise permission_denied(f"{what}: {exc}") from exc
    except api.InUseError as exc:
        raise failed_precondition(f"{what}: {exc}") from exc
    except api.InvalidArgumentError as exc:
        raise invalid(f"{what}: {exc}") from exc
    except api.SwitchError as exc:
        raise P4RuntimeError(grpc.StatusCode.INTERNAL, f"{what}: {exc}") from exc


@dataclass(frozen=True, slots=True)
class EntryExtra:
    """Entry fields the core does not keep, returned on Read."""

    controller_metadata: int = 0
    metadata: bytes = b""
    idle_timeout_ns: int = 0
    # A one-shot entry's action set as written (read back as it is).
    action_set: p4runtime_pb2.ActionProfileActionSet | None = None


@dataclass(slots=True)
class Pipeline:
    """A loaded program with its P4Info and the state P4Runtime reads back."""

    config: p4runtime_pb2.ForwardingPipelineConfig
    index: P4InfoIndex
    switch: api.SwitchApi
    has_p4info: bool
    action_ids: dict[str, int]
    packet_in: ControllerHeader
    packet_out: ControllerHeader
    extras: dict[tuple[str, int], EntryExtra] = field(default_factory=dict)
    mc_groups: dict[int, p4runtime_pb2.MulticastGroupEntry] = field(default_factory=dict)
    clone_sessions: dict[int, p4runtime_pb2.CloneSessionEntry] = field(default_factory=dict)
    digest_configs: dict[int, p4runtime_pb2.DigestEntry] = field(default_factory=dict)
    groups: dict[tuple[int, int], p4runtime_pb2.ActionProfileGroup] = field(default_factory=dict)
    digests: DigestEngine | None = None
    core_tables: dict[str, api.TableInfo] = field(default_factory=dict)  # table_info, cached
    idle: IdleSweeper | None = None  # started on commit if a table supports idle timeout
    oneshot_groups: dict[int, tuple[int, ...]] = field(default_factory=dict)  # group: members
    oneshot_entries: dict[int, int] = field(default_factory=dict)  # profile id: entries
    next_oneshot_id: int = _ONESHOT_BASE


def _replica_port(r: p4runtime_pb2.Replica, what: str) -> int:
    if r.port:
        return decode(r.port, 32, f"{what} replica port")
    return r.egress_port


def _counter_data(value: api.CounterValue, unit: int) -> p4runtime_pb2.CounterData:
    data = p4runtime_pb2.CounterData()
    if unit in (CounterUnit.BYTES, CounterUnit.BOTH, CounterUnit.UNSPECIFIED):
        data.byte_count = value.bytes
    if unit in (CounterUnit.PACKETS, CounterUnit.BOTH, CounterUnit.UNSPECIFIED):
        data.packet_count = value.packets
    return data


def _rates_to_core(config: p4runtime_pb2.MeterConfig) -> api.MeterRates:
    # P4Runtime rates are per second; the core's are per microsecond.
    return api.MeterRates(config.cir / 1e6, config.cburst, config.pir / 1e6, config.pburst)


def _rates_from_core(rates: api.MeterRates) -> p4runtime_pb2.MeterConfig:
    return p4runtime_pb2.MeterConfig(
        cir=round(rates.cir * 1e6),
        cburst=rates.cburst,
        pir=round(rates.pir * 1e6),
        pburst=rates.pburst,
    )


def _digest_struct(sample: Sample) -> p4data_pb2.P4Data:
    data = p4data_pb2.P4Data()
    data.struct.SetInParent()
    for value in sample:
        data.struct.members.add(bitstring=encode(value))
    return data


def _digest_bitstring(sample: Sample) -> p4data_pb2.P4Data:
    # A digest of a single field is a bare bitstring; of several, a tuple.
    if len(sample) == 1:
        return p4data_pb2.P4Data(bitstring=encode(sample[0]))
    data = p4data_pb2.P4Data()
    data.tuple.SetInParent()
    for value in sample:
        data.tuple.members.add(bitstring=encode(value))
    return data


def _ttl_us(idle_timeout_ns: int) -> int:
    # The core counts microseconds; a TTL shorter than one still ages.
    return (idle_timeout_ns + 999) // 1000


def _indices(obj: ObjectDef, has_index: bool, index: int, kind: str) -> range:
    if not has_index:
        return range(obj.size)
    if index < 0:
        # The spec: INVALID_ARGUMENT for a negative index, OUT_OF_RANGE past the end.
        raise invalid(f"{kind} {obj.name!r}: negative index {index!r}")
    if index >= obj.size:
        raise P4RuntimeError(
            grpc.StatusCode.OUT_OF_RANGE,
            f"{kind} {obj.name!r}: index {index!r} is out of range, expected 0..{obj.size - 1}",
        )
    return range(index, index + 1)


class Device:
    """The P4Runtime target: pipeline management, Write, Read, packet I/O."""

    def __init__(
        self,
        device_id: int = 0,
        cpu_port: int | None = None,
        switch_factory: SwitchFactory | None = None,
    ) -> None:
        self.device_id = device_id
        self.cpu_port = cpu_port
        self.switch_factory = switch_factory or default_switch_factory
        self.lock = threading.RLock()
        self.pipeline: Pipeline | None = None
        self.saved: Pipeline | None = None
        self.on_packet_in: Callable[[p4runtime_pb2.PacketIn], None] | None = None
        self.on_digest: Callable[[p4runtime_pb2.DigestList], None] | None = None
        self.on_idle_timeout: Callable[[p4runtime_pb2.IdleTimeoutNotification], None] | None = None

    # -- pipeline ------------------------------------------------------------

    def _build(self, config: p4runtime_pb2.ForwardingPipelineConfig, has_p4info: bool) -> Pipeline:
        if not config.p4_device_config:
            raise invalid("pipeline config: p4_device_config is empty, expected the BMv2 JSON")
        try:
            text = config.p4_device_config.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise invalid(f"pipeline config: p4_device_config is not UTF-8 JSON: {exc}") from exc
        index = P4InfoIndex(config.p4info)
        options = api.SwitchOptions(cpu_port=self.cpu_port)
        try:
            switch = self.switch_factory(text, options)
        except api.SwitchError as exc:
            raise invalid(f"pipeline config: cannot load the BMv2 JSON: {exc}") from exc
        except ValueError as exc:
            raise invalid(f"pipeline config: cannot load the BMv2 JSON: {exc}") from exc
        for t in index.tables.values():
            try:
                core_table = switch.table_info(t.name)
            except api.SwitchError as exc:
                raise invalid(
                    f"pipeline config: P4Info table {t.name!r} is not in the BMv2 JSON"
                ) from exc
            if len(core_table.keys) != len(t.fields):
                raise invalid(
                    f"pipeline config: table {t.name!r} has {len(t.fields)} keys in the "
                    f"P4Info and {len(core_table.keys)} in the BMv2 JSON"
                )
        return Pipeline(
            config=config,
            index=index,
            switch=switch,
            has_p4info=has_p4info,
            action_ids={a.name: a.id for a in index.actions.values()},
            packet_in=controller_header([(f.id, f.name, f.bitwidth) for f in index.packet_in]),
            packet_out=controller_header([(f.id, f.name, f.bitwidth) for f in index.packet_out]),
            digests=DigestEngine(self._send_digest),
        )

    def _commit(self, pipeline: Pipeline) -> None:
        with self.lock:
            pipeline.switch.set_digest_handler(self._digest)
            pipeline.switch.set_packet_in_handler(self._core_packet_in)
            old = self.pipeline
            self.pipeline = pipeline
            if pipeline.idle is None and any(t.support_timeout for t in pipeline.switch.tables()):
                pipeline.idle = IdleSweeper(lambda: self._sweep_idle(pipeline))
                pipeline.idle.start()
        if old is not None and old is not pipeline:
            self._retire(old)
        logger.info("pipeline committed (%d tables)", len(pipeline.index.tables))

    @staticmethod
    def _retire(pipeline: Pipeline) -> None:
        pipeline.switch.set_digest_handler(None)
        pipeline.switch.set_packet_in_handler(None)
        if pipeline.digests is not None:
            pipeline.digests.close()
        if pipeline.idle is not None:
            pipeline.idle.close()

    def close(self) -> None:
        """Stop the running pipeline's timers and threads (server shutdown)."""
        with self.lock:
            pipeline = self.pipeline
        if pipeline is not None:
            self._retire(pipeline)

    def load_json(self, json_text: str) -> None:
        """Run a program given on the command line (no P4Info until a controller sets one)."""
        config = p4runtime_pb2.ForwardingPipelineConfig(p4_device_config=json_text.encode())
        self._commit(self._build(config, has_p4info=False))

    def set_pipeline(self, request: p4runtime_pb2.SetForwardingPipelineConfigRequest) -> None:
        """SetForwardingPipelineConfig for every action."""
        action_type = p4runtime_pb2.SetForwardingPipelineConfigRequest.Action
        action = request.action
        config = request.config
        match action:
            case action_type.VERIFY:
                self._build(config, has_p4info=True)
            case action_type.VERIFY_AND_SAVE:
                self.saved = self._build(config, has_p4info=True)
            case action_type.VERIFY_AND_COMMIT:
                self._commit(self._build(config, has_p4info=True))
                self.saved = None
            case action_type.COMMIT:
                saved = self.saved
                if saved is None:
                    raise failed_precondition("COMMIT: no pipeline was saved with VERIFY_AND_SAVE")
                if config.HasField("cookie"):
                    saved.config.cookie.CopyFrom(config.cookie)
                self._commit(saved)
                self.saved = None
            case action_type.RECONCILE_AND_COMMIT:
                current = self.pipeline
                if (
                    current is not None
                    and current.has_p4info
                    and current.config.p4info == config.p4info
                    and current.config.p4_device_config == config.p4_device_config
                ):
                    # Same program: keep the forwarding state, take the new cookie.
                    with self.lock:
                        current.config.cookie.CopyFrom(config.cookie)
                    return
                self._commit(self._build(config, has_p4info=True))
            case _:
                raise invalid(f"SetForwardingPipelineConfig: unsupported action {action!r}")

    def get_pipeline(self, response_type: int) -> p4runtime_pb2.ForwardingPipelineConfig:
        """GetForwardingPipelineConfig: the parts `response_type` asks for."""
        rtype = p4runtime_pb2.GetForwardingPipelineConfigRequest.ResponseType
        out = p4runtime_pb2.ForwardingPipelineConfig()
        pipeline = self.pipeline
        if pipeline is None:
            return out
        config = pipeline.config
        if config.HasField("cookie"):
            out.cookie.CopyFrom(config.cookie)
        match response_type:
            case rtype.ALL:
                if pipeline.has_p4info:
                    out.p4info.CopyFrom(config.p4info)
                out.p4_device_config = config.p4_device_config
            case rtype.COOKIE_ONLY:
                pass
            case rtype.P4INFO_AND_COOKIE:
                if pipeline.has_p4info:
                    out.p4info.CopyFrom(config.p4info)
            case rtype.DEVICE_CONFIG_AND_COOKIE:
                out.p4_device_config = config.p4_device_config
            case _:
                raise invalid(
                    f"GetForwardingPipelineConfig: unknown response type {response_type!r}"
                )
        return out

    def _require(self) -> Pipeline:
        pipeline = self.pipeline
        if pipeline is None or not pipeline.has_p4info:
            raise failed_precondition("no forwarding pipeline config has been set")
        return pipeline

    # -- packets ---------------------------------------------------------------

    def process(self, port: int, frame: bytes) -> list[tuple[int, bytes]]:
        """Run one frame through the pipeline (nothing if none is loaded)."""
        with self.lock:
            pipeline = self.pipeline
            if pipeline is None:
                return []
            return pipeline.switch.process(port, frame)

    def packet_out_frame(self, packet: p4runtime_pb2.PacketOut) -> bytes:
        """The frame to inject on the CPU port for a PacketOut."""
        pipeline = self._require()
        values: dict[int, int] = {}
        widths = {f.id: f for f in pipeline.index.packet_out}
        for md in packet.metadata:
            f = widths.get(md.metadata_id)
            if f is None:
                raise invalid(f"PacketOut: unknown packet_out metadata id {md.metadata_id!r}")
            values[md.metadata_id] = decode(md.value, f.bitwidth, f"PacketOut metadata {f.name!r}")
        return pipeline.packet_out.encode(values) + packet.payload

    def cpu_frame(self, frame: bytes) -> None:
        """A frame the pipeline sent to the CPU port: deliver it as a PacketIn."""
        pipeline = self.pipeline
        if pipeline is None:
            return
        try:
            values, payload = pipeline.packet_in.decode(frame)
        except ValueError as exc:
            logger.warning("PacketIn dropped: %s", exc)
            return
        except Exception as exc:
            logger.warning("PacketIn dropped: %s", exc)
            return
        packet = p4runtime_pb2.PacketIn(payload=payload)
        for f in pipeline.index.packet_in:
            packet.metadata.add(metadata_id=f.id, value=encode(values.get(f.id, 0)))
        if self.on_packet_in is not None:
            self.on_packet_in(packet)

    def _core_packet_in(self, _port: int, frame: bytes) -> None:
        self.cpu_frame(frame)

    def _digest(self, digest: api.Digest) -> None:
        pipeline = self.pipeline
        if pipeline is None or pipeline.digests is None:
            return
        obj = pipeline.index.digest_by_name.get(digest.name)
        if obj is None:
            return
        to_data = _digest_struct if obj.is_struct else _digest_bitstring
        pipeline.digests.offer(obj.id, tuple(digest.values), to_data)

    def _send_digest(self, message: p4runtime_pb2.DigestList) -> None:
        if self.on_digest is not None:
            self.on_digest(message)

    def digest_ack(self, digest_id: int, list_id: int) -> bool:
        """A DigestListAck from the primary; False if the digest id is unknown."""
        pipeline = self.pipeline
        if pipeline is None or digest_id not in pipeline.index.digests:
            return False
        if pipeline.digests is not None:
            pipeline.digests.ack(digest_id, list_id)
        return True

    # -- idle timeout ----------------------------------------------------------

    def _sweep_idle(self, pipeline: Pipeline) -> float | None:
        """One sweep: notify the idle entries; seconds until the next may age."""
        with self.lock:
            if self.pipeline is not pipeline:
                return None
            found = pipeline.switch.sweep_idle()
            messages = self._idle_notifications(pipeline, found.aged)
        for message in messages:
            if self.on_idle_timeout is not None:
                self.on_idle_timeout(message)
        return None if found.next_due_us is None else found.next_due_us / 1e6

    def _idle_notifications(
        self, p: Pipeline, aged: tuple[tuple[str, int], ...]
    ) -> list[p4runtime_pb2.IdleTimeoutNotification]:
        # One message per table, as the specification's sketch coalesces them.
        by_table: dict[str, list[p4runtime_pb2.TableEntry]] = {}
        for name, handle in aged:
            tdef = p.index.tables_by_name.get(name)
            extra = p.extras.get((name, handle))
            if tdef is None or extra is None or not extra.idle_timeout_ns:
                continue
            e = p.switch.get_entry(name, handle)
            # The key, the controller's cookies and the TTL (what PI sends).
            entry = p4runtime_pb2.TableEntry(
                table_id=tdef.id,
                priority=e.priority,
                controller_metadata=extra.controller_metadata,
                metadata=extra.metadata,
                idle_timeout_ns=extra.idle_timeout_ns,
            )
            entry.match.extend(matches_from_core(tdef, e.matches))
            by_table.setdefault(name, []).append(entry)
        now = time.time_ns()
        return [
            p4runtime_pb2.IdleTimeoutNotification(table_entry=entries, timestamp=now)
            for entries in by_table.values()
        ]

    def _set_ttl(self, p: Pipeline, tdef: TableDef, handle: int, idle_timeout_ns: int) -> None:
        with core_errors(f"table {tdef.name!r} idle timeout"):
            p.switch.set_entry_ttl(tdef.name, handle, _ttl_us(idle_timeout_ns))
        if p.idle is not None:
            p.idle.wake()

    # -- write -----------------------------------------------------------------

    def write(self, request: p4runtime_pb2.WriteRequest) -> list[P4RuntimeError | None]:
        """Apply a batch; one result (None for success) per update."""
        atomicity = p4runtime_pb2.WriteRequest.Atomicity
        if request.atomicity not in (
            atomicity.CONTINUE_ON_ERROR,
            atomicity.ROLLBACK_ON_ERROR,
            atomicity.DATAPLANE_ATOMIC,
        ):
            raise invalid(f"Write: unknown atomicity {request.atomicity!r}")
        with self.lock:
            pipeline = self._require()
            results: list[P4RuntimeError | None] = []
            if request.atomicity == atomicity.CONTINUE_ON_ERROR:
                for update in request.updates:
                    try:
                        self._update(pipeline, update)
                        results.append(None)
                    except P4RuntimeError as exc:
                        results.append(exc)
                return results
            # Rollback (and data-plane atomic: packets wait on the same lock).
            undos: list[Undo] = []
            failed: P4RuntimeError | None = None
            for update in request.updates:
                if failed is not None:
                    results.append(P4RuntimeError(grpc.StatusCode.ABORTED, "not applied"))
                    continue
                try:
                    undos.append(self._update(pipeline, update))
                    results.append(None)
                except P4RuntimeError as exc:
                    failed = exc
                    results.append(exc)
            if failed is None:
                return results
            for undo in reversed(undos):
                try:
                    undo()
                except Exception:
                    logger.exception("Write: rollback step failed")
            return [
                P4RuntimeError(grpc.StatusCode.ABORTED, "rolled back") if r is None else r
                for r in results
            ]

    def _update(self, p: Pipeline, update: p4runtime_pb2.Update) -> Undo:
        utype = update.type
        if utype not in (UpdateType.INSERT, UpdateType.MODIFY, UpdateType.DELETE):
            raise invalid(f"update type {utype!r}, expected INSERT, MODIFY or DELETE")
        entity = update.entity
        kind = entity.WhichOneof("entity")
        try:
            match kind:
                case "table_entry":
                    return self._write_table_entry(p, utype, entity.table_entry)
                case "action_profile_member":
                    return self._write_member(p, utype, entity.action_profile_member)
                case "action_profile_group":
                    return self._write_group(p, utype, entity.action_profile_group)
                case "counter_entry":
                    return self._write_counter(p, utype, entity.counter_entry)
                case "direct_counter_entry":
                    return self._write_direct_counter(p, utype, entity.direct_counter_entry)
                case "meter_entry":
                    return self._write_meter(p, utype, entity.meter_entry)
                case "direct_meter_entry":
                    return self._write_direct_meter(p, utype, entity.direct_meter_entry)
                case "register_entry":
                    return self._write_register(p, utype, entity.register_entry)
                case "packet_replication_engine_entry":
                    return self._write_pre(p, utype, entity.packet_replication_engine_entry)
                case "digest_entry":
                    return self._write_digest(p, utype, entity.digest_entry)
                case None:
                    raise invalid("update has no entity")
                case _:
                    raise unimplemented(f"writing {kind} entities is not supported")
        except P4RuntimeError:
            raise
        except api.SwitchError as exc:
            raise P4RuntimeError(grpc.StatusCode.INTERNAL, f"{kind}: {exc}") from exc
        except Exception as exc:
            # A fault in one update must not leave the batch half applied.
            logger.exception("Write: %s update failed unexpectedly", kind)
            raise P4RuntimeError(
                grpc.StatusCode.INTERNAL, f"{kind}: internal error: {exc}"
            ) from exc

    # tables

    def _find(
        self, p: Pipeline, tdef: TableDef, te: p4runtime_pb2.TableEntry
    ) -> tuple[tuple[api.KeyMatch | None, ...], int | None]:
        core_table = p.core_tables.get(tdef.name)
        if core_table is None:
            with core_errors(f"table {tdef.name!r}"):
                core_table = p.core_tables[tdef.name] = p.switch.table_info(tdef.name)
        matches = matches_to_core(tdef, core_table, te.match)
        check_priority(tdef, te.priority)
        with core_errors(f"table {tdef.name!r}"):
            handle = p.switch.find_entry(tdef.name, matches, te.priority)
        return matches, handle

    def _write_table_entry(self, p: Pipeline, utype: int, te: p4runtime_pb2.TableEntry) -> Undo:
        if te.table_id == 0:
            raise invalid("table entry: table id is missing")
        tdef = p.index.table(te.table_id)
        if te.HasField("time_since_last_hit"):
            raise invalid(f"table {tdef.name!r}: time_since_last_hit must not be set in a write")
        if te.is_default_action:
            return self._write_default(p, utype, tdef, te)
        if tdef.is_const:
            raise permission_denied(f"table {tdef.name!r} is const, its entries cannot change")
        if te.idle_timeout_ns and not tdef.idle_timeout:
            raise invalid(
                f"table {tdef.name!r}: idle_timeout_ns set on a table without idle timeout"
            )
        if te.idle_timeout_ns < 0:
            raise invalid(f"table {tdef.name!r}: negative idle_timeout_ns {te.idle_timeout_ns!r}")
        sw = p.switch
        name = tdef.name
        what = f"table {name!r}"
        matches, handle = self._find(p, tdef, te)
        action_set = None
        if te.action.WhichOneof("type") == "action_profile_action_set":
            action_set = p4runtime_pb2.ActionProfileActionSet()
            action_set.CopyFrom(te.action.action_profile_action_set)
        extra = EntryExtra(te.controller_metadata, te.metadata, te.idle_timeout_ns, action_set)
        match utype:
            case UpdateType.INSERT:
                if not te.HasField("action"):
                    raise invalid(f"{what}: INSERT of an entry without an action")
                if handle is not None:
                    raise P4RuntimeError(
                        grpc.StatusCode.ALREADY_EXISTS, f"{what}: an entry with this key exists"
                    )
                action = self._entry_action(p, tdef, te.action, action_set)
                new = None
                try:
                    with core_errors(what):
                        new = sw.add_entry(name, matches, action, te.priority)
                    self._apply_direct(p, tdef, new, te)
                    if te.idle_timeout_ns:
                        self._set_ttl(p, tdef, new, te.idle_timeout_ns)
                except P4RuntimeError:
                    if new is not None:
                        sw.delete_entry(name, new)
                    self._release_oneshot(p, tdef, action)
                    raise
                p.extras[(name, new)] = extra
                added = new

                def undo_insert() -> None:
                    sw.delete_entry(name, added)
                    self._release_oneshot(p, tdef, action)
                    p.extras.pop((name, added), None)

                return undo_insert
            case UpdateType.MODIFY:
                if handle is None:
                    raise not_found(f"{what}: no entry with this key")
                if not te.HasField("action"):
                    raise invalid(f"{what}: MODIFY of an entry without an action")
                action = self._entry_action(p, tdef, te.action, action_set)
                with core_errors(what):
                    old = sw.get_entry(name, handle)
                try:
                    with core_errors(what):
                        sw.modify_entry(name, handle, action)
                    self._apply_direct(p, tdef, handle, te)
                except P4RuntimeError:
                    sw.modify_entry(name, handle, old.action)
                    self._restore_direct(p, tdef, handle, old)
                    self._release_oneshot(p, tdef, action)
                    raise
                old_extra = p.extras.get((name, handle))
                self._release_oneshot(p, tdef, old.action)
                old_ttl_ns = old_extra.idle_timeout_ns if old_extra is not None else 0
                if tdef.idle_timeout and te.idle_timeout_ns != old_ttl_ns:
                    # The whole entry is given: its TTL too (0 stops ageing).
                    self._set_ttl(p, tdef, handle, te.idle_timeout_ns)
                p.extras[(name, handle)] = extra
                found = handle

                def undo_modify() -> None:
                    sw.modify_entry(name, found, self._rebuild_action(p, tdef, old, old_extra))
                    self._release_oneshot(p, tdef, action)
                    self._restore_direct(p, tdef, found, old)
                    if tdef.idle_timeout and te.idle_timeout_ns != old_ttl_ns:
                        sw.set_entry_ttl(name, found, old.ttl_us)
                    if old_extra is not None:
                        p.extras[(name, found)] = old_extra

                return undo_modify
            case _:
                if handle is None:
                    raise not_found(f"{what}: no entry with this key")
                with core_errors(what):
                    old = sw.get_entry(name, handle)
                    sw.delete_entry(name, handle)
                old_extra = p.extras.pop((name, handle), None)
                self._release_oneshot(p, tdef, old.action)

                def undo_delete() -> None:
                    again = sw.add_entry(
                        name,
                        old.matches,
                        self._rebuild_action(p, tdef, old, old_extra),
                        old.priority,
                    )
                    self._restore_direct(p, tdef, again, old)
                    if old.ttl_us:
                        sw.set_entry_ttl(name, again, old.ttl_us)
                    if old_extra is not None:
                        p.extras[(name, again)] = old_extra

                return undo_delete

    # one-shot action selector programming

    def _entry_action(
        self,
        p: Pipeline,
        tdef: TableDef,
        action: p4runtime_pb2.TableAction,
        action_set: p4runtime_pb2.ActionProfileActionSet | None,
    ) -> api.EntryAction:
        if action_set is None:
            return table_action_to_core(p.index, tdef, action, default=False)
        return api.GroupRef(self._oneshot_group(p, tdef, action_set))

    def _oneshot_group(
        self, p: Pipeline, tdef: TableDef, action_set: p4runtime_pb2.ActionProfileActionSet
    ) -> int:
        """Members and a group for a one-shot action set, as PI makes them."""
        what = f"table {tdef.name!r} one-shot action set"
        profile = p.index.profiles.get(tdef.implementation_id)
        if profile is None or not profile.with_selector:
            raise invalid(f"{what}: the table has no action selector")
        if not p.oneshot_entries.get(profile.id) and self._manual_in_use(p, profile):
            raise invalid(
                f"{what}: action selector {profile.name!r} is programmed with members and "
                "groups; its tables take one-shot action sets or members and groups, not both"
            )
        if not action_set.action_profile_actions:
            raise invalid(f"{what}: no actions")
        calls: list[api.ActionCall] = []
        weights: list[int] = []
        for a in action_set.action_profile_actions:
            adef, call = action_call_to_core(p.index, a.action, what)
            if adef.id not in tdef.action_ids or adef.id in tdef.default_only_ids:
                raise invalid(f"{what}: action {adef.name!r} is not an action of the table")
            if a.weight <= 0:
                raise invalid(
                    f"{what}: action {adef.name!r} has weight {a.weight!r}, expected >= 1"
                )
            calls.append(call)
            weights.append(a.weight)
        if profile.max_group_size and sum(weights) > profile.max_group_size:
            raise invalid(
                f"{what}: total weight {sum(weights)} exceeds the selector's max_group_size "
                f"{profile.max_group_size}"
            )
        sw = p.switch
        first = p.next_oneshot_id
        members = tuple(range(first, first + len(calls)))
        group_id = first + len(calls)
        p.next_oneshot_id = group_id + 1
        made: list[int] = []
        try:
            with core_errors(what):
                for member_id, call in zip(members, calls, strict=True):
                    sw.add_member(profile.name, member_id, call)
                    made.append(member_id)
                expanded = [m for m, w in zip(members, weights, strict=True) for _ in range(w)]
                sw.add_group(profile.name, group_id, expanded)
        except P4RuntimeError:
            for member_id in made:
                sw.delete_member(profile.name, member_id)
            raise
        p.oneshot_groups[group_id] = members
        p.oneshot_entries[profile.id] = p.oneshot_entries.get(profile.id, 0) + 1
        return group_id

    def _release_oneshot(self, p: Pipeline, tdef: TableDef, action: api.EntryAction) -> None:
        """Delete the group and members behind a one-shot entry's action (if it is one)."""
        if not isinstance(action, api.GroupRef) or action.group_id not in p.oneshot_groups:
            return
        profile = p.index.profiles[tdef.implementation_id]
        p.switch.delete_group(profile.name, action.group_id)
        for member_id in p.oneshot_groups.pop(action.group_id):
            p.switch.delete_member(profile.name, member_id)
        p.oneshot_entries[profile.id] -= 1

    def _rebuild_action(
        self, p: Pipeline, tdef: TableDef, old: api.TableEntry, extra: EntryExtra | None
    ) -> api.EntryAction:
        """An entry's action again (rollback): a one-shot set gets a new group."""
        if extra is not None and extra.action_set is not None:
            return api.GroupRef(self._oneshot_group(p, tdef, extra.action_set))
        return old.action

    @staticmethod
    def _manual_in_use(p: Pipeline, profile: ObjectDef) -> bool:
        members = p.switch.members(profile.name)
        groups = p.switch.groups(profile.name)
        return any(m < _ONESHOT_BASE for m in members) or any(g < _ONESHOT_BASE for g in groups)

    def _refuse_manual_on_oneshot(self, p: Pipeline, profile: ObjectDef, what: str) -> None:
        if p.oneshot_entries.get(profile.id):
            raise invalid(
                f"{what}: action selector {profile.name!r} is programmed with one-shot action "
                "sets; its tables take one-shot action sets or members and groups, not both"
            )

    def _apply_direct(
        self, p: Pipeline, tdef: TableDef, handle: int, te: p4runtime_pb2.TableEntry
    ) -> None:
        what = f"table {tdef.name!r}"
        if te.HasField("counter_data"):
            if not tdef.direct_counter_id:
                raise invalid(f"{what}: counter_data given for a table without a direct counter")
            value = api.CounterValue(te.counter_data.packet_count, te.counter_data.byte_count)
            with core_errors(what):
                p.switch.write_direct_counter(tdef.name, handle, value)
        if te.HasField("meter_config"):
            if not tdef.direct_meter_id:
                raise invalid(f"{what}: meter_config given for a table without a direct meter")
            with core_errors(what):
                p.switch.set_direct_meter_rates(tdef.name, handle, _rates_to_core(te.meter_config))
        elif tdef.direct_meter_id:
            with core_errors(what):
                p.switch.set_direct_meter_rates(tdef.name, handle, None)

    def _restore_direct(
        self, p: Pipeline, tdef: TableDef, handle: int, old: api.TableEntry
    ) -> None:
        if tdef.direct_counter_id and old.counter is not None:
            p.switch.write_direct_counter(tdef.name, handle, old.counter)
        if tdef.direct_meter_id:
            p.switch.set_direct_meter_rates(tdef.name, handle, old.meter)

    def _write_default(
        self, p: Pipeline, utype: int, tdef: TableDef, te: p4runtime_pb2.TableEntry
    ) -> Undo:
        what = f"table {tdef.name!r} default entry"
        if utype != UpdateType.MODIFY:
            raise invalid(f"{what}: only MODIFY is allowed on a default entry")
        if te.match or te.priority:
            raise invalid(f"{what}: a default entry has no match and no priority")
        if te.idle_timeout_ns:
            raise invalid(f"{what}: default entries have no idle timeout")
        if tdef.const_default_action_id:
            raise permission_denied(f"{what}: the default action is const")
        if tdef.implementation_id:
            raise invalid(f"{what}: a table with an action profile has no default entry")
        sw = p.switch
        name = tdef.name
        with core_errors(what):
            old = sw.get_default_action(name)
            if te.HasField("action"):
                call = table_action_to_core(p.index, tdef, te.action, default=True)
                if not isinstance(call, api.ActionCall):
                    raise invalid(f"{what}: expected a direct action")
                sw.set_default_action(name, call)
            else:
                sw.reset_default_action(name)

        def undo() -> None:
            if old is None:
                sw.reset_default_action(name)
            else:
                sw.set_default_action(name, old)

        return undo

    # action profiles

    def _profile(self, p: Pipeline, profile_id: int) -> ObjectDef:
        if profile_id == 0:
            raise invalid("action profile id is missing")
        return p.index.lookup(p.index.profiles, profile_id, "action profile")

    def _member_action(
        self, p: Pipeline, profile: ObjectDef, action: p4runtime_pb2.Action
    ) -> api.ActionCall:
        what = f"action profile {profile.name!r}"
        adef, call = action_call_to_core(p.index, action, what)
        tables = [t for t in p.index.tables.values() if t.implementation_id == profile.id]
        if tables and not any(adef.id in t.action_ids for t in tables):
            raise invalid(f"{what}: action {adef.name!r} is not an action of its tables")
        return call

    def _write_member(self, p: Pipeline, utype: int, m: p4runtime_pb2.ActionProfileMember) -> Undo:
        profile = self._profile(p, m.action_profile_id)
        sw = p.switch
        name = profile.name
        what = f"action profile {name!r} member {m.member_id!r}"
        self._refuse_manual_on_oneshot(p, profile, what)
        with core_errors(what):
            existing = sw.members(name)
        old = existing.get(m.member_id)
        match utype:
            case UpdateType.INSERT:
                if old is not None:
                    raise P4RuntimeError(grpc.StatusCode.ALREADY_EXISTS, f"{what} exists")
                call = self._member_action(p, profile, m.action)
                if profile.size and len(existing) >= profile.size:
                    raise P4RuntimeError(
                        grpc.StatusCode.RESOURCE_EXHAUSTED, f"{what}: profile full"
                    )
                with core_errors(what):
                    sw.add_member(name, m.member_id, call)
                return lambda: sw.delete_member(name, m.member_id)
            case UpdateType.MODIFY:
                if old is None:
                    raise not_found(f"{what} does not exist")
                call = self._member_action(p, profile, m.action)
                with core_errors(what):
                    sw.modify_member(name, m.member_id, call)
                previous = old
                return lambda: sw.modify_member(name, m.member_id, previous)
            case _:
                if old is None:
                    raise not_found(f"{what} does not exist")
                with core_errors(what):
                    sw.delete_member(name, m.member_id)
                previous = old
                return lambda: sw.add_member(name, m.member_id, previous)

    def _write_group(self, p: Pipeline, utype: int, g: p4runtime_pb2.ActionProfileGroup) -> Undo:
        profile = self._profile(p, g.action_profile_id)
        if not profile.with_selector:
            raise invalid(f"action profile {profile.name!r} has no selector, groups need one")
        sw = p.switch
        name = profile.name
        what = f"action profile {name!r} group {g.group_id!r}"
        self._refuse_manual_on_oneshot(p, profile, what)
        key = (profile.id, g.group_id)
        with core_errors(what):
            groups = sw.groups(name)
            members = sw.members(name)
        old = groups.get(g.group_id)
        old_proto = p.groups.get(key)
        expanded: list[int] = []
        stored = p4runtime_pb2.ActionProfileGroup()
        stored.CopyFrom(g)
        if utype != UpdateType.DELETE:
            # max_size: the spec's rules, as PI checks them.
            if g.max_size < 0:
                raise invalid(f"{what}: max_size {g.max_size!r}, expected >= 0")
            if profile.max_group_size and g.max_size > profile.max_group_size:
                raise invalid(
                    f"{what}: max_size {g.max_size!r} exceeds the P4Info max_group_size "
                    f"{profile.max_group_size!r}"
                )
            created = old_proto.max_size if utype == UpdateType.MODIFY and old_proto else 0
            if created and g.max_size and g.max_size != created:
                raise invalid(
                    f"{what}: max_size {g.max_size!r} differs from {created!r}, "
                    "given when the group was inserted"
                )
            stored.max_size = g.max_size or created
            seen: set[int] = set()
            for member in g.members:
                if member.member_id in seen:
                    raise invalid(
                        f"{what}: member {member.member_id!r} given twice, use its weight"
                    )
                seen.add(member.member_id)
                if member.member_id not in members:
                    raise not_found(f"{what}: member {member.member_id!r} does not exist")
                if member.weight <= 0:
                    raise invalid(
                        f"{what}: member {member.member_id!r} has weight {member.weight!r}, "
                        "expected >= 1"
                    )
                expanded.extend([member.member_id] * member.weight)
            limit = stored.max_size or profile.max_group_size
            if limit and len(expanded) > limit:
                raise P4RuntimeError(
                    grpc.StatusCode.RESOURCE_EXHAUSTED,
                    f"{what}: total weight {len(expanded)} exceeds the maximum {limit}",
                )
        match utype:
            case UpdateType.INSERT:
                if old is not None:
                    raise P4RuntimeError(grpc.StatusCode.ALREADY_EXISTS, f"{what} exists")
                with core_errors(what):
                    sw.add_group(name, g.group_id, expanded, g.max_size)
                p.groups[key] = stored

                def undo_insert() -> None:
                    sw.delete_group(name, g.group_id)
                    p.groups.pop(key, None)

                return undo_insert
            case UpdateType.MODIFY:
                if old is None:
                    raise not_found(f"{what} does not exist")
                with core_errors(what):
                    sw.set_group_members(name, g.group_id, expanded)
                p.groups[key] = stored
                previous = old

                def undo_modify() -> None:
                    sw.set_group_members(name, g.group_id, previous)
                    if old_proto is not None:
                        p.groups[key] = old_proto

                return undo_modify
            case _:
                if old is None:
                    raise not_found(f"{what} does not exist")
                with core_errors(what):
                    sw.delete_group(name, g.group_id)
                p.groups.pop(key, None)
                previous = old

                def undo_delete() -> None:
                    sw.add_group(name, g.group_id, previous)
                    if old_proto is not None:
                        p.groups[key] = old_proto

                return undo_delete

    # counters, meters, registers

    @staticmethod
    def _modify_only(utype: int, what: str) -> None:
        if utype != UpdateType.MODIFY:
            raise invalid(f"{what}: only MODIFY is allowed")

    def _write_counter(self, p: Pipeline, utype: int, c: p4runtime_pb2.CounterEntry) -> Undo:
        if c.counter_id == 0:
            raise invalid("counter entry: counter id is missing")
        obj = p.index.lookup(p.index.counters, c.counter_id, "counter")
        self._modify_only(utype, f"counter {obj.name!r}")
        cells = _indices(obj, c.HasField("index"), c.index.index, "counter")
        value = api.CounterValue(c.data.packet_count, c.data.byte_count)
        sw = p.switch
        with core_errors(f"counter {obj.name!r}"):
            old = [sw.counter_read(obj.name, i) for i in cells]
            for i in cells:
                sw.counter_write(obj.name, i, value)

        def undo() -> None:
            for i, v in zip(cells, old, strict=True):
                sw.counter_write(obj.name, i, v)

        return undo

    def _direct_target(
        self, p: Pipeline, te: p4runtime_pb2.TableEntry, kind: str
    ) -> tuple[TableDef, int]:
        if te.table_id == 0:
            raise invalid(f"{kind} entry: table id is missing")
        tdef = p.index.table(te.table_id)
        _, handle = self._find(p, tdef, te)
        if handle is None:
            raise not_found(f"{kind} entry: table {tdef.name!r} has no entry with this key")
        return tdef, handle

    def _write_direct_counter(
        self, p: Pipeline, utype: int, d: p4runtime_pb2.DirectCounterEntry
    ) -> Undo:
        tdef, handle = self._direct_target(p, d.table_entry, "direct counter")
        what = f"table {tdef.name!r} direct counter"
        self._modify_only(utype, what)
        if not tdef.direct_counter_id:
            raise invalid(f"{what}: the table has no direct counter")
        sw = p.switch
        with core_errors(what):
            old = sw.read_direct_counter(tdef.name, handle)
            sw.write_direct_counter(
                tdef.name, handle, api.CounterValue(d.data.packet_count, d.data.byte_count)
            )
        return lambda: sw.write_direct_counter(tdef.name, handle, old)

    def _write_meter(self, p: Pipeline, utype: int, m: p4runtime_pb2.MeterEntry) -> Undo:
        if m.meter_id == 0:
            raise invalid("meter entry: meter id is missing")
        obj = p.index.lookup(p.index.meters, m.meter_id, "meter")
        self._modify_only(utype, f"meter {obj.name!r}")
        cells = _indices(obj, m.HasField("index"), m.index.index, "meter")
        rates = _rates_to_core(m.config) if m.HasField("config") else None
        sw = p.switch
        with core_errors(f"meter {obj.name!r}"):
            old = [sw.meter_get_rates(obj.name, i) for i in cells]
            for i in cells:
                sw.meter_set_rates(obj.name, i, rates)

        def undo() -> None:
            for i, v in zip(cells, old, strict=True):
                sw.meter_set_rates(obj.name, i, v)

        return undo

    def _write_direct_meter(
        self, p: Pipeline, utype: int, d: p4runtime_pb2.DirectMeterEntry
    ) -> Undo:
        tdef, handle = self._direct_target(p, d.table_entry, "direct meter")
        what = f"table {tdef.name!r} direct meter"
        self._modify_only(utype, what)
        if not tdef.direct_meter_id:
            raise invalid(f"{what}: the table has no direct meter")
        sw = p.switch
        rates = _rates_to_core(d.config) if d.HasField("config") else None
        with core_errors(what):
            old = sw.get_entry(tdef.name, handle).meter
            sw.set_direct_meter_rates(tdef.name, handle, rates)
        return lambda: sw.set_direct_meter_rates(tdef.name, handle, old)

    def _write_register(self, p: Pipeline, utype: int, r: p4runtime_pb2.RegisterEntry) -> Undo:
        if r.register_id == 0:
            raise invalid("register entry: register id is missing")
        obj = p.index.lookup(p.index.registers, r.register_id, "register")
        what = f"register {obj.name!r}"
        self._modify_only(utype, what)
        cells = _indices(obj, r.HasField("index"), r.index.index, "register")
        if not r.HasField("data"):
            raise invalid(f"{what}: no data to write")
        value = p4data_int(r.data, obj.bitwidth, what)
        sw = p.switch
        with core_errors(what):
            old = [sw.register_read(obj.name, i) for i in cells]
            for i in cells:
                sw.register_write(obj.name, i, value)

        def undo() -> None:
            for i, v in zip(cells, old, strict=True):
                sw.register_write(obj.name, i, v)

        return undo

    # packet replication engine

    def _write_pre(
        self, p: Pipeline, utype: int, pre: p4runtime_pb2.PacketReplicationEngineEntry
    ) -> Undo:
        kind = pre.WhichOneof("type")
        match kind:
            case "multicast_group_entry":
                return self._write_mc_group(p, utype, pre.multicast_group_entry)
            case "clone_session_entry":
                return self._write_clone_session(p, utype, pre.clone_session_entry)
            case _:
                raise invalid("packet replication engine entry is empty")

    @staticmethod
    def _replicas(replicas: list[p4runtime_pb2.Replica], what: str) -> list[api.Replica]:
        out: list[api.Replica] = []
        seen: set[tuple[int, int]] = set()
        for r in replicas:
            port = _replica_port(r, what)
            if (port, r.instance) in seen:
                raise invalid(f"{what}: replica (port {port!r}, instance {r.instance!r}) twice")
            seen.add((port, r.instance))
            out.append(api.Replica(port, r.instance))
        return out

    def _write_mc_group(
        self, p: Pipeline, utype: int, g: p4runtime_pb2.MulticastGroupEntry
    ) -> Undo:
        gid = g.multicast_group_id
        what = f"multicast group {gid!r}"
        if gid == 0:
            raise invalid("multicast group id 0 is reserved, expected 1..65535")
        if gid >= _CLONE_GROUP_BASE:
            raise P4RuntimeError(grpc.StatusCode.OUT_OF_RANGE, f"{what}: expected 1..65535")
        sw = p.switch
        old = p.mc_groups.get(gid)
        replicas = self._replicas(list(g.replicas), what)
        stored = p4runtime_pb2.MulticastGroupEntry()
        stored.CopyFrom(g)
        match utype:
            case UpdateType.INSERT:
                if old is not None:
                    raise P4RuntimeError(grpc.StatusCode.ALREADY_EXISTS, f"{what} exists")
                with core_errors(what):
                    sw.set_multicast_group(gid, replicas)
                p.mc_groups[gid] = stored

                def undo_insert() -> None:
                    sw.delete_multicast_group(gid)
                    p.mc_groups.pop(gid, None)

                return undo_insert
            case UpdateType.MODIFY | UpdateType.DELETE:
                if old is None:
                    raise not_found(f"{what} does not exist")
                previous = old
                with core_errors(what):
                    if utype == UpdateType.MODIFY:
                        sw.set_multicast_group(gid, replicas)
                        p.mc_groups[gid] = stored
                    else:
                        sw.delete_multicast_group(gid)
                        del p.mc_groups[gid]

                def undo_change() -> None:
                    sw.set_multicast_group(gid, self._replicas(list(previous.replicas), what))
                    p.mc_groups[gid] = previous

                return undo_change
            case _:
                raise invalid(f"{what}: bad update type {utype!r}")

    def _clone_config(self, p: Pipeline, s: p4runtime_pb2.CloneSessionEntry) -> api.CloneSession:
        what = f"clone session {s.session_id!r}"
        replicas = self._replicas(list(s.replicas), what)
        if s.packet_length_bytes < 0:
            raise invalid(f"{what}: packet_length_bytes {s.packet_length_bytes!r}")
        if len(replicas) == 1 and replicas[0].rid == 0:
            self._drop_clone_group(p, s.session_id)
            return api.CloneSession(port=replicas[0].port, truncate_length=s.packet_length_bytes)
        group = _CLONE_GROUP_BASE + s.session_id
        p.switch.set_multicast_group(group, replicas)
        return api.CloneSession(mgrp=group, truncate_length=s.packet_length_bytes)

    @staticmethod
    def _drop_clone_group(p: Pipeline, session_id: int) -> None:
        group = _CLONE_GROUP_BASE + session_id
        if group in p.switch.multicast_groups():
            p.switch.delete_multicast_group(group)

    def _write_clone_session(
        self, p: Pipeline, utype: int, s: p4runtime_pb2.CloneSessionEntry
    ) -> Undo:
        sid = s.session_id
        what = f"clone session {sid!r}"
        if sid == 0:
            raise invalid("clone session id 0 is reserved")
        sw = p.switch
        old = p.clone_sessions.get(sid)
        stored = p4runtime_pb2.CloneSessionEntry()
        stored.CopyFrom(s)

        def restore() -> None:
            if old is None:
                sw.set_clone_session(sid, None)
                self._drop_clone_group(p, sid)
                p.clone_sessions.pop(sid, None)
            else:
                sw.set_clone_session(sid, self._clone_config(p, old))
                p.clone_sessions[sid] = old

        match utype:
            case UpdateType.INSERT | UpdateType.MODIFY:
                if utype == UpdateType.INSERT and old is not None:
                    raise P4RuntimeError(grpc.StatusCode.ALREADY_EXISTS, f"{what} exists")
                if utype == UpdateType.MODIFY and old is None:
                    raise not_found(f"{what} does not exist")
                with core_errors(what):
                    sw.set_clone_session(sid, self._clone_config(p, s))
                p.clone_sessions[sid] = stored
                return restore
            case _:
                if old is None:
                    raise not_found(f"{what} does not exist")
                with core_errors(what):
                    sw.set_clone_session(sid, None)
                    self._drop_clone_group(p, sid)
                del p.clone_sessions[sid]
                return restore

    def _write_digest(self, p: Pipeline, utype: int, d: p4runtime_pb2.DigestEntry) -> Undo:
        if d.digest_id == 0:
            raise invalid("digest entry: digest id is missing")
        obj = p.index.lookup(p.index.digests, d.digest_id, "digest")
        what = f"digest {obj.name!r}"
        old = p.digest_configs.get(d.digest_id)
        stored = p4runtime_pb2.DigestEntry()
        stored.CopyFrom(d)
        match utype:
            case UpdateType.INSERT:
                if old is not None:
                    raise P4RuntimeError(grpc.StatusCode.ALREADY_EXISTS, f"{what} is configured")
                p.digest_configs[d.digest_id] = stored
            case UpdateType.MODIFY:
                if old is None:
                    raise not_found(f"{what} is not configured")
                p.digest_configs[d.digest_id] = stored
            case _:
                if old is None:
                    raise not_found(f"{what} is not configured")
                del p.digest_configs[d.digest_id]

        self._configure_digest(p, d.digest_id)

        def undo() -> None:
            if old is None:
                p.digest_configs.pop(d.digest_id, None)
            else:
                p.digest_configs[d.digest_id] = old
            self._configure_digest(p, d.digest_id)

        return undo

    @staticmethod
    def _configure_digest(p: Pipeline, digest_id: int) -> None:
        entry = p.digest_configs.get(digest_id)
        if p.digests is not None:
            p.digests.configure(digest_id, entry.config if entry is not None else None)

    # -- read ------------------------------------------------------------------

    def read(self, request: p4runtime_pb2.ReadRequest) -> list[p4runtime_pb2.Entity]:
        """Every entity matching the request's (possibly wildcard) entities."""
        with self.lock:
            p = self._require()
            out: list[p4runtime_pb2.Entity] = []
            for entity in request.entities:
                kind = entity.WhichOneof("entity")
                match kind:
                    case "table_entry":
                        out.extend(self._read_tables(p, entity.table_entry))
                    case "action_profile_member":
                        out.extend(self._read_members(p, entity.action_profile_member))
                    case "action_profile_group":
                        out.extend(self._read_groups(p, entity.action_profile_group))
                    case "counter_entry":
                        out.extend(self._read_counters(p, entity.counter_entry))
                    case "direct_counter_entry":
                        out.extend(self._read_direct_counters(p, entity.direct_counter_entry))
                    case "meter_entry":
                        out.extend(self._read_meters(p, entity.meter_entry))
                    case "direct_meter_entry":
                        out.extend(self._read_direct_meters(p, entity.direct_meter_entry))
                    case "register_entry":
                        out.extend(self._read_registers(p, entity.register_entry))
                    case "packet_replication_engine_entry":
                        out.extend(self._read_pre(p, entity.packet_replication_engine_entry))
                    case "digest_entry":
                        out.extend(self._read_digests(p, entity.digest_entry))
                    case None:
                        raise invalid("Read: entity is empty")
                    case _:
                        raise unimplemented(f"reading {kind} entities is not supported")
            return out

    def _selected_tables(self, p: Pipeline, table_id: int) -> list[TableDef]:
        return [p.index.table(table_id)] if table_id else list(p.index.tables.values())

    def _entries_of(
        self, p: Pipeline, tdef: TableDef, te: p4runtime_pb2.TableEntry
    ) -> list[api.TableEntry]:
        sw = p.switch
        with core_errors(f"table {tdef.name!r}"):
            if te.match:
                _, handle = self._find(p, tdef, te)
                entries = [] if handle is None else [sw.get_entry(tdef.name, handle)]
            else:
                entries = sw.entries(tdef.name)
        if te.priority:
            entries = [e for e in entries if e.priority == te.priority]
        return entries

    def _entry_proto(
        self,
        p: Pipeline,
        tdef: TableDef,
        e: api.TableEntry,
        *,
        with_counter: bool,
        with_idle: bool = False,
        with_meter: bool = False,
    ) -> p4runtime_pb2.TableEntry:
        out = p4runtime_pb2.TableEntry(table_id=tdef.id, priority=e.priority)
        out.match.extend(matches_from_core(tdef, e.matches))
        extra = p.extras.get((tdef.name, e.handle))
        if extra is not None and extra.action_set is not None:
            out.action.action_profile_action_set.CopyFrom(extra.action_set)
        else:
            out.action.CopyFrom(table_action_from_core(p.action_ids, p.index, e.action))
        if with_counter and tdef.direct_counter_id:
            unit = p.index.direct_counters[tdef.direct_counter_id].unit
            value = p.switch.read_direct_counter(tdef.name, e.handle)
            out.counter_data.CopyFrom(_counter_data(value, unit))
        if with_meter and tdef.direct_meter_id and e.meter is not None:
            # Asked for, and not the default configuration (PI, the spec).
            out.meter_config.CopyFrom(_rates_from_core(e.meter))
        if extra is not None:
            out.controller_metadata = extra.controller_metadata
            out.metadata = extra.metadata
            out.idle_timeout_ns = extra.idle_timeout_ns
        if e.is_const or tdef.is_const:
            out.is_const = True
        if with_idle and tdef.idle_timeout and e.time_since_hit_us is not None:
            out.time_since_last_hit.elapsed_ns = e.time_since_hit_us * 1000
        return out

    def _read_tables(
        self, p: Pipeline, te: p4runtime_pb2.TableEntry
    ) -> Iterator[p4runtime_pb2.Entity]:
        with_idle = te.HasField("time_since_last_hit")
        if te.is_default_action and (with_idle or te.idle_timeout_ns):
            raise invalid("Read: default entries have no idle timeout")
        for tdef in self._selected_tables(p, te.table_id):
            if with_idle and te.table_id and not tdef.idle_timeout:
                raise invalid(
                    f"Read: time_since_last_hit asked of table {tdef.name!r}, "
                    "which does not support idle timeout"
                )
            if te.is_default_action:
                with core_errors(f"table {tdef.name!r}"):
                    call = p.switch.get_default_action(tdef.name)
                if call is None:
                    continue
                entry = p4runtime_pb2.TableEntry(table_id=tdef.id, is_default_action=True)
                try:
                    entry.action.CopyFrom(table_action_from_core(p.action_ids, p.index, call))
                except P4RuntimeError as exc:
                    # A default p4c made up (not in the P4Info) must not fail a wildcard read.
                    logger.warning("Read: default entry of %r skipped: %s", tdef.name, exc.message)
                    continue
                yield p4runtime_pb2.Entity(table_entry=entry)
                continue
            for e in self._entries_of(p, tdef, te):
                entry = self._entry_proto(
                    p,
                    tdef,
                    e,
                    with_counter=te.HasField("counter_data"),
                    with_idle=with_idle,
                    with_meter=te.HasField("meter_config"),
                )
                yield p4runtime_pb2.Entity(table_entry=entry)

    def _read_members(
        self, p: Pipeline, m: p4runtime_pb2.ActionProfileMember
    ) -> Iterator[p4runtime_pb2.Entity]:
        profiles = (
            [self._profile(p, m.action_profile_id)]
            if m.action_profile_id
            else list(p.index.profiles.values())
        )
        for profile in profiles:
            with core_errors(f"action profile {profile.name!r}"):
                members = p.switch.members(profile.name)
            for member_id, call in sorted(members.items()):
                if (m.member_id and member_id != m.member_id) or member_id >= _ONESHOT_BASE:
                    continue
                member = p4runtime_pb2.ActionProfileMember(
                    action_profile_id=profile.id, member_id=member_id
                )
                member.action.CopyFrom(action_call_from_core(p.action_ids, p.index, call))
                yield p4runtime_pb2.Entity(action_profile_member=member)

    def _read_groups(
        self, p: Pipeline, g: p4runtime_pb2.ActionProfileGroup
    ) -> Iterator[p4runtime_pb2.Entity]:
        profiles = (
            [self._profile(p, g.action_profile_id)]
            if g.action_profile_id
            else [o for o in p.index.profiles.values() if o.with_selector]
        )
        for profile in profiles:
            with core_errors(f"action profile {profile.name!r}"):
                groups = p.switch.groups(profile.name)
            for group_id, members in sorted(groups.items()):
                if (g.group_id and group_id != g.group_id) or group_id >= _ONESHOT_BASE:
                    continue
                stored = p.groups.get((profile.id, group_id))
                if stored is not None:
                    group = p4runtime_pb2.ActionProfileGroup()
                    group.CopyFrom(stored)
                else:
                    group = p4runtime_pb2.ActionProfileGroup(
                        action_profile_id=profile.id, group_id=group_id
                    )
                    for member_id in dict.fromkeys(members):
                        group.members.add(member_id=member_id, weight=members.count(member_id))
                yield p4runtime_pb2.Entity(action_profile_group=group)

    def _read_counters(
        self, p: Pipeline, c: p4runtime_pb2.CounterEntry
    ) -> Iterator[p4runtime_pb2.Entity]:
        objs = (
            [p.index.lookup(p.index.counters, c.counter_id, "counter")]
            if c.counter_id
            else list(p.index.counters.values())
        )
        for obj in objs:
            for i in _indices(obj, c.HasField("index"), c.index.index, "counter"):
                with core_errors(f"counter {obj.name!r}"):
                    value = p.switch.counter_read(obj.name, i)
                entry = p4runtime_pb2.CounterEntry(counter_id=obj.id)
                entry.index.index = i
                entry.data.CopyFrom(_counter_data(value, obj.unit))
                yield p4runtime_pb2.Entity(counter_entry=entry)

    def _read_direct_counters(
        self, p: Pipeline, d: p4runtime_pb2.DirectCounterEntry
    ) -> Iterator[p4runtime_pb2.Entity]:
        for tdef in self._selected_tables(p, d.table_entry.table_id):
            if not tdef.direct_counter_id:
                if d.table_entry.table_id:
                    raise invalid(f"table {tdef.name!r} has no direct counter")
                continue
            unit = p.index.direct_counters[tdef.direct_counter_id].unit
            for e in self._entries_of(p, tdef, d.table_entry):
                with core_errors(f"table {tdef.name!r}"):
                    value = p.switch.read_direct_counter(tdef.name, e.handle)
                entry = p4runtime_pb2.DirectCounterEntry()
                entry.table_entry.CopyFrom(self._entry_proto(p, tdef, e, with_counter=False))
                entry.data.CopyFrom(_counter_data(value, unit))
                yield p4runtime_pb2.Entity(direct_counter_entry=entry)

    def _read_meters(
        self, p: Pipeline, m: p4runtime_pb2.MeterEntry
    ) -> Iterator[p4runtime_pb2.Entity]:
        objs = (
            [p.index.lookup(p.index.meters, m.meter_id, "meter")]
            if m.meter_id
            else list(p.index.meters.values())
        )
        for obj in objs:
            for i in _indices(obj, m.HasField("index"), m.index.index, "meter"):
                with core_errors(f"meter {obj.name!r}"):
                    rates = p.switch.meter_get_rates(obj.name, i)
                entry = p4runtime_pb2.MeterEntry(meter_id=obj.id)
                entry.index.index = i
                if rates is not None:
                    entry.config.CopyFrom(_rates_from_core(rates))
                yield p4runtime_pb2.Entity(meter_entry=entry)

    def _read_direct_meters(
        self, p: Pipeline, d: p4runtime_pb2.DirectMeterEntry
    ) -> Iterator[p4runtime_pb2.Entity]:
        for tdef in self._selected_tables(p, d.table_entry.table_id):
            if not tdef.direct_meter_id:
                if d.table_entry.table_id:
                    raise invalid(f"table {tdef.name!r} has no direct meter")
                continue
            for e in self._entries_of(p, tdef, d.table_entry):
                entry = p4runtime_pb2.DirectMeterEntry()
                entry.table_entry.CopyFrom(self._entry_proto(p, tdef, e, with_counter=False))
                entry.table_entry.ClearField("meter_config")
                if e.meter is not None:
                    entry.config.CopyFrom(_rates_from_core(e.meter))
                yield p4runtime_pb2.Entity(direct_meter_entry=entry)

    def _read_registers(
        self, p: Pipeline, r: p4runtime_pb2.RegisterEntry
    ) -> Iterator[p4runtime_pb2.Entity]:
        objs = (
            [p.index.lookup(p.index.registers, r.register_id, "register")]
            if r.register_id
            else list(p.index.registers.values())
        )
        for obj in objs:
            for i in _indices(obj, r.HasField("index"), r.index.index, "register"):
                with core_errors(f"register {obj.name!r}"):
                    value = p.switch.register_read(obj.name, i)
                entry = p4runtime_pb2.RegisterEntry(register_id=obj.id)
                entry.index.index = i
                entry.data.bitstring = encode(value)
                yield p4runtime_pb2.Entity(register_entry=entry)

    def _read_pre(
        self, p: Pipeline, pre: p4runtime_pb2.PacketReplicationEngineEntry
    ) -> Iterator[p4runtime_pb2.Entity]:
        kind = pre.WhichOneof("type")
        match kind:
            case "multicast_group_entry":
                gid = pre.multicast_group_entry.multicast_group_id
                for key, group in sorted(p.mc_groups.items()):
                    if gid and key != gid:
                        continue
                    yield p4runtime_pb2.Entity(
                        packet_replication_engine_entry=p4runtime_pb2.PacketReplicationEngineEntry(
                            multicast_group_entry=group
                        )
                    )
            case "clone_session_entry":
                sid = pre.clone_session_entry.session_id
                for key, session in sorted(p.clone_sessions.items()):
                    if sid and key != sid:
                        continue
                    yield p4runtime_pb2.Entity(
                        packet_replication_engine_entry=p4runtime_pb2.PacketReplicationEngineEntry(
                            clone_session_entry=session
                        )
                    )
            case _:
                raise invalid("Read: packet replication engine entry is empty")

    def _read_digests(
        self, p: Pipeline, d: p4runtime_pb2.DigestEntry
    ) -> Iterator[p4runtime_pb2.Entity]:
        for key, config in sorted(p.digest_configs.items()):
            if d.digest_id and key != d.digest_id:
                continue
            yield p4runtime_pb2.Entity(digest_entry=config)
