"""A running switch: the P4Runtime gRPC server, the device and the data plane.

`SwitchServer` ties a `Device` to the ports' `DataPlane` and a grpc
server; it is what the command line and the component tests start.
Imports grpc, `p4lite.switch.ports` and sibling server modules.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from p4lite.switch.ports import DataPlane, PcapSet, Port
from p4lite.switch.server.device import Device, SwitchFactory
from p4lite.switch.server.errors import StartError
from p4lite.switch.server.service import P4RuntimeService

logger = logging.getLogger(__name__)

DEFAULT_GRPC_ADDRESS = "0.0.0.0:9559"


@dataclass(frozen=True, slots=True)
class TlsOptions:
    """gRPC TLS files, as simple_switch_grpc's --grpc-server-* flags name them."""

    cert: Path
    key: Path
    cacert: Path | None = None
    client_auth: bool = False


@dataclass(frozen=True, slots=True)
class ServerOptions:
    """How to run a switch server."""

    device_id: int = 0
    grpc_address: str = DEFAULT_GRPC_ADDRESS
    cpu_port: int | None = None
    tls: TlsOptions | None = None
    pcap_dir: Path | None = None
    port_delays: Mapping[int, float] = field(default_factory=dict)
    max_workers: int = 16


def _credentials(tls: TlsOptions) -> grpc.ServerCredentials:
    try:
        key = tls.key.read_bytes()
        cert = tls.cert.read_bytes()
        root = tls.cacert.read_bytes() if tls.cacert is not None else None
    except OSError as exc:
        raise StartError(f"TLS: cannot read {exc.filename!r}: {exc.strerror}") from exc
    if tls.client_auth and root is None:
        raise StartError("TLS: client authentication needs --grpc-server-cacert")
    return grpc.ssl_server_credentials(
        [(key, cert)], root_certificates=root, require_client_auth=tls.client_auth
    )


class SwitchServer:
    """The P4Runtime server with its device and data plane."""

    def __init__(
        self,
        options: ServerOptions,
        ports: Sequence[Port] = (),
        switch_factory: SwitchFactory | None = None,
    ) -> None:
        self.options = options
        self.device = Device(options.device_id, options.cpu_port, switch_factory)
        pcap = PcapSet(options.pcap_dir) if options.pcap_dir is not None else None
        self.dataplane = DataPlane(
            ports,
            self.device.process,
            cpu_port=options.cpu_port,
            on_cpu_packet=self.device.cpu_frame,
            pcap=pcap,
            delays=options.port_delays,
        )
        self.service = P4RuntimeService(self.device, inject=self.dataplane.inject)
        self._server: grpc.Server | None = None
        self.port = 0

    def load_json(self, json_text: str) -> None:
        """Run a program before any controller connects (PROG.json on the command line)."""
        self.device.load_json(json_text)

    def start(self) -> int:
        """Start the data plane and the gRPC server; return the bound TCP port."""
        server = grpc.server(
            futures.ThreadPoolExecutor(
                max_workers=self.options.max_workers, thread_name_prefix="p4rt"
            ),
            handlers=[self.service.handler()],
            options=[
                ("grpc.max_receive_message_length", 256 * 1024 * 1024),
                ("grpc.max_send_message_length", 256 * 1024 * 1024),
                ("grpc.so_reuseport", 0),
            ],
        )
        address = self.options.grpc_address
        try:
            if self.options.tls is not None:
                port = server.add_secure_port(address, _credentials(self.options.tls))
            else:
                port = server.add_insecure_port(address)
        except RuntimeError as exc:
            raise StartError(f"gRPC: cannot listen on {address!r}: {exc}") from exc
        if port == 0:
            raise StartError(f"gRPC: cannot listen on {address!r}")
        self.dataplane.start()
        server.start()
        self._server = server
        self.port = port
        logger.info("P4Runtime server listening on %s (port %d)", address, port)
        return port

    def stop(self, grace: float = 0.5) -> None:
        """Stop the gRPC server, end the streams, stop the data plane."""
        self.service.close()
        if self._server is not None:
            self._server.stop(grace).wait()
            self._server = None
        self.dataplane.stop()
        self.device.close()
        logger.info("switch stopped")

    def wait(self) -> None:
        """Block until the gRPC server terminates."""
        if self._server is not None:
            self._server.wait_for_termination()
