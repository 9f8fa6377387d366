"""Labelled flows of the testbed's own traffic generators, as a flow data file.

The flow classifier that ``make models`` trains for the testbed learns from the
traffic the testbed sends: ``traffic.workloads`` (the generators behind
``python -m traffic.send --workload``). For each class of the classifier
(``controller.models.synthetic.FLOW_CLASSES``) this draws ``--flows-per-class``
flows of the workloads that belong to it (``Workload.flow_class``; background
alternates web and bulk), each from its own seed and client port, builds their
frames as ``traffic.send`` does, and keeps each flow's first ``--max-packets``
packets as din.p4's flow registers see them (``controller.models.flowdata.from_frames``).

Half the flows use the workload's own server port (``traffic.send``'s default),
the other half a port drawn from ``SHARED_PORTS``, where HTTPS (443) and QUIC
serve several classes alike: so the classifier must learn sizes and timing,
not only ports.

Usage: ``python tools/workload_flows.py --out FILE [--flows-per-class N] [--seed S]``.
Prints the flows per class; exit 1 with one ``workload_flows: error: ...`` line.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterator

from controller.models import ModelError
from controller.models.flowdata import LabelledFrames, from_frames, save_flow_data
from controller.models.synthetic import FLOW_CLASSES
from traffic.frames import Endpoints
from traffic.workloads import WORKLOADS, build_frames, generate

PROG = "workload_flows"
SOURCE = "traffic.workloads"
# Seconds of each workload to generate: long enough for a few dozen packets of
# the sparse ones, short for the dense ones (only the first packets are kept).
DURATIONS = {
    "llm_chat": 20.0,
    "video_upload": 2.0,
    "iot_sensor": 120.0,
    "industrial_control": 0.5,
    "web": 30.0,
    "bulk": 0.05,
}

# Other server ports each workload is seen on (443: HTTPS over TCP, QUIC over UDP).
SHARED_PORTS = {
    "llm_chat": (443, 8443),
    "video_upload": (443, 554),
    "iot_sensor": (5684, 443),
    "industrial_control": (47808, 443),
    "web": (443, 8080),
    "bulk": (443, 22),
}


def workload_flows(flows_per_class: int, seed: int, max_packets: int) -> Iterator[LabelledFrames]:
    """``flows_per_class`` flows of every class, in a fixed order for a given seed."""
    by_class = {
        c: [w for w in sorted(WORKLOADS) if WORKLOADS[w].flow_class == c] for c in FLOW_CLASSES
    }
    for c, names in by_class.items():
        if not names:
            raise ModelError(f"class {c!r}: no workload of traffic.workloads belongs to it")
    for k in range(flows_per_class):
        for c in FLOW_CLASSES:
            names = by_class[c]
            name = names[k % len(names)]
            flow_seed = seed * 1_000_000 + k * 100 + FLOW_CLASSES.index(c)
            host = 1 + k % 250
            info = WORKLOADS[name]
            ports = SHARED_PORTS[name]
            server_port = info.server_port if k % 2 == 0 else ports[(k // 2) % len(ports)]
            ep = Endpoints(
                "00:00:0a:00:01:01",
                "00:00:0a:00:01:fe",
                f"10.0.1.{host}",
                "10.0.3.1",
                32768 + (k * 7 + FLOW_CLASSES.index(c)) % 28000,
                server_port,
            )
            trace = generate(name, DURATIONS[name], flow_seed)[:max_packets]
            frames = build_frames(name, trace, ep)
            stamps = [round(t * 1_000_000) for t, _ in trace]
            yield LabelledFrames(c, name, list(zip(stamps, frames, strict=True)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, metavar="FILE", help="flow data file to write")
    parser.add_argument("--flows-per-class", type=int, default=150, help="flows per class")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first flow's draws")
    parser.add_argument(
        "--max-packets", type=int, default=64, help="packets kept of each flow (default 64)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logs")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if args.flows_per_class < 2 or args.max_packets < 1 or args.seed < 0:
        parser.error("expected --flows-per-class >= 2, --max-packets >= 1 and --seed >= 0")
    detail: dict[str, object] = {
        "flows_per_class_drawn": args.flows_per_class,
        "seed": args.seed,
        "max_packets": args.max_packets,
        "durations_s": DURATIONS,
        "shared_ports": SHARED_PORTS,
    }
    try:
        flows = list(workload_flows(args.flows_per_class, args.seed, args.max_packets))
        data = from_frames(flows, name="workload-flows", source=SOURCE, detail=detail)
        save_flow_data(data, args.out)
    except (ModelError, OSError, ValueError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {args.out}: {data.flows} flows of {SOURCE}")
    packets = data.manifest["packets_per_class"]
    assert isinstance(packets, dict)
    for name, n in data.class_counts().items():
        print(f"  {name:20} {n:6} flows {packets[name]:8} packets")
    return 0


if __name__ == "__main__":
    sys.exit(main())
