"""Switch benchmark: forwarding rate, latency, memory and P4Runtime write rate.

Runs the chosen switch (p4lite, or simple_switch_grpc where installed) on
``tests/p4/ipv4_lpm.p4`` inside a network namespace this benchmark creates and
deletes: two veth pairs, the switch on one end of each, a raw-socket sender and
receiver on the other ends. Prints, and writes with ``--json``:

- ``max_pps_loss_lt_1pct``: the highest offered rate (64-byte UDP frames) that
  the switch forwards with < 1% loss, found by stepping the rate up;
- ``latency_us`` p50/p99 one-way at a low rate (``--latency-pps``, 200);
- ``rss_mib`` idle (pipeline loaded, no entries) and with ``--entries`` routes;
- ``writes_per_s`` for one update per request and ``--batch`` per request.

Needs root. Usage: ``python bench/bench_switch.py [--json FILE] [--program P4]``.
The namespace, veths and switch process are removed in ``finally``.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import ipaddress
import json
import os
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from controller.p4rt.client import SwitchConnection
from controller.p4rt.entities import EntityBuilder, inserts
from controller.p4rt.p4info import P4InfoIndex
from p4lite import toolchain
from traffic.frames import Endpoints, udp_frame
from traffic.sender import RawSender

REPO = Path(__file__).resolve().parent.parent

SWITCH_MAC = "08:00:00:00:fe:00"
DST_MAC = "08:00:00:00:02:22"
FLOW = Endpoints("08:00:00:00:01:11", SWITCH_MAC, "10.0.1.1", "10.0.2.2", 40000, 9000)
_MAGIC = b"DINB"
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

    The machine may have as few cores as the switch needs plus the sender, which
    spins between frames at high rates; so during rate steps frames are only
    counted by the kernel (PACKET_STATISTICS of a socket whose BPF filter keeps
    benchmark frames) and this process does no work per frame. For latency,
    frames are read with their kernel arrival time (SO_TIMESTAMPNS), so the
    figure does not depend on when this thread gets the GIL.
    """

    def __init__(self, iface: str) -> None:
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
        _attach_magic_filter(self.sock)
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
        while not self.stop.is_set():
            if not self.reading.wait(0.2):
                continue
            try:
                n, ancdata, _flags, addr = self.sock.recvmsg_into([buf], anc)
            except (TimeoutError, BlockingIOError):
                continue
            if addr[2] == 4 or n < 54:  # PACKET_OUTGOING, or not ours
                continue
            (sent,) = struct.unpack_from("!Q", buf, 46)
            for level, kind, data in ancdata:
                if sent and level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS:
                    sec, nsec = _TIMESPEC.unpack_from(data)
                    self.delays_us.append((sec * 1_000_000_000 + nsec - sent) / 1000)

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.sock.close()


def _attach_magic_filter(sock: socket.socket) -> None:
    """Keep only frames whose UDP payload starts with the benchmark's magic."""
    code = [
        (0x20, 0, 0, 42),  # ld [42]: the first payload word of an Ethernet/IPv4/UDP frame
        (0x15, 0, 1, int.from_bytes(_MAGIC, "big")),  # jeq magic
        (0x06, 0, 0, 0xFFFF),  # ret: accept
        (0x06, 0, 0, 0),  # ret: drop
    ]
    insns = b"".join(struct.pack("HBBI", *insn) for insn in code)
    program = ctypes.create_string_buffer(insns)
    fprog = struct.pack("HL", len(code), ctypes.addressof(program))
    sock.setsockopt(socket.SOL_SOCKET, _SO_ATTACH_FILTER, fprog)


