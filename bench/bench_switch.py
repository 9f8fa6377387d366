"""Switch benchmark: forwarding rate, latency, memory and P4Runtime write rate.

Runs the chosen switch (p4lite, or simple_switch_grpc where installed) on
``tests/p4/ipv4_lpm.p4`` (or ``--program``, e.g. ``p4src/din.p4``) inside a
network namespace this benchmark creates and deletes: two veth pairs, the switch
on one end of each, a raw-socket sender and receiver on the other ends. Prints,
and writes with ``--json``:

- ``max_pps_loss_lt_1pct``: the highest offered rate (64-byte UDP frames) that
  the switch forwards with < 1% loss, found by stepping the rate up (a frame
  that leaves more than ``--grace`` seconds after its step ended was queued,
  not forwarded at that rate, and counts as lost);
- ``latency_us`` p50/p99 one-way at a low rate (``--latency-pps``, 200);
- ``rss_mib`` idle (pipeline loaded, no entries) and with ``--entries`` routes;
- ``writes_per_s`` for one update per request and ``--batch`` per request.

For ``din.p4`` the rate and latency figures come for three kinds of traffic,
each under its own key: ``flow`` (ordinary UDP, flow classifier idle),
``flow_classified`` (the same with a random forest installed, so every packet
runs the feature registers, quantization, codes and tree tables) and
``din_request`` (DIN requests whose first MLP layer the switch computes
before it forwards them: ``--din-layers`` 2 computes two, the second after a
recirculation).

Needs root. Usage: ``python bench/bench_switch.py [--json FILE] [--program P4]...``
(default: both programs, each in a namespace of its own, figures keyed by
program).
The namespace, veths and switch process are removed in ``finally``.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import ipaddress
import json
import os
import random
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from controller.entries.mlp import MODE_FORWARD, MODE_NEXT_HERE, Role
from controller.install import install, model_entries
from controller.models.quant import FloatLayer, MLPModel, quantize_mlp
from controller.models.synthetic import flow_dataset
from controller.models.trees import train_flow_classifier
from controller.p4rt.client import SwitchConnection
from controller.p4rt.entities import EntityBuilder, inserts
from controller.p4rt.p4info import P4InfoIndex
from p4lite import toolchain
from traffic.frames import Endpoints, udp_frame
from traffic.sender import RawSender
from traffic.wire import DIN_UDP_PORT, DinHeader, encode

REPO = Path(__file__).resolve().parent.parent

SWITCH_MAC = "08:00:00:00:fe:00"
DST_MAC = "08:00:00:00:02:22"
FLOW = Endpoints("08:00:00:00:01:11", SWITCH_MAC, "10.0.1.1", "10.0.2.2", 40000, 9000)
_MAGIC = b"DINB"
UDP_PAYLOAD_AT = 42  # Ethernet 14 + IPv4 20 + UDP 8
DIN_MESSAGE_LEN = 40  # common header + vector (p4src/README.md)
DIN_MODEL_ID = 1
VECTOR = 16
# Linux socket options the socket module does not name.
_SO_TIMESTAMPNS = 35
_SO_RCVBUFFORCE = 33
_SO_ATTACH_FILTER = 26
_SOL_PACKET = 263
_PACKET_STATS = 6
_COUNTER_RCVBUF = 256 * 1024 * 1024
_TIMESPEC = struct.Struct("@qq")


def _sh(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True)


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"switch exited with {proc.returncode} before its gRPC port opened")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"switch gRPC port {port} did not open in {timeout:.0f} s")


class Counter:
    """Counts benchmark frames arriving on an interface, with their one-way delay.

    Benchmark frames carry the magic at ``magic_at`` (a frame offset) and their
    send time in nanoseconds right after it. The machine may have as few cores
    as the switch needs plus the sender, which spins between frames at high
    rates; so during rate steps frames are only counted by the kernel
    (PACKET_STATISTICS of a socket whose BPF filter keeps benchmark frames) and
    this process does no work per frame. For latency, frames are read with their
    kernel arrival time (SO_TIMESTAMPNS), so the figure does not depend on when
    this thread gets the GIL.
    """

    def __init__(self, iface: str, magic_at: int) -> None:
        self.magic_at = magic_at
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
        _attach_magic_filter(self.sock, magic_at)
        self.sock.bind((iface, 0))
        self.sock.settimeout(0.2)
        with contextlib.suppress(OSError):
            self.sock.setsockopt(socket.SOL_SOCKET, _SO_RCVBUFFORCE, _COUNTER_RCVBUF)
        self.sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
        self.delays_us: list[float] = []
        self.reading = threading.Event()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def kernel_count(self) -> tuple[int, int]:
        """Frames that reached the socket and those it dropped since the last call."""
        packets, drops = struct.unpack("II", self.sock.getsockopt(_SOL_PACKET, _PACKET_STATS, 8))
        return packets, drops  # packets includes drops

    def settle(self, quiet: float = 0.3, limit: float = 10.0) -> tuple[int, int]:
        """Frames (and drops) counted until none arrives for `quiet` s (at most `limit`)."""
        deadline = time.monotonic() + limit
        total = drops = 0
        while time.monotonic() < deadline:
            time.sleep(quiet)
            n, d = self.kernel_count()
            total, drops = total + n, drops + d
            if n == 0:
                break
        return total, drops

    def flush(self) -> None:
        """Discard the frames queued while not reading."""
        self.sock.setblocking(False)
        try:
            while True:
                self.sock.recv(2048)
        except BlockingIOError:
            pass
        finally:
            self.sock.settimeout(0.2)

    def _run(self) -> None:
        buf = bytearray(2048)
        anc = socket.CMSG_SPACE(_TIMESPEC.size)
        stamp_at = self.magic_at + len(_MAGIC)
        while not self.stop.is_set():
            if not self.reading.wait(0.2):
                continue
            try:
                n, ancdata, _flags, addr = self.sock.recvmsg_into([buf], anc)
            except (TimeoutError, BlockingIOError):
                continue
            if addr[2] == 4 or n < stamp_at + 8:  # PACKET_OUTGOING, or not ours
                continue
            (sent,) = struct.unpack_from("!Q", buf, stamp_at)
            for level, kind, data in ancdata:
                if sent and level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS:
                    sec, nsec = _TIMESPEC.unpack_from(data)
                    self.delays_us.append((sec * 1_000_000_000 + nsec - sent) / 1000)

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.sock.close()


def _attach_magic_filter(sock: socket.socket, offset: int) -> None:
    """Keep only frames that carry the benchmark's magic at ``offset``."""
    code = [
        (0x20, 0, 0, offset),  # ld [offset]
        (0x15, 0, 1, int.from_bytes(_MAGIC, "big")),  # jeq magic
        (0x06, 0, 0, 0xFFFF),  # ret: accept
        (0x06, 0, 0, 0),  # ret: drop
    ]
    insns = b"".join(struct.pack("HBBI", *insn) for insn in code)
    program = ctypes.create_string_buffer(insns)
    fprog = struct.pack("HL", len(code), ctypes.addressof(program))
    sock.setsockopt(socket.SOL_SOCKET, _SO_ATTACH_FILTER, fprog)


