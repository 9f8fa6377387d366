"""The testbed's default deployment: what every switch and inference node runs.

``plan(topology, models)`` decides it from the topology file alone (switch
``role``, host ``kind`` and ``premises``), as pure data:

- routes: a /32 route to every host on every switch (shortest path), and on
  every switch but its own a /24 route to each subnet whose hosts all hang off
  one switch, so that an advertisement addressed to a subnet's gateway crosses
  every switch on its way there (and is recorded by each); there, a /32 route
  that drops it: the switch has recorded it and digested it to the
  controller, so a packet-in of every advertisement would be work for nothing;
- model 1, the partitioned digits MLP: layer 0 on ``edge`` switches, with the
  early-exit head as layer ``HEAD_LAYER`` and its per-class thresholds (a
  confident request is answered by the edge switch), layer 1 on ``in-network``
  switches, the remaining layers on the inference node steering picks;
- model 2: the same MLP computed whole by the node a request is addressed to
  (no switch layers, not steered): the cloud-only baseline;
- the flow forest in classifier slot 1 on ``edge`` switches from each flow's
  first packet, with a DSCP per class (``CLASS_DSCP``);
- steering: inference nodes are instances 1..N in topology order; model 1 is
  one service over all of them; tenant ``TENANT_SENSITIVE``'s sensitive
  requests may use on-premises instances only (raw inputs and activations),
  tenant ``TENANT_NORMAL``'s any. ``steering_plan`` gives it as the steering
  controller's plan (``controller.steering.config``'s JSON, for
  ``SteeringService`` and ``dinctl steer --plan``): steered on the switches the
  clients hang off, weights from the nodes' advertised load, each instance's
  backup on premises first, the data plane failing over after
  ``DATAPLANE_STALE_MS`` without an advertisement and the controller expiring
  an instance after ``CONTROLLER_STALE_MS``. ``Deployment.plan`` is the same as
  a static plan (``STEERING=static``: written once, equal weights,
  on-premises nodes backed up by the first cloud node and cloud ones by the
  first on-premises node).

``Reference`` replays a request through the same entries with
``controller.entries.simulator`` and finishes it with the models layer's
integer reference, so a caller can check an answer and say where each layer
ran. Pure (no gRPC, no Mininet): imports controller.models,
controller.entries, controller.steering's pure modules (routes, config,
policy), topologies.model, numpy and the standard library.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from controller.entries import Entity, Lpm, TableEntry
from controller.entries.classifier import forest_entries, phase_entries, qos_entries
from controller.entries.mlp import (
    MODE_EXIT_HEAD,
    MODE_FORWARD,
    Role,
    active_version_entry,
    head_entries,
    role_entries,
)
from controller.entries.mlp import model_entries as layer_entries
from controller.entries.simulator import STAGE_DONE, TableSim, run_request
from controller.entries.steering import (
    MSG_REQUEST,
    Instance,
    Plan,
    Policy,
    Route,
    Service,
    plan_entries,
    route_entries,
)
from controller.models.errors import ModelError
from controller.models.files import load_model
from controller.models.quant import MLPModel, forward_int
from controller.models.trees import ForestModel
from controller.steering.config import SteeringConfig, config_from_dict
from controller.steering.errors import SteeringError
from controller.steering.policy import PREMISES
from controller.steering.routes import HostAttachment, SwitchLink, shortest_routes
from topologies.model import Topology, TopologyError

log = logging.getLogger(__name__)

MODEL_ID = 1  # the partitioned digits MLP: first layers in switches
CLOUD_ONLY_MODEL_ID = 2  # the same MLP, all layers on the node addressed
CLASSIFIER_SLOT = 1
HEAD_LAYER = 128  # layer index of the early-exit head (above the model's own layers)
SERVICE_ADDR = "10.0.0.1"  # where clients address model 1; steering rewrites it
# Failover timing. The data plane fails over once an instance has been silent for
# DATAPLANE_STALE_MS: four advertisement intervals, so that a p4lite switch that
# stalls for a few tens of ms on a loaded host (a full garbage collection, the CPU
# taken by others) does not take a late advertisement for a dead node. The
# controller expires an instance after CONTROLLER_STALE_MS (checked every
# STEERING_INTERVAL_MS, advertisements batched over DIGEST_BATCH_MS): above the
# delays an edge switch flooded by a bulk flow adds to the advertisements it
# forwards, and under the 1 s goal for the controller's failover.
ADVERTISE_INTERVAL_MS = 20
DATAPLANE_STALE_MS = 80
STALE_AFTER_US = DATAPLANE_STALE_MS * 1000
CONTROLLER_STALE_MS = 700
STEERING_INTERVAL_MS = 50
DIGEST_BATCH_MS = 50  # the switches batch advertisement digests to the controller this long
TENANT_NORMAL = 1
TENANT_SENSITIVE = 2
SENSITIVE = 1  # the sensitivity level of tenant 2's restricted data
ON_PREMISES = "on-premises"
STEERING_SERVICE = "service"  # the controller's steering service (the default)
STEERING_STATIC = "static"  # the static plan, written once
STEERING_MODES = (STEERING_SERVICE, STEERING_STATIC)
# Switch role -> MLP layers it computes (model 1); the first layer of an edge
# switch also evaluates the exit head.
LAYERS_BY_ROLE: Mapping[str, tuple[int, ...]] = {"edge": (0,), "in-network": (1,)}
CLASSIFIER_ROLES = ("edge",)
# DSCP per flow class name: control loops expedited, interactive inference next.
CLASS_DSCP: Mapping[str, int] = {
    "industrial_control": 46,  # EF
    "llm_chat": 34,  # AF41
    "video_upload": 26,  # AF31
    "iot_sensor": 18,  # AF21
    "background": 0,  # best effort
}
MODEL_FILES = {
    "base": "digits-mlp.npz",
    "head": "digits-head.npz",
    "large": "digits-large.npz",
    "forest": "flows-forest.npz",
}


class DeploymentError(ValueError):
    """The default deployment cannot be made for this topology or these model files."""


@dataclass(frozen=True, slots=True)
class ModelSet:
    """The default model files (``make models``), loaded; absent optional ones are None."""

    folder: Path
    base: MLPModel
    head: MLPModel | None = None
    large: MLPModel | None = None
    forest: ForestModel | None = None

    def path(self, which: str) -> Path:
        """The file of ``base``, ``head``, ``large`` or ``forest``."""
        return self.folder / MODEL_FILES[which]

    @classmethod
    def load(cls, folder: Path) -> ModelSet:
        """Load the model files of ``folder``; the base MLP is required."""
        base = _load(folder, "base", MLPModel)
        if base is None:
            raise DeploymentError(
                f"{folder / MODEL_FILES['base']}: missing: expected the base MLP (make models)"
            )
        head = _load(folder, "head", MLPModel)
        if head is not None and head.shared_with != base.name:
            raise DeploymentError(
                f"{folder / MODEL_FILES['head']}: head of {head.shared_with!r}: "
                f"expected a head of {base.name!r}"
            )
        return cls(
            folder,
            base,
            head,
            _load(folder, "large", MLPModel),
            _load(folder, "forest", ForestModel),
        )


_M = TypeVar("_M", MLPModel, ForestModel)


def _load(folder: Path, which: str, kind: type[_M]) -> _M | None:
    path = folder / MODEL_FILES[which]
    if not path.is_file():
        return None
    try:
        model = load_model(path)
    except ModelError as exc:
        raise DeploymentError(str(exc)) from exc
    if not isinstance(model, kind):
        raise DeploymentError(
            f"{path}: kind {type(model).__name__!r}: expected {kind.__name__} ({which})"
        )
    return model


@dataclass(frozen=True, slots=True)
class Node:
    """An inference node: its host, instance id, address, premises and backup instance."""

    host: str
    instance_id: int
    address: str
    premises: str
    backup_id: int = 0


@dataclass(frozen=True, slots=True)
class Placement:
    """MLP layers of model 1 computed on one switch (with the exit head on the first)."""

    switch: str
    layers: tuple[int, ...]
    head: bool = False


@dataclass(frozen=True, slots=True)
class Deployment:
    """Everything the testbed installs and starts, per switch and per node."""

    topology: Topology
    models: ModelSet | None
    nodes: tuple[Node, ...]
    placements: tuple[Placement, ...]
    classifier_switches: tuple[str, ...]
    routes: Mapping[str, tuple[Route, ...]]
    plan: Plan
    entries: Mapping[str, tuple[Entity, ...]] = field(default_factory=dict)
    advertise_to: str | None = None

    @property
    def steering_entries(self) -> list[Entity]:
        """The static steering plan's entries (the same on every switch)."""
        return plan_entries(self.plan) if self.plan.instances else []

    def node(self, name_or_id: str | int) -> Node:
        """A node by host name or instance id."""
        for node in self.nodes:
            if name_or_id in (node.host, node.instance_id):
                return node
        known = ", ".join(f"{n.host} ({n.instance_id})" for n in self.nodes) or "none"
        raise DeploymentError(f"inference node {name_or_id!r}: unknown (known: {known})")

    def client_switch(self, host: str) -> str:
        """The switch a host hangs off."""
        switch = host_switches(self.topology).get(host)
        if switch is None:
            raise DeploymentError(f"host {host!r}: not linked to a switch")
        return switch

    def switch_path(self, from_switch: str, address: str) -> list[str]:
        """The switches a packet for ``address`` crosses from ``from_switch`` on (by the routes)."""
        peers = _peers(self.topology)
        path, here = [from_switch], from_switch
        while True:
            route = _lookup(self.routes.get(here, ()), address)
            if route is None:
                return path
            nxt = peers.get((here, route.port))
            if nxt is None:
                return path  # delivered to a host port
            if nxt in path:
                raise DeploymentError(f"routes to {address} loop at {nxt!r}: {path}")
            path.append(nxt)
            here = nxt

    def describe(self, steering: str = STEERING_SERVICE) -> list[str]:
        """What runs where, a line per item, for the start-up map.

        ``steering``: its mode (``STEERING_SERVICE``, ``STEERING_STATIC``, or
        ``""`` when nothing is steered).
        """
        lines: list[str] = []
        models = self.models
        if models is not None and (self.placements or self.nodes):
            base = models.base
            width = "-".join(str(n) for n in (base.input_size, *(la.outputs for la in base.layers)))
            lines.append(
                f"model {MODEL_ID} {base.name!r} v{base.version} (mlp {width}), "
                f"clients send to {SERVICE_ADDR}:"
            )
            for p in self.placements:
                head = ""
                if p.head and models.head is not None:
                    head = f" + exit head (layer {HEAD_LAYER}, answers when confident)"
                layers = ", ".join(str(k) for k in p.layers)
                lines.append(f"  {p.switch}: layer {layers}{head}")
            done = {k for p in self.placements for k in p.layers}
            rest = [k for k in range(len(base.layers)) if k not in done]
            lines.append(f"  inference nodes: layer {', '.join(map(str, rest))} (and any skipped)")
            lines.append(
                f"model {CLOUD_ONLY_MODEL_ID}: the same MLP whole on the node addressed "
                "(cloud-only baseline)"
            )
        if models is not None and models.forest is not None and self.classifier_switches:
            f = models.forest
            dscp = ", ".join(f"{c} {CLASS_DSCP.get(c, 0)}" for c in f.classes)
            lines.append(
                f"flow classifier {f.name!r} ({len(f.trees)} trees) on "
                f"{', '.join(self.classifier_switches)}; DSCP: {dscp}"
            )
        if self.nodes:
            if steering == STEERING_STATIC:
                weights = dict(self.plan.services[0].weights) if self.plan.services else {}
                for n in self.nodes:
                    backup = self.node(n.backup_id).host if n.backup_id else "none"
                    lines.append(
                        f"instance {n.instance_id} {n.host} ({n.premises}) {n.address}: "
                        f"weight {weights.get(n.instance_id, 0)}, backup {backup}, "
                        f"stale after {STALE_AFTER_US // 1000} ms"
                    )
                lines.append("steering: the static plan, written once")
            else:
                for n in self.nodes:
                    lines.append(f"instance {n.instance_id} {n.host} ({n.premises}) {n.address}")
            if steering == STEERING_SERVICE:
                lines.append(
                    f"steering: the controller's service on "
                    f"{', '.join(steering_switches(self.topology))}: weights from the nodes' "
                    "advertised load, backups on premises first; data-plane failover after "
                    f"{DATAPLANE_STALE_MS} ms without an advertisement, controller expiry "
                    f"after {CONTROLLER_STALE_MS} ms"
                )
            for pol in self.plan.policies:
                allowed = ", ".join(self.node(i).host for i in pol.allowed)
                lines.append(
                    f"policy: tenant {pol.tenant_id} sensitivity {pol.sensitivity} -> {allowed}"
                )
            if self.advertise_to:
                lines.append(
                    f"nodes advertise every {ADVERTISE_INTERVAL_MS} ms to {self.advertise_to}"
                )
        return lines


