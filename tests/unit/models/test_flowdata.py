"""Flow data sets from nDPI-like trees: labels, din.p4's features, files, splits, training."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from controller.cli import main
from controller.models import ModelError
from controller.models.features import flow_features
from controller.models.flowdata import (
    MANIFEST,
    capture_pairs,
    derive,
    file_digest,
    flow_split,
    load_flow_data,
    save_flow_data,
)
from controller.models.synthetic import FLOW_CLASSES, FlowSet

if TYPE_CHECKING:
    from tests.unit.models.conftest import FlowSpec, Kit


def _by_client(data, kit: type[Kit]) -> dict[str, tuple[str, str, int]]:
    """Per source address: (class, nDPI label, packets) of each derived flow."""
    out = {}
    for i in range(data.flows):
        src = ".".join(str(b) for b in int(data.keys[i, 0]).to_bytes(4, "big"))
        n = int(data.offsets[i + 1] - data.offsets[i])
        out[src] = (data.classes[data.labels[i]], data.app_names[data.apps[i]], n)
    return out


def test_sample_tree_is_labelled_as_documented(ndpi_tree: Path, kit: type[Kit]) -> None:
    data = derive(ndpi_tree)
    assert data.classes == FLOW_CLASSES
    assert data.capture_names == ("sample.pcap",)
    assert _by_client(data, kit) == {
        "10.0.0.1": ("llm_chat", "TLS.WhatsApp", 4),
        "10.0.0.2": ("llm_chat", "TLS.WhatsApp", 4),
        "10.0.0.3": ("video_upload", "RTSP", 5),  # 1400-byte datagrams; not the 40-byte replies
        "10.0.0.5": ("industrial_control", "Modbus", 3),
        "10.0.0.6": ("industrial_control", "Modbus", 3),
        "10.0.0.7": ("iot_sensor", "MQTT", 3),
        "10.0.0.8": ("iot_sensor", "MQTT", 3),
        "10.0.0.9": ("background", "HTTP", 3),
        "10.0.0.10": ("background", "HTTP", 3),
        "10.0.0.11": ("background", "DNS.WhatsApp", 1),
        "10.0.0.12": ("background", "DNS.WhatsApp", 1),
    }
    m = data.manifest
    assert m["flows_dropped"] == {
        "no_ndpi_line": 2,
        "not_the_bulk_direction": 1,
        "undetected": 2,
    }
    assert m["flows_per_class"] == {
        "llm_chat": 2,
        "video_upload": 1,
        "iot_sensor": 2,
        "industrial_control": 2,
        "background": 4,
    }
    assert m["packets_in_flows"] == 46 and m["packets_skipped"] == {}
    assert m["captures_read"] == 1


def test_packets_and_features_are_din_p4s(ndpi_tree: Path, kit: type[Kit]) -> None:
    data = derive(ndpi_tree)
    (chat,) = [i for i in range(data.flows) if data.keys[i, 0] == kit.ip_int("10.0.0.1")]
    # 120 bytes of payload over TCP: total_len 160; sent every ms from t = 0.
    assert data.flow(chat) == tuple((1000 * i, 160, 0x18) for i in range(4))
    assert tuple(data.keys[chat]) == (kit.ip_int("10.0.0.1"), kit.ip_int("10.0.0.2"), 6, 40000, 443)
    x = data.flow_set().features()
    assert tuple(x[chat]) == flow_features(data.flow(chat), 443)
    assert x[chat][1] == 443 and x[chat][3] == 4  # service_port, pkts


def test_synthetic_flows_come_back_exactly(synthetic_tree: tuple[Path, list[FlowSpec]]) -> None:
    root, specs = synthetic_tree
    data = derive(root)
    assert data.flows == len(specs) and data.manifest["flows_dropped"] == {}
    got = {}
    for i in range(data.flows):
        src = ".".join(str(b) for b in int(data.keys[i, 0]).to_bytes(4, "big"))
        got[src] = (data.classes[data.labels[i]], data.flow_set().features()[i])
    for spec in specs:
        workload, row = got[spec.client]
        assert workload == spec.workload
        # Same packets up to the capture's time origin: same features.
        assert tuple(row) == flow_features(spec.packets, spec.port)


def test_files_round_trip_and_bad_files_name_the_field(ndpi_tree: Path, tmp_path: Path) -> None:
    data = derive(ndpi_tree)
    path = tmp_path / "flows.npz"
    save_flow_data(data, path)
    back = load_flow_data(path)
    for name in ("packets", "offsets", "keys", "labels", "captures", "apps"):
        assert np.array_equal(getattr(back, name), getattr(data, name)), name
    assert (back.classes, back.app_names, back.capture_names) == (
        data.classes,
        data.app_names,
        data.capture_names,
    )
    assert back.manifest["flows_per_class"] == data.manifest["flows_per_class"]

    def rewrite(change_manifest=None, drop: str = "", arrays=None) -> Path:
        out = tmp_path / f"bad{len(list(tmp_path.glob('bad*')))}.npz"
        with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w") as dst:
            for item in src.namelist():
                body = src.read(item)
                if item == MANIFEST and change_manifest:
                    manifest = json.loads(body)
                    change_manifest(manifest)
                    body = json.dumps(manifest).encode()
                if item == f"{drop}.npy":
                    continue
                if arrays and item[:-4] in arrays:
                    import io  # noqa: PLC0415

                    buf = io.BytesIO()
                    np.save(buf, arrays[item[:-4]])
                    body = buf.getvalue()
                dst.writestr(item, body)
        return out

    cases = [
        (rewrite(lambda m: m.update(format="din-model")), r"format 'din-model': expected"),
        (rewrite(lambda m: m.update(format_version=9)), r"format_version 9: expected 1"),
        (rewrite(lambda m: m.update(classes="x")), r"classes 'x': expected a list of strings"),
        (rewrite(drop="labels"), r"array 'labels' is missing"),
        (rewrite(arrays={"offsets": np.array([0, 5])}), r"array 'offsets': expected 12 increas"),
        (rewrite(arrays={"apps": np.full(11, 99)}), r"array 'apps': values 99\.\.99: expected"),
        (rewrite(arrays={"labels": np.zeros(11)}), r"array 'labels': expected 1-D integers"),
    ]
    for bad, message in cases:
        with pytest.raises(ModelError, match=message):
            load_flow_data(bad)
    with pytest.raises(ModelError, match=r"no such flow data file \(make data writes one\)"):
        load_flow_data(tmp_path / "none.npz")


def test_split_needs_two_flows_per_class(ndpi_tree: Path, tmp_path: Path) -> None:
    path = tmp_path / "flows.npz"
    save_flow_data(derive(ndpi_tree), path)
    with pytest.raises(ModelError, match=r"classes with one flow \{'video_upload': 1\}"):
        flow_split(path)


def test_trees_without_captures_are_named(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"expected folders tests/pcap and tests/result"):
        capture_pairs(tmp_path)
    (tmp_path / "tests" / "pcap").mkdir(parents=True)
    (tmp_path / "tests" / "result").mkdir()
    with pytest.raises(ModelError, match=r"no capture in tests/pcap has a result file"):
        derive(tmp_path)
    with pytest.raises(ModelError, match=r"min packets 0: expected an int >= 1"):
        derive(tmp_path, min_packets=0)


def test_train_on_flow_data_float_quantized_in_switch(
    synthetic_tree: tuple[Path, list[FlowSpec]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root, _ = synthetic_tree
    data_file = tmp_path / "flows.npz"
    save_flow_data(derive(root), data_file)
    model = tmp_path / "forest.npz"
    argv = ["train", "forest", "--data", str(data_file), "--packet-limit", "8", "--seed", "1"]
    assert main([*argv, "--out", str(model)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"wrote {model}: forest of 4 tree(s)")
    assert out[1].startswith("38 test samples of ndpi-flows; in-switch: din.p4's entries")
    assert out[2].split() == ["float", "quantized", "in-switch"]
    accuracy = [float(v) for v in out[3].split()[1:]]
    macro_f1 = [float(v) for v in out[4].split()[1:]]
    assert accuracy[1] == accuracy[2] and macro_f1[1] == macro_f1[2]
    assert min(accuracy) >= 0.8 and min(macro_f1) >= 0.75
    assert [line.split()[0] for line in out[6:11]] == list(FLOW_CLASSES)
    assert out[-1].endswith("in-switch = quantized on 1.0000")

    # The model file names its data; evaluate rebuilds the same split from it.
    assert main(["evaluate", str(model), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["data"] == "ndpi-flows" and result["samples"] == 38
    assert round(result["quantized"]["accuracy"], 4) == accuracy[1]
    assert main(["info", str(model)]) == 0
    recorded = json.loads(capsys.readouterr().out)["created"]["data"]
    assert recorded["data_file"] == str(data_file)
    assert recorded["data_sha256"] == file_digest(data_file)
    assert recorded["packet_limit"] == 8 and "flows_per_class" not in recorded

    # Derived again with other flows: the model's test split is gone, and says so.
    save_flow_data(derive(root, min_packets=3), data_file)
    assert main(["evaluate", str(model)]) == 1
    assert "changed since training" in capsys.readouterr().err


def test_flow_set_features_per_packet(synthetic_tree: tuple[Path, list[FlowSpec]]) -> None:
    root, specs = synthetic_tree
    data = derive(root)
    flows = data.flow_set(seed=3)
    assert isinstance(flows, FlowSet) and len(flows.flows) == len(specs)
    at_two = flows.features(packet_limit=2)
    assert np.all(at_two[:, 3] == np.minimum(2, np.diff(data.offsets)))
