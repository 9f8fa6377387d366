"""The ``din-node`` command (``python -m nodes``): run one inference node until SIGTERM.

Prints ``ready HOST:PORT`` on stdout once the socket is bound, so that a
launcher can wait for it; prints the metrics as one JSON line on SIGUSR1 and
on exit (and writes them to ``--metrics-file`` when given). With ``--tuning
FILE`` (JSON: ``{"delay_ms": 20, "service_rate": 100}``, either key optional)
the node reads its added delay and service rate from that file at start and
again on SIGHUP, so a running node can be slowed down or sped up. Exit codes: 0
after a clean stop, 2 for a bad argument or model file, 1 when the socket
cannot be bound.

Imports ``nodes`` modules and the standard library only.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from nodes.advertise import DEFAULT_INTERVAL_S, AdvertiseSettings
from nodes.catalog import Catalog, ModelSpec, NodeError, ServedModel, load_served
from nodes.server import NodeConfig, NodeServer
from traffic.wire import DIN_UDP_PORT

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_RUNTIME = 1
EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    p = argparse.ArgumentParser(
        prog="din-node",
        description="DIN inference node: finishes partitioned requests, serves escalations "
        "with a large model, advertises its load.",
    )
    p.add_argument("--instance-id", type=int, required=True, help="instance id, 1..63")
    p.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="[ID=]FILE",
        help="model file to serve under DIN model id ID (default: 1, 2, ... in order); repeat",
    )
    p.add_argument(
        "--escalation-model",
        metavar="[ID=]FILE",
        help="large model for escalations of model id ID (default: the first --model's id, or 1)",
    )
    p.add_argument("--bind", default="0.0.0.0", help="address to bind (default 0.0.0.0)")
    p.add_argument("--port", type=int, default=DIN_UDP_PORT, help="UDP port (0 = any free one)")
    p.add_argument(
        "--advertise-to",
        metavar="HOST[:PORT]",
        help=f"send advertisements there (default port {DIN_UDP_PORT}); none when absent",
    )
    p.add_argument(
        "--advertise-interval",
        type=float,
        default=DEFAULT_INTERVAL_S * 1e3,
        metavar="MS",
        help="advertisement period in ms (default 100)",
    )
    p.add_argument("--queue-size", type=int, default=64, help="requests waiting at most")
    p.add_argument(
        "--service-rate", type=float, default=0.0, help="requests/s at most (0 = unlimited)"
    )
    p.add_argument("--delay-ms", type=float, default=0.0, help="added service time per request")
    p.add_argument(
        "--capacity", type=int, default=0, help="advertised capacity, requests/s (0 = derived)"
    )
    p.add_argument(
        "--tuning",
        type=Path,
        metavar="FILE",
        help="JSON with delay_ms and/or service_rate, read at start and on SIGHUP",
    )
    p.add_argument("--log-file", type=Path, help="log there instead of stderr")
    p.add_argument("--metrics-file", type=Path, help="also write the metrics JSON there")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return p


def load_catalog(models: Sequence[str], escalation: str | None) -> Catalog:
    """Load the model files named on the command line."""
    served: list[ServedModel] = []
    for index, text in enumerate(models, start=1):
        spec = ModelSpec.parse(text)
        served.append(load_served(spec.path, spec.model_id or index))
    large: list[ServedModel] = []
    if escalation is not None:
        spec = ModelSpec.parse(escalation)
        default_id = served[0].model_id if served else 1
        large.append(load_served(spec.path, spec.model_id or default_id, large=True))
    if not served and not large:
        raise NodeError("no model: expected at least one --model or --escalation-model")
    return Catalog(served, large)


def load_tuning(path: Path) -> dict[str, float]:
    """The ``--tuning`` file: ``delay_ms`` and ``service_rate`` (each optional, >= 0)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise NodeError(f"tuning file {str(path)!r}: {exc.strerror or exc}") from exc
    except json.JSONDecodeError as exc:
        raise NodeError(f"tuning file {str(path)!r}: not JSON: {exc.msg}") from exc
    if not isinstance(data, dict) or set(data) - {"delay_ms", "service_rate"}:
        raise NodeError(
            f"tuning file {str(path)!r}: {data!r}: expected an object with delay_ms "
            "and/or service_rate"
        )
    out: dict[str, float] = {}
    for key, value in data.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise NodeError(f"tuning file {str(path)!r}: {key} {value!r}: expected a number >= 0")
        out[key] = float(value)
    return out


