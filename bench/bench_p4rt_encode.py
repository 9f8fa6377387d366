"""Benchmark: encoding table entries into P4Runtime WriteRequests.

Prints entries per second for building 5,000 checked table entries from
user-written values, turning them into Update protos, packing them into
WriteRequests of 500 updates, and serializing those requests. Figures only,
no pass/fail; ``--json FILE`` also writes the figures as a JSON object.

Usage: python bench/bench_p4rt_encode.py [--entries N] [--batch N] [--repeat N] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from p4.v1 import p4runtime_pb2

from controller.p4rt.entities import EntityBuilder, TableEntry, Update, UpdateType
from controller.p4rt.p4info import P4InfoIndex

P4INFO = """
tables {
  preamble { id: 33554433 name: "MyIngress.ipv4_lpm" alias: "ipv4_lpm" }
  match_fields { id: 1 name: "hdr.ipv4.dstAddr" bitwidth: 32 match_type: LPM }
  action_refs { id: 16777217 }
  size: 65536
}
tables {
  preamble { id: 33554434 name: "MyIngress.acl" alias: "acl" }
  match_fields { id: 1 name: "hdr.ethernet.srcAddr" bitwidth: 48 match_type: TERNARY }
  match_fields { id: 2 name: "meta.l4_dport" bitwidth: 16 match_type: RANGE }
  action_refs { id: 16777217 }
  size: 65536
}
actions {
  preamble { id: 16777217 name: "MyIngress.forward" alias: "forward" }
  params { id: 1 name: "dstAddr" bitwidth: 48 }
  params { id: 2 name: "port" bitwidth: 9 }
}
"""


def best_of(repeat: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    """Return the shortest wall time of ``repeat`` runs and the last result."""
    best = float("inf")
    result = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def build(builder: EntityBuilder, n: int) -> list[TableEntry]:
    """Build n entries, alternating an LPM route and a ternary/range ACL entry."""
    out = []
    for i in range(n):
        if i % 2 == 0:
            out.append(
                builder.table_entry(
                    "ipv4_lpm",
                    {"hdr.ipv4.dstAddr": f"10.{(i >> 8) & 255}.{i & 255}.0/24"},
                    "forward",
                    {"dstAddr": f"00:00:00:00:{(i >> 8) & 255:02x}:{i & 255:02x}", "port": i % 512},
                )
            )
        else:
            out.append(
                builder.table_entry(
                    "acl",
                    {
                        "hdr.ethernet.srcAddr": f"{i:#x}&&&0xffffffffffff",
                        "meta.l4_dport": f"{i % 1000}..{i % 1000 + 100}",
                    },
                    "forward",
                    {"dstAddr": i, "port": 1},
                    priority=i,
                )
            )
    return out


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    index = P4InfoIndex.from_text(P4INFO)
    builder = EntityBuilder(index)
    n = args.entries

    t_build, entries = best_of(args.repeat, lambda: build(builder, n))

    def to_updates() -> list[p4runtime_pb2.Update]:
        return [Update(UpdateType.INSERT, e).to_proto(index) for e in entries]

    t_proto, updates = best_of(args.repeat, to_updates)

    def pack() -> list[p4runtime_pb2.WriteRequest]:
        reqs = []
        for start in range(0, n, args.batch):
            req = p4runtime_pb2.WriteRequest(device_id=0)
            req.election_id.low = 1
            req.updates.extend(updates[start : start + args.batch])
            reqs.append(req)
        return reqs

    t_pack, requests = best_of(args.repeat, pack)
    t_ser, blobs = best_of(args.repeat, lambda: [r.SerializeToString() for r in requests])
    t_all = t_proto + t_pack + t_ser
    size = sum(len(b) for b in blobs)

    print(f"entries: {n}, batch: {args.batch}, requests: {len(requests)}, bytes: {size}")
    print(f"build (parse + check)    {n / t_build:12,.0f} entries/s  ({t_build * 1e3:8.2f} ms)")
    print(f"entity -> Update proto   {n / t_proto:12,.0f} entries/s  ({t_proto * 1e3:8.2f} ms)")
    print(f"pack WriteRequests       {n / t_pack:12,.0f} entries/s  ({t_pack * 1e3:8.2f} ms)")
    print(f"serialize                {n / t_ser:12,.0f} entries/s  ({t_ser * 1e3:8.2f} ms)")
    print(f"encode total (no build)  {n / t_all:12,.0f} entries/s  ({t_all * 1e3:8.2f} ms)")
    if args.json is not None:
        figures = {
            "entries": n,
            "batch": args.batch,
            "request_bytes": size,
            "build_entries_per_s": round(n / t_build),
            "to_proto_entries_per_s": round(n / t_proto),
            "pack_entries_per_s": round(n / t_pack),
            "serialize_entries_per_s": round(n / t_ser),
            "encode_entries_per_s": round(n / t_all),
        }
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