@dataclass(frozen=True, slots=True)
class Traffic:
    """One kind of benchmark frame: ``frame(i, sent_ns)`` builds the i-th one."""

    name: str
    frame: Callable[[int, int], bytes]
    magic_at: int

    def frames(self, n: int) -> list[bytes]:
        """``n`` frames with no send time (rate steps count them only)."""
        return [self.frame(i, 0) for i in range(n)]


def _plain_traffic(name: str) -> Traffic:
    def frame(i: int, sent_ns: int) -> bytes:
        payload = _MAGIC + struct.pack("!Q", sent_ns) + bytes(6)
        return udp_frame(FLOW, payload, ident=i & 0xFFFF)

    return Traffic(name, frame, UDP_PAYLOAD_AT)


def _din_traffic(version: int, seed: int = 7) -> Traffic:
    """DIN requests for model 1 at stage 0 with random inputs; the magic follows the
    40-byte DIN message, which the switch carries unchanged."""
    rng = random.Random(seed)
    vectors = [[rng.randrange(256) for _ in range(VECTOR)] for _ in range(64)]
    flow = Endpoints(FLOW.src_mac, FLOW.dst_mac, FLOW.src_ip, FLOW.dst_ip, 40000, DIN_UDP_PORT)

    def frame(i: int, sent_ns: int) -> bytes:
        head = DinHeader(model_id=DIN_MODEL_ID, model_version=version, request_id=i)
        message = encode(head, vectors[i % len(vectors)])
        payload = message + _MAGIC + struct.pack("!Q", sent_ns)
        return udp_frame(flow, payload, ident=i & 0xFFFF, udp_checksum=False)

    return Traffic("din_request", frame, UDP_PAYLOAD_AT + DIN_MESSAGE_LEN)


