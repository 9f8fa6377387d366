"""The steering service against p4lite's P4Runtime server (in-process, real gRPC): the
registry fed by real digests and packet-ins, weights programmed into the selector group,
requests spread by them, data-plane and controller failover, relay, policy."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from controller.p4rt import entities as pe
from controller.p4rt.multi import Fabric
from controller.steering.config import InstanceSpec, ServiceSpec, SteeringConfig
from controller.steering.policy import TenantPolicy
from controller.steering.service import SteeringService
from controller.steering.weights import WeightConfig

FAILOVER = 0x02
POLICY = 0x04


class Adverts:
    """Injects each instance's advertisement every ``period`` s until stopped (per instance)."""

    def __init__(self, kit: Any, switch: Any, period: float = 0.03) -> None:
        self.kit, self.switch, self.period = kit, switch, period
        self.load: dict[int, dict[str, int]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self, **instances: dict[str, int]) -> Adverts:
        for key, kw in instances.items():
            self.load[int(key.removeprefix("i"))] = kw
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            for port, kw in list(self.load.items()):
                self.switch.inject(port, self.kit.advert_frame(port, port, **kw))
            self._stop.wait(self.period)

    def silence(self, port: int) -> None:
        self.load.pop(port, None)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


@pytest.fixture
def adverts(kit: Any) -> Iterator[Callable[..., Adverts]]:
    made: list[Adverts] = []

    def make(switch: Any, period: float = 0.03) -> Adverts:
        a = Adverts(kit, switch, period)
        made.append(a)
        return a

    yield make
    for a in made:
        a.stop()


def _config(**kw: Any) -> SteeringConfig:
    base: dict[str, Any] = {
        "services": (ServiceSpec(1),),
        "instances": (InstanceSpec(2), InstanceSpec(3), InstanceSpec(4, "cloud")),
        "interval_s": 0.02,
        "stale_after_s": 0.3,
        "dataplane_stale_us": 100_000,
        "weights": WeightConfig(hold_s=0.0, slots=15),  # the weights below sum to 15
    }
    base.update(kw)
    return SteeringConfig(**base)


def _send(switch: Any, kit: Any, n: int, *, first_sport: int = 40000, **kw: Any) -> dict[int, Any]:
    """Send ``n`` requests from port 1 (one source port each); where each one came out."""
    out = {}
    for k in range(n):
        switch.inject(1, kit.request_frame(1, sport=first_sport + k, request_id=k + 1, **kw))
    for _ in range(n):
        got = None
        for port in (2, 3, 4):
            msg = switch.take_din(port, timeout=0.001)
            if msg is not None:
                got = (port, msg)
                break
        if got is None:
            for port in (2, 3, 4):
                msg = switch.take_din(port, timeout=0.3)
                if msg is not None:
                    got = (port, msg)
                    break
        if got is not None:
            out[got[1].header.request_id] = got
    return out


def test_registry_is_fed_by_real_digests_and_packet_ins(make_switch: Any, kit: Any) -> None:
    s1 = make_switch("s1")
    service = SteeringService(Fabric([s1.conn]), _config())
    service.start()
    try:
        s1.inject(2, kit.advert_frame(2, 2, queue=5, util=30, capacity=800))
        kit.wait_for(lambda: service.registry.get(2) is not None, what="instance 2")
        # No route to the advertisement's destination: a packet-in too.
        kit.wait_for(lambda: service.counts["adverts_packet_in"] >= 1, what="packet-in")
        view = service.registry.get(2)
        assert view is not None
        assert view.addr == "10.0.2.1" and view.seen_by == ("s1",)
        assert (view.last.queue_len, view.last.utilisation, view.last.capacity) == (5, 30, 800)
        assert [(m.model_id, m.layer_first, m.layer_last) for m in view.models] == [(1, 0, 2)]
        assert service.counts["adverts_digest"] >= 1
        status = service.status()
        assert status["instances"][0]["instance_id"] == 2
    finally:
        service.stop()


def test_a_stopped_service_stops_listening_and_another_takes_over(
    make_switch: Any, kit: Any
) -> None:
    s1 = make_switch("s1")
    first = SteeringService(Fabric([s1.conn]), _config())
    first.start()
    first.stop()
    second = SteeringService(Fabric([s1.conn]), _config())
    second.start()
    try:
        s1.inject(2, kit.advert_frame(2, 2))
        kit.wait_for(lambda: second.registry.get(2) is not None, what="instance 2")
        assert first.registry.get(2) is None
        assert first.counts["adverts_digest"] == 0 and first.counts["adverts_packet_in"] == 0
    finally:
        second.stop()
    # No listener is left on the connection: its digests queue for a reader again.
    s1.inject(3, kit.advert_frame(3, 3))
    digest = s1.conn.digests.get(timeout=5)
    assert digest.digest == "advertisement_digest_t"
    assert second.registry.get(3) is None


