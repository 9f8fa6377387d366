"""A steering rig in network namespaces: one p4lite switch process running din.p4, a client
namespace on port 1 and three inference node processes (``python -m nodes``) on ports 2..4,
joined by veth pairs; the test drives a steering service over real gRPC.

Addresses: host on port i is 10.0.i.1, its gateway 10.0.i.254 (a static neighbour entry to
the switch's MAC, since din.p4 answers no ARP). Every namespace, veth and process the rig
makes is removed, by name or PID, in ``close``. Run under ``flock /tmp/din-net.lock``."""

from __future__ import annotations

import importlib.util
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

from controller import install
from controller.entries.steering import Route, route_entries
from controller.models.files import save_model
from controller.models.quant import FloatLayer, MLPModel, quantize_mlp
from controller.p4rt.client import SwitchConnection

if TYPE_CHECKING:
    from tests.conftest import Din

REPO = Path(__file__).resolve().parents[3]
SWITCH_MAC = "02:d1:00:01:00:00"
CPU_PORT = 255
READY_S = 60.0


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


def host_ip(port: int) -> str:
    return f"10.0.{port}.1"


def host_mac(port: int) -> str:
    return f"02:00:00:00:00:{port:02x}"


def _mlp(name: str, widths: tuple[int, ...], seed: int) -> MLPModel:
    rng = np.random.default_rng(seed)
    floats = [
        FloatLayer(
            rng.normal(size=(widths[i], widths[i + 1])),
            rng.normal(size=widths[i + 1]),
            "linear" if i == len(widths) - 2 else "relu",
        )
        for i in range(len(widths) - 1)
    ]
    return MLPModel(
        name=name,
        version=1,
        classes=tuple("abcd"[: widths[-1]]),
        input_scale=1 / 255,
        layers=quantize_mlp(floats, 1 / 255, rng.uniform(size=(200, widths[0]))),
        data={"name": "random", "seed": seed},
    )


@dataclass(frozen=True)
class Models:
    flat: MLPModel  # 16-16-4: what the nodes finish
    deep: MLPModel  # 4-6-5-3: two layers may run in the switch
    flat_path: Path
    deep_path: Path


@pytest.fixture(scope="session")
def models(tmp_path_factory: pytest.TempPathFactory) -> Models:
    out = tmp_path_factory.mktemp("netns-models")
    flat, deep = _mlp("flat", (16, 16, 4), 3), _mlp("deep", (4, 6, 5, 3), 5)
    save_model(flat, out / "flat.npz")
    save_model(deep, out / "deep.npz")
    return Models(flat, deep, out / "flat.npz", out / "deep.npz")


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
                pytest.fail(f"{what} exited with {proc.returncode}")
            if sel.select(timeout=0.2):
                return proc.stdout.readline()
    pytest.fail(f"{what} printed nothing in {READY_S} s")


# One client process in the client namespace: requests spread over `flows` sockets (one
# source port each) at `rate` per second; every send and answer is recorded with its time.
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
            msg = decode(data)
            h = msg.header
            answers[h.request_id] = [time.time(), h.instance_id, h.flags, h.result_class,
                                     h.stage, h.msg_type]
print("go", flush=True)
start = time.time()
for k in range(cfg["count"]):
    due = start + k / cfg["rate"]
    while time.time() < due:
        drain(max(0.0, min(0.005, due - time.time())))
    head = DinHeader(msg_type=MsgType.REQUEST, model_id=cfg["model_id"], tenant_id=cfg["tenant"],
                     sensitivity=cfg["sensitivity"], request_id=k + 1)
    flow = k % len(socks)
    socks[flow].sendto(encode(head, vectors[k % len(vectors)]), (cfg["to"], 7350))
    sent[k + 1] = [time.time(), flow]
end = time.time() + cfg["linger"]
while time.time() < end and len(answers) < len(sent):
    drain(0.02)