def _din_model(layers: int) -> MLPModel:
    """A random 16-input MLP of ``layers`` + 1 layers (weights and inputs do not
    change the switch's work: every input value has its table entry)."""
    rng = np.random.default_rng(5)
    floats = [FloatLayer(rng.normal(size=(16, 16)), rng.normal(size=16), "relu")] * layers
    floats.append(FloatLayer(rng.normal(size=(16, 10)), rng.normal(size=10), "linear"))
    return MLPModel(
        name="bench",
        version=1,
        classes=tuple(str(k) for k in range(10)),
        input_scale=1 / 255,
        layers=quantize_mlp(floats, 1 / 255, rng.uniform(size=(200, 16))),
        data={"name": "random", "seed": 5},
    )


def _din_entries(layers: int) -> tuple[list[Any], int]:
    """Entries that make the switch compute ``layers`` layers of a request, then
    forward it, and a random forest in the classifier; and the model version."""
    model = _din_model(layers)
    roles = [Role(k, MODE_NEXT_HERE) for k in range(layers - 1)]
    roles.append(Role(layers - 1, MODE_FORWARD))
    mlp = model_entries(model, DIN_MODEL_ID, roles=roles)
    return mlp, model.version


def _forest_entries() -> list[Any]:
    split = flow_dataset(40, seed=1)
    forest = train_flow_classifier(split, seed=1)
    return model_entries(forest, 1)


def sweep(
    sender: RawSender, counter: Counter, traffic: Traffic, args: argparse.Namespace
) -> dict[str, Any]:
    """Step the offered rate up; the loss at each step and the best rate under 1%."""
    # Warm up (the first packets pay for lazy set-up on some switches).
    sender.send_paced(traffic.frames(200), rate_pps=1000)
    counter.settle()
    counter.flush()
    rates: dict[int, float] = {}
    forwarded: dict[int, int] = {}
    counter_drops = 0
    best = 0
    for rate in args.rates:
        frames = traffic.frames(int(rate * args.seconds))
        counter.kernel_count()
        report = sender.send_paced(frames, rate_pps=rate)
        during, drops = counter.kernel_count()
        # The rest: what the switch's receive queue held when the sender stopped,
        # if it comes out within the grace time. Frames that come later were
        # queued, not forwarded at this rate: they count as lost (and are drained
        # before the next step).
        after, more_drops = counter.settle(quiet=0.1, limit=args.grace)
        late, late_drops = counter.settle(limit=60.0)
        counter.flush()
        counter_drops += drops + more_drops + late_drops
        loss = 1 - (during + after) / report.sent
        rates[rate] = round(loss * 100, 2)
        forwarded[rate] = round(during / report.elapsed)
        print(
            f"  {traffic.name}: offered {rate:>7} pps (sent {report.pps:,.0f}): loss {loss:6.2%},"
            f" forwarded {forwarded[rate]:,} pps while sending"
            + (f", {late:,} frames later than {args.grace} s" if late else ""),
            flush=True,
        )
        if loss < 0.01:
            best = rate
        elif loss > 0.2:
            break
    return {
        "loss_pct_by_rate": rates,
        "forwarded_pps_while_sending": forwarded,
        "max_pps_loss_lt_1pct": best,
        "counter_socket_drops": counter_drops,
    }


