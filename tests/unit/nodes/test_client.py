"""nodes.client: requests over real UDP to a running node, answers checked against the model."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from controller.models import quant
from controller.models.datasets import digits16
from nodes import client
from nodes.server import FLAG_BUSY, FLAG_IN_NETWORK, FLAG_NODE, NodeServer


def test_every_request_is_answered_as_the_integer_reference_says(
    start_node: Callable[..., NodeServer], models: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    node = start_node(large=None)
    host, port = node.address
    status = client.main(
        ["--to", f"{host}:{port}", "--model", str(models.paths["small"]), "--count", "40",
         "--rate", "2000", "--json"]
    )  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    assert status == 0
    assert (report["sent"], report["answered"], report["busy"]) == (40, 40, 0)
    assert report["agree_with_reference"] == 40
    assert report["by_instance"] == {"7": 40}
    assert report["latency_us_p50"] > 0


def test_evaluate_counts_busy_switch_answers_and_mistakes() -> None:
    answers = {
        1: client.Answer(1, 100.0, 3, 9, FLAG_NODE | FLAG_IN_NETWORK, 2),
        2: client.Answer(2, 300.0, 1, 0, FLAG_BUSY, 2),
        3: client.Answer(3, 200.0, 0, 12, 0x01, 0),  # answered by a switch
    }
    labels = np.array([3, 1, 2, 0])
    reference = np.array([3, 1, 0, 0])
    report = client.evaluate(answers, sent=4, labels=labels, reference=reference)
    assert (report.answered, report.busy, report.answered_by_switch) == (3, 1, 1)
    assert (report.correct, report.agree_with_reference) == (1, 2)
    assert report.by_instance == {"2": 1}
    assert report.started_in_network == 1
    assert report.latency_us_p50 == 150.0
    assert "lost 1" in report.summary()


def test_unknown_model_file_is_one_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert client.main(["--to", "127.0.0.1", "--model", "/nonexistent/m.npz"]) == 2
    assert "error:" in capsys.readouterr().err


def test_reference_agrees_with_forward_int(models: Any) -> None:
    # The client's reference is the models layer's own integer inference.
    from controller.models.files import load_model  # noqa: PLC0415

    model = load_model(models.paths["small"])
    codes = np.arange(16, dtype=np.int64).reshape(1, 16) * 7
    top, _ = quant.predict_int(model, codes)
    assert int(top[0]) == int(np.argmax(quant.forward_int(model, codes)[0]))


def test_held_out_samples_repeat_when_more_are_asked(models: Any) -> None:
    from controller.models.files import load_model  # noqa: PLC0415

    model = load_model(models.paths["small"])
    assert isinstance(model, quant.MLPModel)
    n = len(digits16(seed=int(model.data.get("seed", 0))).y_test)
    inputs, labels = client.held_out(model, n)
    twice, twice_labels = client.held_out(model, 2 * n + 1)
    assert (twice[:n] == inputs).all() and (twice[n : 2 * n] == inputs).all()
    assert (twice_labels[n : 2 * n] == labels).all() and (twice[2 * n] == inputs[0]).all()


def test_answers_file_has_a_line_per_answer(
    start_node: Callable[..., NodeServer],
    models: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    node = start_node(large=None)
    host, port = node.address
    answers = tmp_path / "answers.jsonl"
    status = client.main(
        ["--to", f"{host}:{port}", "--model", str(models.paths["small"]), "--count", "25",
         "--rate", "2000", "--json", "--answers", str(answers)]
    )  # fmt: skip
    assert status == 0
    lines = [json.loads(line) for line in answers.read_text().splitlines()]
    report = json.loads(capsys.readouterr().out)
    assert sorted(a["request_id"] for a in lines) == list(range(1, 26))
    assert all(a["sent_ns"] > 0 and a["instance_id"] == 7 for a in lines)
    assert report["answered"] == 25
