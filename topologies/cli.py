"""The Mininet CLI of ``make run``, with the DIN commands.

``DinCLI`` is Mininet's ``CLI`` with these commands added (each documented
in ``help <command>``):

- ``din_send <host> <workload> [--duration S] [--seed N] [--to ADDR]``: one
  flow of a workload class (``traffic.workloads``) from a host, then what the
  edge switch classified it as, checked against the model on the switch's
  features;
- ``din_request <host> [--to NODE|ADDR] [--model-id N] [--count N] [--rate R]
  [--tenant T] [--sensitivity S]``: a stream of DIN requests with the held-out
  digits, answers checked and grouped by where each layer ran;
- ``din_status``: every switch's counters (per class, per instance, events,
  drops), node advertisements and digests, and the steering service's view
  (nodes, weights and backups, recent decisions);
- ``din_map``: what runs where;
- ``din_kill <node>``: kill an inference node (by PID, as a crash) to watch
  the data plane fail over.

The one place besides the launcher that prints: it is the interactive entry
point, and prints through Mininet's ``output`` like the CLI it extends. May
import mininet, controller, topologies and the standard library.
"""

from __future__ import annotations

import argparse
import inspect
import logging
import os
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mininet.cli import CLI
from mininet.log import output

from controller.p4rt.errors import P4RTError
from topologies import flows
from topologies.deployment import MODEL_ID, DeploymentError
from topologies.testbed import RequestSpec, Testbed, TestbedError
from traffic.workloads import WORKLOADS

log = logging.getLogger(__name__)


