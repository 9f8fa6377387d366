"""nDPI's flow labels: the result files of ``ndpiReader -v 2`` (nDPI's ``tests/result/*.out``).

nDPI's tests run ``ndpiReader -q -t -i pcap/F -w result/F.out -v 2`` (its
``tests/do.sh.in``); ``printFlow`` in ``example/ndpiReader.c`` writes one line
per flow, detected or not::

    <TAB><n><TAB><l4> <src>:<sport> <-> <dst>:<dport> [VLAN: v][proto: [<tunnel>:]<ids>/<names>]
        [ClearText|Encrypted][Confidence: ...][cat: <category>/<id>][...]

``<l4>`` is ``TCP``, ``UDP``, ``ICMP``, ``ICMPV6``, ``VRRP``, ``IGMP`` or the IP
protocol number; IPv6 addresses are in brackets; ``->`` instead of ``<->``
means only one direction was seen; other protocols print ports 0. ``<ids>`` is
``master.app`` or one id, ``<names>`` alike (``91.119/TLS.Facebook``: TLS
carrying Facebook; ``5/DNS``); ``0/Unknown`` is an undetected flow; ``[cat:``
is left out for category 0 (unspecified); ``<tunnel>:`` names the tunnel
(GTP, CAPWAP, TZSP) whose inner flow the line describes. The other lines of
the file (totals, JA3 tables) are not flows and are ignored.

nDPI keys a flow by its endpoints in either order, so ``conversation`` does
too. Imports the standard library only.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass

from controller.models.errors import ModelError

log = logging.getLogger(__name__)

L4_NAMES = {"TCP": 6, "UDP": 17, "ICMP": 1, "ICMPV6": 58, "VRRP": 112, "IGMP": 2}
UNKNOWN = "Unknown"

_FLOW_LINE = re.compile(
    r"^\t(?P<n>\d+)\t(?P<l4>[A-Z0-9]+) (?P<src>\S+):(?P<sport>\d+) (?P<dir><->|->) "
    r"(?P<dst>\S+):(?P<dport>\d+) (?P<rest>.*)$"
)
_PROTO = re.compile(r"\[proto: (?:(?P<tunnel>[A-Za-z0-9_]+):)?(?P<ids>[\d.]+)/(?P<names>[^\]]*)\]")
_CATEGORY = re.compile(r"\[cat: (?P<name>[^\]/]+)/(?P<id>\d+)\]")
_VLAN = re.compile(r"^\[VLAN: (?P<vlan>\d+)\]")

# (protocol, frozenset of the two (address, port) endpoints)
Conversation = tuple[int, frozenset[tuple[str, int]]]


@dataclass(frozen=True, slots=True)
class NdpiFlow:
    """One flow of an nDPI result file."""

    protocol: int
    src: str
    sport: int
    dst: str
    dport: int
    bidirectional: bool
    master: str  # e.g. "TLS"; equal to ``app`` when nDPI names one protocol
    app: str  # e.g. "Facebook"; "Unknown" for an undetected flow
    category: str  # e.g. "SocialNetwork"; "" when nDPI gives none
    tunnel: str  # "" unless the flow was found inside a tunnel
    vlan: int  # 0 when untagged

    @property
    def ipv4(self) -> bool:
        """Whether both endpoints are IPv4 addresses."""
        return all(_is_ipv4(a) for a in (self.src, self.dst))

    @property
    def label(self) -> str:
        """nDPI's name of the flow: ``master.app``, or ``app`` when they are one."""
        return self.app if self.master == self.app else f"{self.master}.{self.app}"

    @property
    def conversation(self) -> Conversation:
        """The flow's identity in either direction."""
        return (self.protocol, frozenset({(self.src, self.sport), (self.dst, self.dport)}))


def _is_ipv4(text: str) -> bool:
    try:
        return isinstance(ipaddress.ip_address(text), ipaddress.IPv4Address)
    except ValueError:
        return False


def _address(text: str, where: str) -> str:
    raw = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    try:
        return str(ipaddress.ip_address(raw))
    except ValueError:
        # ndpiReader prints what it decoded: a fuzzed capture gives "[302e::3d00::8001]".
        log.debug("%s: address %r is no IP address: kept as text", where, text)
        return raw


def parse_flow_line(line: str, where: str = "<line>") -> NdpiFlow | None:
    """The flow of one line of a result file; None for a line that is not a flow."""
    m = _FLOW_LINE.match(line.rstrip("\r\n"))
    if m is None:
        return None
    proto = _PROTO.search(m["rest"])
    if proto is None:
        return None
    l4 = m["l4"]
    protocol = L4_NAMES.get(l4, int(l4) if l4.isdigit() else -1)
    if not 0 <= protocol <= 255:
        raise ModelError(f"{where}: L4 protocol {l4!r}: expected a name or 0..255")
    names = proto["names"]
    # One id means one protocol name, dots and all (e.g. "Z39.50").
    if "." in proto["ids"] and "." in names:
        master, app = names.split(".", 1)
    else:
        master = app = names
    category = _CATEGORY.search(m["rest"])
    vlan = _VLAN.match(m["rest"])
    sport, dport = int(m["sport"]), int(m["dport"])
    if sport > 0xFFFF or dport > 0xFFFF:
        raise ModelError(f"{where}: ports {sport!r}, {dport!r}: expected 0..65535")
    return NdpiFlow(
        protocol=protocol,
        src=_address(m["src"], where),
        sport=sport,
        dst=_address(m["dst"], where),
        dport=dport,
        bidirectional=m["dir"] == "<->",
        master=master,
        app=app,
        category=category["name"] if category else "",
        tunnel=proto["tunnel"] or "",
        vlan=int(vlan["vlan"]) if vlan else 0,
    )


def parse_result(lines: Iterable[str], source: str = "<result>") -> list[NdpiFlow]:
    """Every flow of an ``ndpiReader -v 2`` result, in file order."""
    flows = []
    for number, line in enumerate(lines, 1):
        flow = parse_flow_line(line, f"{source}:{number}")
        if flow is not None:
            flows.append(flow)
    log.debug("%s: %d flows", source, len(flows))
    return flows


def read_result(path: str) -> list[NdpiFlow]:
    """The flows of a result file (bytes that are not UTF-8 are replaced)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return parse_result(f, path)
    except OSError as exc:
        raise ModelError(f"nDPI result {path!r}: cannot read: {exc.strerror}") from exc
