"""Bring up the DIN testbed: network, pipelines, default deployment, nodes, then a scenario.

Called by ``topologies.launch`` (``make run``) once every piece is present:

1. the topology (``topologies/<name>.json``) and its default deployment
   (``topologies.deployment``: routes, models, classifier, steering plan);
2. the Mininet network with one P4Runtime switch per topology switch
   (``topologies.network``), each switch's log in ``<logs>/<switch>.log`` and,
   with ``--pcap``, its ports' captures in ``<pcaps>/``;
3. the controller: one P4Runtime connection per switch (a ``Fabric``), the
   pipeline (``<build>/din.json`` + P4Info) pushed to all of them at once,
   then the deployment's entries through ``controller.install`` and the
   flow-class and advertisement digests switched on;
4. inference nodes on the hosts the topology marks ``kind: inference-node``,
   when model files are present in ``<build>/models``;
5. steering, once the nodes advertise (the deployment's ``steering_plan``
   written to ``<logs>/steering-plan.json`` first, as ``dinctl steer --plan``
   reads it): by default the controller's steering service
   (``ControllerSteering``: ``controller.steering.service`` on that plan,
   its decisions to ``<logs>/controller.log``, and ``controller.telemetry``'s
   ``/metrics`` and ``/status`` on a port of the host); with
   ``steering="static"`` the deployment's static plan, written once
   (``StaticSteering``: the data plane alone, for a steering controller of
   one's own such as ``dinctl steer``, or failover figures without one);
6. a map of what runs where, then the scenario: the Mininet CLI with the DIN
   commands (``interactive``, ``topologies.cli``), ``check`` (pings and
   requests, checked) or ``demo`` (``topologies.demo``), with a watchdog
   (``topologies.watch``) that says at once when a switch process or an
   inference node ends on its own (the launcher then exits with 1).

Everything started here is stopped in ``finally``, by PID; the launcher's own
PID is recorded in ``<logs>/launcher.pids`` for ``make stop``. May import
mininet (through ``topologies.network``), controller, p4lite.toolchain,
topologies and the standard library.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from controller import install
from controller.entries import runtime_json
from controller.p4rt import entities as pe
from controller.p4rt.client import SwitchConnection
from controller.p4rt.multi import Fabric
from controller.p4rt.p4info import P4InfoIndex
from controller.steering.service import SteeringService
from controller.telemetry.collector import TelemetryCollector
from controller.telemetry.exporter import MetricsExporter
from p4lite import toolchain
from topologies import deployment, model, network
from topologies.deployment import (
    CLOUD_ONLY_MODEL_ID,
    MODEL_ID,
    STEERING_SERVICE,
    STEERING_STATIC,
    Deployment,
    ModelSet,
)
from topologies.observe import ADVERT_DIGEST, FLOW_DIGEST, Observer
from topologies.testbed import (
    CONTROLLER_LOG,
    STEERING_PLAN,
    RequestSpec,
    Testbed,
    start_nodes,
    stop_nodes,
)
from topologies.watch import Watchdog

log = logging.getLogger(__name__)

TOPOLOGY_DIR = Path(__file__).resolve().parent
PID_FILE = "launcher.pids"
# The testbed's controller arbitrates above dinctl's default election id (1): a
# dinctl command that writes, started beside the testbed, cannot take a switch over.
ELECTION_ID = 10
PROGRAMMED_TIMEOUT_S = 30.0  # from the steering service's start to every node in the groups


def load_topology(name: str) -> model.Topology:
    """The named topology from ``topologies/<name>.json``."""
    return model.load(TOPOLOGY_DIR / f"{name}.json")


def connect(net: network.Network, compiled: toolchain.Compiled) -> Fabric:
    """Connect to every switch and push the pipeline to all of them at once."""
    index = P4InfoIndex.load(compiled.p4info)
    device_config = compiled.json.read_bytes()
    fabric = Fabric(
        SwitchConnection(
            info.grpc_addr,
            name=name,
            device_id=info.device_id,
            election_id=ELECTION_ID,
            index=index,
        )
        for name, info in net.switches.items()
    )
    try:
        fabric.connect_all(timeout=15)
        fabric.run(lambda c: c.set_pipeline(index, device_config), label="set pipeline")
    except BaseException:
        fabric.close()
        raise
    return fabric


def install_defaults(fabric: Fabric, dep: Deployment) -> install.InstallResult:
    """Routes, models, classifier and their digests: everything but the steering plan."""
    result = install.install(fabric, {s: list(e) for s, e in dep.entries.items()})
    digests: dict[str, list[pe.Entity]] = {s: [pe.DigestEntry(ADVERT_DIGEST)] for s in fabric.names}
    for s in dep.classifier_switches:
        digests[s].append(pe.DigestEntry(FLOW_DIGEST))
    fabric.run(lambda c: c.insert(digests[c.name]), label="configure digests")
    return result


def write_runtime_files(dep: Deployment, compiled: toolchain.Compiled, folder: Path) -> list[Path]:
    """Each switch's installed table entries as the tutorials' ``sN-runtime.json`` in ``folder``.

    The file name is the topology's ``runtime_json`` for the switch (else
    ``<switch>-runtime.json``); the steering plan's action-profile members and
    groups have no such form and are left out.
    """
    written = []
    for name, entries in dep.entries.items():
        switch = dep.topology.switches[name]
        path = folder / (switch.runtime_json or f"{name}-runtime.json")
        runtime_json.write(path, entries, p4info=str(compiled.p4info), bmv2_json=str(compiled.json))
        written.append(path)
    return written


class StaticSteering:
    """The deployment's static plan, written once (``steering="static"``).

    It has the steering service's life cycle (``start``/``stop``): the plan's
    entries (instances with backups and staleness, services, tenant policies)
    go in at start and stay on the switches. Nothing watches the nodes: the
    data plane's failover is all there is.
    """

    def __init__(self, fabric: Fabric, dep: Deployment) -> None:
        """Keep what ``start`` writes."""
        self.fabric = fabric
        self.entries = dep.steering_entries

    def start(self) -> None:
        """Write the plan on every switch."""
        if self.entries:
            install.install(self.fabric, self.entries)

    def stop(self) -> None:
        """Nothing to undo: the entries go with the switches."""


class ControllerSteering:
    """The controller's steering service over the testbed's fabric, with its telemetry.

    ``start`` sends the logs of ``controller.steering`` and
    ``controller.telemetry`` to ``<logs>/controller.log`` (and no longer to
    the console, where the CLI is), starts the
    :class:`~controller.steering.service.SteeringService` and then the
    :class:`~controller.telemetry.exporter.MetricsExporter` (``/metrics``,
    ``/status``) on ``metrics_addr:metrics_port`` (port 0: any free port).
    ``stop`` undoes it in the reverse order; the steering entries stay on
    the switches.
    """

    LOGGERS = ("controller.steering", "controller.telemetry")

    def __init__(
        self,
        fabric: Fabric,
        dep: Deployment,
        logs: Path,
        *,
        metrics_addr: str = "127.0.0.1",
        metrics_port: int = 0,
    ) -> None:
        """Prepare the service and the exporter (nothing starts before :meth:`start`)."""
        self.deployment = dep
        self.log_file = logs / CONTROLLER_LOG
        self.service = SteeringService(fabric, deployment.steering_config(dep))
        self.exporter = MetricsExporter(
            TelemetryCollector(fabric, steering=self.service), metrics_addr, metrics_port
        )
        self._handler: logging.Handler | None = None
        self._saved: list[tuple[logging.Logger, int, bool]] = []

    @property
    def metrics_url(self) -> str:
        """Where ``/metrics`` and ``/status`` are served, as reachable from this machine."""
        host = self.exporter.host
        if host in ("0.0.0.0", ""):  # every address: this machine reaches it on loopback
            host = "127.0.0.1"
        return f"http://{host}:{self.exporter.port}"

    def start(self) -> None:
        """Decision log, service, then the metrics endpoint."""
        self._log_to_file()
        try:
            self.service.start()
            try:
                self.exporter.start()
            except OSError as exc:
                where = f"{self.exporter.host}:{self.exporter.requested_port}"
                raise network.NetworkError(
                    f"metrics: cannot serve on {where}: {exc.strerror or exc} "
                    "(METRICS_PORT= chooses another port)"
                ) from exc
        except BaseException:
            self.service.stop()
            self._restore_logging()
            raise

    def wait_programmed(self, timeout: float = PROGRAMMED_TIMEOUT_S) -> None:
        """Return once every steering switch's group of model 1 holds every node."""
        want = {n.instance_id for n in self.deployment.nodes}
        names = self.service.fabric.names
        switches = [sw for svc in self.service.config.services for sw in svc.switches or names]
        deadline = time.monotonic() + timeout
        while not all(set(self.service.weights(sw).get(MODEL_ID, {})) >= want for sw in switches):
            if time.monotonic() > deadline:
                heard = sorted(v.instance_id for v in self.service.registry.instances())
                raise network.NetworkError(
                    f"steering: the controller had not programmed every node on "
                    f"{', '.join(switches)} after {timeout:g} s (instances heard: {heard}); "
                    f"see {self.log_file}"
                )
            time.sleep(0.05)  # the service's loop programs every STEERING_INTERVAL_MS

    def stop(self) -> None:
        """Stop the endpoint, then the service; the log goes back to the console."""
        try:
            try:
                self.exporter.stop()
            finally:
                self.service.stop()
        finally:
            self._restore_logging()

    def _log_to_file(self) -> None:
        handler = logging.FileHandler(self.log_file, mode="w", encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        # The package loggers: their modules' loggers pass records up to them.
        for logger in map(logging.getLogger, self.LOGGERS):
            self._saved.append((logger, logger.level, logger.propagate))
            logger.addHandler(handler)
            logger.setLevel(logging.INFO)
            logger.propagate = False
        self._handler = handler

    def _restore_logging(self) -> None:
        handler, self._handler = self._handler, None
        for logger, level, propagate in self._saved:
            if handler is not None:
                logger.removeHandler(handler)
            logger.setLevel(level)
            logger.propagate = propagate
        self._saved.clear()
        if handler is not None:
            handler.close()


def check(testbed: Testbed) -> int:
    """The ``check`` scenario: pingall, then requests from a client to the service and each node.

    Model 1 requests go to the service address and must get the answers the
    deployment's entries and models give; model 2 requests go to each node
    directly and must get the whole model's integer answer.
    """
    loss = testbed.net.net.pingAll(timeout="2")
    print(f"pingall: {loss:.0f}% dropped")
    failed = loss != 0
    topo = testbed.deployment.topology
    client = next((h for h in topo.hosts.values() if h.extra.get("kind") == "client"), None)
    if client is None or testbed.deployment.models is None:
        return 1 if failed else 0
    specs = [RequestSpec(client.name, MODEL_ID, count=100)]
    specs += [
        RequestSpec(client.name, CLOUD_ONLY_MODEL_ID, to=n.host, count=50)
        for n in testbed.deployment.nodes
    ]
    for i, spec in enumerate(specs):
        run = testbed.requests(spec, testbed.logs / f"check-{i}-answers.jsonl")
        served = [o for o in run.outcomes if o.served]
        agree = sum(o.agrees for o in served)
        answered = sum(o.answered for o in run.outcomes)
        failed |= answered != spec.count or agree != len(served)
        where = spec.to or run.target
        print(
            f"requests {spec.client} -> {where} (model {spec.model_id}): "
            f"{answered}/{spec.count} answered, {agree}/{len(served)} as the reference"
        )
        for path, group in run.by_path().items():
            print(f"  {len(group):4d}  {path}")
    return 1 if failed else 0


def print_map(testbed: Testbed, compiled: toolchain.Compiled) -> None:
    """What runs where, in a few lines."""
    net = testbed.net
    sw = toolchain.switch()
    name = net.topology.name.removesuffix(".json")
    print(
        f"DIN testbed '{name}': {len(net.switches)} switches ({sw.name}), "
        f"{len(net.topology.hosts)} hosts; pipeline {compiled.json}"
    )
    print(f"link delays: {net.wan_delay.value}")
    for name, info in net.switches.items():
        role = net.topology.switches[name].extra.get("role", "-")
        proc = getattr(net.net.get(name), "process", None)
        pid = f"pid {proc.pid}  " if proc is not None else ""
        print(
            f"  {name:<4} {role:<14} gRPC {info.grpc_addr}  device {info.device_id}  "
            f"{pid}log {info.log_file}"
        )
    for host in net.topology.hosts.values():
        kind = host.extra.get("kind", "host")
        print(f"  {host.name:<6} {kind:<15} {host.ip:<15} {host.mac}")
    for line in testbed.describe():
        print(f"  {line}")


@contextmanager
def started(
    topo: model.Topology,
    compiled: toolchain.Compiled,
    *,
    build: Path,
    logs: Path,
    pcaps: Path | None = None,
    grpc_base: int = 50051,
    steering: str = STEERING_SERVICE,
    metrics_addr: str = "127.0.0.1",
    metrics_port: int = 0,
) -> Iterator[Testbed]:
    """The testbed running: network, pipelines, deployment, nodes, steering; all stopped after.

    Model files are read from ``<build>/models`` (without them: routes only).
    ``steering``: ``"service"`` (the controller's steering service, its
    metrics on ``metrics_addr:metrics_port``) or ``"static"`` (the static
    plan); either needs inference nodes, and without them nothing is steered.
    """
    if steering not in deployment.STEERING_MODES:
        raise deployment.DeploymentError(
            f"steering {steering!r}: expected one of {', '.join(deployment.STEERING_MODES)}"
        )
    models = None
    if (build / "models" / deployment.MODEL_FILES["base"]).is_file():
        models = ModelSet.load(build / "models")
    else:
        log.warning("no models in %s (make models): routes only, no inference nodes", build)
    dep = deployment.plan(topo, models)
    logs.mkdir(parents=True, exist_ok=True)
    net = network.build(
        topo, json_path=compiled.json, log_dir=logs, pcap_dir=pcaps, grpc_base=grpc_base
    )
    with network.running(net):
        start = time.monotonic()
        fabric = connect(net, compiled)
        nodes: dict[str, Any] = {}
        try:
            observer = Observer(fabric)
            result = install_defaults(fabric, dep)
            write_runtime_files(dep, compiled, logs)
            nodes = start_nodes(net, dep, logs)
            if dep.nodes:
                # The controller's plan, for this testbed's service or a dinctl steer.
                plan = json.dumps(deployment.steering_plan(dep), indent=2)
                (logs / STEERING_PLAN).write_text(plan + "\n", encoding="utf-8")
            # Steering starts once the nodes advertise, and stops before them.
            control: ControllerSteering | StaticSteering | None = None
            if steering == STEERING_STATIC:
                control = StaticSteering(fabric, dep)
            elif dep.nodes:
                control = ControllerSteering(
                    fabric, dep, logs, metrics_addr=metrics_addr, metrics_port=metrics_port
                )
            if control is not None:
                control.start()
            try:
                testbed = Testbed(net, dep, fabric, observer, nodes, build, logs)
                testbed.steering_mode = steering if control is not None else ""
                if isinstance(control, ControllerSteering):
                    control.wait_programmed()
                    testbed.steering = control.service
                    testbed.metrics_url = control.metrics_url
                testbed.setup_seconds = time.monotonic() - start
                testbed.entries_installed = result.total
                yield testbed
            finally:
                if control is not None:
                    control.stop()
        finally:
            stop_nodes(nodes)
            fabric.close()


def run(args: argparse.Namespace) -> int:
    """Start the testbed described by the launcher's arguments; return an exit status."""
    topo = load_topology(args.topo)
    compiled = toolchain.Compiled(
        Path("p4src/din.p4"), args.build / "din.json", args.build / "din.p4info.txtpb"
    )
    args.logs.mkdir(parents=True, exist_ok=True)
    (args.logs / PID_FILE).write_text(f"{os.getpid()}\n", encoding="utf-8")
    pcaps = args.pcaps if getattr(args, "pcap", False) else None
    try:
        with started(
            topo,
            compiled,
            build=args.build,
            logs=args.logs,
            pcaps=pcaps,
            steering=args.steering,
            metrics_addr=args.metrics_addr,
            metrics_port=args.metrics_port,
        ) as testbed:
            print_map(testbed, compiled)
            print(
                f"pipelines and routes installed in {testbed.setup_seconds:.1f} s "
                f"({testbed.entries_installed} entries)"
            )
            # A switch or node that dies while the scenario runs is said at once.
            with Watchdog(testbed.watched) as watchdog:
                status = scenario(testbed, args.scenario)
            if watchdog.reported:
                print(
                    f"{len(watchdog.reported)} process(es) of the testbed ended on their own "
                    "(above); everything else is stopped now"
                )
                return status or 1
            return status
    finally:
        (args.logs / PID_FILE).unlink(missing_ok=True)


def scenario(testbed: Testbed, name: str) -> int:
    """Run the named scenario on the started testbed; return an exit status."""
    if name == "check":
        return check(testbed)
    if name == "demo":
        from topologies import demo  # noqa: PLC0415  (matplotlib only when asked)

        return demo.run(testbed)
    from topologies.cli import DinCLI  # noqa: PLC0415  (interactive scenario only)

    DinCLI(testbed, stdin=sys.stdin)
    return 0
