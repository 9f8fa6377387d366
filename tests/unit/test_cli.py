"""``dinctl``: subcommands run in a subprocess on temp dirs, errors and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from controller.cli import main


def dinctl(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "controller.cli", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("dinctl")


@pytest.fixture(scope="module")
def mlp_file(work: Path) -> Path:
    done = dinctl("train", "mlp", "--out", "mlp.npz", "--seed", "1", cwd=work)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("wrote mlp.npz: mlp 16-16-16-10 'digits-mlp' v1")
    return work / "mlp.npz"


def test_train_info_evaluate_mlp(
    work: Path, mlp_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    info = dinctl("info", mlp_file, cwd=work)
    assert info.returncode == 0, info.stderr
    manifest = json.loads(info.stdout)
    assert manifest["kind"] == "mlp"
    assert manifest["created"]["data"]["name"] == "digits16"
    assert [layer["outputs"] for layer in manifest["layers"]] == [16, 16, 10]
    # Six initialisations (seeds 1..6 from --seed 1); the kept one is recorded.
    data = manifest["created"]["data"]
    assert data["restarts"] == 6 and data["train_seed"] in range(1, 7)
    assert 0.9 <= data["train_accuracy"] <= 1.0

    done = dinctl("evaluate", mlp_file, "--json", cwd=work)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    # Measured with seed 1: float 0.924, quantized 0.920.
    assert result["float"]["accuracy"] >= 0.87
    assert result["quantized"]["accuracy"] >= 0.87
    assert set(result["quantized"]["per_class_f1"]) == {str(d) for d in range(10)}

    assert main(["evaluate", str(mlp_file)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "model 'digits-mlp' on digits16: 450 test samples"
    accuracy = lines[2].split()
    assert accuracy[0] == "accuracy"
    assert [float(v) for v in accuracy[1:]] == pytest.approx(
        [result["float"]["accuracy"], result["quantized"]["accuracy"]], abs=1e-4
    )
    assert lines[3].startswith("macro-F1")


def test_quantize_and_head(work: Path, mlp_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    done = dinctl("quantize", mlp_file, "--percentile", "99", "--out", "q.npz", cwd=work)
    assert done.returncode == 0, done.stderr
    assert main(["info", str(work / "q.npz")]) == 0
    assert json.loads(capsys.readouterr().out)["created"]["data"]["percentile"] == 99

    done = dinctl("train", "head", "--base", mlp_file, "--out", "head.npz", cwd=work)
    assert done.returncode == 0, done.stderr
    assert "mlp 16-16-10 'digits-mlp-head'" in done.stdout
    assert main(["info", str(work / "head.npz")]) == 0
    assert len(json.loads(capsys.readouterr().out)["exit_thresholds"]) == 10
    done = dinctl("evaluate", "head.npz", "--exit-threshold", "10", cwd=work)
    assert done.returncode == 0, done.stderr
    last = done.stdout.splitlines()[-1]
    assert last.startswith("early exit at confidence >= 10: coverage ")
    coverage = float(last.split("coverage ")[1].split(",")[0])
    assert 0.5 <= coverage < 1.0


@pytest.mark.parametrize("kind", ["tree", "forest"])
def test_train_and_evaluate_flow_classifier(
    work: Path, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = f"{kind}.npz"
    done = dinctl("train", kind, "--out", out, "--flows-per-class", "60", "--seed", "2", cwd=work)
    assert done.returncode == 0, done.stderr
    assert f"{kind} of " in done.stdout
    assert main(["evaluate", str(work / out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result["float"]["per_class_f1"]) == {
        "llm_chat",
        "video_upload",
        "iot_sensor",
        "industrial_control",
        "background",
    }
    assert result["quantized"]["accuracy"] >= 0.9
    assert result["quantized"]["macro_f1"] >= 0.9
    if kind == "tree":
        assert result["agreement"] == 1.0  # one tree: codes are exact


def test_errors_are_one_line_and_exit_1(work: Path) -> None:
    done = dinctl("info", "missing.npz", cwd=work)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "dinctl: error: missing.npz: cannot read model file: No such file or directory"
    ]
    verbose = dinctl("-v", "info", "missing.npz", cwd=work)
    assert verbose.returncode == 1
    assert "Traceback" in verbose.stderr
    usage = dinctl("train", "svm", "--out", "x.npz", cwd=work)
    assert usage.returncode == 1
    assert len(usage.stderr.splitlines()) == 1
    assert usage.stderr.startswith("dinctl train: error: argument kind: invalid choice: 'svm'")


def test_bad_model_file_names_the_field(
    work: Path, mlp_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with zipfile.ZipFile(mlp_file) as zf:
        manifest = json.loads(zf.read("model.json"))
        members = {name: zf.read(name) for name in zf.namelist() if name != "model.json"}
    manifest["layers"][1]["shift"] = 40
    bad = work / "bad.npz"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("model.json", json.dumps(manifest))
        for name, data in members.items():
            zf.writestr(name, data)
    assert main(["evaluate", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err == (
        f"dinctl: error: {bad}: model.json: layers[1].shift: expected an int in 0..31, got 40\n"
    )


def test_in_process_usage_errors(
    work: Path, mlp_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["train", "head", "--out", str(work / "h.npz")]) == 1
    assert "the --base model file is required" in capsys.readouterr().err
    forest = work / "small-forest.npz"
    assert main(["train", "forest", "--flows-per-class", "10", "--out", str(forest)]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(forest), "--exit-threshold", "3"]) == 1
    assert "--exit-threshold applies to mlp models only" in capsys.readouterr().err
    assert main(["train", "head", "--base", str(forest), "--out", str(work / "h.npz")]) == 1
    assert "kind 'forest': expected an mlp base model" in capsys.readouterr().err
    assert main(["train", "mlp", "--hidden", "16,x", "--out", "m.npz"]) == 1
    assert "invalid hidden sizes '16,x'" in capsys.readouterr().err
    assert main(["train", "tree", "--model-version", "70000", "--out", "t.npz"]) == 1
    assert "invalid model version '70000': use 0..65535" in capsys.readouterr().err
    assert main(["train", "tree", "--seed", "-1", "--out", "t.npz"]) == 1
    assert "argument --seed: invalid value '-1': use an int >= 0" in capsys.readouterr().err
    assert main(["train", "forest", "--trees", "0", "--out", "t.npz"]) == 1
    assert "argument --trees: invalid value '0': use an int >= 1" in capsys.readouterr().err
    assert main(["train", "forest", "--min-packets", "2", "--out", str(work / "p.npz")]) == 1
    assert capsys.readouterr().err == (
        "dinctl: error: min packets 2: expected 1..packet limit (None)\n"
    )
    assert not (work / "p.npz").exists()
    assert main([]) == 1
    assert "required: COMMAND" in capsys.readouterr().err
