"""Network namespaces, veths, switch processes, inference nodes and clients for the
steering benchmarks (``bench_failover.py``, ``bench_wan_latency.py``); not a benchmark.

Hosts live in namespaces with a static neighbour entry for their gateway (din.p4 answers
no ARP); switch processes (the chosen toolchain's switch, din.p4 from the chosen compiler)
run in the root namespace on the other veth ends, CPU port 255, gRPC on 127.0.0.1. Nodes
are ``python -m nodes`` processes in their host's namespace; clients run the request loop
below and write every send and answer with its time. Everything made is removed, by name
or PID, in :meth:`NetRig.close`. Needs root; run under ``flock /tmp/din-net.lock``.
"""

from __future__ import annotations

import json
import math
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from controller import install
from controller.entries.steering import Route, route_entries
from controller.p4rt.client import SwitchConnection
from controller.p4rt.p4info import P4InfoIndex
from p4lite import toolchain

REPO = Path(__file__).resolve().parent.parent
CPU_PORT = 255
READY_S = 60.0

# Requests spread over `flows` sockets (one source port each) at `rate` per second.
CLIENT = r"""
import json, selectors, socket, sys, time
from traffic.wire import DinHeader, MsgType, decode, encode
cfg = json.loads(open(sys.argv[1]).read())
socks = []
sel = selectors.DefaultSelector()
for _ in range(cfg["flows"]):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", 0))
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ)
    socks.append(s)
vectors = cfg["vectors"]
sent, answers = {}, {}
def drain(timeout):
    for key, _ in sel.select(timeout):
        while True:
            try:
                data = key.fileobj.recv(2048)
            except BlockingIOError:
                break
            h = decode(data).header
            answers[h.request_id] = [time.time(), h.instance_id, h.flags, h.result_class,
                                     h.stage, h.msg_type]
print("go", flush=True)
start = time.time()
for k in range(cfg["count"]):
    due = start + k / cfg["rate"]
    while time.time() < due:
        drain(max(0.0, min(0.005, due - time.time())))
    head = DinHeader(msg_type=MsgType.REQUEST, model_id=cfg["model_id"], request_id=k + 1)
    flow = k % len(socks)
    sent[k + 1] = [time.time(), flow]
    socks[flow].sendto(encode(head, vectors[k % len(vectors)]), (cfg["to"], 7350))
end = time.time() + cfg["linger"]
while time.time() < end and len(answers) < len(sent):
    drain(0.02)
json.dump({"sent": sent, "answers": answers}, open(sys.argv[2], "w"))
"""


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _read_line(proc: subprocess.Popen[str], what: str) -> str:
    assert proc.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + READY_S
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"{what} exited with {proc.returncode}")
            if sel.select(timeout=0.2):
                return proc.stdout.readline()
    raise RuntimeError(f"{what} printed nothing in {READY_S} s")


@dataclass(frozen=True)
class Host:
    """A host namespace: its address, MAC, gateway, and the switch-side interface."""

    ns: str
    ip: str
    mac: str
    iface: str


@dataclass
class Run:
    """A client run: send time and flow per request id, answer per request id."""

    sent: dict[int, tuple[float, int]]
    answers: dict[int, list[Any]]

    @property
    def lost(self) -> list[int]:
        return sorted(set(self.sent) - set(self.answers))

    def latencies_ms(self) -> list[float]:
        return [(a[0] - self.sent[r][0]) * 1e3 for r, a in self.answers.items()]


