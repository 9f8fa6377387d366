"""The ``dinctl`` command: train, quantize, evaluate and inspect DIN models.

The entry point: it alone configures logging and maps errors to exit codes
(one ``dinctl: error: ...`` line and exit status 1; ``-v`` adds details). It may
import any controller package; today it needs only ``controller.models``.
Training and evaluation pull in scikit-learn, so their modules are imported by
the commands that need them: ``dinctl info`` and usage errors stay quick.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NoReturn

from controller.models import ModelError
from controller.models.files import MAX_VERSION, Model, load_manifest, load_model, save_model
from controller.models.quant import DEFAULT_EXIT_ACCURACY, DEFAULT_PERCENTILE, MLPModel
from controller.models.trees import DEFAULT_TREES

if TYPE_CHECKING:
    from controller.models.evaluate import Evaluation, ExitStats

log = logging.getLogger(__name__)

PROG = "dinctl"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
DEFAULT_VERSION = 1


class UsageError(Exception):
    """A command line that argparse rejected."""


class _Parser(argparse.ArgumentParser):
    # argparse exits with status 2 on its own; dinctl reports every error the same way.
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: error: {message}")


def _hidden(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        sizes = ()
    if not sizes or any(s <= 0 for s in sizes):
        raise argparse.ArgumentTypeError(f"invalid hidden sizes {text!r}: use e.g. '16,16'")
    return sizes


def _int_at_least(minimum: int) -> Callable[[str], int]:
    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"invalid value {text!r}: use an int >= {minimum}")
        return value

    return convert


def _model_version(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= MAX_VERSION:
        raise argparse.ArgumentTypeError(f"invalid model version {text!r}: use 0..{MAX_VERSION}")
    return value


def _summary(model: Model, path: str, result: Evaluation) -> str:
    if isinstance(model, MLPModel):
        shape = "-".join(str(n) for n in (model.input_size, *(la.outputs for la in model.layers)))
        what = f"mlp {shape}"
    else:
        what = f"{model.kind} of {len(model.trees)} tree(s)"
    return (
        f"wrote {path}: {what} {model.name!r} v{model.version}; test accuracy "
        f"float {result.float_scores.accuracy:.4f}, quantized {result.quant_scores.accuracy:.4f}"
    )


def _cmd_train(args: argparse.Namespace) -> int:
    from controller.models import mlp, trees  # noqa: PLC0415
    from controller.models.datasets import digits16  # noqa: PLC0415
    from controller.models.evaluate import dataset_for, evaluate  # noqa: PLC0415
    from controller.models.synthetic import flow_dataset  # noqa: PLC0415

    model: Model
    if args.kind == "mlp":
        split = digits16(args.seed)
        hidden = args.hidden or (mlp.LARGE_HIDDEN if args.large else mlp.BASE_HIDDEN)
        name = args.name or ("digits-mlp-large" if args.large else "digits-mlp")
        model = mlp.train_mlp(
            split,
            hidden=hidden,
            seed=args.seed,
            name=name,
            version=DEFAULT_VERSION if args.model_version is None else args.model_version,
            percentile=args.percentile,
        )
    elif args.kind == "head":
        if args.base is None:
            raise UsageError(f"{PROG} train head: error: the --base model file is required")
        base = load_model(args.base)
        if not isinstance(base, MLPModel):
            raise ModelError(f"{args.base}: kind {base.kind!r}: expected an mlp base model")
        split = dataset_for(base)
        model = mlp.train_head(
            base,
            split,
            seed=args.seed,
            name=args.name,
            version=args.model_version,
            percentile=args.percentile,
            target_accuracy=args.target_accuracy,
        )
    else:
        split = flow_dataset(
            args.flows_per_class,
            args.seed,
            packet_limit=args.packet_limit,
            min_packets=args.min_packets,
        )
        model = trees.train_flow_classifier(
            split,
            kind=args.kind,
            seed=args.seed,
            trees=args.trees,
            max_depth=args.max_depth,
            name=args.name,
            version=DEFAULT_VERSION if args.model_version is None else args.model_version,
            flows_per_class=args.flows_per_class,
            packet_limit=args.packet_limit,
            min_packets=args.min_packets,
        )
    save_model(model, args.out)
    print(_summary(model, args.out, evaluate(model, split)))
    return 0


def _cmd_quantize(args: argparse.Namespace) -> int:
    from controller.models import mlp, trees  # noqa: PLC0415
    from controller.models.evaluate import dataset_for, evaluate  # noqa: PLC0415

    model = load_model(args.model)
    if isinstance(model, MLPModel):
        model = mlp.requantize(model, dataset_for(model), args.percentile)
    else:
        model = trees.requantize(model)
    save_model(model, args.out)
    print(_summary(model, args.out, evaluate(model)))
    return 0


def _evaluation_dict(result: Evaluation) -> dict[str, object]:
    def scores(kind: str) -> dict[str, object]:
        s = result.float_scores if kind == "float" else result.quant_scores
        return {
            "accuracy": s.accuracy,
            "macro_f1": s.macro_f1,
            "per_class_f1": dict(zip(result.classes, s.per_class_f1, strict=True)),
        }

    return {
        "model": result.model,
        "data": result.data,
        "samples": result.samples,
        "float": scores("float"),
        "quantized": scores("quantized"),
        "agreement": result.agreement,
    }


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from controller.models.evaluate import dataset_for, early_exit, evaluate  # noqa: PLC0415

    model = load_model(args.model)
    result = evaluate(model)
    exits: list[tuple[str, ExitStats]] = []
    if args.exit_threshold and not isinstance(model, MLPModel):
        raise UsageError(f"{PROG} evaluate: error: --exit-threshold applies to mlp models only")
    if isinstance(model, MLPModel) and (args.exit_threshold or model.exit_thresholds):
        split = dataset_for(model)
        if model.exit_thresholds:
            exits.append(
                ("the model's thresholds", early_exit(model, split, model.exit_thresholds))
            )
        exits += [(f"confidence >= {t}", early_exit(model, split, t)) for t in args.exit_threshold]
    if args.json:
        out = _evaluation_dict(result)
        out["early_exit"] = [
            {"thresholds": list(e.thresholds), "coverage": e.coverage, "accuracy": e.accuracy}
            for _, e in exits
        ]
        print(json.dumps(out, indent=2))
        return 0
    fs, qs = result.float_scores, result.quant_scores
    width = max(9, *(len(c) for c in result.classes))
    lines = [
        f"model {result.model!r} on {result.data}: {result.samples} test samples",
        f"{'':{width}}  {'float':>9}  {'quantized':>9}",
        f"{'accuracy':{width}}  {fs.accuracy:9.4f}  {qs.accuracy:9.4f}",
        f"{'macro-F1':{width}}  {fs.macro_f1:9.4f}  {qs.macro_f1:9.4f}",
        f"agreement between float and quantized: {result.agreement:.4f}",
        "per-class F1:",
    ]
    lines += [
        f"{name:{width}}  {f:9.4f}  {q:9.4f}"
        for name, f, q in zip(result.classes, fs.per_class_f1, qs.per_class_f1, strict=True)
    ]
    lines += [
        f"early exit at {label}: coverage {e.coverage:.4f}, accuracy {e.accuracy:.4f}"
        for label, e in exits
    ]
    print("\n".join(lines))
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    print(json.dumps(load_manifest(args.model), indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``dinctl`` argument parser."""
    parser = _Parser(prog=PROG, description="Train, quantize and inspect DIN models.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logs, tracebacks")
    parser.add_argument("--log-level", choices=LOG_LEVELS, help="logging level (default WARNING)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    train = sub.add_parser("train", help="train a model and write its file")
    train.add_argument(
        "kind",
        choices=("mlp", "head", "forest", "tree"),
        help="mlp: partitioned digits MLP; head: early exit of --base; forest, tree: flows",
    )
    train.add_argument("--out", required=True, metavar="FILE", help="model file to write")
    train.add_argument(
        "--seed", type=_int_at_least(0), default=0, help="data split and training seed"
    )
    train.add_argument("--name", help="model name (default by kind)")
    train.add_argument(
        "--model-version",
        type=_model_version,
        help="model version, 0..65535 (default 1; a head's default is its base's)",
    )
    group = train.add_argument_group("mlp and head")
    group.add_argument("--hidden", type=_hidden, help="hidden layer sizes, e.g. 16,16")
    group.add_argument("--large", action="store_true", help="the large escalation model")
    group.add_argument("--base", metavar="FILE", help="base mlp of an early-exit head")
    group.add_argument(
        "--target-accuracy",
        type=float,
        default=DEFAULT_EXIT_ACCURACY,
        help="head: per-class exit thresholds reach this training accuracy",
    )
    group.add_argument(
        "--percentile", type=float, default=DEFAULT_PERCENTILE, help="calibration percentile"
    )
    group = train.add_argument_group("tree and forest")
    group.add_argument(
        "--flows-per-class", type=_int_at_least(2), default=200, help="synthetic flows"
    )
    group.add_argument(
        "--packet-limit",
        type=_int_at_least(1),
        metavar="N",
        help="features at each flow's N-th packet (the flow model)",
    )
    group.add_argument(
        "--min-packets",
        type=_int_at_least(1),
        metavar="M",
        help="with --packet-limit N: at a random packet M..N (the per-packet model)",
    )
    group.add_argument(
        "--trees", type=_int_at_least(1), default=DEFAULT_TREES, help="trees in a forest"
    )
    group.add_argument("--max-depth", type=_int_at_least(1), default=6, help="tree depth limit")
    train.set_defaults(func=_cmd_train)

    quantize = sub.add_parser("quantize", help="quantize a model file's float model again")
    quantize.add_argument("model", metavar="FILE")
    quantize.add_argument("--out", required=True, metavar="FILE", help="model file to write")
    quantize.add_argument(
        "--percentile",
        type=float,
        default=DEFAULT_PERCENTILE,
        help="mlp calibration percentile (trees: thresholds are re-derived from split points)",
    )
    quantize.set_defaults(func=_cmd_quantize)

    evaluate_cmd = sub.add_parser("evaluate", help="accuracy and macro-F1, float and quantized")
    evaluate_cmd.add_argument("model", metavar="FILE")
    evaluate_cmd.add_argument("--json", action="store_true", help="print JSON")
    evaluate_cmd.add_argument(
        "--exit-threshold",
        type=int,
        action="append",
        metavar="N",
        default=[],
        help="mlp: early-exit coverage and accuracy at confidence >= N (repeatable)",
    )
    evaluate_cmd.set_defaults(func=_cmd_evaluate)

    info = sub.add_parser("info", help="print a model file's manifest")
    info.add_argument("model", metavar="FILE")
    info.set_defaults(func=_cmd_info)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``dinctl``; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        print(exc, file=sys.stderr)
        return 1
    level = args.log_level or ("DEBUG" if args.verbose else "WARNING")
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        status: int = args.func(args)
    except BrokenPipeError:
        # The reader went away (e.g. `dinctl info m.npz | head`): stop quietly.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except UsageError as exc:
        print(exc, file=sys.stderr)
        return 1
    except (ModelError, OSError) as exc:
        log.debug("%s failed", args.command, exc_info=True)
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    return status


if __name__ == "__main__":
    sys.exit(main())
