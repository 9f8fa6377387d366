"""Compile-time benchmark: seconds to compile each program with the chosen P4 compiler.

Times, with the compiler ``p4lite.toolchain`` picks (p4lite, or p4c where
installed), each whole command as a user runs it (process start included):
every program of ``p4src/``, the reference IPv4 program, the conformance corpus
(median and max), and a generated program with ``--tables`` tables (200 by
default) to show how compile time grows with program size. Prints the figures
and writes them with ``--json FILE``. No pass/fail.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from p4lite import toolchain

REPO = Path(__file__).resolve().parent.parent


def generated_program(tables: int) -> str:
    """A v1model program with ``tables`` exact tables applied in sequence."""
    lines = [
        "#include <core.p4>",
        "#include <v1model.p4>",
        "header h_t { bit<32> a; bit<32> b; bit<16> c; }",
        "struct headers_t { h_t h; }",
        "struct meta_t { bit<32> acc; }",
        "parser P(packet_in pkt, out headers_t hdr, inout meta_t m,",
        "         inout standard_metadata_t sm) {",
        "    state start { pkt.extract(hdr.h); transition accept; }",
        "}",
        "control VC(inout headers_t hdr, inout meta_t m) { apply { } }",
        "control I(inout headers_t hdr, inout meta_t m, inout standard_metadata_t sm) {",
    ]
    for i in range(tables):
        lines += [
            f"    action set_{i}(bit<32> v, bit<9> port) {{",
            f"        m.acc = m.acc + v; hdr.h.b = hdr.h.b ^ {i}; sm.egress_spec = port;",
            "    }",
            f"    table t_{i} {{",
            f"        key = {{ hdr.h.a: exact; hdr.h.c: {'ternary' if i % 2 else 'exact'}; }}",
            f"        actions = {{ set_{i}; NoAction; }}",
            "        default_action = NoAction();",
            "        size = 1024;",
            "    }",
        ]
    lines.append("    apply {")
    lines += [f"        t_{i}.apply();" for i in range(tables)]
    lines += [
        "        hdr.h.a = m.acc;",
        "    }",
        "}",
        "control E(inout headers_t hdr, inout meta_t m, inout standard_metadata_t sm) {",
        "    apply { }",
        "}",
        "control CC(inout headers_t hdr, inout meta_t m) { apply { } }",
        "control D(packet_out pkt, in headers_t hdr) { apply { pkt.emit(hdr.h); } }",
        "V1Switch(P(), VC(), I(), E(), CC(), D()) main;",
    ]
    return "\n".join(lines) + "\n"


def timed(source: Path, out: Path, tool: toolchain.Tool) -> float:
    """Seconds to compile one program (the whole command)."""
    start = time.perf_counter()
    toolchain.compile_program(source, out, tool)
    return time.perf_counter() - start


def main() -> int:
    """Run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--tables", type=int, default=200)
    args = parser.parse_args()
    tool = toolchain.compiler()
    figures: dict[str, object] = {"compiler": tool.name}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        programs = [*sorted((REPO / "p4src").glob("*.p4")), REPO / "tests" / "p4" / "ipv4_lpm.p4"]
        for prog in programs:
            seconds = timed(prog, out, tool)
            figures[f"seconds_{prog.stem}"] = round(seconds, 3)
            print(f"{prog.relative_to(REPO)}: {seconds:.3f} s")
        corpus = sorted((REPO / "tests" / "conformance" / "programs").glob("*.p4"))
        times = [timed(p, out, tool) for p in corpus]
        figures["conformance_programs"] = len(times)
        figures["seconds_conformance_median"] = round(statistics.median(times), 3)
        figures["seconds_conformance_max"] = round(max(times), 3)
        print(
            f"conformance corpus ({len(times)} programs): median {statistics.median(times):.3f} s,"
            f" max {max(times):.3f} s"
        )
        big = out / f"tables_{args.tables}.p4"
        big.write_text(generated_program(args.tables), encoding="utf-8")
        seconds = timed(big, out, tool)
        figures[f"seconds_generated_{args.tables}_tables"] = round(seconds, 3)
        print(f"generated program with {args.tables} tables: {seconds:.3f} s")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
