"""The p4lite switch on real interfaces: raw AF_PACKET ports on veths, and the
switch process (`python -m p4lite.switch`) forwarding a frame from one network
namespace to another after a P4Runtime client installed an entry.

Needs root. Every namespace, veth and process a test makes is removed (by
name or PID) in `finally`."""

from __future__ import annotations

import os
import queue
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf import text_format
from p4.config.v1 import p4info_pb2
from p4.v1 import p4runtime_pb2, p4runtime_pb2_grpc

from p4lite.switch.ports import RawPort, read_pcap

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "tests" / "conformance" / "reference"
ETH_P_ALL = 0x0003
ETHERTYPE = 0x88B5  # IEEE local experimental: nothing else on these links uses it

pytestmark = [
    pytest.mark.netns,
    pytest.mark.root,
    pytest.mark.skipif(
        not hasattr(os, "geteuid") or os.geteuid() != 0 or shutil.which("ip") is None,
        reason="needs root and iproute2",
    ),
]


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


def _tag() -> str:
    return f"{os.getpid() % 100000}"


@pytest.fixture
def veth_pair() -> Iterator[tuple[str, str]]:
    a, b = f"p4l{_tag()}a", f"p4l{_tag()}b"
    _ip("link", "add", a, "type", "veth", "peer", "name", b)
    try:
        _ip("link", "set", a, "up")
        _ip("link", "set", b, "up")
        yield a, b
    finally:
        subprocess.run(["ip", "link", "del", a], capture_output=True, check=False, timeout=30)


@pytest.fixture
def two_hosts() -> Iterator[tuple[str, str, str, str]]:
    """Namespaces ``ns1`` and ``ns2``, each with ``eth0`` up, wired by veths to ``sw1``
    and ``sw2`` here (up): ``(ns1, ns2, sw1, sw2)``; all removed afterwards."""
    tag = _tag()
    ns1, ns2 = f"p4lt-h1-{tag}", f"p4lt-h2-{tag}"
    sw1, sw2 = f"p4l{tag}s1", f"p4l{tag}s2"
    made_ns: list[str] = []
    made_links: list[str] = []
    try:
        for ns in (ns1, ns2):
            _ip("netns", "add", ns)
            made_ns.append(ns)
        for ns, sw in ((ns1, sw1), (ns2, sw2)):
            _ip("link", "add", sw, "type", "veth", "peer", "name", "eth0", "netns", ns)
            made_links.append(sw)
            _ip("link", "set", sw, "up")
            _ip("-n", ns, "link", "set", "eth0", "up")
        yield ns1, ns2, sw1, sw2
    finally:
        for link in made_links:
            subprocess.run(["ip", "link", "del", link], capture_output=True, check=False)
        for ns in made_ns:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)


def _frame(dst: bytes, payload: bytes) -> bytes:
    return dst + bytes.fromhex("020000000001") + ETHERTYPE.to_bytes(2, "big") + payload


def _recv_matching(sock: socket.socket, payload: bytes, timeout: float = 5.0) -> bytes:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            data = sock.recv(65536)
        except TimeoutError:
            break
        if data[12:14] == ETHERTYPE.to_bytes(2, "big") and data.endswith(payload):
            return data
    raise TimeoutError("expected frame never arrived")


def test_raw_port_receives_and_sends_but_skips_its_own(veth_pair) -> None:
    a, b = veth_pair
    port = RawPort(1, a)
    peer = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    try:
        peer.bind((b, ETH_P_ALL))
        incoming = _frame(b"\xff" * 6, b"to-switch")
        peer.send(incoming)
        deadline = time.monotonic() + 5
        got = None
        while got is None and time.monotonic() < deadline:
            frame = port.recv()
            if frame is not None and frame.endswith(b"to-switch"):
                got = frame
            elif frame is None:
                time.sleep(0.001)
        assert got == incoming
        outgoing = _frame(b"\xff" * 6, b"from-switch")
        port.send(outgoing)
        assert _recv_matching(peer, b"from-switch") == outgoing
        # The switch's own transmission is PACKET_OUTGOING on its socket: never read back.
        time.sleep(0.05)
        while (frame := port.recv()) is not None:
            assert not frame.endswith(b"from-switch")
    finally:
        port.close()
        peer.close()


