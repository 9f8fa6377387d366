"""Fixtures for the p4lite switch component tests: a SwitchServer in-process on
127.0.0.1:0 with in-memory ports, raw P4Runtime stubs over real gRPC, and an
STF runner that configures the switch through P4Runtime only."""

from __future__ import annotations

import queue
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf import text_format
from google.rpc import status_pb2
from p4.config.v1 import p4info_pb2
from p4.v1 import p4runtime_pb2, p4runtime_pb2_grpc

from p4lite.switch.ports import MemoryPort
from p4lite.switch.server import ServerOptions, SwitchServer

CONFORMANCE = Path(__file__).resolve().parents[2] / "conformance"
REFERENCE = CONFORMANCE / "reference"
PROGRAMS = CONFORMANCE / "programs"


def load_p4info(name: str) -> p4info_pb2.P4Info:
    info = p4info_pb2.P4Info()
    text_format.Parse((REFERENCE / f"{name}.p4info.txtpb").read_text(), info)
    return info


def load_json(name: str) -> bytes:
    return (REFERENCE / f"{name}.json").read_bytes()


class Names:
    """P4Info lookups by name for building requests."""

    def __init__(self, info: p4info_pb2.P4Info) -> None:
        self.info = info

    def table(self, name: str) -> p4info_pb2.Table:
        return next(t for t in self.info.tables if t.preamble.name == name)

    def action(self, name: str) -> p4info_pb2.Action:
        return next(a for a in self.info.actions if a.preamble.name == name)

    def register(self, name: str) -> p4info_pb2.Register:
        return next(r for r in self.info.registers if r.preamble.name == name)

    def counter(self, name: str) -> p4info_pb2.Counter:
        return next(c for c in self.info.counters if c.preamble.name == name)

    def meter(self, name: str) -> p4info_pb2.Meter:
        return next(m for m in self.info.meters if m.preamble.name == name)

    def action_msg(self, name: str, **params: int) -> p4runtime_pb2.Action:
        a = self.action(name)
        msg = p4runtime_pb2.Action(action_id=a.preamble.id)
        for p in a.params:
            if p.name in params:
                value = params[p.name]
                msg.params.add(param_id=p.id, value=_canon(value))
        return msg

    def exact_entry(
        self, table: str, key: int, action: str, **params: int
    ) -> p4runtime_pb2.TableEntry:
        t = self.table(table)
        f = t.match_fields[0]
        entry = p4runtime_pb2.TableEntry(table_id=t.preamble.id)
        entry.match.add(field_id=f.id).exact.value = _canon(key)
        entry.action.action.CopyFrom(self.action_msg(action, **params))
        return entry


def write_errors(exc: grpc.RpcError) -> list[p4runtime_pb2.Error]:
    """The per-update errors of a failed Write (from grpc-status-details-bin)."""
    call = exc
    for key, value in call.trailing_metadata() or ():  # type: ignore[attr-defined]
        if key == "grpc-status-details-bin":
            status = status_pb2.Status.FromString(value)
            errors = []
            for detail in status.details:
                err = p4runtime_pb2.Error()
                assert detail.Unpack(err)
                errors.append(err)
            return errors
    return []


class Stream:
    """One StreamChannel with queues on both sides."""

    def __init__(self, stub: p4runtime_pb2_grpc.P4RuntimeStub) -> None:
        self._requests: queue.Queue[p4runtime_pb2.StreamMessageRequest | None] = queue.Queue()
        self.responses: queue.Queue[object] = queue.Queue()
        self._call = stub.StreamChannel(iter(self._requests.get, None))
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        try:
            for response in self._call:
                self.responses.put(response)
        except grpc.RpcError as exc:
            self.responses.put(exc)

    def send(self, message: p4runtime_pb2.StreamMessageRequest) -> None:
        self._requests.put(message)

    def next(self, timeout: float = 3.0) -> object:
        return self.responses.get(timeout=timeout)

    def arbitrate(
        self, election_id: int, device_id: int = 0
    ) -> p4runtime_pb2.StreamMessageResponse | grpc.RpcError:
        request = p4runtime_pb2.StreamMessageRequest()
        request.arbitration.device_id = device_id
        request.arbitration.election_id.low = election_id
        self.send(request)
        return self.next()  # type: ignore[return-value]

    def close(self) -> None:
        self._requests.put(None)
        self._call.cancel()