def test_a_stopped_service_starts_again_and_steers(
    make_switch: Any, kit: Any, adverts: Callable[..., Adverts]
) -> None:
    s1 = make_switch("s1")
    service = SteeringService(Fabric([s1.conn]), _config())
    service.start()
    service.stop()
    service.start()
    try:
        adverts(s1).start(i2={"capacity": 100})
        kit.wait_for(lambda: service.registry.get(2) is not None, what="instance 2")
        # Its loop runs again: the new instance is programmed into s1's group.
        kit.wait_for(lambda: 2 in service.weights("s1").get(1, {}), what="instance 2 steered")
        program = [d for d in service.decisions if d.kind == "program" and d.switch == "s1"]
        assert program and 2 in program[-1].instances
        new = [d for d in service.decisions if d.kind == "new"]
        assert [d.instances for d in new] == [(2,)]
    finally:
        service.stop()


def test_weights_are_programmed_and_spread_requests_by_capacity(
    make_switch: Any, kit: Any, adverts: Callable[..., Adverts]
) -> None:
    s1 = make_switch("s1")
    ads = adverts(s1).start(i2={"capacity": 100}, i3={"capacity": 200}, i4={"capacity": 400})
    service = SteeringService(Fabric([s1.conn]), _config())
    service.start()
    try:
        kit.wait_for(lambda: service.weights("s1") == {1: {2: 2, 3: 4, 4: 9}}, what="weights 2:4:9")
        s1.drain()
        answers = _send(s1, kit, 320)
        assert len(answers) == 320
        ports = Counter(port for port, _ in answers.values())
        assert ports[2] < ports[3] < ports[4], ports
        for port, msg in answers.values():
            assert msg.header.instance_id == port and msg.header.flags == 0
        # The group is one of members repeated by weight, read back over P4Runtime.
        (group,) = s1.conn.read_entities([pe.ActionProfileGroup("MyIngress.instance_selector", 0)])
        assert isinstance(group, pe.ActionProfileGroup) and len(group.members) == 15
        # Instance 4 now advertises less capacity: its weight falls.
        ads.load[4] = {"capacity": 100}
        kit.wait_for(lambda: service.weights("s1") == {1: {2: 4, 3: 7, 4: 4}}, what="weights 4:7:4")
        last = [d.detail for d in service.decisions if d.kind == "program"][-1]
        assert "model1: rebalance" in last and "-> 2:4 3:7 4:4" in last
    finally:
        service.stop()
        ads.stop()


def test_controller_failover_removes_a_silent_instance(
    make_switch: Any, kit: Any, adverts: Callable[..., Adverts]
) -> None:
    s1 = make_switch("s1")
    ads = adverts(s1).start(i2={}, i3={}, i4={})
    service = SteeringService(Fabric([s1.conn]), _config())
    service.start()
    try:
        kit.wait_for(lambda: set(service.weights("s1").get(1, {})) == {2, 3, 4})
        ads.silence(3)
        kit.wait_for(lambda: service.registry.get(3) is None, what="instance 3 to expire")
        kit.wait_for(lambda: set(service.weights("s1")[1]) == {2, 4}, what="group without 3")
        s1.drain()
        answers = _send(s1, kit, 60)
        assert len(answers) == 60
        assert {port for port, _ in answers.values()} == {2, 4}
        # Steered by the group, not by the data plane's failover.
        assert all(msg.header.flags == 0 for _, msg in answers.values())
        assert any(d.kind == "expired" for d in service.decisions)
    finally:
        service.stop()