json.dump({"sent": sent, "answers": answers}, open(sys.argv[2], "w"))
"""


@dataclass
class Run:
    """A client run: send time and flow per request id, answer per request id."""

    sent: dict[int, tuple[float, int]]
    answers: dict[int, list[Any]]

    @classmethod
    def load(cls, path: Path) -> Run:
        data = json.loads(path.read_text())
        return cls(
            {int(k): (v[0], v[1]) for k, v in data["sent"].items()},
            {int(k): v for k, v in data["answers"].items()},
        )

    def by_instance(self) -> dict[int, int]:
        out: dict[int, int] = {}
        for a in self.answers.values():
            out[a[1]] = out.get(a[1], 0) + 1
        return out

    @property
    def lost(self) -> list[int]:
        return sorted(set(self.sent) - set(self.answers))


class Rig:
    """The switch process, the namespaces and the node processes of one test."""

    def __init__(self, din: Din, tmp: Path) -> None:
        self.din, self.tmp = din, tmp
        self.tag = f"{os.getpid() % 100000}"
        self.namespaces: list[str] = []
        self.links: list[str] = []
        self.procs: dict[str, subprocess.Popen[str]] = {}
        self.env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
        self.conn: SwitchConnection | None = None

    def ns(self, port: int) -> str:
        return f"dst{self.tag}h{port}"

    def setup(self, ports: tuple[int, ...] = (1, 2, 3, 4)) -> None:
        for port in ports:
            ns, veth = self.ns(port), f"dst{self.tag}p{port}"
            _ip("netns", "add", ns)
            self.namespaces.append(ns)
            _ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
            self.links.append(veth)
            _ip("link", "set", veth, "up")
            _ip("-n", ns, "link", "set", "eth0", "address", host_mac(port))
            _ip("-n", ns, "addr", "add", f"{host_ip(port)}/24", "dev", "eth0")
            _ip("-n", ns, "link", "set", "eth0", "up")
            _ip("-n", ns, "link", "set", "lo", "up")
            gw = f"10.0.{port}.254"
            _ip(
                "-n",
                ns,
                "neigh",
                "add",
                gw,
                "lladdr",
                SWITCH_MAC,
                "dev",
                "eth0",
                "nud",
                "permanent",
            )
            _ip("-n", ns, "route", "add", "default", "via", gw)
        grpc = _free_port()
        argv = [sys.executable, "-m", "p4lite.switch", str(self.din.json)]
        for port in ports:
            argv += ["-i", f"{port}@dst{self.tag}p{port}"]
        argv += ["--log-file", str(self.tmp / "switch.log"), "--", "--grpc-server-addr",
                 f"127.0.0.1:{grpc}", "--cpu-port", str(CPU_PORT)]  # fmt: skip
        self.procs["switch"] = subprocess.Popen(
            argv, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True
        )
        deadline = time.monotonic() + READY_S
        while True:
            assert self.procs["switch"].poll() is None, "the switch exited early"
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", grpc)) == 0:
                    break
            assert time.monotonic() < deadline, "the switch's gRPC port never opened"
            time.sleep(0.05)
        self.address = f"127.0.0.1:{grpc}"
        self.conn = SwitchConnection(self.address, name="s1", index=self.din.index)
        self.conn.connect(timeout=30)
        self.conn.set_pipeline(self.din.index, self.din.json.read_bytes())
        routes = [Route(f"{host_ip(p)}/32", host_mac(p), SWITCH_MAC, p) for p in ports]
        install.install(self.conn, route_entries(routes))

    def start_node(self, port: int, model: Path, *extra: str, advertise_ms: int = 20) -> None:
        tuning = self.tmp / f"tuning-{port}.json"
        if not tuning.exists():
            tuning.write_text("{}")
        argv = [
            "ip", "netns", "exec", self.ns(port), sys.executable, "-m", "nodes",
            "--instance-id", str(port), "--model", f"1={model}",
            "--advertise-to", f"10.0.{port}.254", "--advertise-interval", str(advertise_ms),
            "--tuning", str(tuning), "--log-file", str(self.node_log(port)), "-v",
            "--metrics-file", str(self.tmp / f"node-{port}.json"), *extra,
        ]  # fmt: skip
        proc = subprocess.Popen(
            argv, cwd=REPO, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.procs[f"node{port}"] = proc
        assert _read_line(proc, f"node {port}").startswith("ready ")

    def node_log(self, port: int) -> Path:
        return self.tmp / f"node-{port}.log"

    def tune(self, port: int, **tuning: float) -> None:
        (self.tmp / f"tuning-{port}.json").write_text(json.dumps(tuning))
        os.kill(self.procs[f"node{port}"].pid, signal.SIGHUP)

    def kill_node(self, port: int) -> float:
        """SIGKILL the node's process (``ip netns exec`` execs it: same PID); the time."""
        at = time.time()
        self.procs[f"node{port}"].kill()
        return at

    def stop_node(self, port: int) -> dict[str, Any]:
        """SIGTERM a node and return its final metrics."""
        proc = self.procs[f"node{port}"]
        proc.terminate()
        proc.communicate(timeout=20)
        return json.loads((self.tmp / f"node-{port}.json").read_text())  # type: ignore[no-any-return]

    def client(self, name: str, *, count: int, rate: float, flows: int, vectors: list[list[int]],
               tenant: int = 0, sensitivity: int = 0, to: str = "10.0.9.9",
               linger: float = 2.0, model_id: int = 1) -> subprocess.Popen[str]:  # fmt: skip
        """Start a client in the client namespace (it prints 'go' when it starts sending)."""
        cfg = self.tmp / f"{name}.json"
        cfg.write_text(json.dumps({
            "flows": flows, "count": count, "rate": rate, "vectors": vectors, "model_id": model_id,
            "tenant": tenant, "sensitivity": sensitivity, "to": to, "linger": linger,
        }))  # fmt: skip
        proc = subprocess.Popen(
            ["ip", "netns", "exec", self.ns(1), sys.executable, "-c", CLIENT, str(cfg),
             str(self.tmp / f"{name}.out")],
            cwd=REPO, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.procs[name] = proc
        assert _read_line(proc, f"client {name}").strip() == "go"
        return proc

    def finish(self, name: str, timeout: float = 120) -> Run:
        proc = self.procs[name]
        _out, err = proc.communicate(timeout=timeout)
        assert proc.returncode == 0, err
        return Run.load(self.tmp / f"{name}.out")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
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


@pytest.fixture
def rig(din: Din, tmp_path: Path) -> Iterator[Rig]:
    r = Rig(din, tmp_path)
    try:
        r.setup()
        yield r
    finally:
        r.close()


def load_promtext() -> Any:
    """The strict Prometheus text parser of tests/unit/telemetry (loaded by path)."""
    path = REPO / "tests" / "unit" / "telemetry" / "promtext.py"
    spec = importlib.util.spec_from_file_location("promtext", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Kit:
    """Helpers for the test module (which cannot import conftest)."""

    load_promtext = staticmethod(load_promtext)
    host_ip = staticmethod(host_ip)


@pytest.fixture
def kit() -> type[Kit]:
    return Kit