def _peers(topo: Topology) -> dict[tuple[str, int], str]:
    out: dict[tuple[str, int], str] = {}
    for link in topo.links:
        a, b = link.a, link.b
        if a.port is not None and b.port is not None:
            out[(a.node, a.port)] = b.node
            out[(b.node, b.port)] = a.node
    return out


def _lookup(routes: Sequence[Route], address: str) -> Route | None:
    addr = ipaddress.IPv4Address(address)
    best: tuple[int, Route] | None = None
    for r in routes:
        net = ipaddress.IPv4Network(r.prefix, strict=False)
        if addr in net and (best is None or net.prefixlen > best[0]):
            best = (net.prefixlen, r)
    return best[1] if best else None


# Routes ----------------------------------------------------------------------


def host_routes(topo: Topology) -> dict[str, list[Route]]:
    """Shortest-path /32 routes per switch to every host of the topology."""
    links: list[SwitchLink] = []
    hosts: list[HostAttachment] = []
    gateways: dict[str, str] = {}
    for link in topo.links:
        a, b = link.a, link.b
        if a.port is not None and b.port is not None:
            links += [
                SwitchLink(a.node, a.port, b.node, b.port),
                SwitchLink(b.node, b.port, a.node, a.port),
            ]
            continue
        host_end, switch_end = (a, b) if a.port is None else (b, a)
        if switch_end.port is None:
            raise TopologyError(f"{topo.name}: host {host_end.node} linked to a host")
        host = topo.hosts[host_end.node]
        hosts.append(
            HostAttachment(host.name, host.address, host.mac, switch_end.node, switch_end.port)
        )
        for command in host.commands:
            words = command.split()
            if words[:3] == ["ip", "neigh", "replace"] and "lladdr" in words:
                gateways[host.name] = words[words.index("lladdr") + 1]
    plan = shortest_routes(sorted(topo.switches), links, hosts, gateways)
    return {
        switch: [Route(f"{r.prefix}/{r.prefix_len}", r.dst_mac, r.src_mac, r.port) for r in rs]
        for switch, rs in plan.items()
    }