class _UsageError(Exception):
    """A DIN command line that its parser rejected (the message is the usage)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:
        raise _UsageError(f"{self.format_usage().strip()}\nerror: {message}")

    def exit(self, status: int = 0, message: str | None = None) -> Any:
        raise _UsageError(message or self.format_help())


def _send_parser() -> _Parser:
    p = _Parser(prog="din_send", add_help=False)
    p.add_argument("host")
    p.add_argument("workload", choices=sorted(WORKLOADS))
    p.add_argument("--duration", type=float, default=3.0, help="seconds (default 3)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--to", help="destination address (default: the flow sink)")
    return p


def _request_parser() -> _Parser:
    p = _Parser(prog="din_request", add_help=False)
    p.add_argument("host")
    p.add_argument("--to", help="node host or address (default: the service address)")
    p.add_argument("--model-id", type=int, default=MODEL_ID)
    p.add_argument("--count", type=int, default=100)
    p.add_argument("--rate", type=float, default=200.0, help="requests/s (default 200)")
    p.add_argument("--tenant", type=int, default=0)
    p.add_argument("--sensitivity", type=int, default=0)
    return p


class DinCLI(CLI):  # type: ignore[misc]
    """Mininet's CLI with the DIN testbed's commands."""

    helpStr = CLI.helpStr + (  # noqa: N815 (Mininet's name)
        "\nDIN commands (help <command> for each):\n"
        "  din_send h1 llm_chat         one flow of a workload class, and its class\n"
        "  din_request h1 --count 200   DIN requests to the service, checked\n"
        "  din_request h1 --model-id 2 --to c1   the whole MLP on one node\n"
        "  din_status                   switch counters, nodes, steering\n"
        "  din_map                      what runs where\n"
        "  din_kill e1                  kill an inference node (failover)\n"
    )

    def __init__(self, testbed: Testbed, **kwargs: Any) -> None:
        """Start the CLI on the testbed's Mininet network (returns when the user leaves)."""
        self.testbed = testbed
        self._work = testbed.logs / "cli"
        self._work.mkdir(parents=True, exist_ok=True)
        self._runs = 0
        super().__init__(testbed.net.net, **kwargs)

    def do_help(self, line: str) -> None:
        """Describe the CLI's commands; ``help <command>`` for one of them."""
        doc = getattr(getattr(self, f"do_{line.strip()}", None), "__doc__", None)
        if line.strip().startswith("din_") and doc:
            output(inspect.cleandoc(doc) + "\n")
            return
        super().do_help(line)

    def waitForNode(self, node: Any) -> None:  # noqa: N802 (Mininet's name)
        """Wait for a host command; from a terminal, keys typed meanwhile go to it.

        Mininet forwards everything on stdin to a running host command. With
        commands piped in (``make run < commands.txt``) that would feed the
        following commands to the first one; they are commands, so here they wait.
        """
        if self.isatty():
            super().waitForNode(node)
            return
        while node.waiting:
            output(node.monitor())

    def _guard(self, line: str, command: Callable[[str], None]) -> None:
        try:
            command(line)
        except _UsageError as exc:
            output(f"{exc}\n")
        except (TestbedError, DeploymentError, P4RTError, OSError) as exc:
            output(f"error: {exc}\n")

    def _next_file(self, stem: str) -> Path:
        self._runs += 1
        return self._work / f"{os.getpid()}-{self._runs:03d}-{stem}"

    def do_din_send(self, line: str) -> None:
        """Send one flow of a workload class from a host; show the edge switch's class.

        Usage: din_send <host> <workload> [--duration S] [--seed N] [--to ADDR]
        Workloads: llm_chat, video_upload, iot_sensor, industrial_control, web, bulk
        (traffic/workloads.py). The flow goes to the flow sink (an unused address
        of the edge node's subnet, dropped after classification) unless --to names
        an address. Shows the switch's flow-class digests and its class of the
        flow's last packet, and checks its class of one more probe packet against
        the quantized forest on the features the switch held.
        """
        self._guard(line, self._send)

    def _send(self, line: str) -> None:
        args = _send_parser().parse_args(shlex.split(line))
        tb = self.testbed
        (spec,) = flows.plan_flows(
            tb.deployment,
            [args.workload],
            duration=args.duration,
            seed=args.seed,
            hosts=[args.host],
            sink=args.to,
            avoid=[r.key for r in tb.observer.flow_reports()],
        )
        output(f"sending {args.workload} from {args.host}: {spec.key}, {args.duration:g} s\n")
        flows.send_flows(tb, [spec], self._next_file("flows"))
        (res,) = flows.classify_flows(tb, [spec], self._next_file("probe"))
        forest = tb.deployment.models.forest if tb.deployment.models else None
        assert forest is not None  # classify_flows checked it
        changes = ", ".join(
            f"{flows.class_name(forest, r.flow_class)} at packet {r.pkts} (confidence "
            f"{r.confidence})"
            for r in res.digests
        )
        truth = flows.class_name(forest, flows.true_class(forest, args.workload))
        output(
            f"{res.switch} saw {res.packets_seen}/{res.frames} packets; digests: "
            f"{changes or 'none'}\n"
            f"class of the last packet: {flows.class_name(forest, res.final_class)} "
            f"(workload class {truth})\n"
            f"probe packet: switch {flows.class_name(forest, res.probe_switch)}, model "
            f"{flows.class_name(forest, res.probe_model)}, entries "
            f"{flows.class_name(forest, res.probe_simulator)}: "
            f"{'agree' if res.agrees else 'DISAGREE'}\n"
        )

    def do_din_request(self, line: str) -> None:
        """Send DIN requests (held-out digits) from a host; check the answers.

        Usage: din_request <host> [--to NODE|ADDR] [--model-id N] [--count N]
                           [--rate R] [--tenant T] [--sensitivity S]
        Model 1 (default) goes to the service address and is steered by the edge
        switch; its first layers run in the switches. Model 2 (--model-id 2 --to c1)
        is the whole MLP on the node addressed: the cloud-only baseline. Every answer
        is checked against the deployment's entries and models; the answers are
        grouped by where each layer ran, with latency p50/p99. Tenant 2 with
        sensitivity 1 may only use on-premises nodes.
        """
        self._guard(line, self._request)

    def _request(self, line: str) -> None:
        args = _request_parser().parse_args(shlex.split(line))
        spec = RequestSpec(
            args.host, args.model_id, args.to, args.count, args.rate, args.tenant, args.sensitivity
        )
        self.testbed.host(args.host)
        run = self.testbed.requests(spec, self._next_file("answers.jsonl"))
        output(run.summary() + "\n")

    def do_din_status(self, line: str) -> None:
        """Show every switch's DIN counters, node advertisements, digests and steering.

        Usage: din_status
        Per switch: packets per flow class, requests steered per instance, DIN
        events (requests, layers computed, early exits, failovers, policy drops...)
        and drops by reason; then when each switch last heard each instance's
        advertisement, the flow-class digests and packet-ins received, and
        whether each inference node process still runs. With the steering
        service: each node as the controller knows it (alive or expired, its
        last advertised load), the weights and backups it programmed, and its
        recent decisions (all of them in logs/controller.log).
        """

        def status(text: str) -> None:
            _Parser(prog="din_status", add_help=False).parse_args(shlex.split(text))
            output(self.testbed.status() + "\n")

        self._guard(line, status)

    def do_din_map(self, line: str) -> None:
        """Show what runs where: models and layers per switch, nodes, steering, policy.

        Usage: din_map
        """

        def show(text: str) -> None:
            _Parser(prog="din_map", add_help=False).parse_args(shlex.split(text))
            output("\n".join(self.testbed.describe()) + "\n")

        self._guard(line, show)

    def do_din_kill(self, line: str) -> None:
        """Kill an inference node at once (SIGKILL, by PID), as a crash would.

        Usage: din_kill <node host>
        The edge switch stops hearing its advertisements and, after the stale
        threshold, steers its requests to its backup instance (answers carry the
        failover mark); the steering service then expires the node and rewrites
        the edge switch's group without it (din_status shows both). The node
        stays down until the testbed stops.
        """

        def kill(text: str) -> None:
            words = text.split()
            if len(words) != 1:
                raise _UsageError("usage: din_kill <node host>")
            pid = self.testbed.kill_node(words[0])
            output(f"killed the inference node on {words[0]} (pid {pid})\n")

        self._guard(line, kill)
