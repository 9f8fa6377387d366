"""A DIN client: send held-out samples as inference requests and check the answers.

``python -m nodes.client --to 10.0.3.1 --model build/models/digits-mlp.npz``
sends digits samples from the model's own held-out split (quantized with the
model's input scale) as DIN requests over UDP, paced, and collects the answers
on the same socket. It reports how many were answered and by whom (node or
switch, which instance), how many came back busy, the accuracy against the
labels, the agreement with the model's integer reference, and the round-trip
latency percentiles. ``--json`` prints the report as JSON; ``--answers FILE``
writes every answer as a JSON line the moment it arrives (with its send time,
``time.perf_counter_ns()``, so that a watcher can follow the stream). More
requests than held-out samples cycle through them.

May import controller.models, traffic.wire, numpy and the standard library.
"""

from __future__ import annotations

import argparse
import json
import logging
import selectors
import socket
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from controller.models import quant
from controller.models.datasets import digits16
from controller.models.errors import ModelError
from controller.models.files import load_model
from nodes.server import FLAG_BUSY, FLAG_IN_NETWORK
from traffic import wire

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Answer:
    """One answer to a request."""

    request_id: int
    latency_us: float
    result_class: int
    confidence: int
    flags: int
    instance_id: int
    sent_ns: int = 0  # time.perf_counter_ns() when the request left


@dataclass
class Report:
    """What a run of requests gave."""

    sent: int = 0
    answered: int = 0
    busy: int = 0
    correct: int = 0
    agree_with_reference: int = 0
    by_instance: dict[str, int] = field(default_factory=dict)
    answered_by_switch: int = 0
    started_in_network: int = 0
    latency_us_p50: float | None = None
    latency_us_p99: float | None = None

    def summary(self) -> str:
        """A few lines for a person."""
        served = self.answered - self.busy
        lines = [
            f"sent {self.sent}, answered {self.answered} (busy {self.busy}), "
            f"lost {self.sent - self.answered}",
            f"accuracy {self.correct}/{served}, agreement with the integer reference "
            f"{self.agree_with_reference}/{served}",
            f"answered by switches: {self.answered_by_switch}; by instance: {self.by_instance}; "
            f"first layers computed in the network: {self.started_in_network}",
        ]
        if self.latency_us_p50 is not None:
            lines.append(
                f"latency p50 {self.latency_us_p50:.0f} us, p99 {self.latency_us_p99:.0f} us"
            )
        return "\n".join(lines)


def send_requests(
    target: tuple[str, int],
    inputs: np.ndarray,
    *,
    model_id: int,
    rate: float = 200.0,
    timeout: float = 2.0,
    tenant: int = 0,
    sensitivity: int = 0,
    on_answer: Callable[[Answer], None] | None = None,
) -> dict[int, Answer]:
    """Send one request per row of ``inputs`` (uint8 codes); return answers by request id.

    ``on_answer`` is called with each answer as it arrives.
    """
    answers: dict[int, Answer] = {}
    sent_at: dict[int, int] = {}
    interval = 1.0 / rate if rate > 0 else 0.0
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock,
        selectors.DefaultSelector() as sel,
    ):
        sock.setblocking(False)
        sel.register(sock, selectors.EVENT_READ)
        next_send = time.monotonic()
        index = 0
        deadline: float | None = None
        while True:
            now = time.monotonic()
            if index < len(inputs) and now >= next_send:
                request_id = index + 1
                header = wire.DinHeader(
                    msg_type=wire.MsgType.REQUEST,
                    model_id=model_id,
                    tenant_id=tenant,
                    sensitivity=sensitivity,
                    request_id=request_id,
                )
                payload = wire.encode(header, [int(v) for v in inputs[index]])
                sent_at[request_id] = time.perf_counter_ns()
                sock.sendto(payload, target)
                index += 1
                next_send += interval
                if index == len(inputs):
                    deadline = time.monotonic() + timeout
            if deadline is not None and (time.monotonic() > deadline or len(answers) == index):
                break
            wait = (
                max(0.0, min(next_send - time.monotonic(), 0.05)) if index < len(inputs) else 0.05
            )
            for _key, _ in sel.select(timeout=wait):
                while True:
                    try:
                        data = sock.recv(2048)
                    except BlockingIOError:
                        break
                    received = time.perf_counter_ns()
                    try:
                        msg = wire.decode(data)
                    except wire.DinFormatError as exc:
                        log.warning("malformed answer: %s", exc)
                        continue
                    rid = msg.header.request_id
                    if msg.header.msg_type != wire.MsgType.RESPONSE or rid not in sent_at:
                        continue
                    answers[rid] = Answer(
                        rid,
                        (received - sent_at[rid]) / 1000,
                        msg.header.result_class,
                        msg.header.confidence,
                        msg.header.flags,
                        msg.header.instance_id,
                        sent_at[rid],
                    )
                    if on_answer is not None:
                        on_answer(answers[rid])
    return answers


