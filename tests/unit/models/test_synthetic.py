"""The seeded synthetic workload generator."""

from __future__ import annotations

import numpy as np
import pytest

from controller.models import ModelError
from controller.models.features import FEATURE_NAMES, FLOW_FEATURES, flow_features
from controller.models.synthetic import FLOW_CLASSES, flow_dataset, synthetic_flows


def test_same_seed_same_flows_other_seed_other_flows() -> None:
    a, b, c = synthetic_flows(5, 7), synthetic_flows(5, 7), synthetic_flows(5, 8)
    assert a.flows == b.flows
    assert a.flows != c.flows
    assert np.array_equal(a.labels, b.labels)


def test_every_class_present_and_flows_valid() -> None:
    flows = synthetic_flows(20, 1)
    assert flows.classes == FLOW_CLASSES
    assert np.bincount(flows.labels).tolist() == [20] * len(FLOW_CLASSES)
    x = flows.features()
    assert x.shape == (100, len(FLOW_FEATURES))
    assert x.min() >= 0
    for flow in flows.flows:
        stamps = [p[0] for p in flow]
        assert stamps == sorted(stamps)
        assert all(60 <= p[1] <= 1514 for p in flow)


def test_classes_differ_in_their_distributions() -> None:
    flows = synthetic_flows(50, 2)
    x = flows.features()
    size_max = x[:, FEATURE_NAMES.index("size_max")]
    by_class = {name: size_max[flows.labels == i] for i, name in enumerate(FLOW_CLASSES)}
    # Control loops and sensors send small messages; uploads send full segments.
    assert by_class["industrial_control"].max() < 130
    assert np.median(by_class["video_upload"]) > 1200


def test_flow_dataset_split() -> None:
    split = flow_dataset(40, 3, test_fraction=0.25)
    assert len(split.y_test) == 50
    assert len(split.y_train) == 150
    assert np.bincount(split.y_test).tolist() == [10] * 5
    with pytest.raises(ModelError, match="flows per class 0"):
        synthetic_flows(0)
    with pytest.raises(ModelError, match=r"test fraction 1\.5"):
        flow_dataset(10, 0, test_fraction=1.5)


def test_packet_limit_uses_each_flows_first_packets() -> None:
    flows = synthetic_flows(3, 4)
    limited = flows.features(packet_limit=2)
    for flow, port, row in zip(flows.flows, flows.ports, limited, strict=True):
        assert tuple(row) == flow_features(flow[:2], port)
        assert row[FEATURE_NAMES.index("pkts")] == min(2, len(flow))
    with pytest.raises(ModelError, match="packet limit 0: expected a positive int"):
        flows.features(packet_limit=0)


def test_service_ports_follow_the_workload() -> None:
    flows = synthetic_flows(40, 6)
    control = {p for p, label in zip(flows.ports, flows.labels, strict=True) if label == 3}
    assert control <= {502, 4840, 44818, 2222, 47808}
    for flow, port, label in zip(flows.flows, flows.ports, flows.labels, strict=True):
        udp = all(flags == 0 for _, _, flags in flow)
        if label == 2:  # IoT: MQTT over TCP, CoAP over UDP
            assert port in ({5683, 5684} if udp else {1883, 8883})
    shared = {p for p, label in zip(flows.ports, flows.labels, strict=True) if label in (0, 1, 4)}
    assert 443 in shared  # HTTPS is common to chat, uploads and web: ports cannot decide


def test_min_packets_sees_each_flow_at_a_random_early_packet() -> None:
    flows = synthetic_flows(20, 7)
    early = flows.features(packet_limit=5, min_packets=2)
    assert np.array_equal(early, flows.features(packet_limit=5, min_packets=2))  # seeded
    pkts = early[:, FEATURE_NAMES.index("pkts")]
    for flow, port, row in zip(flows.flows, flows.ports, early, strict=True):
        k = int(row[FEATURE_NAMES.index("pkts")])
        assert 2 <= k <= 5  # every synthetic flow has at least 3 packets
        assert tuple(row) == flow_features(flow[:k], port)
    assert len(set(pkts.tolist())) > 1  # not one fixed packet
    with pytest.raises(ModelError, match=r"min packets 6: expected 1\.\.packet limit \(5\)"):
        flows.features(packet_limit=5, min_packets=6)
    with pytest.raises(ModelError, match=r"min packets 1: expected 1\.\.packet limit \(None\)"):
        flows.features(min_packets=1)
