"""Install benchmark: entries/s of controller.install, and the default models on 3 switches.

Starts the chosen switch (p4lite, or simple_switch_grpc where installed) as
processes with ``--no-p4`` on 127.0.0.1, pushes din.p4 (compiled by the chosen
compiler) through P4Runtime, and measures with ``controller.install`` (entry
conversion and protobuf encoding included in every figure):

- ``entries_per_s_1_per_request``: the digits MLP's entries (>= 5,000), one
  update per Write request;
- ``entries_per_s_<B>_per_request``: the same entries, ``--batch`` (1,000)
  updates per request;
- ``default_models_3_switches_s``: the default models (digits MLP as model 1,
  flow forest in classifier slot 1) installed on 3 switches at once, and
  ``..._with_pipeline_s`` with connecting and pushing the pipeline too.

Prints the figures and writes them with ``--json FILE``; no pass/fail.
Usage: ``python bench/bench_install.py [--json FILE] [--models DIR]``. Every
switch process is stopped by PID in ``finally``.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from controller import install
from controller.models.files import Model, load_model
from controller.p4rt import entities as pe
from controller.p4rt.client import SwitchConnection
from controller.p4rt.multi import Fabric
from controller.p4rt.p4info import P4InfoIndex
from p4lite import toolchain

REPO = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"switch exited with {proc.returncode} before its gRPC port opened")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"switch gRPC port {port} did not open in {timeout:.0f} s")


def _start(work: Path, procs: list[subprocess.Popen[bytes]]) -> str:
    port = _free_port()
    argv = [*toolchain.switch().argv, "--no-p4", "--", "--grpc-server-addr", f"127.0.0.1:{port}"]
    with (work / f"switch-{port}.log").open("wb") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    procs.append(proc)
    _wait_port(port, proc)
    return f"127.0.0.1:{port}"


def _model(models: Path, name: str, kind: str, work: Path) -> Model:
    path = models / f"{name}.npz"
    if not path.is_file():
        path = work / f"{name}.npz"
        cmd = [sys.executable, "-m", "controller.cli", "train", kind, "--out", str(path)]
        subprocess.run(cmd, check=True, capture_output=True, cwd=REPO)
    return load_model(path)


def _connect(addr: str, name: str, index: P4InfoIndex, config: bytes) -> SwitchConnection:
    conn = SwitchConnection(addr, name=name, index=index, timeout=60)
    conn.connect(timeout=30)
    conn.set_pipeline(index, config)
    return conn


def measure(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Start the switches, install, and return the figures."""
    compiled = toolchain.compile_program(REPO / "p4src" / "din.p4", work)
    index = P4InfoIndex.load(compiled.p4info)
    config = compiled.json.read_bytes()
    mlp = _model(args.models, "digits-mlp", "mlp", work)
    forest = _model(args.models, "flows-forest", "forest", work)
    entries = install.model_entries(mlp, 1)
    figures: dict[str, Any] = {"switch": toolchain.switch().name, "mlp_entries": len(entries)}
    procs: list[subprocess.Popen[bytes]] = []
    try:
        addrs = [_start(work, procs) for _ in range(3)]
        with _connect(addrs[0], "s1", index, config) as conn:
            start = time.perf_counter()
            install.install(conn, entries, batch_size=1)
            single = time.perf_counter() - start
            figures["entries_per_s_1_per_request"] = round(len(entries) / single)
            print(f"  1 update per request: {len(entries)} entries in {single:.2f} s", flush=True)
            # Empty the switch again (not timed), then the batched install.
            current = list(conn.read_entities([pe.TableEntry(t.name) for t in index.tables]))
            conn.write(pe.deletes(current), batch_size=args.batch)
            start = time.perf_counter()
            install.install(conn, entries, batch_size=args.batch)
            batched = time.perf_counter() - start
            figures[f"entries_per_s_{args.batch}_per_request"] = round(len(entries) / batched)
            print(
                f"  {args.batch} updates per request: {len(entries)} entries in {batched:.2f} s",
                flush=True,
            )
        # Fresh switches for the default models: restart by PID.
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=10)
        procs.clear()
        addrs = [_start(work, procs) for _ in range(3)]
        defaults = [*entries, *install.model_entries(forest, 1)]
        figures["default_models_entries_per_switch"] = len(defaults)
        start = time.perf_counter()
        conns = [
            SwitchConnection(a, name=f"s{i + 1}", index=index, timeout=60)
            for i, a in enumerate(addrs)
        ]
        with Fabric(conns) as fabric:
            fabric.connect_all(timeout=30)
            fabric.run(lambda c: c.set_pipeline(index, config), label="set pipeline")
            pipeline = time.perf_counter() - start
            result = install.install(fabric, defaults, batch_size=args.batch)
        total = time.perf_counter() - start
        figures["default_models_3_switches_s"] = round(result.seconds, 2)
        figures["default_models_3_switches_with_pipeline_s"] = round(total, 2)
        figures["default_models_3_switches_entries_per_s"] = round(result.rate)
        print(
            f"  default models on 3 switches: {result.total} entries in {result.seconds:.2f} s "
            f"(pipeline push {pipeline:.2f} s before)",
            flush=True,
        )
    finally:
        for proc in procs:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return figures


def main() -> int:
    """Measure, print and save the figures."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--models",
        type=Path,
        default=REPO / "build" / "models",
        help="folder of digits-mlp.npz and flows-forest.npz (trained if missing)",
    )
    parser.add_argument("--batch", type=int, default=1000, help="updates per request")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="din-bench-install-") as tmp:
        figures = measure(args, Path(tmp))
    for key, value in figures.items():
        print(f"{key:44} {value}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
