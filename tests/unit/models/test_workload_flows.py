"""Flow data from frames (``flowdata.from_frames``) and from the testbed's own traffic
generators (``tools/workload_flows.py``, the data ``make models`` trains the flow
classifier on)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from controller.models import ModelError
from controller.models.features import flow_features
from controller.models.flowdata import LabelledFrames, flow_split, from_frames, load_flow_data
from controller.models.synthetic import FLOW_CLASSES
from traffic.frames import Endpoints, tcp_frame, udp_frame
from traffic.workloads import WORKLOADS

REPO = Path(__file__).resolve().parents[3]
TOOL = REPO / "tools" / "workload_flows.py"
EP = Endpoints("00:00:0a:00:01:01", "00:00:0a:00:01:fe", "10.0.1.1", "10.0.3.1", 40000, 5683)


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("workload_flows", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_frames_become_the_flow_the_switch_sees() -> None:
    frames = [(0, udp_frame(EP, bytes(30))), (1500, udp_frame(EP, bytes(70)))]
    other = Endpoints(EP.src_mac, EP.dst_mac, EP.src_ip, EP.dst_ip, 40001, 443)
    tcp = [(10, tcp_frame(other, b"x", flags=0x18)), (20, tcp_frame(other, b"yz", flags=0x10))]
    arp = bytes(12) + b"\x08\x06" + bytes(28)
    data = from_frames(
        [
            LabelledFrames("iot_sensor", "test-udp", frames),
            LabelledFrames("llm_chat", "test-tcp", [*tcp, (30, arp)]),
            LabelledFrames("background", "only-arp", [(0, arp)]),
        ],
        name="frames",
        source="unit test",
        detail={"made_by": "hand"},
    )
    assert data.flows == 2
    assert [data.classes[i] for i in data.labels] == ["iot_sensor", "llm_chat"]
    # IPv4 total_len of each frame: 20 + 8 + payload (UDP), 20 + 20 + payload (TCP).
    assert data.flow(0) == ((0, 58, 0), (1500, 98, 0))
    assert data.flow(1) == ((10, 41, 0x18), (20, 42, 0x10))
    assert data.keys[1].tolist()[2:] == [6, 40001, 443]
    assert data.manifest["packets_skipped"] == {"not_ipv4": 2}
    assert data.manifest["flows_dropped"] == {"no_packet_taken": 1}
    assert data.manifest["made_by"] == "hand"
    assert flow_features(data.flow(0), 5683)[:5] == (98, 5683, 1500, 2, 156)


def test_frames_of_two_flows_in_one_entry_are_refused() -> None:
    other = Endpoints(EP.src_mac, EP.dst_mac, EP.src_ip, EP.dst_ip, 40002, 5683)
    mixed = [(0, udp_frame(EP, b"a")), (1, udp_frame(other, b"b"))]
    with pytest.raises(ModelError, match=r"flow 0 \(mixed\): frames of two flows"):
        from_frames([LabelledFrames("iot_sensor", "mixed", mixed)], name="x", source="x", detail={})
    with pytest.raises(ModelError, match="class 'chat'"):
        from_frames([LabelledFrames("chat", "x", mixed[:1])], name="x", source="x", detail={})


def test_workload_flows_cover_every_class_from_its_workloads() -> None:
    tool = _tool()
    flows = list(tool.workload_flows(4, seed=1, max_packets=16))
    assert len(flows) == 4 * len(FLOW_CLASSES)
    for flow in flows:
        assert WORKLOADS[flow.app].flow_class == flow.workload
        assert 1 <= len(flow.frames) <= 16
    # background alternates its workloads; half the flows use a shared port
    assert {f.app for f in flows if f.workload == "background"} == {"web", "bulk"}
    again = list(tool.workload_flows(4, seed=1, max_packets=16))
    assert [f.frames for f in again] == [f.frames for f in flows]


def test_tool_writes_a_flow_data_file_a_forest_trains_on(tmp_path: Path) -> None:
    out = tmp_path / "flows.npz"
    run = subprocess.run(
        [sys.executable, str(TOOL), "--out", str(out), "--flows-per-class", "12"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert f"wrote {out}: 60 flows of traffic.workloads" in run.stdout
    data = load_flow_data(out)
    assert data.class_counts() == dict.fromkeys(FLOW_CLASSES, 12)
    assert data.manifest["name"] == "workload-flows"
    split = flow_split(out, seed=0, packet_limit=8, min_packets=1)
    assert split.x_train.shape[1] == 12
    assert np.bincount(split.y_test, minlength=5).tolist() == [3] * 5


def test_tool_refuses_bad_arguments(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, str(TOOL), "--out", str(tmp_path / "x.npz"), "--flows-per-class", "1"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert run.returncode == 2
    assert "--flows-per-class >= 2" in run.stderr