def latency(
    sender: RawSender, counter: Counter, traffic: Traffic, args: argparse.Namespace
) -> dict[str, Any]:
    """One-way latency at a low rate, from send times carried in the frames."""
    counter.delays_us.clear()
    counter.reading.set()
    interval = 1 / args.latency_pps
    for i in range(args.latency_packets):
        sender.send_paced([traffic.frame(i, time.time_ns())])
        time.sleep(interval)
    time.sleep(0.3)
    counter.reading.clear()
    delays = sorted(counter.delays_us)
    if not delays:
        return {}
    return {
        "p50": round(statistics.median(delays), 1),
        "p99": round(delays[min(len(delays) - 1, int(len(delays) * 0.99))], 1),
        "samples": len(delays),
        "rate_pps": args.latency_pps,
    }


def measure(traffic: Traffic, args: argparse.Namespace) -> dict[str, Any]:
    """Rate sweep and latency of one kind of traffic from a0 to b0."""
    counter = Counter("b0", traffic.magic_at)
    try:
        with RawSender("a0") as sender:
            figures = sweep(sender, counter, traffic, args)
            if lat := latency(sender, counter, traffic, args):
                figures["latency_us"] = lat
            return figures
    finally:
        counter.close()


def _route_params(index: P4InfoIndex, out_port: int) -> dict[str, Any]:
    """ipv4_forward's parameters by name: ipv4_lpm.p4 has (dst_addr, port), din.p4
    (dst_mac, src_mac, port)."""
    values = {"dst_addr": DST_MAC, "dst_mac": DST_MAC, "src_mac": SWITCH_MAC, "port": out_port}
    names = [p.name for p in index.action("MyIngress.ipv4_forward").params]
    return {n: values[n] for n in names}