def evaluate(
    answers: dict[int, Answer], sent: int, labels: np.ndarray, reference: np.ndarray
) -> Report:
    """Compare answers with the labels and with the model's integer reference."""
    report = Report(sent=sent, answered=len(answers))
    instances: Counter[str] = Counter()
    latencies = []
    for rid, answer in answers.items():
        if answer.flags & FLAG_BUSY:
            report.busy += 1
            continue
        latencies.append(answer.latency_us)
        report.correct += int(answer.result_class == labels[rid - 1])
        report.agree_with_reference += int(answer.result_class == reference[rid - 1])
        if answer.flags & FLAG_IN_NETWORK:
            report.started_in_network += 1
        if answer.flags & wire.FLAG_SWITCH_ANSWER:
            report.answered_by_switch += 1
        else:
            instances[str(answer.instance_id)] += 1
    report.by_instance = dict(sorted(instances.items()))
    if latencies:
        ordered = sorted(latencies)
        report.latency_us_p50 = statistics.median(ordered)
        report.latency_us_p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return report


def held_out(model: quant.MLPModel, count: int) -> tuple[np.ndarray, np.ndarray]:
    """The model's first ``count`` held-out samples as uint8 codes, with their labels.

    The samples come from the model's own test split; asked for more, they repeat.
    """
    seed = model.data.get("seed", 0)
    split = digits16(seed=seed if isinstance(seed, int) else 0)
    order = np.arange(count) % len(split.y_test)
    inputs = quant.quantize_input(model, split.x_test[order])
    return inputs, np.asarray(split.y_test[order])


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m nodes.client", description=__doc__)
    parser.add_argument("--to", required=True, help="HOST[:PORT] of a node or service address")
    parser.add_argument("--model", type=Path, required=True, help="the MLP model file")
    parser.add_argument("--model-id", type=int, default=1)
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second")
    parser.add_argument("--timeout", type=float, default=2.0, help="seconds to wait at the end")
    parser.add_argument("--tenant", type=int, default=0)
    parser.add_argument("--sensitivity", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--answers", type=Path, metavar="FILE", help="write each answer there as a JSON line"
    )
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING)
    host, _, port = args.to.partition(":")
    try:
        model = load_model(args.model)
    except (ModelError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not isinstance(model, quant.MLPModel):
        print(f"error: {args.model}: not an MLP model", file=sys.stderr)
        return 2
    inputs, labels = held_out(model, args.count)
    reference, _ = quant.predict_int(model, inputs)
    try:
        out = args.answers.open("w", encoding="utf-8") if args.answers else None
    except OSError as exc:
        print(f"error: {args.answers}: {exc.strerror}", file=sys.stderr)
        return 2

    def write(answer: Answer) -> None:
        if out is not None:
            out.write(json.dumps(asdict(answer)) + "\n")
            out.flush()

    try:
        answers = send_requests(
            (host, int(port or wire.DIN_UDP_PORT)),
            inputs,
            model_id=args.model_id,
            rate=args.rate,
            timeout=args.timeout,
            tenant=args.tenant,
            sensitivity=args.sensitivity,
            on_answer=write,
        )
    finally:
        if out is not None:
            out.close()
    report = evaluate(answers, len(inputs), labels, np.asarray(reference))
    print(json.dumps(asdict(report)) if args.json else report.summary())
    return 0 if report.answered == report.sent else 1


if __name__ == "__main__":
    sys.exit(main())
