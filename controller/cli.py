"""The ``dinctl`` command: DIN models (train, quantize, evaluate, info) and switches.

Switch commands: ``compile-entries`` (a model as a tutorials sN-runtime.json),
``install``, ``swap`` (the atomic model version switch-over), ``read``,
``status`` and ``shell`` (p4runtime-shell), through ``controller.install`` and
``controller.p4rt``, imported by the commands that need them; ``steer`` runs
``controller.steering``'s service (with ``controller.telemetry``'s
``/metrics``) until SIGTERM.

The entry point: it alone configures logging and maps errors to exit codes
(one ``dinctl: error: ...`` line and exit status 1; ``-v`` adds details). It may
import any controller package.
Training and evaluation pull in scikit-learn, so their modules are imported by
the commands that need them: ``dinctl info`` and usage errors stay quick.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from controller.models import ModelError
from controller.models.files import MAX_VERSION, Model, load_manifest, load_model, save_model
from controller.models.quant import DEFAULT_EXIT_ACCURACY, DEFAULT_PERCENTILE, MLPModel
from controller.models.trees import DEFAULT_TREES, ForestModel

if TYPE_CHECKING:
    from controller.entries.mlp import Role
    from controller.install import InstallProgress
    from controller.models.evaluate import Evaluation, ExitStats
    from controller.p4rt.client import SwitchConnection
    from controller.p4rt.multi import Fabric

log = logging.getLogger(__name__)

PROG = "dinctl"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
DEFAULT_VERSION = 1
DEFAULT_RESTARTS = 6  # initialisations of an MLP; the most accurate on the training data is kept


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
        version = DEFAULT_VERSION if args.model_version is None else args.model_version
        model = mlp.train_mlp(
            split,
            hidden=hidden,
            seed=args.seed,
            name=name,
            version=version,
            percentile=args.percentile,
            restarts=args.restarts,
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
        from controller.models.flowdata import file_digest, flow_split  # noqa: PLC0415

        source: dict[str, object] | None = None
        if args.data:
            split = flow_split(
                args.data, args.seed, packet_limit=args.packet_limit, min_packets=args.min_packets
            )
            source = {"data_file": args.data, "data_sha256": file_digest(args.data)}
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
            flows_per_class=None if args.data else args.flows_per_class,
            packet_limit=args.packet_limit,
            min_packets=args.min_packets,
            source=source,
        )
    if isinstance(model, MLPModel):
        save_model(model, args.out)
        print(_summary(model, args.out, evaluate(model, split)))
        return 0
    switch = _switch_predictor(model)  # a model that does not fit din.p4 is not written
    save_model(model, args.out)
    result = evaluate(model, split, switch=switch)
    print("\n".join([_summary(model, args.out, result), *_three_way(result)]))
    return 0


def _switch_predictor(model: ForestModel) -> Callable[[Any], Any]:
    """In-switch classes of feature rows: the model's din.p4 entries in the table simulator."""
    import numpy as np  # noqa: PLC0415

    from controller.entries.classifier import forest_entries, phase_entries  # noqa: PLC0415
    from controller.entries.errors import EntriesError  # noqa: PLC0415
    from controller.entries.simulator import TableSim, classify  # noqa: PLC0415

    try:
        sim = TableSim([*forest_entries(model, 1), *phase_entries(1, 1, None)])
    except EntriesError as exc:
        raise CommandError(f"{PROG}: error: the model does not fit din.p4: {exc}") from exc

    def predict(x: Any) -> Any:
        return np.array([classify(sim, [int(v) for v in row]).flow_class for row in x])

    return predict


def _three_way(result: Evaluation) -> list[str]:
    """The float / quantized / in-switch table of a tree or forest evaluation."""
    s = result.switch_scores
    assert s is not None
    forms = (result.float_scores, result.quant_scores, s)
    width = max(9, *(len(c) for c in result.classes))
    lines = [
        f"{result.samples} test samples of {result.data}; in-switch: din.p4's entries "
        "in the table simulator",
        f"{'':{width}}  {'float':>9}  {'quantized':>9}  {'in-switch':>9}",
        f"{'accuracy':{width}}  " + "  ".join(f"{f.accuracy:9.4f}" for f in forms),
        f"{'macro-F1':{width}}  " + "  ".join(f"{f.macro_f1:9.4f}" for f in forms),
        "per-class F1:",
    ]
    lines += [
        f"{name:{width}}  " + "  ".join(f"{f.per_class_f1[i]:9.4f}" for f in forms)
        for i, name in enumerate(result.classes)
    ]
    lines.append(
        f"quantized = float on {result.agreement:.4f} of the samples, "
        f"in-switch = quantized on {result.switch_agreement:.4f}"
    )
    return lines


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


