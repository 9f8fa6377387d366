"""topologies.deployment: the default deployment of a topology, and its request reference.

Small models are trained once per module. The enterprise topology's plan is
checked piece by piece (routes, roles, classifier, steering, policy), and the
reference's expected answers against the models layer's integer inference.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from controller.entries import Lpm, TableEntry
from controller.entries.mlp import MODE_EXIT_HEAD, MODE_FORWARD
from controller.models import mlp, quant
from controller.models.datasets import digits16
from controller.models.files import save_model
from controller.models.synthetic import flow_dataset
from controller.models.trees import train_flow_classifier
from controller.steering.config import config_from_dict
from controller.steering.policy import compile_policies
from topologies import deployment as d
from topologies import model

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> d.ModelSet:
    folder = tmp_path_factory.mktemp("models")
    split = digits16(0)
    base = mlp.train_mlp(split, seed=0, max_iter=150)
    save_model(base, folder / d.MODEL_FILES["base"])
    save_model(mlp.train_head(base, split, seed=0), folder / d.MODEL_FILES["head"])
    forest = train_flow_classifier(flow_dataset(30, 0), seed=0, trees=2, max_depth=4)
    save_model(forest, folder / d.MODEL_FILES["forest"])
    return d.ModelSet.load(folder)


@pytest.fixture(scope="module")
def enterprise() -> model.Topology:
    return model.load(REPO / "topologies" / "enterprise.json")


@pytest.fixture(scope="module")
def plan(enterprise: model.Topology, models: d.ModelSet) -> d.Deployment:
    return d.plan(enterprise, models)


def _table(dep: d.Deployment, switch: str, table: str) -> list[TableEntry]:
    return [e for e in dep.entries[switch] if isinstance(e, TableEntry) and e.table == table]


def test_routes_reach_every_host_and_every_other_subnet(plan: d.Deployment) -> None:
    prefixes = {s: {r.prefix: r.port for r in rs} for s, rs in plan.routes.items()}
    hosts = {f"{h.address}/32" for h in plan.topology.hosts.values()}
    for switch in ("s1", "s2", "s3"):
        assert hosts <= set(prefixes[switch])
    # A switch has no route to its own subnets: their unused addresses stop there.
    assert {p for p in prefixes["s1"] if p.endswith("/24")} == {"10.0.3.0/24"}
    assert {p for p in prefixes["s3"] if p.endswith("/24")} == {"10.0.1.0/24", "10.0.2.0/24"}
    assert prefixes["s3"]["10.0.1.0/24"] == prefixes["s3"]["10.0.1.1/32"] == 1
    # Advertisements to the clients' gateway cross every switch from the cloud.
    assert plan.advertise_to == "10.0.1.254"
    assert plan.switch_path("s3", "10.0.1.254") == ["s3", "s2", "s1"]
    assert plan.switch_path("s1", "10.0.3.2") == ["s1", "s2", "s3"]
    assert plan.switch_path("s1", "10.0.2.1") == ["s1"]


def test_inference_nodes_back_each_other_up_towards_premises(plan: d.Deployment) -> None:
    nodes = {n.host: (n.instance_id, n.premises, n.backup_id) for n in plan.nodes}
    assert nodes == {
        "e1": (1, "on-premises", 2),
        "c1": (2, "cloud", 1),
        "c2": (3, "cloud", 1),
    }
    instances = {i.instance_id: i for i in plan.plan.instances}
    assert all(i.stale_after_us == d.STALE_AFTER_US for i in instances.values())
    assert instances[2].addr == "10.0.3.1"
    (service,) = plan.plan.services
    assert service.model_id == d.MODEL_ID
    assert dict(service.weights) == {1: 1, 2: 1, 3: 1}
    policies = {(p.tenant_id, p.sensitivity): p.allowed for p in plan.plan.policies}
    assert policies == {(d.TENANT_NORMAL, 0): (1, 2, 3), (d.TENANT_SENSITIVE, d.SENSITIVE): (1,)}
    # The plan's entries are written once, the same on every switch.
    tables = {getattr(e, "table", getattr(e, "profile", "")) for e in plan.steering_entries}
    assert {"MyIngress.instance_info", "MyIngress.din_steer", "MyIngress.tenant_policy"} <= tables


def test_layers_go_where_the_switch_roles_say(plan: d.Deployment, models: d.ModelSet) -> None:
    roles = {
        s: {
            e.match_dict()["hdr.din.stage"].value: e.param_dict()  # type: ignore[union-attr]
            for e in _table(plan, s, "MyIngress.mlp_role")
        }
        for s in ("s1", "s2", "s3")
    }
    assert roles["s1"] == {
        0: {"mode": MODE_EXIT_HEAD, "head_layer": d.HEAD_LAYER, "num_classes": 10}
    }
    assert roles["s2"] == {1: {"mode": MODE_FORWARD, "head_layer": 0, "num_classes": 0}}
    assert roles["s3"] == {}
    biases = {
        s: sorted(
            e.match_dict()["meta.mlp.layer"].value  # type: ignore[union-attr]
            for e in _table(plan, s, "MyIngress.mlp.mlp_bias")
        )
        for s in ("s1", "s2", "s3")
    }
    assert biases == {"s1": [0, d.HEAD_LAYER], "s2": [1], "s3": []}
    assert _table(plan, "s1", "MyIngress.exit_threshold")
    assert not _table(plan, "s2", "MyIngress.exit_threshold")
    assert models.head is not None


def test_the_classifier_and_its_dscp_go_on_the_edge(plan: d.Deployment, models: d.ModelSet) -> None:
    assert plan.classifier_switches == ("s1",)
    assert _table(plan, "s1", "MyIngress.classifier.classifier_phase")
    assert not _table(plan, "s2", "MyIngress.classifier.classifier_phase")
    forest = models.forest
    assert forest is not None
    dscp = {
        forest.classes[e.match_dict()["meta.cls.flow_class"].value]: e.param_dict()["dscp"]  # type: ignore[union-attr]
        for e in _table(plan, "s1", "MyIngress.class_qos")
    }
    assert dscp == {c: d.CLASS_DSCP[c] for c in forest.classes}


def test_the_map_says_what_runs_where(plan: d.Deployment) -> None:
    text = "\n".join(plan.describe())
    assert "s1: layer 0 + exit head (layer 128" in text
    assert "s2: layer 1" in text
    assert "instance 2 c1 (cloud) 10.0.3.1\n" in text
    assert "steering: the controller's service on s1: weights from the nodes' advertised" in text
    assert "data-plane failover after 80 ms without an advertisement, controller expiry " in text
    assert "policy: tenant 2 sensitivity 1 -> e1" in text
    static = "\n".join(plan.describe(d.STEERING_STATIC))
    assert "instance 2 c1 (cloud) 10.0.3.1: weight 1, backup e1, stale after 80 ms" in static
    assert "steering: the static plan, written once" in static


def test_the_steering_plan_is_the_deployments_for_the_controller(plan: d.Deployment) -> None:
    data = d.steering_plan(plan)
    assert data["instances"] == [
        {"id": 1, "location": "premises", "addr": "10.0.2.1"},
        {"id": 2, "location": "cloud", "addr": "10.0.3.1"},
        {"id": 3, "location": "cloud", "addr": "10.0.3.2"},
    ]
    # Steered by the clients' switch, at any stage a request may reach it.
    assert data["services"] == [{"model_id": 1, "match": [[1, 0], [1, 1], [1, 2]],
                                 "switches": ["s1"]}]  # fmt: skip
    assert data["premises"] == ["s1", "s2"]
    assert (data["dataplane_stale_ms"], data["stale_after_ms"]) == (
        d.DATAPLANE_STALE_MS,
        d.CONTROLLER_STALE_MS,
    )
    cfg = d.steering_config(plan)
    assert cfg.dataplane_stale_us == d.STALE_AFTER_US
    assert cfg.digest_batch_s == pytest.approx(d.DIGEST_BATCH_MS / 1000)
    assert [s.instance_id for s in cfg.instances] == [n.instance_id for n in plan.nodes]
    # The static plan's policies, compiled by the controller: the same rows.
    locations = {i.instance_id: i.location for i in cfg.instances}
    rows = {(p.tenant_id, p.sensitivity): (p.allowed, p.raw)
            for p in compile_policies(cfg.policies, locations)}  # fmt: skip
    static = {(p.tenant_id, p.sensitivity): (p.allowed, p.raw) for p in plan.plan.policies}
    assert (
        rows
        == static
        == {
            (d.TENANT_NORMAL, 0): ((1, 2, 3), (1, 2, 3)),
            (d.TENANT_SENSITIVE, d.SENSITIVE): ((1,), (1,)),
        }
    )
    # A dinctl steer plan file: the JSON reads back as the same configuration.
    assert config_from_dict(json.loads(json.dumps(data))) == cfg


def test_advertisements_end_on_the_clients_switch_without_a_packet_in(
    plan: d.Deployment,
) -> None:
    sinks = {
        s: [e for e in _table(plan, s, "MyIngress.ipv4_lpm") if e.action == "MyIngress.drop"]
        for s in ("s1", "s2", "s3")
    }
    assert sinks["s2"] == sinks["s3"] == []
    (sink,) = sinks["s1"]
    assert sink == d.advert_sink_entry("10.0.1.254")
    assert sink.match_dict()["hdr.ipv4.dst_addr"] == Lpm(0x0A0001FE, 32)


def test_without_inference_nodes_there_is_nothing_to_steer() -> None:
    topo = model.leaf_spine(leaves=2, spines=1, hosts_per_leaf=2)
    dep = d.plan(topo, None)
    with pytest.raises(d.DeploymentError, match="no inference nodes: nothing to steer"):
        d.steering_plan(dep)
    assert d.steering_switches(topo) == ("s1", "s2")


def test_reference_answers_as_the_models_do(plan: d.Deployment, models: d.ModelSet) -> None:
    ref = d.Reference(plan)
    assert models.head is not None
    codes = quant.quantize_input(models.base, digits16(0).x_test[:120])
    base_top, _ = quant.predict_int(models.base, codes)
    head_top, head_margin = quant.predict_int(models.head, codes)
    by_switch = 0
    for i, x in enumerate(codes):
        cloud = ref.expect("h1", 2, x)
        edge = ref.expect("h1", 1, x)
        if cloud.by_switch is not None:
            by_switch += 1
            # The exit head answered at the edge switch, whatever the instance.
            assert (cloud.by_switch, cloud.result_class) == ("s1", int(head_top[i]))
            assert cloud.confidence == int(head_margin[i]) == edge.confidence
            assert cloud.path == edge.path == "s1[L0+head]"
        else:
            assert edge.by_switch is None
            assert cloud.result_class == edge.result_class == int(base_top[i])
            assert cloud.path == "s1[L0+head] -> s2[L1] -> c1[L2]"
            assert edge.path == "s1[L0+head] -> e1[L1+L2]"
    assert 0 < by_switch < len(codes)


def test_routes_only_without_models() -> None:
    topo = model.leaf_spine(leaves=3, spines=2, hosts_per_leaf=2)
    dep = d.plan(topo, None)
    assert dep.nodes == () and dep.steering_entries == [] and dep.advertise_to is None
    leaf1 = {r.prefix for r in dep.routes["s1"]}
    assert {"10.0.2.0/24", "10.0.3.0/24"} <= leaf1 and "10.0.1.0/24" not in leaf1
    assert all(isinstance(e, TableEntry) and e.table == "MyIngress.ipv4_lpm"
               for e in dep.entries["s4"])  # fmt: skip


def test_model_files_are_checked(tmp_path: Path, models: d.ModelSet) -> None:
    with pytest.raises(d.DeploymentError, match=r"digits-mlp\.npz: missing"):
        d.ModelSet.load(tmp_path)
    assert models.forest is not None
    save_model(models.forest, tmp_path / d.MODEL_FILES["base"])
    with pytest.raises(d.DeploymentError, match=r"kind 'ForestModel': expected MLPModel \(base\)"):
        d.ModelSet.load(tmp_path)


def test_unknown_node_is_named(plan: d.Deployment) -> None:
    with pytest.raises(d.DeploymentError, match=r"inference node 'c9': unknown \(known: e1 \(1\)"):
        plan.node("c9")
    assert plan.node(3).host == "c2"
    assert np.all([plan.client_switch(h) == "s1" for h in ("h1", "iot2", "e1")])


def test_a_fabric_without_inference_nodes_gets_no_model_layers(models: d.ModelSet) -> None:
    topo = model.leaf_spine(leaves=2, spines=1, hosts_per_leaf=2)
    dep = d.plan(topo, models)
    assert dep.placements == () and dep.nodes == () and dep.classifier_switches == ()
    assert dep.describe() == []
    assert all(e.table == "MyIngress.ipv4_lpm" for s in dep.entries.values() for e in s)  # type: ignore[union-attr]