def test_raw_port_keeps_vlan_tags(veth_pair) -> None:
    a, b = veth_pair
    port = RawPort(1, a)
    peer = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    try:
        peer.bind((b, ETH_P_ALL))
        tagged = (
            b"\xff" * 6
            + bytes.fromhex("020000000001")
            + bytes.fromhex("8100 2005")  # PCP 1, VID 5
            + ETHERTYPE.to_bytes(2, "big")
            + b"vlan-payload"
        )
        peer.send(tagged)
        deadline = time.monotonic() + 5
        got = None
        while got is None and time.monotonic() < deadline:
            frame = port.recv()
            if frame is not None and frame.endswith(b"vlan-payload"):
                got = frame
            elif frame is None:
                time.sleep(0.001)
        assert got == tagged
    finally:
        port.close()
        peer.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "switch exited early"
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.02)
    raise TimeoutError(f"gRPC port {port} never accepted")


_RECEIVER = """
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind((sys.argv[1], 3))
s.settimeout(10)
print("ready", flush=True)
while True:
    data = s.recv(65536)
    if data[12:14] == bytes.fromhex("88b5"):
        print(data.hex(), flush=True)
        break
"""

_SENDER = """
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind((sys.argv[1], 3))
s.send(bytes.fromhex(sys.argv[2]))
"""