# Switch commands ---------------------------------------------------------------

DEFAULT_GRPC_ADDR = "127.0.0.1:9559"
STEER_TABLE = "MyIngress.din_steer"
STEER_ELECTION_ID = 10  # above the default 1 of the other commands: steering is primary
MODES = {"forward": 0, "next": 1, "exit-head": 2, "final": 3}
BAR_WIDTH = 30


class CommandError(Exception):
    """A switch command that failed; the message is already one line."""


def _one_line(exc: BaseException, limit: int = 3) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if len(lines) > limit + 1:
        lines = [*lines[:limit], f"... ({len(lines) - limit} more)"]
    text = ""
    for line in lines:
        text += (" " if text.endswith(":") else "; " if text else "") + line
    return text or type(exc).__name__


def _switch_command(
    func: Callable[[argparse.Namespace], int],
) -> Callable[[argparse.Namespace], int]:
    """Map the controller's errors to CommandError with a one-line message."""

    def run(args: argparse.Namespace) -> int:
        from controller.entries.errors import EntriesError  # noqa: PLC0415
        from controller.install import InstallError  # noqa: PLC0415
        from controller.p4rt.errors import P4RTError  # noqa: PLC0415

        try:
            return func(args)
        except (InstallError, P4RTError, EntriesError) as exc:
            log.debug("%s failed", args.command, exc_info=True)
            raise CommandError(_one_line(exc)) from exc

    return run


def _role(text: str) -> Role:
    from controller.entries.mlp import Role  # noqa: PLC0415

    parts = text.split(":")
    try:
        if not 2 <= len(parts) <= 4 or parts[1] not in MODES:
            raise ValueError
        nums = [int(p) for p in (parts[0], *parts[2:])]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid role {text!r}: use STAGE:MODE[:HEAD_LAYER[:NUM_CLASSES]], "
            f"MODE one of {', '.join(MODES)}"
        ) from None
    stage, head, classes = nums[0], *[*nums[1:], 0, 0][:2]
    return Role(stage, MODES[parts[1]], head, classes)


def _config(text: str) -> tuple[str, str]:
    parts = text.split(",")
    if len(parts) != 2 or not all(parts):
        raise argparse.ArgumentTypeError(
            f"invalid --config {text!r}: use <p4info path (text)>,<BMv2 JSON path>"
        )
    return parts[0], parts[1]


def _connections(args: argparse.Namespace) -> Fabric:
    """A fabric of one connection per --grpc-addr (not yet connected)."""
    from controller.p4rt.client import SwitchConnection, TLSConfig  # noqa: PLC0415
    from controller.p4rt.multi import Fabric  # noqa: PLC0415

    tls = None
    if args.ssl or args.cacert or args.cert or args.key:
        tls = TLSConfig.from_files(args.cacert, args.cert, args.key)
    addrs = list(dict.fromkeys(args.grpc_addr or [DEFAULT_GRPC_ADDR]))
    return Fabric(
        SwitchConnection(
            a,
            device_id=args.device_id,
            election_id=args.election_id,
            tls=tls,
            timeout=args.timeout,
            batch_size=args.batch_size if "batch_size" in args else 1000,
        )
        for a in addrs
    )


def _open(args: argparse.Namespace, fabric: Fabric) -> None:
    """Connect to every switch; push --config or fetch each switch's P4Info."""
    from controller.p4rt.p4info import P4InfoIndex  # noqa: PLC0415

    fabric.connect_all(timeout=args.timeout)
    if getattr(args, "config", None):
        p4info, device_json = args.config
        index = P4InfoIndex.load(p4info)
        data = Path(device_json).read_bytes()
        fabric.run(lambda c: c.set_pipeline(index, data), label="set pipeline")
    else:
        fabric.run(lambda c: c.load_index(), label="get pipeline")
        for c in fabric:
            if c.index is None or not len(c.index.tables):
                raise CommandError(
                    f"{PROG}: error: switch {c.name!r} has no pipeline: "
                    "give --config p4info,json to push one"
                )


