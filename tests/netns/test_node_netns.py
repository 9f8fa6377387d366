"""An inference node (``python -m nodes``) in one network namespace, a client in another,
joined by a veth pair: a DIN request crosses the link and the answer comes back, and the
node's advertisement reaches the client's namespace.

Needs root. Every namespace and process a test makes is removed (by name or PID) in
`finally`."""

from __future__ import annotations

import json
import os
import selectors
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from controller.models.files import save_model
from controller.models.quant import FloatLayer, MLPModel, forward_int, quantize_mlp

pytestmark = [
    pytest.mark.netns,
    pytest.mark.root,
    pytest.mark.skipif(
        not hasattr(os, "geteuid") or os.geteuid() != 0 or shutil.which("ip") is None,
        reason="needs root and iproute2",
    ),
]

ROOT = Path(__file__).resolve().parents[2]
NODE_ADDR = "10.77.0.1"
CLIENT_ADDR = "10.77.0.2"
ADVERT_PORT = 47350
READY_S = 30.0

CLIENT = """
import json, socket, sys
from traffic.wire import DinHeader, MsgType, decode, encode
vector = json.loads(sys.argv[1])
adverts = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
adverts.bind(("0.0.0.0", int(sys.argv[3])))
adverts.settimeout(10.0)
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.settimeout(10.0)
head = DinHeader(msg_type=MsgType.REQUEST, model_id=1, request_id=4242, ingress_ts=99)
sock.sendto(encode(head, vector), (sys.argv[2], 7350))
answer = decode(sock.recvfrom(2048)[0])
advert = decode(adverts.recvfrom(2048)[0])
print(json.dumps({
    "request_id": answer.header.request_id,
    "msg_type": answer.header.msg_type,
    "result_class": answer.header.result_class,
    "confidence": answer.header.confidence,
    "ingress_ts": answer.header.ingress_ts,
    "instance_id": answer.header.instance_id,
    "vector": list(answer.vector),
    "advert_instance": advert.advert.instance_id,
    "advert_type": advert.header.msg_type,
}))
"""


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


def _model(path: Path) -> MLPModel:
    rng = np.random.default_rng(11)
    floats = [
        FloatLayer(rng.normal(size=(16, 16)), rng.normal(size=16), "relu"),
        FloatLayer(rng.normal(size=(16, 3)), rng.normal(size=3), "linear"),
    ]
    model = MLPModel(
        name="netns",
        version=1,
        classes=("x", "y", "z"),
        input_scale=1 / 255,
        layers=quantize_mlp(floats, 1 / 255, rng.uniform(size=(100, 16))),
        data={"name": "random", "seed": 11},
    )
    save_model(model, path)
    return model


def _read_ready(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + READY_S
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                err = proc.stderr.read() if proc.stderr else ""
                pytest.fail(f"node exited with {proc.returncode}: {err}")
            if sel.select(timeout=0.2):
                return proc.stdout.readline()
    finally:
        sel.close()
    pytest.fail("node did not print its ready line")


def test_request_crosses_a_veth_pair_and_is_answered(tmp_path: Path) -> None:
    tag = f"{os.getpid() % 100000}"
    ns_node, ns_client = f"dinnode{tag}", f"dincli{tag}"
    model = _model(tmp_path / "m.npz")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    made: list[str] = []
    node: subprocess.Popen[str] | None = None
    try:
        for ns in (ns_node, ns_client):
            _ip("netns", "add", ns)
            made.append(ns)
        _ip(
            "link",
            "add",
            "dn0",
            "netns",
            ns_node,
            "type",
            "veth",
            "peer",
            "dc0",
            "netns",
            ns_client,
        )
        for ns, dev, addr in ((ns_node, "dn0", NODE_ADDR), (ns_client, "dc0", CLIENT_ADDR)):
            _ip("-n", ns, "addr", "add", f"{addr}/24", "dev", dev)
            _ip("-n", ns, "link", "set", dev, "up")
            _ip("-n", ns, "link", "set", "lo", "up")
        node = subprocess.Popen(
            [
                "ip", "netns", "exec", ns_node, sys.executable, "-m", "nodes",
                "--instance-id", "5",
                "--model", str(tmp_path / "m.npz"),
                "--bind", NODE_ADDR,
                "--advertise-to", f"{CLIENT_ADDR}:{ADVERT_PORT}",
                "--advertise-interval", "50",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )  # fmt: skip
        assert _read_ready(node).split()[:2] == ["ready", f"{NODE_ADDR}:7350"]
        x = np.random.default_rng(1).integers(0, 256, size=16)
        result = subprocess.run(
            [
                "ip", "netns", "exec", ns_client, sys.executable, "-c", CLIENT,
                json.dumps([int(v) for v in x]), NODE_ADDR, str(ADVERT_PORT),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            check=False,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        got = json.loads(result.stdout)
        scores = forward_int(model, x)
        ordered = np.sort(scores)
        assert got["request_id"] == 4242
        assert got["msg_type"] == 2
        assert got["result_class"] == int(np.argmax(scores))
        assert got["confidence"] == int(ordered[-1] - ordered[-2])
        assert got["vector"][:3] == [int(v) for v in scores]
        assert (got["ingress_ts"], got["instance_id"]) == (99, 5)
        assert (got["advert_type"], got["advert_instance"]) == (4, 5)
        node.terminate()
        assert node.wait(timeout=10) == 0
    finally:
        if node is not None:
            if node.poll() is None:
                node.kill()
            node.wait(timeout=10)
            for stream in (node.stdout, node.stderr):
                if stream is not None:
                    stream.close()
        for ns in made:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False, timeout=30)
