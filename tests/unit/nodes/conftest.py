"""Fixtures of the node tests: tiny model files, a node on loopback, a DIN client."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from controller.models.files import save_model
from controller.models.quant import FloatLayer, MLPModel, quantize_mlp
from nodes.catalog import Catalog, load_served
from nodes.server import NodeConfig, NodeServer
from traffic.wire import DinHeader, DinMessage, MsgType, decode, encode

INPUTS = 16
CLASSES = ("a", "b", "c", "d")
WAIT_S = 5.0  # generous bound for anything a test waits for; the usual wait is ms


def _floats(rng: np.random.Generator, widths: Sequence[int]) -> list[FloatLayer]:
    last = len(widths) - 2
    return [
        FloatLayer(
            rng.normal(size=(widths[i], widths[i + 1])),
            rng.normal(scale=0.5, size=widths[i + 1]),
            "linear" if i == last else "relu",
        )
        for i in range(len(widths) - 1)
    ]


def _model(
    name: str, version: int, floats: list[FloatLayer], calib: np.ndarray, **extra: object
) -> MLPModel:
    prefix = extra.pop("prefix", ())
    layers = quantize_mlp(floats, 1 / 255, calib, prefix=prefix)  # type: ignore[arg-type]
    return MLPModel(
        name=name,
        version=version,
        classes=CLASSES,
        input_scale=1 / 255,
        layers=layers,
        data={"name": "random", "seed": 0},
        **extra,  # type: ignore[arg-type]
    )


class Models:
    """The tiny models of the tests and their files."""

    def __init__(self, root: Path) -> None:
        rng = np.random.default_rng(7)
        calib = rng.uniform(size=(200, INPUTS))
        small_floats = _floats(rng, (INPUTS, 16, 16, len(CLASSES)))
        self.small = _model("small", 2, small_floats, calib)
        self.large = _model("large", 5, _floats(rng, (INPUTS, 32, 32, len(CLASSES))), calib)
        # A large model that shares the small one's first two layers bit for bit.
        shared_floats = [*small_floats[:2], *_floats(rng, (16, 32, len(CLASSES)))]
        self.shared = _model(
            "shared",
            6,
            shared_floats,
            calib,
            prefix=self.small.layers[:2],
            shared_layers=2,
            shared_with="small",
        )
        self.paths: dict[str, Path] = {}
        for model in (self.small, self.large, self.shared):
            path = root / f"{model.name}.npz"
            save_model(model, path)
            self.paths[model.name] = path


@pytest.fixture(scope="session")
def models(tmp_path_factory: pytest.TempPathFactory) -> Models:
    """Small (16-16-16-4), large (16-32-32-4) and shared-layer large models, saved."""
    return Models(tmp_path_factory.mktemp("node-models"))


def _wait_for(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.002)


@pytest.fixture
def wait_for() -> Callable[[Callable[[], bool], str], None]:
    """Poll a check until it holds; fail naming what was awaited after WAIT_S."""
    return _wait_for


@pytest.fixture
def start_node(models: Models) -> Iterator[Callable[..., NodeServer]]:
    """Start nodes on 127.0.0.1 with an ephemeral port; each is stopped at the end."""
    started: list[NodeServer] = []

    def start(large: str | None = "large", **config: Any) -> NodeServer:
        served = [load_served(models.paths["small"], 1)]
        escalation = [load_served(models.paths[large], 1, large=True)] if large else []
        config.setdefault("instance_id", 7)
        cfg = NodeConfig(bind="127.0.0.1", port=0, **config)
        node = NodeServer(cfg, Catalog(served, escalation))
        node.start()
        started.append(node)
        return node

    try:
        yield start
    finally:
        for node in started:
            node.stop()


class Client:
    """A UDP client that sends DIN messages to a node and reads its answers."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(WAIT_S)

    def send(
        self,
        node: NodeServer,
        vector: Sequence[int],
        *,
        stage: int = 0,
        msg_type: int = MsgType.REQUEST,
        request_id: int = 1,
        model_id: int = 1,
        model_version: int = 0,
        ingress_ts: int = 0,
    ) -> None:
        head = DinHeader(
            msg_type=msg_type,
            model_id=model_id,
            model_version=model_version,
            stage=stage,
            request_id=request_id,
            tenant_id=3,
            hop_count=2,
            ingress_ts=ingress_ts,
        )
        self.sock.sendto(encode(head, [int(v) for v in vector]), node.address)

    def send_raw(self, node: NodeServer, data: bytes) -> None:
        self.sock.sendto(data, node.address)

    def receive(self) -> DinMessage:
        data, _ = self.sock.recvfrom(2048)
        return decode(data)

    def ask(self, node: NodeServer, vector: Sequence[int], **kw: int) -> DinMessage:
        self.send(node, vector, **kw)
        return self.receive()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def client() -> Iterator[Client]:
    """A DIN client socket on 127.0.0.1."""
    c = Client()
    try:
        yield c
    finally:
        c.close()
