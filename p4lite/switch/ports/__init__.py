"""Switch port I/O: AF_PACKET raw ports, in-memory ports, pcap capture, the CPU
port codec and the data-plane loop. May import only the standard library; never
the switch core or the server.
"""

from p4lite.switch.ports.afpacket import RawPort
from p4lite.switch.ports.base import Port, PortError
from p4lite.switch.ports.cpu import ControllerHeader, HeaderField, controller_header
from p4lite.switch.ports.loop import DataPlane, PortStats, ProcessFn
from p4lite.switch.ports.memory import MemoryPort
from p4lite.switch.ports.pcap import PcapSet, PcapWriter, read_pcap

__all__ = [
    "ControllerHeader",
    "DataPlane",
    "HeaderField",
    "MemoryPort",
    "PcapSet",
    "PcapWriter",
    "Port",
    "PortError",
    "PortStats",
    "ProcessFn",
    "RawPort",
    "controller_header",
    "read_pcap",
]