class _Bar:
    """A text progress bar on stderr over the updates of every switch."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.done: dict[str, int] = {}
        self.total: dict[str, int] = {}
        self.start = time.perf_counter()

    def __call__(self, p: InstallProgress) -> None:
        self.done[p.switch], self.total[p.switch] = p.done, p.total
        if not self.enabled:
            return
        done, total = sum(self.done.values()), sum(self.total.values())
        frac = done / total if total else 1.0
        fill = int(frac * BAR_WIDTH)
        rate = done / max(time.perf_counter() - self.start, 1e-9)
        sys.stderr.write(
            f"\r[{'#' * fill}{'.' * (BAR_WIDTH - fill)}] {frac:4.0%} {done}/{total} "
            f"entries, {len(self.total)} switch(es), {rate:,.0f}/s"
        )
        sys.stderr.flush()

    def finish(self) -> None:
        if self.enabled and self.total:
            sys.stderr.write("\n")
            sys.stderr.flush()


def _load_entries(args: argparse.Namespace) -> list[Any]:
    """Entries of --runtime, or of every --model with --model-id and --role."""
    from controller import install  # noqa: PLC0415
    from controller.entries import runtime_json  # noqa: PLC0415

    if getattr(args, "runtime", None):
        return list(runtime_json.read(args.runtime).entries)
    out: list[Any] = []
    for path in args.model:
        model = load_model(path)
        out += install.model_entries(
            model, args.model_id, version=args.model_version, roles=args.role or None
        )
    return out


@_switch_command
def _cmd_compile_entries(args: argparse.Namespace) -> int:
    from controller import install  # noqa: PLC0415
    from controller.entries import count_by_table, runtime_json  # noqa: PLC0415
    from controller.p4rt.p4info import P4InfoIndex  # noqa: PLC0415

    entries = _load_entries(args)
    install.convert(entries, P4InfoIndex.load(args.p4info))  # every name checked
    bmv2_json = args.bmv2_json or str(Path(args.p4info).with_suffix("").with_suffix(".json"))
    runtime_json.write(args.out, entries, p4info=args.p4info, bmv2_json=bmv2_json)
    tables = count_by_table(entries)
    print(f"wrote {args.out}: {len(entries)} entries in {len(tables)} tables")
    return 0


@_switch_command
def _cmd_install(args: argparse.Namespace) -> int:
    from controller import install  # noqa: PLC0415

    entries = _load_entries(args)
    bar = _Bar(not args.no_progress)
    with _connections(args) as fabric:
        _open(args, fabric)
        try:
            result = install.install(
                fabric, entries, batch_size=args.batch_size, progress=bar, raise_on_error=False
            )
        finally:
            bar.finish()
    for name, n in sorted(result.written.items()):
        print(f"{name}: {n} entries")
    print(
        f"installed {result.total} entries on {len(result.written)} switch(es) in "
        f"{result.seconds:.2f} s ({result.rate:,.0f} entries/s)"
    )
    if result.errors:
        name, exc = sorted(result.errors.items())[0]
        raise CommandError(
            f"{PROG}: error: install failed on {len(result.errors)} switch(es): "
            f"{name}: {_one_line(exc)}"
        )
    return 0


@_switch_command
def _cmd_swap(args: argparse.Namespace) -> int:
    from controller import install  # noqa: PLC0415

    model = load_model(args.model)
    if not isinstance(model, MLPModel):
        raise CommandError(
            f"{PROG} swap: error: {args.model}: kind {model.kind!r}: expected an mlp model"
        )
    version = model.version if args.model_version is None else args.model_version
    entries = install.model_entries(
        model, args.model_id, version=version, roles=args.role or None, activate=False
    )
    bar = _Bar(not args.no_progress)
    with _connections(args) as fabric:
        _open(args, fabric)
        try:
            results = install.swap_model_all(
                fabric, args.model_id, version, entries, batch_size=args.batch_size, progress=bar
            )
        finally:
            bar.finish()
    for name, r in sorted(results.items()):
        print(
            f"{name}: model {r.model_id} version {r.old_version} -> {r.new_version}: "
            f"{r.inserted} inserted, {r.deleted} deleted in {r.seconds:.2f} s"
        )
    return 0


def _match_text(m: object) -> str:
    from controller.p4rt import entities as pe  # noqa: PLC0415

    match m:
        case pe.Exact(v) | pe.OptionalMatch(v):
            return str(v)
        case pe.Lpm(v, plen):
            return f"{v:#x}/{plen}"
        case pe.Ternary(v, mask):
            return f"{v:#x}&&&{mask:#x}"
        case pe.Range(lo, hi):
            return f"{lo}..{hi}"
    return repr(m)


@_switch_command
def _cmd_read(args: argparse.Namespace) -> int:
    from controller.p4rt import entities as pe  # noqa: PLC0415

    if not args.table and not args.counter:
        raise CommandError(f"{PROG} read: error: give --table NAME or --counter NAME")
    if args.grpc_addr and len(args.grpc_addr) > 1:
        raise CommandError(f"{PROG} read: error: one --grpc-addr at a time, got {args.grpc_addr!r}")
    with _connections(args) as fabric:
        conn = next(iter(fabric))
        # Reads only: no arbitration, so the controllers in charge are not disturbed.
        conn.wait_ready(args.timeout)
        index = conn.load_index()
        lines: list[str] = []
        if args.table:
            table = index.table(args.table).name
            for e in conn.read_entities([pe.TableEntry(table)]):
                assert isinstance(e, pe.TableEntry)
                key = " ".join(f"{n}={_match_text(m)}" for n, m in e.match) or "(default)"
                if e.action is not None:
                    params = ", ".join(f"{n}={v}" for n, v in e.params)
                    what = f"{e.action}({params})"
                else:
                    what = (
                        f"member {e.member_id}"
                        if e.member_id is not None
                        else (f"group {e.group_id}")
                    )
                prio = f" priority {e.priority}" if e.priority else ""
                lines.append(f"{table} {key}{prio} -> {what}")
            lines.append(f"{len(lines)} entries")
        if args.counter:
            counter = index.counter(args.counter).name
            for c in conn.read_entities([pe.CounterEntry(counter)]):
                assert isinstance(c, pe.CounterEntry)
                lines.append(f"{counter}[{c.index}] packets={c.packet_count} bytes={c.byte_count}")
    print("\n".join(lines))
    return 0


@_switch_command
def _cmd_status(args: argparse.Namespace) -> int:
    from controller import install  # noqa: PLC0415
    from controller.p4rt import entities as pe  # noqa: PLC0415
    from controller.p4rt.errors import P4RTError  # noqa: PLC0415
    from controller.p4rt.p4info import P4InfoIndex  # noqa: PLC0415

    def one(conn: SwitchConnection) -> dict[str, Any]:
        out: dict[str, Any] = {"switch": conn.name, "reachable": False}
        try:
            # Reads only: no arbitration, so the controllers in charge are not disturbed.
            conn.wait_ready(args.timeout)
            config = conn.get_pipeline("P4INFO_AND_COOKIE")
        except P4RTError as exc:
            out["error"] = _one_line(exc)
            return out
        out["reachable"] = True
        out["pipeline"] = bool(config.p4info.tables)
        if not out["pipeline"]:
            return out
        conn.index = P4InfoIndex(config.p4info)
        tables = [t.name for t in conn.index.tables if not t.is_const]
        counts: dict[str, int] = dict.fromkeys(tables, 0)
        for e in conn.read_entities([pe.TableEntry(t) for t in tables]):
            if isinstance(e, pe.TableEntry) and not e.is_default:
                counts[e.table] += 1
        out["entries"] = {t: n for t, n in counts.items() if n}
        out["active_model_versions"] = (
            install.active_versions(conn) if install.ACTIVE_TABLE in counts else {}
        )
        if STEER_TABLE in counts:
            from controller.steering.program import SwitchProgrammer, summarize  # noqa: PLC0415

            out["steering"] = summarize(SwitchProgrammer(conn).read())
        return out

    service = _steering_status(args.steering_url) if args.steering_url else None
    with _connections(args) as fabric:
        outcomes = fabric.run(one, label="status", raise_on_error=False)
    reports: list[dict[str, Any]] = []
    for name in fabric.names:
        o = outcomes[name]
        if o.value is not None:
            reports.append(o.value)
        else:
            error = _one_line(o.error) if o.error is not None else "no answer"
            reports.append({"switch": name, "reachable": True, "error": error})
    if args.json:
        whole: Any = reports if service is None else {"switches": reports, "steering": service}
        print(json.dumps(whole, indent=2))
    else:
        for r in reports:
            print(_status_text(r))
        if service is not None:
            print(_service_text(service))
    return 0 if all(r["reachable"] and "error" not in r for r in reports) else 1


def _steering_status(url: str) -> dict[str, Any]:
    """The /status JSON of a running ``dinctl steer --metrics-port`` (its steering part)."""
    import urllib.error  # noqa: PLC0415
    import urllib.request  # noqa: PLC0415

    base = url.rstrip("/")
    target = base if base.endswith("/status") else base + "/status"
    try:
        with urllib.request.urlopen(target, timeout=10) as answer:
            data = json.loads(answer.read())
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise CommandError(f"{PROG} status: error: steering status {target!r}: {exc}") from exc
    if not isinstance(data, dict):
        raise CommandError(f"{PROG} status: error: {target!r} answered {type(data).__name__}")
    return {
        "instances": data.get("instances", []),
        "latency": data.get("latency", []),
        **{k: v for k, v in data.get("steering", {}).items() if k != "instances"},
    }


def _service_text(service: dict[str, Any]) -> str:
    lines = [f"nodes ({len(service['instances'])} alive):"]
    for i in service["instances"]:
        models = ", ".join(
            f"{m['model_id']}v{m['model_version']}" + (" large" if m["large"] else "")
            for m in i["models"]
        )
        latency = "" if i["latency_ms"] is None else f", latency {i['latency_ms']:.1f} ms"
        lines.append(
            f"  instance {i['instance_id']} at {i['addr']}: models {models}; queue "
            f"{i['queue_len']}, utilisation {i['utilisation']}%, {i['req_rate']} req/s of "
            f"{i['capacity']}{latency}; last seen {i['age_s']:.2f} s ago"
        )
    for p in service.get("partitions", []):
        lines.append(f"model {p['model_id']} layers on {p['placement']} ({p['moves']} moves)")
    decisions = service.get("decisions", [])[-5:]
    if decisions:
        lines.append("recent decisions:")
        lines += [f"  {d['switch'] or '-'} {d['kind']}: {d['detail']}" for d in decisions]
    return "\n".join(lines)


def _status_text(r: dict[str, Any]) -> str:
    if not r["reachable"]:
        return f"{r['switch']}: unreachable ({r.get('error', '')})"
    if "error" in r:
        return f"{r['switch']}: error: {r['error']}"
    head = f"{r['switch']}: reachable"
    if not r["pipeline"]:
        return head + ", no pipeline"
    entries = r["entries"]
    lines = [head + f", pipeline present, {sum(entries.values())} entries"]
    lines += [f"  {t}: {n}" for t, n in sorted(entries.items())]
    versions = r["active_model_versions"]
    lines.append(
        "  active model versions: "
        + (", ".join(f"model {m} -> v{v}" for m, v in sorted(versions.items())) or "none")
    )
    steering = r.get("steering")
    if steering:
        for svc in steering["services"]:
            weights = " ".join(f"{i}:{w}" for i, w in svc["weights"].items()) or "none"
            lines.append(
                f"  steering model {svc['model_id']} type {svc['msg_type']} stage "
                f"{svc['stage']} -> instances {weights}"
            )
        for inst in steering["instances"]:
            backup = inst["backup_id"] or "none"
            lines.append(
                f"  instance {inst['instance_id']} at {inst['addr']}, backup {backup}, "
                f"stale after {inst['stale_after_us'] / 1000:g} ms"
            )
        for pol in steering["policies"]:
            lines.append(
                f"  tenant {pol['tenant']} sensitivity {pol['sensitivity']} -> raw inputs to "
                f"instances {pol['allowed_raw'] or 'none'}, activations to "
                f"{pol['allowed'] or 'none'}"
            )
    return "\n".join(lines)


def _named_addr(text: str) -> tuple[str, str]:
    """``[NAME=]HOST:PORT``: the switch name (default the address) and the address."""
    name, sep, addr = text.partition("=")
    return (name, addr) if sep and name and addr else (text, text)


@_switch_command
def _cmd_steer(args: argparse.Namespace) -> int:
    import signal  # noqa: PLC0415
    import threading  # noqa: PLC0415

    from controller.p4rt.client import SwitchConnection, TLSConfig  # noqa: PLC0415
    from controller.p4rt.multi import Fabric  # noqa: PLC0415
    from controller.steering.config import load_config  # noqa: PLC0415
    from controller.steering.errors import SteeringError  # noqa: PLC0415
    from controller.steering.service import SteeringService  # noqa: PLC0415
    from controller.telemetry.collector import TelemetryCollector  # noqa: PLC0415
    from controller.telemetry.exporter import MetricsExporter  # noqa: PLC0415

    try:
        plan = load_config(args.plan)
    except SteeringError as exc:
        raise CommandError(str(exc)) from exc
    tls = None
    if args.ssl or args.cacert or args.cert or args.key:
        tls = TLSConfig.from_files(args.cacert, args.cert, args.key)
    named = dict(_named_addr(a) for a in (args.grpc_addr or [DEFAULT_GRPC_ADDR]))
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        log.info("signal %d: stopping", signum)
        stop.set()

    with Fabric(
        SwitchConnection(
            addr,
            name=name,
            device_id=args.device_id,
            election_id=args.election_id,
            tls=tls,
            timeout=args.timeout,
        )
        for name, addr in named.items()
    ) as fabric:
        _open(args, fabric)
        not_primary = [c.name for c in fabric if not c.is_primary]
        if not_primary:
            raise CommandError(
                f"{PROG} steer: error: not primary on {', '.join(not_primary)}: another "
                f"controller has a higher election id than {args.election_id} (--election-id)"
            )
        try:
            service = SteeringService(fabric, plan)
        except SteeringError as exc:
            raise CommandError(str(exc)) from exc
        exporter = None
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        service.start()
        try:
            where = ""
            if args.metrics_port is not None:
                exporter = MetricsExporter(
                    TelemetryCollector(fabric, steering=service),
                    args.metrics_addr,
                    args.metrics_port,
                )
                exporter.start()
                where = f"; metrics on {exporter.url}/metrics"
            print(
                f"steering {len(fabric)} switch(es): {', '.join(fabric.names)}{where}", flush=True
            )
            stop.wait(args.duration)
        finally:
            if exporter is not None:
                exporter.stop()
            service.stop()
    counts = service.counts
    print(
        f"stopped: {counts['adverts_digest']} advertisements, {counts['relayed']} relayed, "
        f"{sum(1 for d in service.decisions if d.kind == 'program')} programmings, "
        f"{counts['write_errors']} write errors"
    )
    return 0


def shell_argv(args: argparse.Namespace) -> list[str]:
    """The p4runtime-shell command line for ``dinctl shell``."""
    argv = [
        sys.executable,
        "-m",
        "p4runtime_sh",
        "--grpc-addr",
        args.grpc_addr[0] if args.grpc_addr else DEFAULT_GRPC_ADDR,
        "--device-id",
        str(args.device_id),
        "--election-id",
        f"{args.election_id >> 64},{args.election_id & ((1 << 64) - 1)}",
    ]
    if args.config:
        argv += ["--config", ",".join(args.config)]
    if args.ssl or args.cacert or args.cert or args.key:
        argv.append("--ssl")
    for flag, value in (
        ("--cacert", args.cacert),
        ("--cert", args.cert),
        ("--private-key", args.key),
    ):
        if value:
            argv += [flag, value]
    return argv


def _cmd_shell(args: argparse.Namespace) -> int:
    if args.grpc_addr and len(args.grpc_addr) > 1:
        raise UsageError(f"{PROG} shell: error: one --grpc-addr at a time, got {args.grpc_addr!r}")
    env = dict(os.environ)
    # p4runtime-shell's generated stubs predate protobuf 4's C++ runtime.
    env.setdefault("PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION", "python")
    return subprocess.call(shell_argv(args), env=env)


def _election_id(text: str) -> int:
    try:
        if "," in text:
            high, low = (int(p) for p in text.split(","))
            value = (high << 64) | low
        else:
            value = int(text, 0)
    except ValueError:
        value = 0
    if not 0 < value < 1 << 128:
        raise argparse.ArgumentTypeError(
            f"invalid election id {text!r}: use an int 1..2**128-1 or HIGH,LOW"
        )
    return value


def _switch_options(p: argparse.ArgumentParser, *, many: bool = True, config: bool = True) -> None:
    g = p.add_argument_group("switch connection")
    g.add_argument(
        "--grpc-addr",
        action="append",
        metavar="HOST:PORT",
        help=f"P4Runtime server (default {DEFAULT_GRPC_ADDR})" + ("; repeatable" if many else ""),
    )
    g.add_argument("--device-id", type=_int_at_least(0), default=0, help="P4Runtime device id")
    g.add_argument(
        "--election-id", type=_election_id, default=1, help="election id: N or HIGH,LOW (default 1)"
    )
    if config:
        g.add_argument(
            "--config",
            type=_config,
            metavar="P4INFO,JSON",
            help="push this pipeline first (P4Info text, BMv2 JSON)",
        )
    g.add_argument("--ssl", action="store_true", help="TLS (with --cacert; --cert/--key for mTLS)")
    g.add_argument("--cacert", metavar="PEM", help="CA certificate to verify the switch")
    g.add_argument("--cert", metavar="PEM", help="client certificate (mutual TLS)")
    g.add_argument("--key", metavar="PEM", help="client private key (mutual TLS)")
    g.add_argument(
        "--timeout", type=float, default=10.0, help="seconds to wait for a switch (default 10)"
    )


def _model_options(p: argparse.ArgumentParser, *, many: bool) -> None:
    p.add_argument(
        "--model",
        action="append" if many else "store",
        required=True,
        metavar="FILE",
        help="model file" + (" (repeatable)" if many else ""),
    )
    p.add_argument(
        "--model-id",
        type=_int_at_least(0),
        default=1,
        help="model id (mlp) or classifier slot (tree, forest); default 1",
    )
    p.add_argument(
        "--model-version", type=_model_version, help="version to install (default the file's)"
    )
    p.add_argument(
        "--role",
        type=_role,
        action="append",
        metavar="STAGE:MODE[:HEAD[:CLASSES]]",
        help="mlp_role entry (repeatable; default every layer here, the last FINAL); "
        f"MODE one of {', '.join(MODES)}",
    )


def _add_switch_commands(sub: Any) -> None:
    compile_cmd = sub.add_parser(
        "compile-entries", help="a model's entries as a tutorials sN-runtime.json"
    )
    _model_options(compile_cmd, many=True)
    compile_cmd.add_argument("--p4info", required=True, metavar="FILE", help="P4Info (text)")
    compile_cmd.add_argument(
        "--bmv2-json", metavar="FILE", help="bmv2_json to name in the file (default beside P4Info)"
    )
    compile_cmd.add_argument("--out", required=True, metavar="FILE", help="sN-runtime.json")
    compile_cmd.set_defaults(func=_cmd_compile_entries, runtime=None)

    install_cmd = sub.add_parser("install", help="install entries on one or many switches")
    source = install_cmd.add_mutually_exclusive_group(required=True)
    source.add_argument("--runtime", metavar="FILE", help="tutorials sN-runtime.json")
    source.add_argument("--model", action="append", metavar="FILE", help="model file (repeatable)")
    install_cmd.add_argument("--model-id", type=_int_at_least(0), default=1, help="default 1")
    install_cmd.add_argument("--model-version", type=_model_version, help="default the file's")
    install_cmd.add_argument(
        "--role", type=_role, action="append", metavar="STAGE:MODE[:HEAD[:CLASSES]]"
    )
    _switch_options(install_cmd)
    install_cmd.add_argument(
        "--batch-size", type=_int_at_least(1), default=1000, help="updates per Write request"
    )
    install_cmd.add_argument("--no-progress", action="store_true", help="no progress bar")
    install_cmd.set_defaults(func=_cmd_install)

    swap = sub.add_parser("swap", help="switch a model to a new version atomically")
    _model_options(swap, many=False)
    _switch_options(swap)
    swap.add_argument("--batch-size", type=_int_at_least(1), default=1000)
    swap.add_argument("--no-progress", action="store_true", help="no progress bar")
    swap.set_defaults(func=_cmd_swap)

    read = sub.add_parser("read", help="read a table's entries or a counter")
    read.add_argument("--table", metavar="NAME", help="table name (full or alias)")
    read.add_argument("--counter", metavar="NAME", help="counter name (full or alias)")
    _switch_options(read, many=False)
    read.set_defaults(func=_cmd_read)

    status = sub.add_parser("status", help="reachability, pipeline, entries, model versions")
    _switch_options(status, config=False)
    status.add_argument("--json", action="store_true", help="print JSON")
    status.add_argument(
        "--steering-url",
        metavar="URL",
        help="also show nodes and decisions of a running `dinctl steer --metrics-port` "
        "(e.g. http://127.0.0.1:9100)",
    )
    status.set_defaults(func=_cmd_status, config=None)

    steer = sub.add_parser(
        "steer", help="run the steering loop (node registry, weights, failover, policy)"
    )
    steer.add_argument("--plan", required=True, metavar="FILE", help="steering plan (JSON)")
    _switch_options(steer, config=False)
    steer.add_argument(
        "--metrics-port", type=_int_at_least(0), metavar="PORT",
        help="serve /metrics (Prometheus) and /status (JSON) there (0: any free port)",
    )  # fmt: skip
    steer.add_argument(
        "--metrics-addr", default="127.0.0.1", metavar="HOST", help="address to serve metrics on"
    )
    steer.add_argument(
        "--duration", type=float, metavar="S", help="stop after S seconds (default: until SIGTERM)"
    )
    steer.set_defaults(func=_cmd_steer, election_id=STEER_ELECTION_ID)

    shell = sub.add_parser("shell", help="start p4runtime-shell on a switch")
    _switch_options(shell, many=False)
    shell.set_defaults(func=_cmd_shell)


def build_parser() -> argparse.ArgumentParser:
    """The ``dinctl`` argument parser."""
    parser = _Parser(
        prog=PROG, description="Train, quantize and inspect DIN models; install them on switches."
    )
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
    group.add_argument(
        "--restarts",
        type=_int_at_least(1),
        default=DEFAULT_RESTARTS,
        metavar="N",
        help="mlp: train from N initialisations (seeds --seed, --seed+1, ...) and keep the most "
        f"accurate on the training data, quantized (default {DEFAULT_RESTARTS})",
    )
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
        "--data",
        metavar="FILE",
        help="train on a flow data file (make data: data/flows-ndpi.npz), not synthetic flows",
    )
    group.add_argument(
        "--flows-per-class",
        type=_int_at_least(2),
        default=200,
        help="synthetic flows per class (without --data)",
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
    _add_switch_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``dinctl``; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        print(exc, file=sys.stderr)
        return 1
    # `dinctl steer` logs each steering decision: INFO unless told otherwise.
    quiet = "INFO" if args.command == "steer" else "WARNING"
    level = args.log_level or ("DEBUG" if args.verbose else quiet)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if level == quiet:
        # The fabric warns of each failed switch; dinctl reports them in its one error line.
        logging.getLogger("controller.p4rt.multi").setLevel(logging.ERROR)
    try:
        status: int = args.func(args)
    except BrokenPipeError:
        # The reader went away (e.g. `dinctl info m.npz | head`): stop quietly.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except UsageError as exc:
        print(exc, file=sys.stderr)
        return 1
    except CommandError as exc:
        msg = str(exc)
        print(msg if msg.startswith(PROG) else f"{PROG}: error: {msg}", file=sys.stderr)
        return 1
    except (ModelError, OSError) as exc:
        log.debug("%s failed", args.command, exc_info=True)
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    return status


if __name__ == "__main__":
    sys.exit(main())
