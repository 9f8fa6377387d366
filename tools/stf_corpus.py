"""Run a folder of P4 programs with STF tests through p4lite, one outcome per program.

For each ``NAME.p4`` that has a ``NAME.stf`` beside it, the program is compiled
in-process by ``p4lite.compiler`` (its folder on the include path, like p4c run
beside the file), loaded into a fresh ``p4lite.switch.core`` switch and run with
its STF by ``p4lite.switch.stf``. Every program gets one line with its outcome
class, then the totals:

* ``pass``: every expected packet came out, and nothing else;
* ``reject``: the compiler refused the program with diagnostics (the first is
  shown): an unsupported construct or a program p4c would refuse as well;
* ``crash``: the compiler raised something other than ``CompileError`` (the
  last traceback line is shown, the full one with ``-v``);
* ``load-error``: the switch refused the JSON the compiler wrote;
* ``mismatch``: packets differ from the STF's expectations;
* ``runner-error``: the STF could not be run (bad line, unknown table, ...).

Usage, from the repository root (so that this checkout's ``p4lite`` is the one
imported): ``python -m tools.stf_corpus DIR [-k PATTERN] [--json OUT] [-v]``.
Exit 0 when every program passes, 1 otherwise, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from p4lite.switch.core import SwitchError
from p4lite.switch.stf import StfError, run_stf
from tools.corpus import Failed, compile_program, programs, totals

OUTCOMES = ("pass", "reject", "crash", "load-error", "mismatch", "runner-error")


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one program: its class, a one-line detail and the full text."""

    name: str
    outcome: str
    detail: str
    text: str
    seconds: float


def _last_line(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1].strip() if lines else ""


def run_one(p4: Path, stf: Path) -> Outcome:
    """Compile ``p4`` and run ``stf`` on it; never raises for a program's fault."""
    start = time.perf_counter()

    def done(kind: str, detail: str, text: str = "") -> Outcome:
        return Outcome(p4.stem, kind, detail, text or detail, time.perf_counter() - start)

    result = compile_program(p4)
    if isinstance(result, Failed):
        return done(result.kind, result.detail, result.text)
    program = json.dumps(result.json)
    stf_text = stf.read_text(encoding="utf-8", errors="replace")
    try:
        outcome = run_stf(program, stf_text, drop_unknown_ports=True)
    except SwitchError as exc:
        return done("load-error", f"{type(exc).__name__}: {exc}", traceback.format_exc())
    except StfError as exc:
        return done("runner-error", str(exc))
    except Exception as exc:
        return done("runner-error", f"{type(exc).__name__}: {exc} (switch)", traceback.format_exc())
    if outcome.errors and not outcome.mismatches:
        return done("runner-error", outcome.errors[0], outcome.render())
    if not outcome.passed:
        rendered = outcome.render()
        first = next(
            (ln.strip() for ln in rendered.splitlines() if ln.strip().startswith("packet #")),
            _last_line(rendered),
        )
        return done("mismatch", first, rendered)
    return done("pass", "")


def main(argv: list[str] | None = None) -> int:
    """Command line: run the corpus, print one line per program and the totals."""
    ap = argparse.ArgumentParser(prog="stf_corpus", description=__doc__.split("\n\n")[0])
    ap.add_argument("folder", type=Path, help="folder of NAME.p4 + NAME.stf pairs")
    ap.add_argument("-k", dest="pattern", help="only programs whose name contains or globs this")
    ap.add_argument("--json", dest="json_out", type=Path, help="write every outcome here")
    ap.add_argument("-v", "--verbose", action="store_true", help="print the full detail")
    args = ap.parse_args(argv)
    if not args.folder.is_dir():
        print(f"stf_corpus: {args.folder} is not a folder", file=sys.stderr)
        return 2
    pairs = programs(args.folder, lambda p4: p4.with_suffix(".stf"), args.pattern)
    if not pairs:
        print(f"stf_corpus: no NAME.p4 with NAME.stf in {args.folder}", file=sys.stderr)
        return 2
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10000))
    results = []
    width = max(len(p4.stem) for p4, _ in pairs)
    for p4, stf in pairs:
        out = run_one(p4, stf)
        results.append(out)
        line = f"{out.name:<{width}}  {out.outcome:<12}  {out.detail}".rstrip()
        print(line, flush=True)
        if args.verbose and out.outcome != "pass":
            print("    " + out.text.replace("\n", "\n    "), flush=True)
    counts = totals(results, OUTCOMES, args.json_out)
    return 0 if counts.get("pass", 0) == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
