"""Seeded synthetic flows of the five DIN workload classes, for training and tests.

Each class draws packet sizes, gaps, TCP flags and a server port from its own
distributions (chosen to resemble the workload, with overlap so the task is not
trivial: HTTPS carries chat, uploads and web alike). Imports numpy, scikit-learn
and the standard library only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import train_test_split

from controller.models.datasets import Split
from controller.models.errors import ModelError
from controller.models.features import Packet, flow_features

log = logging.getLogger(__name__)

FLOW_CLASSES = (
    "llm_chat",
    "video_upload",
    "iot_sensor",
    "industrial_control",
    "background",
)
SYNTHETIC_FLOWS = "synthetic-flows"

TCP_FIN, TCP_SYN, TCP_PSH, TCP_ACK = 0x01, 0x02, 0x08, 0x10
PSH_ACK = TCP_PSH | TCP_ACK


@dataclass(frozen=True, slots=True)
class FlowSet:
    """Flows (packet lists), their service ports, class indices and class names."""

    classes: tuple[str, ...]
    flows: tuple[tuple[Packet, ...], ...]
    ports: tuple[int, ...]
    labels: np.ndarray
    seed: int

    def features(
        self, packet_limit: int | None = None, min_packets: int | None = None
    ) -> np.ndarray:
        """Feature matrix (flows x features) of int64, over each flow's first packets.

        ``packet_limit`` mimics a switch that classifies a flow at its N-th packet
        (the flow model). With ``min_packets`` too, each flow is seen at a packet
        drawn (seeded) from ``min_packets..packet_limit``: the per-packet model
        that classifies flows before they reach N packets.
        """
        if packet_limit is not None and packet_limit <= 0:
            raise ModelError(f"packet limit {packet_limit!r}: expected a positive int")
        if min_packets is not None and (
            packet_limit is None or not 1 <= min_packets <= packet_limit
        ):
            raise ModelError(
                f"min packets {min_packets!r}: expected 1..packet limit ({packet_limit!r})"
            )
        rng = np.random.default_rng(self.seed)
        rows = []
        for flow, port in zip(self.flows, self.ports, strict=True):
            limit = packet_limit
            if min_packets is not None and packet_limit is not None:
                limit = int(rng.integers(min_packets, packet_limit + 1))
            rows.append(flow_features(flow[:limit], port))
        return np.array(rows, dtype=np.int64)


def _assemble(
    rng: np.random.Generator, gaps: np.ndarray, sizes: np.ndarray, flags: np.ndarray
) -> tuple[Packet, ...]:
    start = int(rng.integers(0, 10_000_000))
    stamps = start + np.concatenate(([0], np.cumsum(np.maximum(gaps[1:], 1).astype(np.int64))))
    return tuple(
        (int(t), int(s), int(f))
        for t, s, f in zip(stamps, np.clip(sizes, 60, 1514), flags, strict=True)
    )


def _llm_chat(rng: np.random.Generator) -> tuple[Packet, ...]:
    # A prompt, then a streamed answer: small token chunks at human-readable pace.
    n = int(rng.integers(6, 40))
    gaps = rng.lognormal(np.log(rng.uniform(5_000, 80_000)), 0.8, n)
    gaps[1] = rng.uniform(50_000, 900_000)  # time to first token
    sizes = rng.integers(70, 600, n)
    sizes[0] = rng.integers(200, 1500)
    flags = np.full(n, PSH_ACK)
    if rng.random() < 0.3:
        flags[0] = TCP_SYN
    return _assemble(rng, gaps, sizes, flags)


def _video_upload(rng: np.random.Generator) -> tuple[Packet, ...]:
    # Camera frames to an analytics service: full-size segments in bursts.
    n = int(rng.integers(8, 48))
    gaps = rng.exponential(rng.uniform(200, 8_000), n)
    gaps[rng.random(n) < 0.1] += rng.uniform(20_000, 40_000)  # frame boundaries
    sizes = np.where(rng.random(n) < 0.85, rng.integers(1200, 1449, n), rng.integers(60, 600, n))
    flags = np.full(n, PSH_ACK if rng.random() < 0.6 else TCP_ACK)
    return _assemble(rng, gaps, sizes, flags)


def _iot_sensor(rng: np.random.Generator) -> tuple[Packet, ...]:
    # Periodic small readings sent for inference; MQTT over TCP or plain UDP.
    n = int(rng.integers(3, 20))
    period = np.exp(rng.uniform(np.log(20_000), np.log(5_000_000)))
    gaps = period * np.abs(rng.normal(1.0, rng.uniform(0.02, 0.3), n))
    sizes = rng.integers(60, 220, n)
    flags = np.full(n, PSH_ACK if rng.random() < 0.5 else 0)
    return _assemble(rng, gaps, sizes, flags)


def _industrial_control(rng: np.random.Generator) -> tuple[Packet, ...]:
    # Cyclic control loop: tiny, very regular messages.
    n = int(rng.integers(6, 48))
    period = rng.uniform(1_000, 50_000)
    gaps = period * np.abs(rng.normal(1.0, rng.uniform(0.01, 0.1), n))
    sizes = rng.integers(64, 130, n)
    flags = np.full(n, PSH_ACK if rng.random() < 0.7 else 0)
    return _assemble(rng, gaps, sizes, flags)


def _background(rng: np.random.Generator) -> tuple[Packet, ...]:
    if rng.random() < 0.5:
        # Web page: handshake, mixed sizes, irregular gaps, teardown.
        n = int(rng.integers(4, 40))
        gaps = rng.exponential(rng.uniform(2_000, 80_000), n)
        sizes = rng.integers(60, 1515, n)
        flags = np.full(n, PSH_ACK)
        # Flows are often observed mid-way: no handshake or teardown seen.
        if rng.random() < 0.5:
            flags[0] = TCP_SYN
        if rng.random() < 0.5:
            flags[-1] = TCP_FIN | TCP_ACK
    else:
        # Bulk transfer: full-size segments as fast as the path allows.
        n = int(rng.integers(8, 48))
        gaps = rng.exponential(rng.uniform(100, 4_000), n)
        sizes = np.where(rng.random(n) < 0.95, 1448, rng.integers(60, 1448, n))
        flags = np.full(n, TCP_ACK if rng.random() < 0.7 else PSH_ACK)
    return _assemble(rng, gaps, sizes, flags)


# Server ports per class, (TCP, UDP): min(sport, dport) is the server's port
# since clients use ephemeral ports. HTTPS is shared so ports alone cannot decide.
_PORTS: tuple[tuple[tuple[int, ...], tuple[int, ...]], ...] = (
    ((443, 443, 443, 8000, 8443), (443,)),  # LLM APIs, self-hosted servers; QUIC
    ((443, 443, 554, 1935), (554, 5004)),  # HTTPS, RTSP, RTMP; RTP
    ((1883, 8883), (5683, 5684)),  # MQTT(S); CoAP(S)
    ((502, 4840, 44818), (2222, 47808)),  # Modbus, OPC UA, EtherNet/IP; I/O, BACnet
    ((443, 443, 80, 22, 445), (443, 53)),  # web, ssh, smb; QUIC, DNS
)

_GENERATORS: tuple[Callable[[np.random.Generator], tuple[Packet, ...]], ...] = (
    _llm_chat,
    _video_upload,
    _iot_sensor,
    _industrial_control,
    _background,
)


def synthetic_flows(flows_per_class: int, seed: int = 0) -> FlowSet:
    """``flows_per_class`` flows of each class in ``FLOW_CLASSES``, drawn from ``seed``."""
    if flows_per_class <= 0:
        raise ModelError(f"flows per class {flows_per_class!r}: expected a positive int")
    rng = np.random.default_rng(seed)
    flows: list[tuple[Packet, ...]] = []
    ports: list[int] = []
    labels: list[int] = []
    for _ in range(flows_per_class):
        for label, gen in enumerate(_GENERATORS):
            flow = gen(rng)
            udp = all(flags == 0 for _, _, flags in flow)
            ports.append(int(rng.choice(_PORTS[label][1 if udp else 0])))
            flows.append(flow)
            labels.append(label)
    log.debug("generated %d synthetic flows (seed %d)", len(flows), seed)
    return FlowSet(FLOW_CLASSES, tuple(flows), tuple(ports), np.array(labels, dtype=np.int64), seed)


def flow_dataset(
    flows_per_class: int,
    seed: int = 0,
    test_fraction: float = 0.25,
    packet_limit: int | None = None,
    min_packets: int | None = None,
) -> Split:
    """Synthetic flows as integer feature vectors, split stratified by ``seed``."""
    if not 0.0 < test_fraction < 1.0:
        raise ModelError(f"test fraction {test_fraction!r}: expected a number in (0, 1)")
    flows = synthetic_flows(flows_per_class, seed)
    x_train, x_test, y_train, y_test = train_test_split(
        flows.features(packet_limit, min_packets),
        flows.labels,
        test_size=test_fraction,
        random_state=seed,
        stratify=flows.labels,
    )
    return Split(
        name=SYNTHETIC_FLOWS,
        classes=flows.classes,
        x_train=x_train,
        y_train=y_train,
        x_test=x_test,
        y_test=y_test,
        seed=seed,
        test_fraction=test_fraction,
    )
