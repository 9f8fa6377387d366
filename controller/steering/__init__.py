"""Compute-aware steering: node registry, path selection, failover, policy, re-partitioning.

Modules, bottom up: :mod:`~controller.steering.errors`, :mod:`~controller.steering.adverts`
(advertisements from digests and packet-ins, relay frames),
:mod:`~controller.steering.registry` (instances, load, latency, expiry),
:mod:`~controller.steering.weights` (integer weights with hysteresis),
:mod:`~controller.steering.policy` (tenant rules -> ``tenant_policy`` rows),
:mod:`~controller.steering.config` (the steering plan and its JSON),
:mod:`~controller.steering.plan` (one switch's plan and entries),
:mod:`~controller.steering.routes` (shortest-path IPv4 routes) are pure;
:mod:`~controller.steering.program` (difference writes),
:mod:`~controller.steering.probe` (latency probes),
:mod:`~controller.steering.repartition` (moving layers) and
:mod:`~controller.steering.service` (the loop) talk P4Runtime.

For a launcher, the whole API is::

    from controller.steering.config import load_config
    from controller.steering.service import SteeringService
    from controller.telemetry.collector import TelemetryCollector
    from controller.telemetry.exporter import MetricsExporter

    service = SteeringService(fabric, load_config("steering.json"))  # fabric: p4rt Fabric
    service.start()                      # the fabric's connections must be primary
    exporter = MetricsExporter(TelemetryCollector(fabric, steering=service), "0.0.0.0", 9100)
    exporter.start()
    ...
    exporter.stop()
    service.stop()

May import the standard library, ``controller.entries``, ``controller.p4rt``,
``controller.models`` and ``controller.install``; never ``controller.telemetry``, the CLI
or ``topologies``. This module imports nothing itself.
"""
