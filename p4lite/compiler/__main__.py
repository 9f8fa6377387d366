"""`p4lite-p4c`: the p4c-bm2-ss command line (entry point; maps errors to exit codes)."""

from __future__ import annotations

import argparse
import logging
import sys

from p4lite.compiler.diagnostics import CompileError
from p4lite.compiler.driver import Options, compile_file, p4info_format, write_outputs

logger = logging.getLogger(__name__)


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="p4lite-p4c", description="P4-16 (v1model) to BMv2 JSON and P4Info"
    )
    ap.add_argument("source", help="the P4 program")
    ap.add_argument("-o", dest="output", help="BMv2 JSON output file")
    ap.add_argument(
        "--p4runtime-files",
        dest="p4info",
        help="P4Info output file(s), comma separated; each suffix (.txt, .txtpb, .json, .bin) "
        "picks its format",
    )
    ap.add_argument(
        "--p4runtime-file", dest="p4info_one", help="P4Info output file (deprecated by p4c)"
    )
    ap.add_argument(
        "--p4runtime-format",
        choices=["text", "binary", "json"],
        default="binary",
        help="format of --p4runtime-file (p4c's default: binary)",
    )
    ap.add_argument("-I", dest="include", action="append", default=[], help="include directory")
    ap.add_argument("-D", dest="define", action="append", default=[], help="NAME[=VALUE]")
    ap.add_argument("--arch", default="v1model")
    ap.add_argument("--std", default="p4-16")
    ap.add_argument("--target", default="bmv2")
    ap.add_argument("--p4v", default="16", help="language version (16 only)")
    ap.add_argument("-v", action="count", default=0, help="more logging")
    return ap


def _p4info_files(args: argparse.Namespace) -> list[tuple[str, str]] | None:
    """The P4Info files with their formats, or None after printing p4c's errors.

    As p4c: --p4runtime-file takes --p4runtime-format, each of --p4runtime-files
    the format its suffix names; a suffix naming none fails before any output.
    """
    infos = [(args.p4info_one, args.p4runtime_format)] if args.p4info_one else []
    for path in args.p4info.split(",") if args.p4info else []:
        try:
            infos.append((path, p4info_format(path)))
        except ValueError as exc:
            sys.stderr.write(f"error: {exc}\n")
            return None
    return infos


def main(argv: list[str] | None = None) -> int:
    """Run the compiler; 0 on success, 1 on errors."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # argparse printed the usage error already
        return 0 if exc.code in (0, None) else 1
    logging.basicConfig(level=logging.DEBUG if args.v else logging.WARNING, format="%(message)s")
    if (
        args.arch != "v1model"
        or args.std not in ("p4-16", "p4_16")
        or args.target != "bmv2"
        or args.p4v != "16"
    ):
        sys.stderr.write(
            f"error: unsupported target {args.target!r}/{args.arch!r}/{args.std!r}: "
            "expected bmv2/v1model/p4-16\n"
        )
        return 1
    defines: list[tuple[str, str]] = []
    for d in args.define:
        name, _, val = d.partition("=")
        defines.append((name, val if val else "1"))
    try:
        result = compile_file(args.source, Options(tuple(args.include), tuple(defines)))
        for w in result.warnings:
            sys.stderr.write(w.render() + "\n")
        infos = _p4info_files(args)
        if infos is None:
            return 1
        write_outputs(result, args.output, infos)
    except CompileError as exc:
        for d in exc.diagnostics:
            sys.stderr.write(d.render() + "\n")
        return 1
    except OSError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    except RecursionError:
        sys.stderr.write(f"{args.source}: error: program nested too deeply\n")
        return 1
    except Exception as exc:  # a compiler bug must still end in a diagnostic
        logger.debug("internal error", exc_info=True)
        sys.stderr.write(f"{args.source}: error: internal compiler error: {exc!r}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