def host_switches(topo: Topology) -> dict[str, str]:
    """Host -> the switch it hangs off (hosts linked to no switch left out)."""
    attached: dict[str, str] = {}
    for link in topo.links:
        for end, other in ((link.a, link.b), (link.b, link.a)):
            if end.port is None and other.port is not None:
                attached[end.node] = other.node
    return attached


def subnet_routes(topo: Topology, hosts: Mapping[str, list[Route]]) -> dict[str, list[Route]]:
    """Per switch, a route to each subnet owned by another switch (all its hosts there).

    The route follows the switch's route to the subnet's first host; the owner
    switch gets none, so that a packet for an unused address of the subnet
    (such as its gateway's) reaches the owner and stops there.
    """
    owners: dict[ipaddress.IPv4Network, set[str]] = {}
    first: dict[ipaddress.IPv4Network, str] = {}
    attached = host_switches(topo)
    for host in topo.hosts.values():
        net = ipaddress.IPv4Interface(host.ip).network
        owners.setdefault(net, set()).add(attached[host.name])
        first.setdefault(net, host.address)
    out: dict[str, list[Route]] = {s: [] for s in topo.switches}
    for net, switches in owners.items():
        if len(switches) != 1:
            continue  # a subnet spread over switches has no single way in
        (owner,) = switches
        for switch in topo.switches:
            if switch == owner:
                continue
            to_host = next(r for r in hosts[switch] if r.prefix == f"{first[net]}/32")
            out[switch].append(Route(str(net), to_host.dst_mac, to_host.src_mac, to_host.port))
    return out


