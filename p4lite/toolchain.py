"""Choice of P4 toolchain: the real p4c / simple_switch_grpc when installed, p4lite otherwise.

The one place that decides which compiler and which switch the project runs.
The Makefile, the Mininet launcher and the tests all ask here, so they cannot
disagree. Order of preference:

compiler
    ``$P4C`` (a command line, split like a shell would) if set and non-empty;
    else ``p4c-bm2-ss`` on PATH; else ``p4c`` on PATH (run as ``p4c --target
    bmv2 --arch v1model``); else p4lite's compiler (``python -m p4lite.compiler``).
switch
    ``$SWITCH`` if set and non-empty; else ``simple_switch_grpc`` on PATH; else
    p4lite's switch (``python -m p4lite.switch``).

All of them take the same flags, so callers only append arguments. May import
the standard library only.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

log = logging.getLogger(__name__)


class Flavor(Enum):
    """How a compiler command line takes its output path."""

    BM2_SS = "p4c-bm2-ss"  # -o FILE.json
    P4C_DRIVER = "p4c"  # -o DIR (writes DIR/<prog>.json)


@dataclass(frozen=True, slots=True)
class Tool:
    """A toolchain command: argv prefix, whether it is the real P4 tool, and a name to show."""

    argv: tuple[str, ...]
    name: str
    real: bool
    flavor: Flavor = Flavor.BM2_SS

    def __str__(self) -> str:
        return shlex.join(self.argv)


class ToolchainError(Exception):
    """A compile through the chosen toolchain failed, or a tool could not be run."""


def _override(env: Mapping[str, str], var: str) -> Tool | None:
    value = env.get(var, "").strip()
    if not value:
        return None
    argv = tuple(shlex.split(value))
    base = Path(argv[0]).name
    real = not (base.startswith("p4lite") or "p4lite" in argv)
    flavor = Flavor.P4C_DRIVER if base == "p4c" else Flavor.BM2_SS
    return Tool(argv, name=f"{var}={value}", real=real, flavor=flavor)


def compiler(env: Mapping[str, str] | None = None) -> Tool:
    """The P4 compiler to use (see the module docstring for the order)."""
    env = os.environ if env is None else env
    chosen = _override(env, "P4C")
    if chosen is not None:
        return chosen
    path = env.get("PATH")
    if found := shutil.which("p4c-bm2-ss", path=path):
        return Tool((found,), name="p4c-bm2-ss", real=True)
    if found := shutil.which("p4c", path=path):
        return Tool(
            (found, "--target", "bmv2", "--arch", "v1model"),
            name="p4c",
            real=True,
            flavor=Flavor.P4C_DRIVER,
        )
    return Tool((sys.executable, "-m", "p4lite.compiler"), name="p4lite-p4c", real=False)


def switch(env: Mapping[str, str] | None = None) -> Tool:
    """The P4Runtime switch program to use (see the module docstring for the order)."""
    env = os.environ if env is None else env
    chosen = _override(env, "SWITCH")
    if chosen is not None:
        return chosen
    if found := shutil.which("simple_switch_grpc", path=env.get("PATH")):
        return Tool((found,), name="simple_switch_grpc", real=True)
    return Tool((sys.executable, "-m", "p4lite.switch"), name="p4lite-switch", real=False)


@dataclass(frozen=True, slots=True)
class Compiled:
    """The outputs of compiling one P4 program."""

    source: Path
    json: Path
    p4info: Path


def compile_argv(tool: Tool, source: Path, out_dir: Path) -> list[str]:
    """The command line that compiles ``source`` into ``out_dir`` with ``tool``."""
    stem = source.stem
    p4info = out_dir / f"{stem}.p4info.txtpb"
    output = out_dir if tool.flavor is Flavor.P4C_DRIVER else out_dir / f"{stem}.json"
    return [*tool.argv, str(source), "-o", str(output), "--p4runtime-files", str(p4info)]


def compile_program(source: Path, out_dir: Path, tool: Tool | None = None) -> Compiled:
    """Compile one P4 program; the compiler's diagnostics go to this process's stderr."""
    tool = compiler() if tool is None else tool
    out_dir.mkdir(parents=True, exist_ok=True)
    argv = compile_argv(tool, source, out_dir)
    log.info("compiling %s with %s", source, tool.name)
    try:
        result = subprocess.run(argv, check=False)
    except OSError as exc:
        raise ToolchainError(f"{source}: cannot run compiler {tool}: {exc}") from exc
    if result.returncode != 0:
        raise ToolchainError(f"{source}: {tool.name} failed with exit code {result.returncode}")
    compiled = Compiled(
        source, out_dir / f"{source.stem}.json", out_dir / f"{source.stem}.p4info.txtpb"
    )
    for path in (compiled.json, compiled.p4info):
        if not path.is_file():
            raise ToolchainError(f"{source}: {tool.name} succeeded but wrote no {path}")
    return compiled


def programs(sources: Sequence[Path]) -> list[Path]:
    """The P4 programs named: files as given, folders by their top-level ``*.p4`` files."""
    found: list[Path] = []
    for src in sources:
        if src.is_dir():
            found.extend(sorted(src.glob("*.p4")))
        elif src.is_file():
            found.append(src)
        else:
            raise ToolchainError(f"{src}: no such P4 file or folder")
    return found


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m p4lite.toolchain {which,build}``: show the choice, or compile programs."""
    parser = argparse.ArgumentParser(prog="python -m p4lite.toolchain", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("which", help="print the chosen compiler and switch")
    build = sub.add_parser("build", help="compile P4 programs (files, or folders of *.p4)")
    build.add_argument("sources", nargs="+", type=Path)
    build.add_argument("--out", type=Path, default=Path("build"), help="output folder")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")

    cc, sw = compiler(), switch()
    if args.command == "which":
        print(f"compiler: {cc.name} ({'real' if cc.real else 'p4lite'}): {cc}")
        print(f"switch:   {sw.name} ({'real' if sw.real else 'p4lite'}): {sw}")
        return 0
    try:
        sources = programs(args.sources)
        if not sources:
            raise ToolchainError(f"no *.p4 programs in {', '.join(map(str, args.sources))}")
        for source in sources:
            done = compile_program(source, args.out, cc)
            print(f"{source} -> {done.json}, {done.p4info}  [{cc.name}]")
    except ToolchainError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
