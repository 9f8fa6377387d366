"""The testbed launcher behind ``make run`` and ``make stop``.

``make run`` checks each piece the testbed needs, in the order it would start
them, and reports each as ready or missing. Only when every piece is present
does it start the network; otherwise it says plainly which pieces are missing
and exits with status 2, leaving nothing running. ``make stop`` stops, by PID,
the processes a launcher recorded in ``<logs>/launcher.pids``, and nothing else.

May import p4lite and controller (the testbed sits on top of everything).
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import logging
import os
import signal
import socket
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from p4lite import toolchain

log = logging.getLogger(__name__)

TOPOLOGY_DIR = Path(__file__).resolve().parent
PID_FILE = "launcher.pids"


@dataclass(frozen=True, slots=True)
class Piece:
    """One thing the testbed needs, and whether it is there."""

    name: str
    ready: bool
    detail: str
    required: bool = True


def _spec_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def _module_runs(name: str) -> bool:
    """Whether ``python -m name`` has something to run."""
    try:
        return importlib.util.find_spec(f"{name}.__main__") is not None
    except ModuleNotFoundError:
        return False


def preflight(topo: str, build: Path) -> list[Piece]:
    """Each piece the testbed needs, in start-up order, and whether it is ready."""
    cc, sw = toolchain.compiler(), toolchain.switch()
    pieces = [
        Piece(
            "compiler",
            cc.real or _module_runs("p4lite.compiler"),
            f"{cc.name}: {cc}",
        ),
        Piece(
            "switch",
            sw.real or _module_runs("p4lite.switch"),
            f"{sw.name}: {sw}",
        ),
    ]
    din = build / "din.json"
    pieces.append(Piece("data plane", din.is_file(), f"{din} (make build)"))
    topo_file = TOPOLOGY_DIR / f"{topo}.json"
    pieces.append(Piece(f"topology '{topo}'", topo_file.is_file(), str(topo_file)))
    pieces.append(
        Piece("inference nodes", _module_runs("nodes"), "python -m nodes", required=False)
    )
    models = build / "models"
    pieces.append(
        Piece(
            "default models",
            (models / "digits-mlp.npz").is_file(),
            f"{models} (make models)",
            False,
        )
    )
    pieces.append(
        Piece("Mininet network builder", _spec_exists("topologies.net"), "topologies/net.py")
    )
    return pieces


def stop(logs: Path) -> int:
    """Stop, by PID, what a launcher recorded; return how many processes were signalled."""
    pid_file = logs / PID_FILE
    if not pid_file.is_file():
        return 0
    stopped = 0
    for line in pid_file.read_text(encoding="utf-8").split():
        pid = int(line)
        try:
            os.kill(pid, signal.SIGTERM)
            stopped += 1
        except ProcessLookupError:
            log.info("process %d had already ended", pid)
    pid_file.unlink()
    return stopped


def _port(text: str) -> int:
    """A TCP port number, 0 (any free one) to 65535, for argparse."""
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a port number, 0..65535")
    return port


def metrics_port_free(addr: str, port: int) -> str | None:
    """Why ``addr:port`` cannot be served (before anything starts), or None when it can."""
    if port == 0:
        return None
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((addr, port))
    except OSError as exc:
        return (
            f"metrics: cannot serve on {addr}:{port}: {exc.strerror or exc} "
            "(METRICS_PORT= chooses another port, 0 any free one)"
        )
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``make run`` / ``make stop``."""
    parser = argparse.ArgumentParser(prog="python -m topologies.launch", description=__doc__)
    parser.add_argument("--topo", default="enterprise", help="topology name (topologies/NAME.json)")
    parser.add_argument(
        "--scenario", default="interactive", choices=("interactive", "check", "demo")
    )
    parser.add_argument("--build", type=Path, default=Path("build"))
    parser.add_argument("--logs", type=Path, default=Path("logs"))
    parser.add_argument("--pcaps", type=Path, default=Path("pcaps"))
    parser.add_argument(
        "--pcap", action="store_true", help="capture every switch port to --pcaps (slower)"
    )
    parser.add_argument(
        "--steering",
        default="service",
        choices=("service", "static"),
        help="the controller's steering service (default), or the static plan written once",
    )
    parser.add_argument(
        "--metrics-port",
        type=_port,
        default=9100,
        metavar="PORT",
        help="serve the controller's /metrics and /status there (0: any free port; default 9100)",
    )
    parser.add_argument(
        "--metrics-addr",
        default="127.0.0.1",
        metavar="HOST",
        help="address to serve them on (default 127.0.0.1; 0.0.0.0: every address)",
    )
    parser.add_argument("--stop", action="store_true", help="stop what a launcher started")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    # Progress lines must reach a pipe (a log, a test) as they are printed.
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(message)s"
    )

    if args.stop:
        count = stop(args.logs)
        print(f"stopped {count} process(es)" if count else "nothing to stop")
        return 0

    pieces = preflight(args.topo, args.build)
    width = max(len(p.name) for p in pieces)
    for piece in pieces:
        state = "ready  " if piece.ready else "MISSING" if piece.required else "absent "
        print(f"  {piece.name:<{width}}  {state}  {piece.detail}")
    missing = [p.name for p in pieces if p.required and not p.ready]
    if missing:
        print(
            f"cannot start the testbed: missing {', '.join(missing)}. Nothing was started.",
            file=sys.stderr,
        )
        return 2
    busy = metrics_port_free(args.metrics_addr, args.metrics_port)
    if busy is not None and args.steering == "service":
        print(f"error: {busy}. Nothing was started.", file=sys.stderr)
        return 2
    from controller.p4rt.errors import P4RTError  # noqa: PLC0415
    from topologies import net  # noqa: PLC0415  (present only when the testbed is)
    from topologies.deployment import DeploymentError  # noqa: PLC0415
    from topologies.model import TopologyError  # noqa: PLC0415
    from topologies.network import NetworkError  # noqa: PLC0415
    from topologies.p4switch import SwitchStartError  # noqa: PLC0415
    from topologies.testbed import TestbedError  # noqa: PLC0415

    # Mininet prints through its own handler; passing its records up would print them twice.
    logging.getLogger("mininet").propagate = False

    # `make stop` sends SIGTERM: leave through the `finally` blocks that stop every
    # switch and node, not through the default handler that would orphan them.
    def _terminate(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _terminate)
    try:
        return int(net.run(args))
    except (
        SwitchStartError,
        NetworkError,
        TopologyError,
        P4RTError,
        toolchain.ToolchainError,
        DeploymentError,
        TestbedError,
        OSError,
    ) as exc:
        if args.verbose:
            log.exception("the testbed failed")
        print(f"error: {exc}", file=sys.stderr)
        print("the testbed was stopped; nothing is left running.", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