# The plan ----------------------------------------------------------------------


def inference_nodes(topo: Topology) -> tuple[Node, ...]:
    """The ``kind: inference-node`` hosts as instances 1..N, with their backups."""
    found = [h for h in topo.hosts.values() if h.extra.get("kind") == "inference-node"]
    if len(found) > 63:
        raise DeploymentError(f"{topo.name}: {len(found)} inference nodes: expected at most 63")
    ids = {h.name: i for i, h in enumerate(found, start=1)}
    on_prem = [h.name for h in found if h.extra.get("premises") == ON_PREMISES]
    cloud = [h.name for h in found if h.extra.get("premises") != ON_PREMISES]
    nodes = []
    for h in found:
        # Failover keeps sensitive work on premises where it can: cloud nodes fall
        # back on premises, on-premises nodes on the cloud (or on each other).
        pool = on_prem if h.name in cloud else cloud or on_prem
        others = [n for n in pool if n != h.name]
        backup = ids[others[0]] if others else 0
        premises = str(h.extra.get("premises", "unknown"))
        nodes.append(Node(h.name, ids[h.name], h.address, premises, backup))
    return tuple(nodes)


def _mlp_entries(models: ModelSet, placement: Placement) -> list[Entity]:
    base = models.base
    ver = base.version
    last = len(base.layers) - 1
    layers = [k for k in placement.layers if k <= last]
    if not layers:
        return []
    out: list[Entity] = list(layer_entries(base, MODEL_ID, ver, layers=layers))
    if len(layers) > 1:
        raise DeploymentError(
            f"{placement.switch}: layers {layers!r}: expected one layer per switch "
            "(each is followed by FORWARD, so that the next switch takes the next layer)"
        )
    (k,) = layers
    if placement.head and models.head is not None:
        role = Role(k, MODE_EXIT_HEAD, HEAD_LAYER, len(base.classes))
    else:
        role = Role(k, MODE_FORWARD)
    out += role_entries(MODEL_ID, ver, [role])
    if placement.head and models.head is not None:
        out += head_entries(models.head, MODEL_ID, ver, HEAD_LAYER)
    out.append(active_version_entry(MODEL_ID, ver))
    return out