def _setup_logging(log_file: Path | None, verbose: bool) -> None:
    handler: logging.Handler = (
        logging.FileHandler(log_file, encoding="utf-8") if log_file else logging.StreamHandler()
    )
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)


def _fail(exc: Exception, log_file: Path | None) -> None:
    # Stderr always says why; the log file (when there is one) keeps it too.
    print(f"din-node: error: {exc}", file=sys.stderr)
    if log_file is not None:
        log.error("%s", exc)


def _dump(server: NodeServer, metrics_file: Path | None) -> None:
    snapshot = {"instance_id": server.config.instance_id, **server.metrics.snapshot()}
    text = json.dumps(snapshot, sort_keys=True)
    print(text, flush=True)
    if metrics_file is not None:
        try:
            metrics_file.write_text(text + "\n", encoding="utf-8")
        except OSError as exc:
            log.warning("cannot write metrics to %s: %s", metrics_file, exc)


def _retune(server: NodeServer, path: Path | None) -> None:
    if path is None:
        log.warning("SIGHUP without --tuning: nothing to reload")
        return
    try:
        tuning = load_tuning(path)
        server.tune(delay_ms=tuning.get("delay_ms"), service_rate=tuning.get("service_rate"))
    except NodeError as exc:
        # A bad file must not stop a running node: keep the current pace.
        log.error("%s", exc)


def main(argv: Sequence[str] | None = None) -> int:
    """Run a node until SIGTERM or SIGINT; return the exit code."""
    args = build_parser().parse_args(argv)
    try:
        _setup_logging(args.log_file, args.verbose)
    except OSError as exc:
        print(f"din-node: error: log file {str(args.log_file)!r}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        catalog = load_catalog(args.model, args.escalation_model)
        advertise = None
        if args.advertise_to:
            advertise = AdvertiseSettings(
                AdvertiseSettings.parse_target(args.advertise_to),
                args.advertise_interval / 1e3,
            )
        tuning = load_tuning(args.tuning) if args.tuning is not None else {}
        config = NodeConfig(
            instance_id=args.instance_id,
            bind=args.bind,
            port=args.port,
            queue_size=args.queue_size,
            service_rate=tuning.get("service_rate", args.service_rate),
            delay_ms=tuning.get("delay_ms", args.delay_ms),
            capacity=args.capacity,
            advertise=advertise,
        )
        server = NodeServer(config, catalog)
    except NodeError as exc:
        _fail(exc, args.log_file)
        return EXIT_USAGE

    wake = threading.Event()
    flags = {"stop": False, "dump": False, "tune": False}

    def on_stop(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: stopping", signum)
        flags["stop"] = True
        wake.set()

    def on_dump(_signum: int, _frame: FrameType | None) -> None:
        flags["dump"] = True
        wake.set()

    def on_tune(_signum: int, _frame: FrameType | None) -> None:
        flags["tune"] = True
        wake.set()

    try:
        server.start()
    except NodeError as exc:
        _fail(exc, args.log_file)
        return EXIT_RUNTIME
    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGINT, on_stop)
    signal.signal(signal.SIGUSR1, on_dump)
    signal.signal(signal.SIGHUP, on_tune)
    host, port = server.address
    print(f"ready {host}:{port}", flush=True)
    log.info("ready on %s:%d", host, port)
    try:
        while not flags["stop"]:
            # A timeout keeps the loop responsive even if a wake-up were missed.
            wake.wait(timeout=1.0)
            wake.clear()
            if flags["dump"]:
                flags["dump"] = False
                _dump(server, args.metrics_file)
            if flags["tune"]:
                flags["tune"] = False
                _retune(server, args.tuning)
    finally:
        server.stop()
        _dump(server, args.metrics_file)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
