"""Ready-made DIN frame lists: requests with seeded values, node advertisements.

Imports numpy, traffic.frames and traffic.wire.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from traffic.frames import Endpoints, udp_frame
from traffic.wire import DinAdvert, DinHeader, MsgType, encode

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RequestSpec:
    """What every request of a batch carries besides its id and values."""

    model_id: int = 1
    model_version: int = 0
    tenant_id: int = 0
    sensitivity: int = 0
    stage: int = 0


def din_requests(
    ep: Endpoints, count: int, spec: RequestSpec, *, seed: int = 0, first_id: int = 1
) -> list[bytes]:
    """`count` request frames with ids first_id.. and seeded uniform uint8 values."""
    if count < 0:
        raise ValueError(f"request count {count!r}: expected 0 or more")
    rng = np.random.default_rng(seed)
    values = rng.integers(0, 256, size=(count, 16)).tolist()
    frames = []
    for i in range(count):
        header = DinHeader(
            msg_type=MsgType.REQUEST,
            model_id=spec.model_id,
            model_version=spec.model_version,
            stage=spec.stage,
            tenant_id=spec.tenant_id,
            sensitivity=spec.sensitivity,
            request_id=(first_id + i) & 0xFFFFFFFF,
        )
        # UDP checksum 0: switches zero it anyway when they rewrite the header.
        frames.append(udp_frame(ep, encode(header, values[i]), udp_checksum=False))
    return frames


def advertisement(ep: Endpoints, advert: DinAdvert, *, model_id: int, model_version: int) -> bytes:
    """One node advertisement frame for the model the node serves."""
    header = DinHeader(msg_type=MsgType.ADVERTISE, model_id=model_id, model_version=model_version)
    return udp_frame(ep, encode(header, advert), udp_checksum=False)