def inside(args: argparse.Namespace) -> dict[str, Any]:
    """The measurements, run inside the benchmark's namespace."""
    _sh("ip", "link", "set", "lo", "up")
    for a, b in (("a0", "a1"), ("b0", "b1")):
        _sh("ip", "link", "add", a, "type", "veth", "peer", "name", b)
        for dev in (a, b):
            _sh("ip", "link", "set", dev, "up")
            _sh("sysctl", "-qw", f"net.ipv6.conf.{dev}.disable_ipv6=1")
    work = Path(tempfile.mkdtemp(prefix="din-bench-"))
    compiled = toolchain.compile_program(Path(args.program), work)
    tool = toolchain.switch()
    port = 50100
    argv = [
        *tool.argv,
        str(compiled.json),
        "-i",
        "1@a1",
        "-i",
        "2@b1",
        "--device-id",
        "0",
        "--",
        "--grpc-server-addr",
        f"127.0.0.1:{port}",
    ]
    log = (work / "switch.log").open("wb")
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    figures: dict[str, Any] = {"switch": tool.name, "program": Path(args.program).name}
    try:
        _wait_port(port, proc)
        index = P4InfoIndex.load(compiled.p4info)
        with SwitchConnection(f"127.0.0.1:{port}", name="s1", index=index) as conn:
            conn.connect(timeout=10)
            conn.set_pipeline(index, compiled.json.read_bytes())
            figures["rss_mib_idle"] = round(_rss_mib(proc.pid), 1)
            build = EntityBuilder(index)

            def route(net: str, out_port: int) -> Any:
                return build.table_entry(
                    "MyIngress.ipv4_lpm",
                    {"hdr.ipv4.dst_addr": net},
                    "MyIngress.ipv4_forward",
                    _route_params(index, out_port),
                )

            conn.insert([route("10.0.2.0/24", 2)])
            # Write rate: one update per request, then batches, as many as the table holds.
            room = index.table("MyIngress.ipv4_lpm").size - 1
            singles = min(args.singles, room // 10)
            entries = min(args.entries, room - singles)
            hosts = list(ipaddress.ip_network("10.128.0.0/10").hosts())
            single = [route(f"{hosts[i]}/32", 2) for i in range(singles)]
            start = time.perf_counter()
            for entry in single:
                conn.write(inserts([entry]), batch_size=1)
            figures["writes_per_s_1_per_request"] = round(
                len(single) / (time.perf_counter() - start)
            )
            batched = [route(f"{hosts[i]}/32", 2) for i in range(singles, singles + entries)]
            start = time.perf_counter()
            conn.write(inserts(batched), batch_size=args.batch)
            elapsed = time.perf_counter() - start
            figures[f"writes_per_s_{args.batch}_per_request"] = round(len(batched) / elapsed)
            figures["entries"] = len(single) + len(batched) + 1
            figures["rss_mib_with_entries"] = round(_rss_mib(proc.pid), 1)

            if "MyIngress.mlp_role" not in index.tables:
                figures.update(measure(_plain_traffic("flow"), args))
                return figures
            # din.p4: plain flows, then with a forest, then DIN requests.
            figures["flow"] = measure(_plain_traffic("flow"), args)
            install(conn, _forest_entries())
            figures["flow_classified"] = measure(_plain_traffic("flow_classified"), args)
            mlp, version = _din_entries(args.din_layers)
            install(conn, mlp)
            figures["din_request"] = {"layers": args.din_layers}
            figures["din_request"].update(measure(_din_traffic(version), args))
            figures["max_pps_loss_lt_1pct"] = figures["flow"]["max_pps_loss_lt_1pct"]
            figures["rss_mib_with_models"] = round(_rss_mib(proc.pid), 1)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
    return figures


DEFAULT_PROGRAMS = (REPO / "tests" / "p4" / "ipv4_lpm.p4", REPO / "p4src" / "din.p4")
# Options passed through to the measuring process inside the namespace.
_PASSED = (
    "rates",
    "seconds",
    "grace",
    "latency_pps",
    "latency_packets",
    "entries",
    "singles",
    "batch",
    "din_layers",
)


def _run_inside(program: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Measure ``program`` in a namespace of its own (deleted in ``finally``)."""
    passed: list[str] = []
    for name in _PASSED:
        value = getattr(args, name)
        passed += [
            f"--{name.replace('_', '-')}",
            *map(str, value if isinstance(value, list) else [value]),
        ]
    ns = f"din-bench-{uuid.uuid4().hex[:8]}"
    _sh("ip", "netns", "add", ns)
    try:
        cmd = ["ip", "netns", "exec", ns, sys.executable, __file__, "--inside"]
        cmd += ["--program", str(program), *passed]
        result = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=False)
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)
    lines = result.stdout.rstrip().splitlines()
    if result.returncode != 0 or not lines:
        print(result.stdout, end="")
        raise RuntimeError(f"{program.name}: the measurement failed ({result.returncode})")
    for line in lines[:-1]:
        print(line)
    figures: dict[str, Any] = json.loads(lines[-1])
    return figures


def main() -> int:
    """Create the namespaces, run the measurements inside them, print and save the figures."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--program",
        action="append",
        type=Path,
        help="P4 program to measure (repeatable; default: tests/p4/ipv4_lpm.p4 and p4src/din.p4)",
    )
    parser.add_argument(
        "--rates",
        type=int,
        nargs="+",
        default=[2000, 5000, 10000, 15000, 20000, 30000, 40000, 50000, 60000, 80000],
    )
    parser.add_argument("--seconds", type=float, default=2.0, help="traffic per rate step")
    parser.add_argument(
        "--grace",
        type=float,
        default=0.5,
        help="seconds after a rate step within which a frame still counts as forwarded",
    )
    parser.add_argument("--latency-pps", type=int, default=200)
    parser.add_argument("--latency-packets", type=int, default=400)
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--singles", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument(
        "--din-layers", type=int, default=1, help="din.p4: MLP layers the switch computes"
    )
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inside:
        [args.program] = args.program
        print(json.dumps(inside(args)))
        return 0
    if os.geteuid() != 0:
        print("bench_switch: needs root (network namespaces and raw sockets)", file=sys.stderr)
        return 1
    figures: dict[str, Any] = {}
    for program in args.program or DEFAULT_PROGRAMS:
        print(f"{program.name}:", flush=True)
        try:
            figures[program.name] = _run_inside(program, args)
        except RuntimeError as exc:
            print(f"bench_switch: {exc}", file=sys.stderr)
            return 1
        for key, value in figures[program.name].items():
            print(f"  {key:32} {value}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