class Harness:
    """A running SwitchServer with in-memory ports and a client stub."""

    def __init__(self, ports: tuple[int, ...] = (0, 1, 2, 3, 4), cpu_port: int | None = 64):
        self.ports = {n: MemoryPort(n) for n in ports}
        options = ServerOptions(grpc_address="127.0.0.1:0", cpu_port=cpu_port)
        self.server = SwitchServer(options, list(self.ports.values()))
        self.port = self.server.start()
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.port}")
        self.stub = p4runtime_pb2_grpc.P4RuntimeStub(self.channel)
        self.streams: list[Stream] = []
        self.election_id = 0

    def stream(self) -> Stream:
        s = Stream(self.stub)
        self.streams.append(s)
        return s

    def primary(self, election_id: int = 10) -> Stream:
        s = self.stream()
        reply = s.arbitrate(election_id)
        assert isinstance(reply, p4runtime_pb2.StreamMessageResponse)
        assert reply.arbitration.status.code == 0
        self.election_id = election_id
        return s

    def set_pipeline(self, name: str, info: p4info_pb2.P4Info | None = None) -> Names:
        request = p4runtime_pb2.SetForwardingPipelineConfigRequest(
            device_id=0,
            action=p4runtime_pb2.SetForwardingPipelineConfigRequest.VERIFY_AND_COMMIT,
        )
        request.election_id.low = self.election_id
        info = info if info is not None else load_p4info(name)
        request.config.p4info.CopyFrom(info)
        request.config.p4_device_config = load_json(name)
        self.stub.SetForwardingPipelineConfig(request)
        return Names(info)

    def write(
        self,
        *updates: tuple[int, p4runtime_pb2.Entity],
        atomicity: int = p4runtime_pb2.WriteRequest.CONTINUE_ON_ERROR,
        election_id: int | None = None,
    ) -> None:
        request = p4runtime_pb2.WriteRequest(device_id=0, atomicity=atomicity)
        request.election_id.low = self.election_id if election_id is None else election_id
        for utype, entity in updates:
            request.updates.add(type=utype, entity=entity)
        self.stub.Write(request)

    def read(self, *entities: p4runtime_pb2.Entity) -> list[p4runtime_pb2.Entity]:
        request = p4runtime_pb2.ReadRequest(device_id=0, entities=list(entities))
        out: list[p4runtime_pb2.Entity] = []
        for response in self.stub.Read(request):
            out.extend(response.entities)
        return out

    def wait_processed(self, count: int, timeout: float = 5.0) -> None:
        """Poll until the data plane has handled `count` frames in total."""
        deadline = time.monotonic() + timeout
        while self.server.dataplane.stats.processed < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"data plane processed {self.server.dataplane.stats}")
            time.sleep(0.001)

    def close(self) -> None:
        for s in self.streams:
            s.close()
        self.channel.close()
        self.server.stop(grace=0.05)


@pytest.fixture
def harness() -> Iterator[Harness]:
    h = Harness()
    try:
        yield h
    finally:
        h.close()


@pytest.fixture
def make_harness() -> Iterator[type[Harness]]:
    made: list[Harness] = []

    class _Tracked(Harness):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]
            made.append(self)

    try:
        yield _Tracked
    finally:
        for h in made:
            h.close()


def entity(**kwargs: object) -> p4runtime_pb2.Entity:
    return p4runtime_pb2.Entity(**kwargs)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------
# STF through P4Runtime.


def _strip(line: str) -> str:
    return line.split("#", 1)[0].strip()


