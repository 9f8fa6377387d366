"""The Mininet node class for a P4Runtime switch: the real simple_switch_grpc or p4lite's.

``P4RuntimeSwitch`` starts the switch program chosen by ``p4lite.toolchain``
with simple_switch_grpc's flags on the node's interfaces, writes its log to
``<log_dir>/<name>.log``, waits until its gRPC port accepts connections (no
sleeps: it polls, and fails early with the log's tail if the process dies), and
stops it by PID. Inject it the Mininet way: ``Mininet(topo, switch=partial(
P4RuntimeSwitch, ...))`` or ``net.addSwitch(name, cls=P4RuntimeSwitch, ...)``.

May import mininet, p4lite.toolchain and the standard library.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from mininet.node import Switch

from p4lite import toolchain

# Importing Mininet makes its singleton console logger the class of every logger made
# afterwards (mininet.log: logging.setLoggerClass): a module imported later would log
# through Mininet's console handler under Mininet's name, whatever handlers its own
# logger is given. Loggers made from here on are plain ones again.
logging.setLoggerClass(logging.Logger)

log = logging.getLogger(__name__)

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 5.0


class SwitchStartError(RuntimeError):
    """A switch process exited or did not open its gRPC port in time."""


def wait_for_port(host: str, port: int, deadline: float, alive: Any = None) -> None:
    """Poll until ``host:port`` accepts a TCP connection, or raise on deadline / process exit."""
    delay = 0.005
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            pass
        if alive is not None and not alive():
            raise SwitchStartError(f"the switch process exited before {host}:{port} accepted")
        if time.monotonic() > deadline:
            raise SwitchStartError(f"{host}:{port} did not accept connections in time")
        time.sleep(delay)  # back-off between connection attempts, not a readiness guess
        delay = min(delay * 2, 0.1)


class P4RuntimeSwitch(Switch):  # type: ignore[misc]
    """A Mininet switch running a BMv2-compatible P4Runtime switch process."""

    def __init__(
        self,
        name: str,
        *,
        json_path: str | Path | None = None,
        grpc_port: int = 9559,
        device_id: int = 0,
        cpu_port: int | None = 255,
        log_dir: str | Path = "logs",
        pcap_dir: str | Path | None = None,
        port_delays_ms: dict[int, float] | None = None,
        thrift_port: int | None = None,
        tool: toolchain.Tool | None = None,
        **params: Any,
    ) -> None:
        super().__init__(name, **params)
        self.json_path = Path(json_path) if json_path else None
        self.grpc_port = grpc_port
        self.device_id = device_id
        self.cpu_port = cpu_port
        self.log_dir = Path(log_dir)
        self.pcap_dir = Path(pcap_dir) if pcap_dir else None
        self.port_delays_ms = dict(port_delays_ms or {})
        self.thrift_port = thrift_port if thrift_port is not None else 9090 + device_id
        self.tool = tool or toolchain.switch()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def log_file(self) -> Path:
        """Where the switch process writes its log."""
        return self.log_dir / f"{self.name}.log"

    def argv(self) -> list[str]:
        """The switch command line, as simple_switch_grpc spells it."""
        args = [*self.tool.argv]
        args += [str(self.json_path)] if self.json_path else ["--no-p4"]
        for port, intf in sorted(self.ports_by_number().items()):
            args += ["-i", f"{port}@{intf}"]
        args += ["--device-id", str(self.device_id), "--thrift-port", str(self.thrift_port)]
        args += ["--log-console"]
        if self.pcap_dir is not None:
            args += ["--pcap", str(self.pcap_dir)]
        if self.port_delays_ms and not self.tool.real:
            # p4lite's own flag: emulated link delay where the kernel lacks netem.
            for port, delay in sorted(self.port_delays_ms.items()):
                args += ["--port-delay", f"{port}:{delay:g}"]
        args += ["--", "--grpc-server-addr", f"127.0.0.1:{self.grpc_port}"]
        if self.cpu_port is not None:
            args += ["--cpu-port", str(self.cpu_port)]
        return args

    def ports_by_number(self) -> dict[int, str]:
        """Data-plane port number -> interface name (the loopback control interface left out)."""
        return {port: intf.name for intf, port in self.ports.items() if intf.name != "lo"}

    def start(self, controllers: Any) -> None:
        """Start the switch process and wait until its gRPC server accepts connections."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        if self.pcap_dir is not None:
            self.pcap_dir.mkdir(parents=True, exist_ok=True)
        argv = self.argv()
        log.info("%s: %s", self.name, " ".join(argv))
        with self.log_file.open("ab") as out:
            out.write(f"# {' '.join(argv)}\n".encode())
            out.flush()
            self.process = subprocess.Popen(
                argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        proc = self.process
        try:
            wait_for_port(
                "127.0.0.1",
                self.grpc_port,
                time.monotonic() + START_TIMEOUT_S,
                alive=lambda: proc.poll() is None,
            )
        except SwitchStartError as exc:
            tail = self.log_tail()
            self.stop_process()
            raise SwitchStartError(f"{self.name}: {exc}; log {self.log_file}:\n{tail}") from None

    def log_tail(self, lines: int = 15) -> str:
        """The last lines of the switch's log, for error messages."""
        try:
            text = self.log_file.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def stop_process(self) -> None:
        """Stop the switch process by PID: SIGTERM, then SIGKILL after a grace period."""
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            log.warning("%s: pid %d ignored SIGTERM; killing it", self.name, proc.pid)
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def stop(self, deleteIntfs: bool = True) -> None:  # noqa: N803 (Mininet's spelling)
        """Stop the process, then let Mininet remove the interfaces."""
        self.stop_process()
        super().stop(deleteIntfs)
