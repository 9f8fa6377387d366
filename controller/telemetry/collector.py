"""One view of the DIN: switch counters, nodes, steering and latency, as a dict and as metrics.

A :class:`TelemetryCollector` reads the counters of every switch of a fabric
(:func:`~controller.telemetry.counters.read_counters`, concurrently), and
joins them with the node registry (load, capacity, latency, age of each
instance), the steering service's weights and placements, and latency
samples: probe answers reported by the steering service, and samples a
caller records (a client's answers, with their header timestamps).
:meth:`TelemetryCollector.snapshot` gives it as JSON-ready data (``dinctl
status``), :meth:`TelemetryCollector.families` as Prometheus metric families:

- per switch: ``din_events_total{event}`` (requests, responses, early exits
  i.e. answers from the network, escalations, failovers, policy re-steers and
  drops, ...), ``din_drops_total{reason}``, ``din_class_packets_total{class}``,
  ``din_instance_requests_total{instance}``, ``din_policy_drops_total{sensitivity}``;
- per instance: up, queue length, utilisation, request rate, capacity,
  measured latency, age of the last advertisement;
- per service: selector weights per switch and instance;
- ``din_request_latency_seconds{model,instance,source}`` (summary).

May import the standard library, ``controller.p4rt``, ``controller.steering``
and ``controller.telemetry``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from controller.p4rt.multi import Fabric
from controller.steering.registry import NodeRegistry
from controller.steering.service import SteeringService
from controller.telemetry.counters import CounterSnapshot, packet_rates, read_counters
from controller.telemetry.latency import DEFAULT_WINDOW, LatencyBook, LatencySummary
from controller.telemetry.names import (
    CLASS_PACKETS,
    DROPS,
    EVENTS,
    INSTANCE_REQUESTS,
    POLICY_DROPS,
    drop_name,
    event_name,
)
from controller.telemetry.prometheus import MetricFamily, Sample, family, labels

log = logging.getLogger(__name__)

LatencyKey = tuple[int, int, str]  # model id, instance id (0: a switch answered), source


class TelemetryCollector:
    """Counters of a fabric's switches joined with registry, steering and latency samples."""

    def __init__(
        self,
        fabric: Fabric,
        *,
        steering: SteeringService | None = None,
        registry: NodeRegistry | None = None,
        window: int = DEFAULT_WINDOW,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Collect from ``fabric``; ``steering`` adds its registry, weights and probe latency."""
        self.fabric = fabric
        self.steering = steering
        self.registry = registry or (steering.registry if steering is not None else None)
        self.latency: LatencyBook[LatencyKey] = LatencyBook(window)
        self._clock = clock
        self._lock = threading.Lock()
        self._last: dict[str, CounterSnapshot] = {}
        self._prev: dict[str, CounterSnapshot] = {}
        self._up: dict[str, bool] = {}
        self.polls = 0
        if steering is not None:
            steering.add_latency_listener(self._on_probe)

    def _on_probe(self, switch: str, model_id: int, instance_id: int, seconds: float) -> None:
        self.latency.record((model_id, instance_id, "probe"), seconds)

    def record_latency(
        self, model_id: int, instance_id: int, seconds: float, source: str = "client"
    ) -> None:
        """Add a request latency sample (instance 0: answered by a switch)."""
        self.latency.record((model_id, instance_id, source), seconds)

    # Reading ---------------------------------------------------------------------

    def poll(self) -> dict[str, CounterSnapshot]:
        """Read every switch's counters now; a switch that fails is reported down."""
        outcomes = self.fabric.run(
            lambda c: read_counters(c, clock=self._clock),
            label="read counters",
            raise_on_error=False,
        )
        with self._lock:
            self.polls += 1
            for name, o in outcomes.items():
                self._up[name] = o.ok
                if o.value is not None:
                    if name in self._last:
                        self._prev[name] = self._last[name]
                    self._last[name] = o.value
            return dict(self._last)

    def _snapshots(
        self,
    ) -> tuple[dict[str, CounterSnapshot], dict[str, CounterSnapshot], dict[str, bool]]:
        with self._lock:
            return dict(self._last), dict(self._prev), dict(self._up)

    # As a dict -------------------------------------------------------------------

    def snapshot(self, *, poll: bool = True) -> dict[str, Any]:
        """Everything as JSON-ready data (reads the counters first unless ``poll`` is False)."""
        if poll:
            self.poll()
        last, prev, up = self._snapshots()
        switches: dict[str, Any] = {}
        for name in self.fabric.names:
            snap = last.get(name)
            entry: dict[str, Any] = {"up": up.get(name, False)}
            if snap is not None:
                entry.update(_switch_dict(snap))
                if name in prev:
                    rates = packet_rates(prev[name], snap, EVENTS)
                    entry["events_per_s"] = {
                        event_name(i): round(r, 3) for i, r in sorted(rates.items()) if r
                    }
            switches[name] = entry
        out: dict[str, Any] = {"time": time.time(), "switches": switches}
        out["instances"] = self.registry.snapshot() if self.registry is not None else []
        if self.steering is not None:
            out["steering"] = self.steering.status()
        out["latency"] = [
            {"model_id": m, "instance_id": i, "source": src, **summary.to_dict()}
            for (m, i, src), summary in self._latency_items()
        ]
        return out

    def _latency_items(self) -> list[tuple[LatencyKey, LatencySummary]]:
        items = []
        for key in self.latency.tracked():
            summary = self.latency.summary(key)
            if summary is not None:
                items.append((key, summary))
        return sorted(items, key=lambda kv: kv[0])

    # As metrics ------------------------------------------------------------------

    def families(self, *, poll: bool = True) -> list[MetricFamily]:
        """Everything as Prometheus metric families (reads the counters unless ``poll``)."""
        if poll:
            self.poll()
        last, _prev, up = self._snapshots()
        fams = [
            family(
                "din_switch_up",
                "gauge",
                "1 when the switch's counters could be read over P4Runtime",
                (({"switch": n}, 1.0 if up.get(n) else 0.0) for n in self.fabric.names),
            )
        ]
        fams += _counter_families(last)
        fams += self._instance_families()
        fams += self._steering_families()
        fams.append(self._latency_family())
        return fams

    def _instance_families(self) -> list[MetricFamily]:
        views = self.registry.instances() if self.registry is not None else []
        now = self.registry.now() if self.registry is not None else 0.0

        def per(
            name: str, kind: str, help_text: str, value: Callable[[Any], float | None]
        ) -> MetricFamily:
            rows = []
            for v in views:
                x = value(v)
                if x is not None:
                    rows.append(({"instance": v.instance_id, "addr": v.addr}, x))
            return family(name, kind, help_text, rows)

        return [
            per("din_instance_up", "gauge", "1 for an instance known alive", lambda v: 1.0),
            per(
                "din_instance_queue_length",
                "gauge",
                "requests waiting (last advertisement)",
                lambda v: v.last.queue_len,
            ),
            per(
                "din_instance_utilisation_ratio",
                "gauge",
                "busy share 0..1 (last advertisement)",
                lambda v: v.last.utilisation / 100.0,
            ),
            per(
                "din_instance_request_rate",
                "gauge",
                "requests served per second (advertised)",
                lambda v: v.last.req_rate,
            ),
            per(
                "din_instance_capacity",
                "gauge",
                "requests per second it can take (advertised)",
                lambda v: v.last.capacity,
            ),
            per(
                "din_instance_latency_seconds",
                "gauge",
                "smoothed measured latency (probes)",
                lambda v: v.latency_s,
            ),
            per(
                "din_instance_advert_age_seconds",
                "gauge",
                "time since its last advertisement",
                lambda v: max(0.0, now - v.last_seen),
            ),
            per(
                "din_instance_adverts_total",
                "counter",
                "advertisements received",
                lambda v: float(v.adverts),
            ),
        ]

    def _steering_families(self) -> list[MetricFamily]:
        weights: list[tuple[dict[str, object], float]] = []
        placements: list[tuple[dict[str, object], float]] = []
        counts: list[tuple[dict[str, object], float]] = []
        if self.steering is not None:
            for sw in self.fabric.names:
                for model, by_inst in self.steering.weights(sw).items():
                    for inst, w in sorted(by_inst.items()):
                        weights.append(({"switch": sw, "model": model, "instance": inst}, w))
            status = self.steering.status()
            for p in status["partitions"]:
                for label in p["placements"]:
                    current = 1.0 if label == p["placement"] else 0.0
                    placements.append(({"model": p["model_id"], "placement": label}, current))
            for key, n in status["counts"].items():
                counts.append(({"what": key}, float(n)))
        return [
            family(
                "din_service_weight",
                "gauge",
                "selector weight of an instance in a service",
                weights,
            ),
            family(
                "din_partition_placement",
                "gauge",
                "1 where a model's in-network layers run",
                placements,
            ),
            family(
                "din_steering_total", "counter", "steering counts (adverts, relays, writes)", counts
            ),
        ]

    def _latency_family(self) -> MetricFamily:
        samples: list[Sample] = []
        for (model, inst, src), s in self._latency_items():
            base = labels(model=model, instance=inst, source=src)
            for q, v in s.quantiles:
                samples.append(Sample((*base, ("quantile", _quantile_text(q))), v))
            samples.append(Sample(base, s.total_s, "_sum"))
            samples.append(Sample(base, float(s.count), "_count"))
        return MetricFamily(
            "din_request_latency_seconds",
            "summary",
            "request latency (probe answers, client answers), quantiles over the last samples",
            tuple(samples),
        )


def _quantile_text(q: float) -> str:
    return f"{q:g}"


def _switch_dict(snap: CounterSnapshot) -> dict[str, Any]:
    return {
        "events": {event_name(i): c.packets for i, c in sorted(snap.cells(EVENTS).items())},
        "drops": {
            drop_name(i): c.packets for i, c in sorted(snap.cells(DROPS).items()) if c.packets
        },
        "classes": {
            str(i): {"packets": c.packets, "bytes": c.bytes}
            for i, c in sorted(snap.cells(CLASS_PACKETS).items())
            if c.packets
        },
        "instances": {
            str(i): {"requests": c.packets, "bytes": c.bytes}
            for i, c in sorted(snap.cells(INSTANCE_REQUESTS).items())
            if c.packets
        },
        "policy_drops": {
            str(i): c.packets for i, c in sorted(snap.cells(POLICY_DROPS).items()) if c.packets
        },
    }


def _counter_families(last: dict[str, CounterSnapshot]) -> list[MetricFamily]:
    events, drops, cls_p, cls_b, inst_p, inst_b, pol = ([] for _ in range(7))
    for sw, snap in sorted(last.items()):
        for i, c in sorted(snap.cells(EVENTS).items()):
            events.append(({"switch": sw, "event": event_name(i)}, c.packets))
        for i, c in sorted(snap.cells(DROPS).items()):
            drops.append(({"switch": sw, "reason": drop_name(i)}, c.packets))
        for i, c in sorted(snap.cells(CLASS_PACKETS).items()):
            cls_p.append(({"switch": sw, "class": i}, c.packets))
            cls_b.append(({"switch": sw, "class": i}, c.bytes))
        for i, c in sorted(snap.cells(INSTANCE_REQUESTS).items()):
            if i and (c.packets or c.bytes):
                inst_p.append(({"switch": sw, "instance": i}, c.packets))
                inst_b.append(({"switch": sw, "instance": i}, c.bytes))
        for i, c in sorted(snap.cells(POLICY_DROPS).items()):
            if c.packets:
                pol.append(({"switch": sw, "sensitivity": i}, c.packets))
    return [
        family("din_events_total", "counter", "DIN events counted by the data plane", events),
        family("din_drops_total", "counter", "packets dropped by the data plane, by reason", drops),
        family("din_class_packets_total", "counter", "packets per flow class", cls_p),
        family("din_class_bytes_total", "counter", "bytes per flow class", cls_b),
        family("din_instance_requests_total", "counter", "requests steered to an instance", inst_p),
        family(
            "din_instance_request_bytes_total", "counter", "bytes steered to an instance", inst_b
        ),
        family("din_policy_drops_total", "counter", "requests dropped by tenant policy", pol),
    ]