def test_switch_process_forwards_between_namespaces(
    tmp_path, two_hosts: tuple[str, str, str, str]
) -> None:
    ns1, ns2, sw1, sw2 = two_hosts
    procs: list[subprocess.Popen[bytes]] = []
    try:
        grpc_port = _free_port()
        switch = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "p4lite.switch",
                str(REFERENCE / "table_exact.json"),
                "-i",
                f"0@{sw1}",
                "-i",
                f"3@{sw2}",
                "--pcap",
                str(tmp_path),
                "--",
                "--grpc-server-addr",
                f"127.0.0.1:{grpc_port}",
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        procs.append(switch)
        _wait_listening(grpc_port, switch)
        _install_entry(grpc_port)

        receiver = subprocess.Popen(
            ["ip", "netns", "exec", ns2, sys.executable, "-c", _RECEIVER, "eth0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        procs.append(receiver)
        assert receiver.stdout is not None
        assert receiver.stdout.readline().strip() == b"ready"
        # Key 0x0001 (the first two bytes) hits fwd(3); t_mark misses: mark = 0x5a.
        sent = _frame(bytes.fromhex("000100000000"), b"hello-din")
        subprocess.run(
            ["ip", "netns", "exec", ns1, sys.executable, "-c", _SENDER, "eth0", sent.hex()],
            check=True,
            timeout=30,
        )
        out, _ = receiver.communicate(timeout=15)
        got = bytes.fromhex(out.decode().split()[-1])
        assert got == bytes.fromhex("0001005a0000") + sent[6:]
        assert sent in read_pcap(tmp_path / f"{sw1}_in.pcap")
        assert got in read_pcap(tmp_path / f"{sw2}_out.pcap")
        switch.terminate()
        assert switch.wait(timeout=15) == 0
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=15)


def _install_entry(grpc_port: int) -> None:
    info = p4info_pb2.P4Info()
    text_format.Parse((REFERENCE / "table_exact.p4info.txtpb").read_text(), info)
    table = next(t for t in info.tables if t.preamble.name == "MyIngress.t_fwd")
    action = next(a for a in info.actions if a.preamble.name == "MyIngress.fwd")
    with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
        stub = p4runtime_pb2_grpc.P4RuntimeStub(channel)
        arbitration = p4runtime_pb2.StreamMessageRequest()
        arbitration.arbitration.device_id = 0
        arbitration.arbitration.election_id.low = 1
        done = threading.Event()
        stream = stub.StreamChannel(_hold_open(arbitration, done))
        reply = next(stream)
        assert reply.arbitration.status.code == 0
        config = p4runtime_pb2.SetForwardingPipelineConfigRequest(
            device_id=0,
            action=p4runtime_pb2.SetForwardingPipelineConfigRequest.VERIFY_AND_COMMIT,
        )
        config.election_id.low = 1
        config.config.p4info.CopyFrom(info)
        config.config.p4_device_config = (REFERENCE / "table_exact.json").read_bytes()
        stub.SetForwardingPipelineConfig(config)
        write = p4runtime_pb2.WriteRequest(device_id=0)
        write.election_id.low = 1
        entry = write.updates.add(type=p4runtime_pb2.Update.INSERT).entity.table_entry
        entry.table_id = table.preamble.id
        entry.match.add(field_id=1).exact.value = b"\x01"
        entry.action.action.action_id = action.preamble.id
        entry.action.action.params.add(param_id=1, value=b"\x03")
        stub.Write(write)
        done.set()
        stream.cancel()


def _hold_open(
    first: p4runtime_pb2.StreamMessageRequest, done: threading.Event
) -> Iterator[p4runtime_pb2.StreamMessageRequest]:
    yield first
    # Keep the stream (and so the primary role) open until the writes are done.
    done.wait(30)


_TIMED_RECEIVER = """
import socket, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind((sys.argv[1], 3))
s.settimeout(10)
print("ready", flush=True)
while True:
    data = s.recv(65536)
    if data[12:14] == bytes.fromhex("88b5"):
        print(time.time(), data.hex(), flush=True)
        break
"""


def test_switch_process_cpu_port_port_delay_and_console_log(
    tmp_path, two_hosts: tuple[str, str, str, str]
) -> None:
    """--cpu-port: a real frame the pipeline sends to the CPU arrives as a PacketIn;
    --port-delay: frames leave port 3 no sooner than its delay; --log-console."""
    ns1, ns2, sw1, sw2 = two_hosts
    procs: list[subprocess.Popen[bytes]] = []
    requests: queue.Queue[p4runtime_pb2.StreamMessageRequest | None] = queue.Queue()
    try:
        grpc_port = _free_port()
        switch = subprocess.Popen(
            [
                *(sys.executable, "-m", "p4lite.switch", "--no-p4"),
                *("-i", f"0@{sw1}", "-i", f"3@{sw2}", "--port-delay", "3:80"),
                *("--log-console", "--log-level", "info", "--"),
                *("--grpc-server-addr", f"127.0.0.1:{grpc_port}", "--cpu-port", "64"),
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        procs.append(switch)
        _wait_listening(grpc_port, switch)
        info = p4info_pb2.P4Info()
        text_format.Parse((REFERENCE / "table_exact.p4info.txtpb").read_text(), info)
        with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
            stub = p4runtime_pb2_grpc.P4RuntimeStub(channel)
            stream = stub.StreamChannel(iter(requests.get, None), timeout=60)
            arbitration = p4runtime_pb2.StreamMessageRequest()
            arbitration.arbitration.device_id = 0
            arbitration.arbitration.election_id.low = 1
            requests.put(arbitration)
            assert next(stream).arbitration.status.code == 0
            config = p4runtime_pb2.SetForwardingPipelineConfigRequest(
                device_id=0,
                action=p4runtime_pb2.SetForwardingPipelineConfigRequest.VERIFY_AND_COMMIT,
            )
            config.election_id.low = 1
            config.config.p4info.CopyFrom(info)
            config.config.p4_device_config = (REFERENCE / "table_exact.json").read_bytes()
            stub.SetForwardingPipelineConfig(config)
            table = next(t for t in info.tables if t.preamble.name == "MyIngress.t_fwd")
            action = next(a for a in info.actions if a.preamble.name == "MyIngress.fwd")
            write = p4runtime_pb2.WriteRequest(device_id=0)
            write.election_id.low = 1
            for key, port in ((b"\x01", b"\x03"), (b"\x02", b"\x40")):
                entry = write.updates.add(type=p4runtime_pb2.Update.INSERT).entity.table_entry
                entry.table_id = table.preamble.id
                entry.match.add(field_id=1).exact.value = key
                entry.action.action.action_id = action.preamble.id
                entry.action.action.params.add(param_id=1, value=port)
            stub.Write(write)

            receiver = subprocess.Popen(
                ["ip", "netns", "exec", ns2, sys.executable, "-c", _TIMED_RECEIVER, "eth0"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            procs.append(receiver)
            assert receiver.stdout is not None
            assert receiver.stdout.readline().strip() == b"ready"
            delayed = _frame(bytes.fromhex("000100000000"), b"late-din")
            sent_at = time.time()
            subprocess.run(
                ["ip", "netns", "exec", ns1, sys.executable, "-c", _SENDER, "eth0", delayed.hex()],
                check=True,
                timeout=30,
            )
            out, _ = receiver.communicate(timeout=15)
            got_at, got = out.decode().split()[-2:]
            assert bytes.fromhex(got) == bytes.fromhex("0001005a0000") + delayed[6:]
            assert float(got_at) - sent_at >= 0.08

            punted = _frame(bytes.fromhex("000200000000"), b"to-the-cpu")
            subprocess.run(
                ["ip", "netns", "exec", ns1, sys.executable, "-c", _SENDER, "eth0", punted.hex()],
                check=True,
                timeout=30,
            )
            message = next(stream)
            assert message.WhichOneof("update") == "packet"
            assert message.packet.payload == bytes.fromhex("0002005a0000") + punted[6:]
            requests.put(None)
        switch.terminate()
        assert switch.wait(timeout=15) == 0
        assert switch.stderr is not None
        log = switch.stderr.read().decode()
        assert f"P4Runtime server listening on 127.0.0.1:{grpc_port}" in log
        assert "switch stopped" in log
    finally:
        requests.put(None)
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=15)