def _frames(n: int) -> list[bytes]:
    return [
        udp_frame(FLOW, _MAGIC + struct.pack("!Q", 0) + bytes(6), ident=i & 0xFFFF)
        for i in range(n)
    ]


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
                    {"dst_addr": DST_MAC, "port": out_port},
                )

            conn.insert([route("10.0.2.0/24", 2)])
            # Write rate: one update per request, then batches.
            hosts = list(ipaddress.ip_network("10.128.0.0/10").hosts())
            single = [route(f"{hosts[i]}/32", 2) for i in range(args.singles)]
            start = time.perf_counter()
            for entry in single:
                conn.write(inserts([entry]), batch_size=1)
            figures["writes_per_s_1_per_request"] = round(
                len(single) / (time.perf_counter() - start)
            )
            batched = [
                route(f"{hosts[i]}/32", 2) for i in range(args.singles, args.singles + args.entries)
            ]
            start = time.perf_counter()
            conn.write(inserts(batched), batch_size=args.batch)
            elapsed = time.perf_counter() - start
            figures[f"writes_per_s_{args.batch}_per_request"] = round(len(batched) / elapsed)
            figures["entries"] = len(single) + len(batched) + 1
            figures["rss_mib_with_entries"] = round(_rss_mib(proc.pid), 1)

            counter = Counter("b0")
            try:
                with RawSender("a0") as sender:
                    # Warm up (the first packets pay for lazy set-up on some switches).
                    sender.send_paced(_frames(200), rate_pps=2000)
                    counter.settle()
                    counter.flush()
                    rates: dict[int, float] = {}
                    forwarded: dict[int, int] = {}
                    counter_drops = 0
                    best = 0
                    for rate in args.rates:
                        frames = _frames(int(rate * args.seconds))
                        counter.kernel_count()
                        report = sender.send_paced(frames, rate_pps=rate)
                        during, drops = counter.kernel_count()
                        # The rest: what the switch's receive queue held when the
                        # sender stopped.
                        after, more_drops = counter.settle()
                        counter.flush()
                        counter_drops += drops + more_drops
                        loss = 1 - (during + after) / report.sent
                        rates[rate] = round(loss * 100, 2)
                        forwarded[rate] = round(during / report.elapsed)
                        print(
                            f"  offered {rate:>7} pps (sent {report.pps:,.0f}): loss {loss:6.2%},"
                            f" forwarded {forwarded[rate]:,} pps while sending",
                            flush=True,
                        )
                        if loss < 0.01:
                            best = rate
                        elif loss > 0.2:
                            break
                    figures["loss_pct_by_rate"] = rates
                    figures["forwarded_pps_while_sending"] = forwarded
                    figures["max_pps_loss_lt_1pct"] = best
                    figures["counter_socket_drops"] = counter_drops
                    # One-way latency at a low rate, timestamps in the payload.
                    counter.reading.set()
                    interval = 1 / args.latency_pps
                    for i in range(args.latency_packets):
                        payload = _MAGIC + struct.pack("!Q", time.time_ns()) + bytes(6)
                        sender.send_paced([udp_frame(FLOW, payload, ident=i)])
                        time.sleep(interval)
                    time.sleep(0.3)
                    delays = sorted(counter.delays_us)
                    if delays:
                        figures["latency_us"] = {
                            "p50": round(statistics.median(delays), 1),
                            "p99": round(delays[min(len(delays) - 1, int(len(delays) * 0.99))], 1),
                            "samples": len(delays),
                            "rate_pps": args.latency_pps,
                        }
            finally:
                counter.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
    return figures


def main() -> int:
    """Create the namespace, run the measurements inside it, print and save the figures."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", type=Path)
    parser.add_argument("--program", default=str(REPO / "tests" / "p4" / "ipv4_lpm.p4"))
    parser.add_argument(
        "--rates",
        type=int,
        nargs="+",
        default=[2000, 5000, 10000, 15000, 20000, 30000, 40000, 50000, 60000, 80000],
    )
    parser.add_argument("--seconds", type=float, default=2.0, help="traffic per rate step")
    parser.add_argument("--latency-pps", type=int, default=200)
    parser.add_argument("--latency-packets", type=int, default=400)
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--singles", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inside:
        figures = inside(args)
        print(json.dumps(figures))
        return 0
    if os.geteuid() != 0:
        print("bench_switch: needs root (network namespaces and raw sockets)", file=sys.stderr)
        return 1
    ns = f"din-bench-{uuid.uuid4().hex[:8]}"
    _sh("ip", "netns", "add", ns)
    try:
        cmd = [
            "ip",
            "netns",
            "exec",
            ns,
            sys.executable,
            __file__,
            "--inside",
            "--program",
            args.program,
            "--rates",
            *map(str, args.rates),
            "--seconds",
            str(args.seconds),
            "--latency-pps",
            str(args.latency_pps),
            "--latency-packets",
            str(args.latency_packets),
            "--entries",
            str(args.entries),
            "--singles",
            str(args.singles),
            "--batch",
            str(args.batch),
        ]
        result = subprocess.run(
            cmd, capture_output=False, stdout=subprocess.PIPE, text=True, check=False
        )
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)
    if result.returncode != 0:
        print(result.stdout, end="")
        return result.returncode
    lines = result.stdout.strip().splitlines()
    for line in lines[:-1]:
        print(line)
    figures = json.loads(lines[-1])
    for key, value in figures.items():
        print(f"{key:32} {value}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
