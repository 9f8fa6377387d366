"""The P4Runtime server of the p4lite switch (`p4.v1.P4Runtime`).

Maps P4Runtime entities to the switch core's runtime API through the
P4Info. May import grpc, protobuf stubs, `p4lite.switch.core.api` (and
the core) and `p4lite.switch.ports`; the core never imports this package.
"""

from p4lite.switch.server.app import (
    DEFAULT_GRPC_ADDRESS,
    ServerOptions,
    SwitchServer,
    TlsOptions,
)
from p4lite.switch.server.device import Device, SwitchFactory
from p4lite.switch.server.errors import P4RuntimeError, ServerError, StartError
from p4lite.switch.server.service import P4RUNTIME_API_VERSION, P4RuntimeService

__all__ = [
    "DEFAULT_GRPC_ADDRESS",
    "P4RUNTIME_API_VERSION",
    "Device",
    "P4RuntimeError",
    "P4RuntimeService",
    "ServerError",
    "ServerOptions",
    "StartError",
    "SwitchFactory",
    "SwitchServer",
    "TlsOptions",
]