def _stf_number(text: str, width: int) -> tuple[int, int]:
    """Value and mask of an STF key value; '*' digits are wildcards."""
    if text.startswith(("0x", "0X")):
        digits, bits = text[2:], 4
    elif text.startswith(("0b", "0B")):
        digits, bits = text[2:], 1
    else:
        return int(text, 0), (1 << width) - 1
    value = mask = 0
    for d in digits:
        value <<= bits
        mask <<= bits
        if d != "*":
            value |= int(d, 16 if bits == 4 else 2)
            mask |= (1 << bits) - 1
    total = len(digits) * bits
    if total > width:
        mask &= (1 << width) - 1
        value &= (1 << width) - 1
    elif total < width:
        mask |= ((1 << (width - total)) - 1) << total
    return value, mask


def _canon(value: int) -> bytes:
    return value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")


class StfRun:
    """Configure a switch through P4Runtime from an STF file, then run its packets."""

    def __init__(self, harness: Harness, names: Names) -> None:
        self.h = harness
        self.names = names
        self.mc_groups: dict[int, list[int]] = {}
        self.mc_nodes: list[tuple[int, list[int]]] = []
        self.packets: list[tuple[int, bytes]] = []
        self.expects: dict[int, list[tuple[str, bool]]] = {}

    def _action(self, text: str) -> p4runtime_pb2.Action:
        m = re.fullmatch(r"\s*([\w.$]+)\s*\((.*)\)\s*", text)
        assert m, text
        params = {}
        for part in filter(None, (p.strip() for p in m.group(2).split(","))):
            k, v = part.split(":")
            params[k.strip()] = int(v.strip(), 0)
        return self.names.action_msg(m.group(1), **params)

    def add(self, rest: str) -> None:
        head, paren, tail = rest.partition("(")
        tokens = head.split()
        table = self.names.table(tokens[0])
        idx = 1
        priority = 0
        if tokens[idx].isdigit():
            priority = int(tokens[idx])
            idx += 1
        action_name = tokens[-1]
        keys = dict(t.split(":", 1) for t in tokens[idx:-1])
        entry = p4runtime_pb2.TableEntry(table_id=table.preamble.id, priority=priority)
        mt = p4info_pb2.MatchField
        for f in table.match_fields:
            value, mask = _stf_number(keys[f.name], f.bitwidth)
            full = (1 << f.bitwidth) - 1
            fm = p4runtime_pb2.FieldMatch(field_id=f.id)
            if f.match_type == mt.EXACT:
                fm.exact.value = _canon(value)
            elif f.match_type == mt.LPM:
                plen = bin(mask).count("1")
                if plen == 0:
                    continue
                fm.lpm.value = _canon(value)
                fm.lpm.prefix_len = plen
            elif f.match_type == mt.OPTIONAL:
                if mask == 0:
                    continue
                fm.optional.value = _canon(value)
            else:
                if mask == 0:
                    continue
                fm.ternary.value = _canon(value & mask)
                fm.ternary.mask = _canon(mask & full)
            entry.match.append(fm)
        entry.action.action.CopyFrom(self._action(action_name + paren + tail))
        self.h.write((p4runtime_pb2.Update.INSERT, entity(table_entry=entry)))

    def setdefault(self, rest: str) -> None:
        name, _, action = rest.partition(" ")
        table = self.names.table(name)
        entry = p4runtime_pb2.TableEntry(table_id=table.preamble.id, is_default_action=True)
        entry.action.action.CopyFrom(self._action(action))
        self.h.write((p4runtime_pb2.Update.MODIFY, entity(table_entry=entry)))

    def register_write(self, rest: str) -> None:
        name, index, value = rest.split()
        entry = p4runtime_pb2.RegisterEntry(register_id=self.names.register(name).preamble.id)
        entry.index.index = int(index, 0)
        entry.data.bitstring = _canon(int(value, 0))
        self.h.write((p4runtime_pb2.Update.MODIFY, entity(register_entry=entry)))

    def meter_set_rates(self, rest: str) -> None:
        name, index, committed, peak = rest.split()
        cir, cburst = committed.split(":")
        pir, pburst = peak.split(":")
        entry = p4runtime_pb2.MeterEntry(meter_id=self.names.meter(name).preamble.id)
        entry.index.index = int(index)
        entry.config.cir = round(float(cir) * 1e6)
        entry.config.cburst = int(cburst)
        entry.config.pir = round(float(pir) * 1e6)
        entry.config.pburst = int(pburst)
        self.h.write((p4runtime_pb2.Update.MODIFY, entity(meter_entry=entry)))

    def mirroring_add(self, rest: str) -> None:
        session, port = (int(x) for x in rest.split())
        pre = p4runtime_pb2.PacketReplicationEngineEntry()
        pre.clone_session_entry.session_id = session
        pre.clone_session_entry.replicas.add(egress_port=port, instance=0)
        self.h.write((p4runtime_pb2.Update.INSERT, entity(packet_replication_engine_entry=pre)))

    def flush_multicast(self) -> None:
        for group, handles in self.mc_groups.items():
            pre = p4runtime_pb2.PacketReplicationEngineEntry()
            pre.multicast_group_entry.multicast_group_id = group
            for h in handles:
                rid, ports = self.mc_nodes[h]
                for port in ports:
                    pre.multicast_group_entry.replicas.add(egress_port=port, instance=rid)
            self.h.write((p4runtime_pb2.Update.INSERT, entity(packet_replication_engine_entry=pre)))
        self.mc_groups.clear()

    def load(self, path: Path) -> None:
        for raw in path.read_text().splitlines():
            line = _strip(raw)
            if not line:
                continue
            cmd, _, rest = line.partition(" ")
            match cmd.lower():
                case "add":
                    self.add(rest)
                case "setdefault":
                    self.setdefault(rest)
                case "register_write":
                    self.register_write(rest)
                case "meter_set_rates":
                    self.meter_set_rates(rest)
                case "mirroring_add":
                    self.mirroring_add(rest)
                case "mc_mgrp_create":
                    self.mc_groups[int(rest)] = []
                case "mc_node_create":
                    rid, *ports = (int(x) for x in rest.split())
                    self.mc_nodes.append((rid, ports))
                case "mc_node_associate":
                    group, handle = (int(x) for x in rest.split())
                    self.mc_groups[group].append(handle)
                case "packet":
                    port, *data = rest.split()
                    self.packets.append((int(port), bytes.fromhex("".join(data))))
                case "expect":
                    port, *data = rest.split()
                    exact = bool(data) and data[-1] == "$"
                    pattern = "".join(d for d in data if d != "$")
                    self.expects.setdefault(int(port), []).append((pattern, exact))
                case _:
                    raise AssertionError(f"unsupported STF command {cmd!r}")
        self.flush_multicast()

    def run(self) -> dict[int, list[bytes]]:
        base = self.h.server.dataplane.stats.processed
        for n, (port, frame) in enumerate(self.packets, start=1):
            self.h.ports[port].inject(frame)
            self.h.wait_processed(base + n)
        # Outputs are in the sockets before the processed count moves on.
        return {n: p.take_all(0.005) for n, p in self.h.ports.items()}


def stf_matches(pattern: str, exact: bool, frame: bytes) -> bool:
    got = frame.hex()
    if exact and len(got) != len(pattern):
        return False
    if len(got) < len(pattern):
        return False
    return all(p == "*" or p.lower() == g for p, g in zip(pattern, got, strict=False))


class Kit:
    """Helpers handed to tests as a fixture (test modules cannot import conftest)."""

    PROGRAMS = PROGRAMS
    REFERENCE = REFERENCE
    Harness = Harness
    Names = Names
    StfRun = StfRun
    stf_matches = staticmethod(stf_matches)
    write_errors = staticmethod(write_errors)
    load_p4info = staticmethod(load_p4info)
    load_json = staticmethod(load_json)
    entity = staticmethod(entity)


@pytest.fixture
def kit() -> type[Kit]:
    return Kit
