"""Inference-level telemetry: counters read over P4Runtime, latency, exported metrics.

Modules, bottom up: :mod:`~controller.telemetry.names` (din.p4's counter
cells by name), :mod:`~controller.telemetry.latency` (latency windows and
percentiles), :mod:`~controller.telemetry.counters` (CounterEntry reads of
the switches; never registers, which the real BMv2 cannot read over
P4Runtime), :mod:`~controller.telemetry.prometheus` (metric families and the
Prometheus text format), :mod:`~controller.telemetry.collector` (one
snapshot of switches, node registry and steering, as a dict and as metric
families) and :mod:`~controller.telemetry.exporter` (``/metrics`` and
``/status`` over the standard library's HTTP server).

May import the standard library, ``controller.p4rt`` and
``controller.steering``; never the CLI. This module imports nothing itself.
"""