def test_data_plane_fails_over_without_the_controller(
    make_switch: Any, kit: Any, adverts: Callable[..., Adverts]
) -> None:
    s1 = make_switch("s1")
    ads = adverts(s1).start(i2={}, i3={}, i4={})
    service = SteeringService(Fabric([s1.conn]), _config())
    service.start()
    try:
        kit.wait_for(lambda: set(service.weights("s1").get(1, {})) == {2, 3, 4})
    finally:
        service.stop()  # the controller is gone: only the data plane reacts now
    s1.drain()
    before = _send(s1, kit, 60)
    on_3 = {rid for rid, (port, _) in before.items() if port == 3}
    assert on_3, "some flows hash to instance 3"
    plan = {i["instance_id"]: i for i in service.status()["switches"]["s1"]["instances"]}
    backup = plan[3]["backup_id"]
    assert backup in (2, 4) and plan[3]["stale_after_us"] == 100_000
    ads.silence(3)
    time.sleep(0.15)  # longer than stale_after_us: instance 3 is stale in the data plane
    s1.drain()
    after = _send(s1, kit, 60)
    assert len(after) == 60
    for rid in on_3:
        port, msg = after[rid]
        assert (port, msg.header.instance_id, msg.header.flags) == (backup, backup, FAILOVER)
    # Other flows stay where they were: affinity.
    for rid, (port, _) in before.items():
        if rid not in on_3:
            assert after[rid][0] == port


def test_relay_keeps_a_second_switch_from_failing_over(
    make_switch: Any, kit: Any, adverts: Callable[..., Adverts]
) -> None:
    s1, s2 = make_switch("s1"), make_switch("s2")
    # The instances advertise through s1 only; s2 steers to them too.
    adverts(s1).start(i2={}, i3={}, i4={})
    service = SteeringService(Fabric([s1.conn, s2.conn]), _config())
    service.start()
    try:
        kit.wait_for(lambda: set(service.weights("s2").get(1, {})) == {2, 3, 4})
        kit.wait_for(lambda: service.counts["relayed"] > 20, what="relays")
        s2.drain()
        answers = _send(s2, kit, 60)
        assert len(answers) == 60
        assert all(msg.header.flags & FAILOVER == 0 for _, msg in answers.values())
        assert {port for port, _ in answers.values()} == {2, 3, 4}
    finally:
        service.stop()


def test_without_relay_the_second_switch_sees_instances_stale(
    make_switch: Any, kit: Any, adverts: Callable[..., Adverts]
) -> None:
    s1, s2 = make_switch("s1"), make_switch("s2")
    adverts(s1).start(i2={}, i3={}, i4={})
    service = SteeringService(Fabric([s1.conn, s2.conn]), _config(relay=False))
    service.start()
    try:
        kit.wait_for(lambda: set(service.weights("s2").get(1, {})) == {2, 3, 4})
        time.sleep(0.15)
        s2.drain()
        answers = _send(s2, kit, 30)
        assert any(msg.header.flags & FAILOVER for _, msg in answers.values())
        assert service.counts["relayed"] == 0
    finally:
        service.stop()


def test_a_sensitive_tenant_never_reaches_the_cloud_instance(
    make_switch: Any, kit: Any, adverts: Callable[..., Adverts]
) -> None:
    s1 = make_switch("s1")
    adverts(s1).start(i2={}, i3={}, i4={})
    cfg = _config(policies=(TenantPolicy(7, sensitivities=(1,)),))
    service = SteeringService(Fabric([s1.conn]), cfg)
    service.start()
    try:
        kit.wait_for(lambda: set(service.weights("s1").get(1, {})) == {2, 3, 4})
        s1.drain()
        normal = _send(s1, kit, 80)
        sensitive = _send(s1, kit, 80, tenant=7, sensitivity=1)
        assert len(normal) == len(sensitive) == 80
        assert 4 in {port for port, _ in normal.values()}
        assert 4 not in {port for port, _ in sensitive.values()}
        # Flows that hash to the cloud instance are re-steered to its premises backup.
        resteered = [msg for _, msg in sensitive.values() if msg.header.flags & POLICY]
        assert resteered and all(m.header.instance_id in (2, 3) for m in resteered)
        events = {
            c.index: c.packet_count
            for c in s1.conn.read_entities([pe.CounterEntry("MyIngress.din_events")])
            if isinstance(c, pe.CounterEntry)
        }
        assert events[6] == len(resteered)  # EV_POLICY_RESTEER
        status = service.status()["switches"]["s1"]
        assert status["policies"] == [
            {"tenant": 7, "sensitivity": 1, "allowed": [2, 3, 4], "allowed_raw": [2, 3]}
        ]
        # Not steered by s1 (model 2 has no service; model 1 is steered at stage 0 only):
        # what a request is addressed to must be allowed for what it carries.
        cloud = "10.0.4.1"
        s1.inject(1, kit.request_frame(1, model_id=2, tenant=7, sensitivity=1, dst=cloud))
        assert s1.take_any((2, 3, 4), timeout=0.3) is None
        s1.inject(1, kit.request_frame(1, tenant=7, sensitivity=1, stage=1, dst=cloud))
        port, msg = s1.take_any((2, 3, 4)) or (0, None)
        assert port == 4 and msg is not None and msg.header.stage == 1
        s1.inject(1, kit.request_frame(1, model_id=2, dst=cloud))  # tenant 0: not gated
        assert (s1.take_any((2, 3, 4)) or (0, None))[0] == 4
        drops = s1.conn.read_entities([pe.CounterEntry("MyIngress.policy_drops", 1)])
        assert [c.packet_count for c in drops if isinstance(c, pe.CounterEntry)] == [1]
    finally:
        service.stop()