def _classifier_entries(forest: ForestModel) -> list[Entity]:
    dscp = {c: CLASS_DSCP.get(name, 0) for c, name in enumerate(forest.classes)}
    return [
        *forest_entries(forest, CLASSIFIER_SLOT),
        *phase_entries(CLASSIFIER_SLOT, 1, None),
        *qos_entries(dscp),
    ]


def plan(topo: Topology, models: ModelSet | None) -> Deployment:
    """The default deployment of ``topo`` (routes only when ``models`` is None)."""
    hosts = host_routes(topo)
    subnets = subnet_routes(topo, hosts)
    routes = {s: (*hosts[s], *subnets[s]) for s in topo.switches}
    nodes = inference_nodes(topo) if models is not None else ()
    placements: list[Placement] = []
    classifier: list[str] = []
    entries: dict[str, list[Entity]] = {s: list(route_entries(routes[s])) for s in topo.switches}
    if models is not None:
        for name, sw in sorted(topo.switches.items()):
            role = str(sw.extra.get("role", ""))
            if role in LAYERS_BY_ROLE:
                p = Placement(name, LAYERS_BY_ROLE[role], head=role == "edge")
                placements.append(p)
                entries[name] += _mlp_entries(models, p)
            if role in CLASSIFIER_ROLES and models.forest is not None:
                classifier.append(name)
                entries[name] += _classifier_entries(models.forest)
    steering = Plan()
    if nodes and models is not None:
        instances = tuple(
            Instance(n.instance_id, n.address, n.backup_id, STALE_AFTER_US if n.backup_id else 0)
            for n in nodes
        )
        stages = tuple((MSG_REQUEST, k) for k in range(len(models.base.layers)))
        service = Service(MODEL_ID, tuple((n.instance_id, 1) for n in nodes), stages)
        on_prem = tuple(n.instance_id for n in nodes if n.premises == ON_PREMISES)
        policies = [Policy(TENANT_NORMAL, 0, tuple(n.instance_id for n in nodes))]
        if on_prem:
            policies.append(Policy(TENANT_SENSITIVE, SENSITIVE, on_prem))
        steering = Plan(instances, (service,), tuple(policies))
    advertise_to = advertise_target(topo) if nodes else None
    if advertise_to is not None:
        sink = _owner(topo, advertise_to)
        entries[sink].append(advert_sink_entry(advertise_to))
    return Deployment(
        topology=topo,
        models=models,
        nodes=nodes,
        placements=tuple(placements),
        classifier_switches=tuple(classifier),
        routes=routes,
        plan=steering,
        entries={s: tuple(e) for s, e in entries.items()},
        advertise_to=advertise_to,
    )


