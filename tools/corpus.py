"""What the corpus tools share: a folder's program pairs, compiling one, the totals.

``tools.stf_corpus`` and ``tools.p4info_corpus`` each take a folder of
``NAME.p4`` files with a companion file beside each (an STF test, p4c's
P4Info), compile every program in-process with its folder on the include
path, give each an outcome, and end with the totals (and, with ``--json``,
every outcome). Imports the p4lite compiler and the standard library.
"""

from __future__ import annotations

import fnmatch
import json
import traceback
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from p4lite.compiler.diagnostics import CompileError
from p4lite.compiler.driver import Options, Result, compile_file

TOO_DEEP = "RecursionError: program nested too deeply"  # a crash's detail


@dataclass(frozen=True, slots=True)
class Failed:
    """A program the compiler did not compile: ``reject`` or ``crash``, a line, the whole."""

    kind: str
    detail: str
    text: str


def programs(
    folder: Path, companion: Callable[[Path], Path], pattern: str | None
) -> list[tuple[Path, Path]]:
    """The ``(NAME.p4, companion)`` pairs of a folder, sorted, filtered by a glob or substring.

    ``companion`` names a program's companion file; programs without one are left out.
    """
    pairs = []
    for p4 in sorted(folder.glob("*.p4")):
        other = companion(p4)
        if not other.is_file():
            continue
        if pattern and not (pattern in p4.stem or fnmatch.fnmatch(p4.stem, pattern)):
            continue
        pairs.append((p4, other))
    return pairs


def compile_program(p4: Path) -> Result | Failed:
    """Compile ``p4`` (its folder on the include path); never raises for the program's fault."""
    try:
        return compile_file(str(p4), Options(include_dirs=(str(p4.parent),)))
    except CompileError as exc:
        rendered = [d.render() for d in exc.diagnostics]
        first = rendered[0].splitlines()[0] if rendered else str(exc)
        return Failed("reject", first, "\n".join(rendered))
    except RecursionError:
        return Failed("crash", TOO_DEEP, traceback.format_exc())
    except Exception as exc:
        return Failed("crash", f"{type(exc).__name__}: {exc}", traceback.format_exc())


def totals(results: Sequence[Any], outcomes: Sequence[str], json_out: Path | None) -> Counter[str]:
    """Print the count of each outcome; write every result (dataclasses) to ``json_out``."""
    counts = Counter(r.outcome for r in results)
    print(
        f"total {len(results)}: " + ", ".join(f"{counts.get(kind, 0)} {kind}" for kind in outcomes)
    )
    if json_out:
        json_out.write_text(
            json.dumps(
                {
                    "counts": {k: counts.get(k, 0) for k in outcomes},
                    "programs": [asdict(r) for r in results],
                },
                indent=2,
            )
            + "\n",
            encoding="utf-8",
        )
    return counts
