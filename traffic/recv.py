"""`python -m traffic.recv`: report the frames (and DIN messages) arriving on an interface.

The command-line entry point: prints "listening on IFACE" once the socket is
bound (a readiness line for scripts), then a summary, optionally as JSON and a
pcap. Exit codes: 0 done, 1 runtime failure, 2 bad arguments.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence

from traffic.pcap import write_pcap
from traffic.receiver import Receiver

logger = logging.getLogger(__name__)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m traffic.recv",
        description="Receive on a raw socket and report what arrived.",
    )
    p.add_argument("-i", "--iface", required=True, help="interface to listen on")
    p.add_argument("--timeout", type=float, default=5.0, help="stop after this many seconds")
    p.add_argument("--count", type=int, default=None, help="stop after this many frames")
    p.add_argument("--din-only", action="store_true", help="count DIN frames only")
    p.add_argument("--pcap-out", metavar="PCAP", help="write the frames received to a pcap")
    p.add_argument("--json", action="store_true", help="print the report as one JSON object")
    p.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit code."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        with Receiver(args.iface) as rx:
            print(f"listening on {args.iface}", flush=True)
            report = rx.run(
                timeout=args.timeout,
                count=args.count,
                din_only=args.din_only,
                keep=bool(args.pcap_out),
            )
    except ValueError as exc:
        logger.error("%s", exc)
        return 2
    except OSError as exc:
        logger.error("%s", exc)
        return 1
    if args.pcap_out:
        write_pcap(args.pcap_out, report.records)
    if args.json:
        print(json.dumps(report.as_dict()), flush=True)
    else:
        types = ", ".join(f"type {t}: {n}" for t, n in report.din_by_type) or "none"
        print(
            f"received {report.frames} frames, {report.nbytes} bytes; DIN {report.din} "
            f"({types}; malformed {report.din_malformed})",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