def advert_sink_entry(address: str) -> TableEntry:
    """The route that ends advertisements to ``address`` (dropped once recorded and digested)."""
    return TableEntry(
        "MyIngress.ipv4_lpm",
        (("hdr.ipv4.dst_addr", Lpm(int(ipaddress.IPv4Address(address)), 32)),),
        "MyIngress.drop",
        (),
    )


def _owner(topo: Topology, address: str) -> str:
    """The switch the hosts of ``address``'s subnet hang off."""
    attached = host_switches(topo)
    for host in topo.hosts.values():
        in_subnet = ipaddress.IPv4Address(address) in ipaddress.IPv4Interface(host.ip).network
        if in_subnet and host.name in attached:
            return attached[host.name]
    raise DeploymentError(f"{topo.name}: no switch owns the subnet of {address}")


def advertise_target(topo: Topology) -> str | None:
    """Where nodes advertise: the gateway of the first client's subnet.

    Clients' requests are steered by the switch they hang off, so that switch
    must see every instance's advertisements; with ``subnet_routes`` they cross
    every switch from the node to there.
    """
    for host in topo.hosts.values():
        if host.extra.get("kind") == "client":
            net = ipaddress.IPv4Interface(host.ip).network
            return str(net.broadcast_address - 1)
    return None


def steering_switches(topo: Topology) -> tuple[str, ...]:
    """The switches that steer model 1: those the clients (hosts but inference nodes) hang off.

    A request is steered once, by the first switch it crosses; the switches
    further on keep the instance it carries.
    """
    return tuple(
        sorted(
            {
                switch
                for host, switch in host_switches(topo).items()
                if topo.hosts[host].extra.get("kind") != "inference-node"
            }
        )
    )


def instance_location(node: Node) -> str:
    """A node's location as the steering plan names it: 'premises' on premises, else its own."""
    return PREMISES if node.premises == ON_PREMISES else node.premises


