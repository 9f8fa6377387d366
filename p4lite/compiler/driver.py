"""Compiler driver: runs the stages in order and writes the output files.

Imports every stage; imported by `__main__` and by tests. Library code: it
raises `CompileError` and never prints or exits.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from p4lite.compiler import bmv2, p4info
from p4lite.compiler.diagnostics import CompileError, Diagnostic, Sink
from p4lite.compiler.frontend import FrontEnd
from p4lite.compiler.lexer import tokenize
from p4lite.compiler.midend import MidEnd
from p4lite.compiler.parser import parse
from p4lite.compiler.preprocessor import Preprocessor

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Options:
    """Compiler options (p4c-bm2-ss flags)."""

    include_dirs: tuple[str, ...] = ()
    defines: tuple[tuple[str, str], ...] = ()


@dataclass(slots=True)
class Result:
    """Compiler outputs: BMv2 JSON document, P4Info message, warnings."""

    json: dict[str, Any]
    p4info: Any
    warnings: list[Diagnostic] = field(default_factory=list)


def compile_file(path: str, options: Options | None = None) -> Result:
    """Compile one P4 file; raise CompileError with all diagnostics of the failing phase."""
    opts = options or Options()
    display = Path(path).name if Path(path).parent == Path(".") else path
    sink = Sink()
    pre = Preprocessor(list(opts.include_dirs), dict(opts.defines), sink).run(path, display)
    sink.check()
    toks = tokenize(pre, sink)
    sink.check()
    prog = parse(toks, sink)
    fe = FrontEnd(sink)
    env = fe.run(prog)
    sink.check()
    stem = Path(path).stem
    low = MidEnd(env, fe, sink, stem).run()
    sink.check()
    doc = bmv2.to_json(low, f"./{stem}.p4i")
    info = p4info.build(low)
    return Result(doc, info, list(sink.warnings))


def p4info_format(path: str) -> str:
    """The P4Info format p4c picks for a ``--p4runtime-files`` entry: its suffix.

    Raise ValueError with p4c's message for a file whose suffix names no format.
    """
    dot = path.rfind(".")
    if dot < 0:
        raise ValueError(f"{path}: unknown file kind; known suffixes are .bin, .txt, .json")
    suffix = path[dot:]
    formats = {".json": "json", ".bin": "binary", ".txt": "text", ".txtpb": "text"}
    if suffix not in formats:
        raise ValueError(
            f"{path}: Could not detect p4runtime info file format from file suffix {suffix}"
        )
    return formats[suffix]


def write_outputs(
    result: Result, json_path: str | None, p4info_files: list[tuple[str, str]] | None = None
) -> None:
    """Write the BMv2 JSON file and each (path, format) P4Info file."""
    if json_path:
        Path(json_path).write_text(json.dumps(result.json, indent=2) + "\n", encoding="utf-8")
    for path, fmt in p4info_files or []:
        Path(path).write_bytes(p4info.serialize(result.p4info, fmt))


__all__ = ["CompileError", "Options", "Result", "compile_file", "p4info_format", "write_outputs"]
