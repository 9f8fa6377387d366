"""Flow feature extraction: hand-computed vectors, saturation, idle restart, bad input."""

from __future__ import annotations

import pytest

from controller.models import ModelError
from controller.models.features import FEATURE_NAMES, FLOW_IDLE_US, flow_features


def as_dict(packets: list[tuple[int, int, int]], port: int = 0) -> dict[str, int]:
    return dict(zip(FEATURE_NAMES, flow_features(packets, port), strict=True))


def test_names_follow_the_data_plane() -> None:
    assert FEATURE_NAMES == (
        "pkt_len",
        "service_port",
        "iat",
        "pkts",
        "bytes",
        "duration",
        "iat_min",
        "iat_max",
        "iat_ewma",
        "size_min",
        "size_max",
        "tcp_flags",
    )


def test_one_packet_flow() -> None:
    assert as_dict([(1000, 120, 0x02)], 443) == {
        "pkt_len": 120,
        "service_port": 443,
        "iat": 0,
        "pkts": 1,
        "bytes": 120,
        "duration": 0,
        "iat_min": 0,
        "iat_max": 0,
        "iat_ewma": 0,
        "size_min": 120,
        "size_max": 120,
        "tcp_flags": 0x02,
    }


def test_five_packet_flow_hand_computed() -> None:
    # gaps 100, 300, 20, 1000; ewma: 100 (second packet), then
    # 100 - 12 + 37 = 125, 125 - 15 + 2 = 112, 112 - 14 + 125 = 223
    packets = [(0, 60, 0x02), (100, 1500, 0x10), (400, 800, 0x18), (420, 60, 0x11), (1420, 90, 0)]
    assert as_dict(packets, 8080) == {
        "pkt_len": 90,
        "service_port": 8080,
        "iat": 1000,
        "pkts": 5,
        "bytes": 2510,
        "duration": 1420,
        "iat_min": 20,
        "iat_max": 1000,
        "iat_ewma": 223,
        "size_min": 60,
        "size_max": 1500,
        "tcp_flags": 0x1B,
    }


def test_idle_gap_starts_a_new_flow() -> None:
    packets = [
        (0, 60, 0x02),
        (10, 70, 0x10),
        (10 + FLOW_IDLE_US + 1, 80, 0x08),
        (20 + FLOW_IDLE_US, 90, 0),
    ]
    features = as_dict(packets)
    assert (features["pkts"], features["bytes"], features["duration"]) == (2, 170, 9)
    assert (features["iat_min"], features["iat_max"], features["tcp_flags"]) == (9, 9, 0x08)
    # A gap of exactly FLOW_IDLE_US keeps the flow.
    assert as_dict([(0, 60, 0), (FLOW_IDLE_US, 60, 0)])["pkts"] == 2


def test_counters_saturate_at_32_bits() -> None:
    limit = 2**32 - 1
    packets = [(i, 65535, 0) for i in range(limit // 65535 + 2)]
    assert as_dict(packets)["bytes"] == limit
    long_flow = [(i * FLOW_IDLE_US, 60, 0) for i in range(500)]  # 5e9 us > 2^32
    assert as_dict(long_flow)["duration"] == limit


def test_equal_timestamps_give_zero_gaps() -> None:
    features = as_dict([(5, 60, 0), (5, 70, 0), (5, 80, 0)])
    assert (features["iat_min"], features["iat_max"], features["iat_ewma"]) == (0, 0, 0)


@pytest.mark.parametrize(
    ("packets", "port", "message"),
    [
        ([], 0, "expected at least one packet"),
        ([(10, 60, 0), (5, 60, 0)], 0, r"packet 1 timestamp 5: expected a value >= 10"),
        ([(-1, 60, 0)], 0, r"packet 0 timestamp -1: expected a value >= 0"),
        ([(0, 70000, 0)], 0, r"packet 0 length 70000: expected 0\.\.65535"),
        ([(0, 60, 0), (1, 60, 256)], 0, r"packet 1 tcp_flags 256: expected 0\.\.255"),
        ([(0, 60, 0)], 70000, r"service port 70000: expected 0\.\.65535"),
    ],
)
def test_bad_packets_are_named(
    packets: list[tuple[int, int, int]], port: int, message: str
) -> None:
    with pytest.raises(ModelError, match=message):
        flow_features(packets, port)
