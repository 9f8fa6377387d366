"""`python -m traffic.send`: send DIN requests, advertisements, a workload flow or a pcap.

The command-line entry point: configures logging, maps errors to exit codes
(0 done, 1 runtime failure, 2 bad arguments). Imports traffic modules only.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from traffic.build import RequestSpec, advertisement, din_requests
from traffic.frames import Endpoints, FrameError
from traffic.pcap import PcapError, read_pcap, write_pcap
from traffic.sender import RawSender, SendReport
from traffic.wire import DIN_UDP_PORT, DinAdvert, DinFormatError
from traffic.workloads import WORKLOADS, build_frames, generate

logger = logging.getLogger(__name__)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m traffic.send",
        description="Send DIN requests, a node advertisement, one workload flow, "
        "or replay a pcap, on a raw socket.",
    )
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--din", type=int, metavar="N", help="send N DIN requests")
    what.add_argument("--advertise", action="store_true", help="send one node advertisement")
    what.add_argument("--workload", choices=sorted(WORKLOADS), help="send one flow of a class")
    what.add_argument("--replay", metavar="PCAP", help="replay a pcap file")
    p.add_argument("-i", "--iface", help="interface to send on (not needed with --pcap-out)")
    p.add_argument("--pcap-out", metavar="PCAP", help="write the frames to a pcap, do not send")
    p.add_argument("--src-mac", default="00:00:0a:00:01:01")
    p.add_argument("--dst-mac", default="00:00:0a:00:01:fe")
    p.add_argument("--src-ip", default="10.0.1.1")
    p.add_argument("--dst-ip", default="10.0.2.2")
    p.add_argument("--sport", type=int, default=40000)
    p.add_argument("--dport", type=int, default=None, help="default: DIN port or workload port")
    p.add_argument(
        "--rate",
        type=float,
        default=None,
        help="packets/s (default: as fast as "
        "possible for --din, recorded timing for --workload/--replay)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--duration", type=float, default=5.0, help="workload flow length, seconds")
    p.add_argument("--model-id", type=int, default=1)
    p.add_argument("--model-version", type=int, default=0)
    p.add_argument("--tenant-id", type=int, default=0)
    p.add_argument("--sensitivity", type=int, default=0)
    p.add_argument("--instance-id", type=int, default=1)
    p.add_argument("--layer-first", type=int, default=0)
    p.add_argument("--layer-last", type=int, default=255)
    p.add_argument("--queue-len", type=int, default=0)
    p.add_argument("--utilisation", type=int, default=0)
    p.add_argument("--req-rate", type=int, default=0)
    p.add_argument("--capacity", type=int, default=1000)
    p.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    return p


def _frames(args: argparse.Namespace) -> tuple[list[bytes], list[float] | None]:
    """The frames to send and, for timed sends, their times."""
    if args.replay:
        records = read_pcap(args.replay)
        base = records[0][0] if records else 0.0
        return [f for _, f in records], [t - base for t, _ in records]
    if args.workload:
        info = WORKLOADS[args.workload]
        ep = Endpoints(
            args.src_mac,
            args.dst_mac,
            args.src_ip,
            args.dst_ip,
            args.sport,
            args.dport if args.dport is not None else info.server_port,
        )
        trace = generate(args.workload, args.duration, args.seed)
        return build_frames(args.workload, trace, ep), [t for t, _ in trace]
    port = args.dport if args.dport is not None else DIN_UDP_PORT
    ep = Endpoints(args.src_mac, args.dst_mac, args.src_ip, args.dst_ip, args.sport, port)
    if args.advertise:
        adv = DinAdvert(
            instance_id=args.instance_id,
            layer_first=args.layer_first,
            layer_last=args.layer_last,
            queue_len=args.queue_len,
            utilisation=args.utilisation,
            req_rate=args.req_rate,
            capacity=args.capacity,
        )
        frame = advertisement(ep, adv, model_id=args.model_id, model_version=args.model_version)
        return [frame], None
    spec = RequestSpec(args.model_id, args.model_version, args.tenant_id, args.sensitivity)
    return din_requests(ep, args.din, spec, seed=args.seed), None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not args.pcap_out and not args.iface:
        parser.error("give --iface to send, or --pcap-out to write a pcap")
    try:
        frames, times = _frames(args)
    except (ValueError, FrameError, DinFormatError, PcapError) as exc:
        logger.error("%s", exc)
        return 2
    except OSError as exc:
        logger.error("%s", exc)
        return 1
    if args.pcap_out:
        stamps = times if times is not None else [0.0] * len(frames)
        n = write_pcap(args.pcap_out, zip(stamps, frames, strict=True))
        print(f"wrote {n} frames to {args.pcap_out}")
        return 0
    try:
        with RawSender(args.iface) as sender:
            report: SendReport
            if args.rate is not None or times is None:
                report = sender.send_paced(frames, args.rate)
            else:
                report = sender.send_schedule(frames, times)
    except ValueError as exc:
        logger.error("%s", exc)
        return 2
    except OSError as exc:
        logger.error("%s", exc)
        return 1
    print(
        f"sent {report.sent} frames, {report.nbytes} bytes, {report.errors} errors, "
        f"{report.elapsed:.3f} s, {report.pps:.0f} pps"
    )
    return 0 if report.errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