class NetRig:
    """Namespaces, links and processes of one benchmark run."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.tag = f"{os.getpid() % 100000}"
        self.namespaces: list[str] = []
        self.links: list[str] = []
        self.procs: dict[str, subprocess.Popen[str]] = {}
        self.conns: dict[str, SwitchConnection] = {}
        self.env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
        compiled = toolchain.compile_program(REPO / "p4src" / "din.p4", work / "din")
        self.din_json = compiled.json
        self.index = P4InfoIndex.load(compiled.p4info)

    def host(self, name: str, ip: str, mac: str, gateway_mac: str) -> Host:
        """A namespace with one interface ``eth0`` (``ip``/24, default route via .254)."""
        ns, iface = f"dsb{self.tag}{name}", f"dsb{self.tag}{name}"[:15]
        _ip("netns", "add", ns)
        self.namespaces.append(ns)
        _ip("link", "add", iface, "type", "veth", "peer", "name", "eth0", "netns", ns)
        self.links.append(iface)
        _ip("link", "set", iface, "up")
        gw = ip.rsplit(".", 1)[0] + ".254"
        for args in (
            ("link", "set", "eth0", "address", mac),
            ("addr", "add", f"{ip}/24", "dev", "eth0"),
            ("link", "set", "eth0", "up"),
            ("link", "set", "lo", "up"),
            ("neigh", "add", gw, "lladdr", gateway_mac, "dev", "eth0", "nud", "permanent"),
            ("route", "add", "default", "via", gw),
        ):
            _ip("-n", ns, *args)
        return Host(ns, ip, mac, iface)

    def link(self, name: str) -> tuple[str, str]:
        """A veth pair between two switches."""
        a, b = f"dsb{self.tag}{name}a"[:15], f"dsb{self.tag}{name}b"[:15]
        _ip("link", "add", a, "type", "veth", "peer", "name", b)
        self.links.append(a)
        _ip("link", "set", a, "up")
        _ip("link", "set", b, "up")
        return a, b

    def switch(
        self, name: str, ports: dict[int, str], routes: list[Route], delays_ms: dict[int, float]
    ) -> SwitchConnection:
        """Start a switch process on ``ports``, push din.p4 and the routes; its connection."""
        grpc = _free_port()
        tool = toolchain.switch()
        argv = [*tool.argv, str(self.din_json)]
        for port, iface in sorted(ports.items()):
            argv += ["-i", f"{port}@{iface}"]
        for port, ms in sorted(delays_ms.items()):
            argv += ["--port-delay", f"{port}:{ms:g}"]
        argv += ["--", "--grpc-server-addr", f"127.0.0.1:{grpc}", "--cpu-port", str(CPU_PORT)]
        with (self.work / f"{name}.log").open("w") as log:
            proc = subprocess.Popen(argv, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, text=True)
        self.procs[name] = proc
        deadline = time.monotonic() + READY_S
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"switch {name} exited with {proc.returncode}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", grpc)) == 0:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"switch {name}: gRPC port never opened")
            time.sleep(0.05)
        conn = SwitchConnection(f"127.0.0.1:{grpc}", name=name, index=self.index, timeout=60)
        conn.connect(timeout=30)
        conn.set_pipeline(self.index, self.din_json.read_bytes())
        install.install(conn, route_entries(routes))
        self.conns[name] = conn
        return conn

    def node(self, host: Host, instance: int, *argv: str, advertise_ms: int = 20) -> None:
        """Start an inference node in ``host`` advertising to its gateway."""
        gw = host.ip.rsplit(".", 1)[0] + ".254"
        cmd = [
            "ip", "netns", "exec", host.ns, sys.executable, "-m", "nodes",
            "--instance-id", str(instance), "--advertise-to", gw,
            "--advertise-interval", str(advertise_ms),
            "--log-file", str(self.work / f"node-{instance}.log"), *argv,
        ]  # fmt: skip
        proc = subprocess.Popen(
            cmd, cwd=REPO, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.procs[f"node{instance}"] = proc
        if not _read_line(proc, f"node {instance}").startswith("ready "):
            raise RuntimeError(f"node {instance} did not start")

    def kill(self, name: str) -> float:
        """SIGKILL a process (``ip netns exec`` execs: same PID); return the time."""
        at = time.time()
        os.kill(self.procs[name].pid, signal.SIGKILL)
        return at

    def reap(self, name: str) -> None:
        """Wait for a process that ended."""
        self.procs.pop(name).communicate(timeout=30)

    def client(self, host: Host, name: str, **cfg: Any) -> None:
        """Start a client in ``host`` (returns once it starts sending)."""
        path = self.work / f"{name}.json"
        path.write_text(json.dumps({"model_id": 1, "linger": 2.0, **cfg}))
        proc = subprocess.Popen(
            ["ip", "netns", "exec", host.ns, sys.executable, "-c", CLIENT, str(path),
             str(self.work / f"{name}.out")],
            cwd=REPO, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.procs[name] = proc
        if _read_line(proc, f"client {name}").strip() != "go":
            raise RuntimeError(f"client {name} did not start")

    def finish(self, name: str) -> Run:
        """Wait for a client and return its run."""
        proc = self.procs.pop(name)
        _out, err = proc.communicate(timeout=300)
        if proc.returncode != 0:
            raise RuntimeError(f"client {name} failed: {err}")
        data = json.loads((self.work / f"{name}.out").read_text())
        return Run(
            {int(k): (v[0], v[1]) for k, v in data["sent"].items()},
            {int(k): v for k, v in data["answers"].items()},
        )

    def close(self) -> None:
        for conn in self.conns.values():
            conn.close()
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.communicate(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.communicate(timeout=10)
        for link in self.links:
            subprocess.run(["ip", "link", "del", link], capture_output=True, check=False)
        for ns in self.namespaces:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (None without values)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered), math.ceil(q * len(ordered))) - 1)]
