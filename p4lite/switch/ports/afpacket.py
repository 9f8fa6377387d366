"""Raw AF_PACKET ports bound to network interfaces (Linux only).

The socket sees every frame on the interface, including the ones the
switch itself transmits; those carry PACKET_OUTGOING and are skipped, as
BMv2 does. The interface is put in promiscuous mode through a packet
membership, which the kernel drops with the socket. Imports only the
standard library and `ports.base`.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import socket
import struct

from p4lite.switch.ports.base import Port, PortError

logger = logging.getLogger(__name__)

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_ADD_MEMBERSHIP = 1
PACKET_MR_PROMISC = 1
PACKET_OUTGOING = 4
PACKET_AUXDATA = 8
PACKET_IGNORE_OUTGOING = 23
TP_STATUS_VLAN_VALID = 1 << 4
TP_STATUS_VLAN_TPID_VALID = 1 << 6
ETH_P_8021Q = 0x8100
_MAX_FRAME = 65536 + 64
_SO_RCVBUFFORCE = 33
# Small frames cost about 1 KiB each of receive buffer (skb overhead).
_RCVBUF = 8 * 1024 * 1024
# struct tpacket_auxdata: status, len, snaplen, mac, net, vlan_tci, vlan_tpid.
_AUX = struct.Struct("=IIIHHHH")
_AUX_SPACE = socket.CMSG_SPACE(_AUX.size)


def _restore_vlan(frame: bytes, aux: bytes) -> bytes:
    status, _, _, _, _, tci, tpid = _AUX.unpack_from(aux)
    if tci == 0 and not status & TP_STATUS_VLAN_VALID:
        return frame
    if not status & TP_STATUS_VLAN_TPID_VALID:
        tpid = ETH_P_8021Q
    return frame[:12] + struct.pack("!HH", tpid, tci) + frame[12:]


class RawPort(Port):
    """A port on a real (or veth) interface through an AF_PACKET raw socket."""

    def __init__(self, number: int, iface: str) -> None:
        super().__init__(number, iface)
        try:
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        except (OSError, AttributeError) as exc:
            raise PortError(f"interface {iface!r}: cannot open a raw socket: {exc}") from exc
        try:
            sock.bind((iface, ETH_P_ALL))
            ifindex = socket.if_nametoindex(iface)
            mreq = struct.pack("iHH8s", ifindex, PACKET_MR_PROMISC, 0, b"")
            sock.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RCVBUF)
            # The kernel strips received VLAN tags into auxdata; libpcap (and so
            # BMv2) puts them back, and so do we.
            sock.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
            sock.setblocking(False)
        except OSError as exc:
            sock.close()
            raise PortError(f"interface {iface!r}: cannot bind a raw socket: {exc}") from exc
        with contextlib.suppress(OSError):
            # Without this every frame the switch sends is also queued on its own
            # socket, costing a wake-up and a read each; the kernel (4.20+) then
            # skips the copy. Older kernels still work through the check in recv.
            sock.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
        with contextlib.suppress(OSError):
            # Beyond rmem_max when privileged (CAP_NET_ADMIN), so that bursts
            # survive while the loop is busy; SO_RCVBUF above is the fallback.
            sock.setsockopt(socket.SOL_SOCKET, _SO_RCVBUFFORCE, _RCVBUF)
        self._sock = sock
        self._buf = bytearray(_MAX_FRAME)
        self._view = memoryview(self._buf)

    def fileno(self) -> int:
        """The raw socket's descriptor."""
        return self._sock.fileno()

    def recv(self) -> bytes | None:
        """Next incoming frame, or None when none waits; frames this host sent are skipped."""
        recvmsg_into = self._sock.recvmsg_into
        buf = [self._buf]
        while True:
            try:
                size, ancdata, _flags, addr = recvmsg_into(buf, _AUX_SPACE)
            except BlockingIOError:
                return None
            except OSError as exc:
                if exc.errno in (errno.ENODEV, errno.ENXIO):
                    raise PortError(f"interface {self.name!r} is gone: {exc}") from exc
                logger.warning("port %s: receive failed: %s", self, exc)
                return None
            if addr[2] != PACKET_OUTGOING:
                break
        frame = bytes(self._view[:size])
        for level, kind, data in ancdata:
            if level == SOL_PACKET and kind == PACKET_AUXDATA and len(data) >= _AUX.size:
                return _restore_vlan(frame, data)
        return frame

    def send(self, frame: bytes) -> None:
        """Transmit a frame on the interface."""
        try:
            self._sock.send(frame)
        except OSError as exc:
            logger.warning("port %s: dropped a %d-byte frame on send: %s", self, len(frame), exc)

    def close(self) -> None:
        """Close the socket."""
        self._sock.close()
