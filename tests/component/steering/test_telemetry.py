"""Telemetry against p4lite in-process: counters read over P4Runtime (CounterEntry), probes
answered through the CPU port, /metrics over a real HTTP socket parsed by a strict reader,
/status as JSON."""

from __future__ import annotations

import dataclasses
import json
import socket
import threading
import urllib.request
from typing import Any

from controller.p4rt.multi import Fabric
from controller.steering.config import InstanceSpec, ProbeConfig, ServiceSpec, SteeringConfig
from controller.steering.service import SteeringService
from controller.telemetry.collector import TelemetryCollector
from controller.telemetry.exporter import MetricsExporter
from controller.telemetry.prometheus import render
from traffic.frames import Endpoints, udp_frame
from traffic.wire import DIN_UDP_PORT, MsgType, encode


class FakeNodes:
    """Answers every DIN request leaving the switch on ports 2..3 as a node would (after
    ``delay`` s), by injecting the response back, addresses swapped."""

    def __init__(self, kit: Any, switch: Any, delays: dict[int, float]) -> None:
        self.kit, self.switch, self.delays = kit, switch, delays
        self.stop = threading.Event()
        self.answered = 0
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            for port in self.delays:
                self.switch.inject(port, self.kit.advert_frame(port, port))
            got = self.switch.take_any(tuple(self.delays), timeout=0.03)
            if got is None:
                continue
            port, msg = got
            if msg.header.msg_type != MsgType.REQUEST:
                continue
            # Each answer on its own timer: a slow instance's delay never holds up
            # the fast one's answers (one loop that slept would add it to both).
            timer = threading.Timer(self.delays[port], self._answer, (port, msg))
            timer.daemon = True
            timer.start()

    def _answer(self, port: int, msg: Any) -> None:
        if self.stop.is_set():
            return
        head = msg.header
        answer = dataclasses.replace(head, msg_type=MsgType.RESPONSE, stage=255, flags=0x08)
        reply = encode(answer, list(msg.vector or ()))
        ends = Endpoints(
            f"02:00:00:00:00:{port:02x}", "02:d1:00:01:00:00", self.kit.host_ip(port),
            self._src, DIN_UDP_PORT, self._sport,
        )  # fmt: skip
        self.switch.inject(port, udp_frame(ends, reply))
        with self.lock:
            self.answered += 1

    _src = "10.255.255.254"
    _sport = 7351

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)


def test_probes_metrics_and_status_over_http(make_switch: Any, kit: Any) -> None:
    s1 = make_switch("s1")
    cfg = SteeringConfig(
        services=(ServiceSpec(1),),
        instances=(InstanceSpec(2), InstanceSpec(3)),
        interval_s=0.02,
        stale_after_s=0.5,
        probe=ProbeConfig(interval_s=0.05),
    )
    service = SteeringService(Fabric([s1.conn]), cfg)
    nodes = FakeNodes(kit, s1, {2: 0.0, 3: 0.02})
    service.start()
    collector = TelemetryCollector(Fabric([s1.conn]), steering=service)
    exporter = MetricsExporter(collector, "127.0.0.1", 0)
    exporter.start()
    try:
        kit.wait_for(lambda: set(service.weights("s1").get(1, {})) == {2, 3}, what="group")
        # Probe answers come back as packet-ins: a latency per instance.
        kit.wait_for(
            lambda: all(service.registry.get(i).latency_s is not None for i in (2, 3)),  # type: ignore[union-attr]
            what="probe latency of both instances",
        )
        slow, fast = service.registry.get(3), service.registry.get(2)
        assert slow is not None and fast is not None
        assert slow.latency_s > fast.latency_s  # type: ignore[operator]
        assert service.status()["probes"]["answered"] >= 2
        # Requests from a client, counted by the switch.
        for k in range(20):
            s1.inject(1, kit.request_frame(1, sport=45000 + k, request_id=k + 1))
        kit.wait_for(
            lambda: (
                sum(
                    n["requests"]
                    for n in collector.snapshot()["switches"]["s1"]["instances"].values()
                )
                >= 20
            ),
            what="instance_requests counted",
        )
        collector.record_latency(1, 2, 0.004)
        with urllib.request.urlopen(exporter.url + "/metrics", timeout=10) as r:
            assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            text = r.read().decode()
        fams = kit.load_promtext().parse(text)
        events = {s[1]["event"]: s[2] for s in fams["din_events_total"]["samples"]}
        assert events["request"] >= 20 and events["advertisement"] > 0
        assert events["steered"] >= 20
        weights = {s[1]["instance"]: s[2] for s in fams["din_service_weight"]["samples"]}
        assert set(weights) == {"2", "3"}
        latency = fams["din_request_latency_seconds"]["samples"]
        sources = {s[1]["source"] for s in latency}
        assert sources == {"probe", "client"}
        ups = {s[1]["instance"] for s in fams["din_instance_up"]["samples"]}
        assert ups == {"2", "3"}
        with urllib.request.urlopen(exporter.url + "/status", timeout=10) as r:
            status = json.loads(r.read())
        assert {i["instance_id"] for i in status["instances"]} == {2, 3}
        assert status["switches"]["s1"]["up"] is True
        assert status["steering"]["switches"]["s1"]["services"][0]["model_id"] == 1
        with socket.create_connection(("127.0.0.1", exporter.port), timeout=5) as sock:
            sock.sendall(b"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert sock.recv(64).startswith(b"HTTP/1.1 404")
    finally:
        exporter.stop()
        service.stop()
        nodes.close()


def test_a_switch_that_cannot_be_read_is_reported_down(make_switch: Any, kit: Any) -> None:
    s1, s2 = make_switch("s1"), make_switch("s2")
    collector = TelemetryCollector(Fabric([s1.conn, s2.conn]))
    s2.server.stop(grace=0.01)
    snap = collector.snapshot()
    assert snap["switches"]["s1"]["up"] is True and snap["switches"]["s2"]["up"] is False
    fams = kit.load_promtext().parse(render(collector.families(poll=False)))
    up = {s[1]["switch"]: s[2] for s in fams["din_switch_up"]["samples"]}
    assert up == {"s1": 1.0, "s2": 0.0}