def test_every_switch_knows_a_new_instance_before_any_switch_steers_to_it(
    make_switch: Any, kit: Any, adverts: Callable[..., Adverts]
) -> None:
    s1, s2 = make_switch("s1"), make_switch("s2")
    log: list[tuple[str, str, pe.Entity]] = []
    for sw in (s1, s2):
        original = sw.conn.write

        def recording(
            updates: Any, _name: str = sw.conn.name, _w: Any = original, **kw: Any
        ) -> int:
            ups = list(updates)
            log.extend((_name, u.type.value, u.entity) for u in ups)
            return int(_w(ups, **kw))

        sw.conn.write = recording  # type: ignore[method-assign]
    ads = adverts(s1).start(i2={})
    # Only s1 steers; s2, further on, has the instances and the policy for its gate.
    cfg = _config(
        services=(ServiceSpec(1, switches=("s1",)),),
        policies=(TenantPolicy(7, sensitivities=(1,)),),
    )
    service = SteeringService(Fabric([s1.conn, s2.conn]), cfg)
    service.start()
    try:
        kit.wait_for(lambda: service.weights("s1") == {1: {2: 15}}, what="instance 2")
        ads.load[4] = {}
        kit.wait_for(lambda: set(service.weights("s1").get(1, {})) == {2, 4}, what="instance 4")
    finally:
        service.stop()

    def first(switch: str, table: str, instance: int) -> int:
        return next(
            k
            for k, (name, kind, e) in enumerate(log)
            if name == switch
            and kind == "INSERT"
            and getattr(e, "table", getattr(e, "profile", "")) == table
            and dict(getattr(e, "params", ())).get("instance_id") == instance
        )

    member_4 = first("s1", "MyIngress.instance_selector", 4)
    assert first("s2", "MyIngress.instance_addr", 4) < member_4
    assert first("s1", "MyIngress.instance_addr", 4) < member_4
    assert service.weights("s2") == {}
    # s2 steers nothing, yet keeps the tenant's raw inputs off the cloud instance.
    s2.drain()
    for dst in ("10.0.4.1", "10.0.2.1"):
        s2.inject(1, kit.request_frame(1, tenant=7, sensitivity=1, dst=dst))
    assert [port for port, _ in iter(lambda: s2.take_any((2, 3, 4), 0.3), None)] == [2]
    s2.inject(1, kit.request_frame(1, tenant=7, sensitivity=1, stage=1, dst="10.0.4.1"))
    assert (s2.take_any((2, 3, 4)) or (0, None))[0] == 4


def test_a_reweighting_modifies_the_group_and_deletes_only_unused_members(
    make_switch: Any, kit: Any, adverts: Callable[..., Adverts]
) -> None:
    s1 = make_switch("s1")
    written: list[tuple[str, str]] = []
    original = s1.conn.write

    def recording(updates: Any, **kw: Any) -> int:
        ups = list(updates)
        written.extend((u.type.value, type(u.entity).__name__) for u in ups)
        return original(ups, **kw)

    s1.conn.write = recording  # type: ignore[method-assign]
    ads = adverts(s1).start(i2={"capacity": 100}, i3={"capacity": 100})
    service = SteeringService(Fabric([s1.conn]), _config())
    service.start()
    try:
        kit.wait_for(lambda: service.weights("s1") == {1: {2: 8, 3: 7}}, what="weights 8:7")
        assert ("INSERT", "ActionProfileGroup") in written
        written.clear()
        ads.load[3] = {"capacity": 400}
        kit.wait_for(lambda: service.weights("s1")[1][3] >= 10, what="instance 3 heavier")
        assert ("MODIFY", "ActionProfileGroup") in written
        assert ("DELETE", "ActionProfileGroup") not in written
        assert ("INSERT", "ActionProfileGroup") not in written
        # Members of copies no longer in the group go, after the group stopped using them.
        kinds = [k for k, _ in written]
        assert kinds.index("MODIFY") < kinds.index("DELETE")
    finally:
        service.stop()
