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
import logging
import os
import signal
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
    pieces.append(Piece("inference nodes", _module_runs("nodes"), "python -m nodes"))
    pieces.append(
        Piece("Mininet network builder", _module_runs("topologies.net"), "topologies/net.py")
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


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``make run`` / ``make stop``."""
    parser = argparse.ArgumentParser(prog="python -m topologies.launch", description=__doc__)
    parser.add_argument("--topo", default="enterprise", help="topology name (topologies/NAME.json)")
    parser.add_argument("--scenario", default="interactive", choices=("interactive", "demo"))
    parser.add_argument("--build", type=Path, default=Path("build"))
    parser.add_argument("--logs", type=Path, default=Path("logs"))
    parser.add_argument("--pcaps", type=Path, default=Path("pcaps"))
    parser.add_argument("--stop", action="store_true", help="stop what a launcher started")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
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
        state = "ready  " if piece.ready else "MISSING"
        print(f"  {piece.name:<{width}}  {state}  {piece.detail}")
    missing = [p.name for p in pieces if not p.ready]
    if missing:
        print(
            f"cannot start the testbed: missing {', '.join(missing)}. Nothing was started.",
            file=sys.stderr,
        )
        return 2
    from topologies import net  # noqa: PLC0415  (present only when the testbed is)

    return int(net.run(args))


if __name__ == "__main__":
    sys.exit(main())
