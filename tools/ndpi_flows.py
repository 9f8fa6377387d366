"""Derive the labelled flow data set from nDPI's test captures (the second step of ``make data``).

Reads a tree laid out like nDPI's source (``tests/pcap`` and
``tests/result/*.out``; ``tools/fetch_ndpi.sh`` fetches Debian's), labels
din.p4's flows with the workload classes of ``controller.models.ndpi_classes``
and writes a flow data file (``controller.models.flowdata``). Prints the
flows per class and what was left out.

Usage: ``python tools/ndpi_flows.py (--source DIR | --stamp FILE) --out FILE``;
exit 1 with one ``ndpi_flows: error: ...`` line when the source is unusable.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from controller.models import ModelError
from controller.models.flowdata import derive, save_flow_data

PROG = "ndpi_flows"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--source", metavar="DIR", help="nDPI tree (tests/pcap, tests/result)")
    where.add_argument("--stamp", metavar="FILE", help="a file holding that tree's path")
    parser.add_argument("--out", required=True, metavar="FILE", help="flow data file to write")
    parser.add_argument(
        "--min-packets", type=int, default=1, help="drop flows with fewer packets (default 1)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logs")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        source = args.source or Path(args.stamp).read_text(encoding="utf-8").strip()
        data = derive(source, min_packets=args.min_packets)
        save_flow_data(data, args.out)
    except (ModelError, OSError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    m = data.manifest
    print(f"wrote {args.out}: {data.flows} flows from {m['captures_read']} captures of {source}")
    for name, n in data.class_counts().items():
        packets = m["packets_per_class"]
        assert isinstance(packets, dict)
        print(f"  {name:20} {n:6} flows {packets[name]:8} packets")
    print(f"  packets left out: {m['packets_skipped']}")
    print(f"  flows left out:   {m['flows_dropped']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