def steering_plan(dep: Deployment) -> dict[str, Any]:
    """The deployment's steering as the controller's plan (``dinctl steer --plan``'s JSON).

    Instances with their locations and addresses; model 1 as one service
    matching requests at any of its stages, steered on ``steering_switches``;
    the tenant policies of ``Deployment.plan`` (tenant ``TENANT_SENSITIVE``'s
    sensitive requests on premises only, activations too); the timing
    constants of this module. No partitions: the answers' reference (and
    the map) put model 1's layers where the switch roles say, for good.
    """
    if not dep.nodes or dep.models is None:
        raise DeploymentError(f"{dep.topology.name}: no inference nodes: nothing to steer")
    topo = dep.topology
    locations = {n.instance_id: instance_location(n) for n in dep.nodes}
    policies: list[dict[str, Any]] = [
        {
            "tenant": TENANT_NORMAL,
            "sensitivities": [0],
            "locations": sorted(set(locations.values())),
        }
    ]
    if PREMISES in locations.values():
        policies.append(
            {
                "tenant": TENANT_SENSITIVE,
                "sensitivities": [SENSITIVE],
                "locations": [PREMISES],
                "activations_anywhere": False,
            }
        )
    return {
        "interval_ms": STEERING_INTERVAL_MS,
        "stale_after_ms": CONTROLLER_STALE_MS,
        "dataplane_stale_ms": DATAPLANE_STALE_MS,
        "digest_batch_ms": DIGEST_BATCH_MS,
        "premises": sorted(
            name for name, sw in topo.switches.items() if sw.extra.get("premises") == ON_PREMISES
        ),
        "instances": [
            {"id": n.instance_id, "location": locations[n.instance_id], "addr": n.address}
            for n in dep.nodes
        ],
        "services": [
            {
                "model_id": MODEL_ID,
                "match": [[MSG_REQUEST, k] for k in range(len(dep.models.base.layers))],
                "switches": list(steering_switches(topo)),
            }
        ],
        "policies": policies,
    }


def steering_config(dep: Deployment) -> SteeringConfig:
    """``steering_plan`` read as the steering service's configuration."""
    try:
        return config_from_dict(steering_plan(dep), "steering plan")
    except SteeringError as exc:
        raise DeploymentError(str(exc)) from exc


# The reference ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Step:
    """Where layers of a request ran: a switch or an inference node, and which layers."""

    where: str
    layers: tuple[int, ...]

    def __str__(self) -> str:
        names = [f"L{k}" if k < HEAD_LAYER else "head" for k in self.layers]
        return f"{self.where}[{'+'.join(names)}]"


@dataclass(frozen=True, slots=True)
class Expected:
    """The answer a request should get, and the steps that compute it."""

    result_class: int
    confidence: int
    by_switch: str | None  # the switch that answers (early exit), else None
    steps: tuple[Step, ...]

    @property
    def path(self) -> str:
        """The steps as one label, e.g. ``s1[L0+head] -> s2[L1] -> c1[L2]``."""
        return " -> ".join(str(s) for s in self.steps)


class Reference:
    """A request's expected answer from the installed entries (simulated) and the node's model."""

    def __init__(self, deployment: Deployment) -> None:
        """Index each switch's entries for the simulator."""
        if deployment.models is None:
            raise DeploymentError("no models deployed: nothing to refer to")
        self.deployment = deployment
        self.base = deployment.models.base
        self._sims = {s: TableSim(e) for s, e in deployment.entries.items()}

    def expect(self, client: str, instance_id: int, codes: Sequence[int]) -> Expected:
        """The answer to model 1 request ``codes`` from ``client`` if steered to ``instance_id``."""
        dep = self.deployment
        node = dep.node(instance_id)
        vector = [int(v) for v in codes] + [0] * (16 - len(codes))
        stage, version = 0, 0
        steps: list[Step] = []
        for switch in dep.switch_path(dep.client_switch(client), node.address):
            r = run_request(self._sims[switch], MODEL_ID, version, stage, vector)
            version = r.model_version
            if r.layers:
                steps.append(Step(switch, r.layers))
            if r.stage == STAGE_DONE:
                return Expected(r.result_class, r.confidence, switch, tuple(steps))
            if r.msg_type != MSG_REQUEST:
                raise DeploymentError(f"{switch}: request became msg_type {r.msg_type}")
            stage, vector = r.stage, list(r.vector)
        width = self.base.layers[stage].inputs
        scores = forward_int(self.base, np.asarray(vector[:width], dtype=np.int64), stage)
        ordered = np.sort(scores)
        steps.append(Step(node.host, tuple(range(stage, len(self.base.layers)))))
        top = int(np.argmax(scores))
        margin = int(ordered[-1] - ordered[-2]) if scores.size > 1 else int(ordered[-1])
        return Expected(top, max(0, min(255, margin)), None, tuple(steps))
