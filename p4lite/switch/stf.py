"""STF test runner for the p4lite switch core (the dialect of tests/conformance/README.md).

``parse_stf`` turns STF text into commands, ``run_stf`` runs them on a fresh
``Switch`` and returns an ``StfResult`` listing mismatches per port. Running
``python -m p4lite.switch.stf PROG.json TEST.stf`` prints a readable diff and exits
0 when the test passes, 1 when it fails and 2 on bad input. May import only the
standard library and ``p4lite.switch.core``.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from p4lite.switch.core import (
    ActionCall,
    CloneSession,
    CounterValue,
    ExactMatch,
    KeyInfo,
    KeyMatch,
    LpmMatch,
    MatchKind,
    MeterRates,
    RangeMatch,
    SwitchError,
    SwitchOptions,
    TernaryMatch,
)
from p4lite.switch.core import (
    Switch as CoreSwitch,
)

logger = logging.getLogger(__name__)

IGNORED = frozenset({"remove", "wait", "check_counter", "mc_node_update", "no_packet"})
PASSED_THROUGH = frozenset(
    {
        "counter_read",
        "register_read",
        "meter_get_rates",
        "mirroring_get",
    }
)


class StfError(Exception):
    """An STF file is malformed; the message names the line."""


@dataclass(frozen=True, slots=True)
class StfCommand:
    """One STF line: its keyword, its arguments (rest of the line) and line number."""

    keyword: str
    args: str
    line: int


@dataclass(frozen=True, slots=True)
class Expectation:
    """An expected packet: nibbles ('*' wildcards) and whether the length must match."""

    port: int
    nibbles: str
    exact_length: bool
    line: int

    def matches(self, data: bytes) -> bool:
        """Compare received bytes nibble by nibble."""
        got = data.hex()
        if self.exact_length and len(got) != len(self.nibbles):
            return False
        if len(got) < len(self.nibbles):
            return False
        return all(e in ("*", g) for e, g in zip(self.nibbles, got, strict=False))


@dataclass(frozen=True, slots=True)
class Mismatch:
    """One difference between expected and received packets on a port."""

    port: int
    index: int
    expected: str | None
    received: str | None
    reason: str


@dataclass(slots=True)
class StfResult:
    """The outcome of one STF run."""

    mismatches: list[Mismatch] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    received: dict[int, list[bytes]] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """True when every port got exactly its expected packets and no command failed."""
        return not self.mismatches and not self.errors

    def by_port(self) -> dict[int, list[Mismatch]]:
        """Mismatches grouped by port."""
        out: dict[int, list[Mismatch]] = {}
        for m in self.mismatches:
            out.setdefault(m.port, []).append(m)
        return out

    def render(self) -> str:
        """A readable diff."""
        lines = [f"command error: {e}" for e in self.errors]
        for port, items in sorted(self.by_port().items()):
            lines.append(f"port {port}:")
            for m in items:
                lines.append(f"  packet #{m.index}: {m.reason}")
                if m.expected is not None:
                    lines.append(f"    expected {m.expected}")
                if m.received is not None:
                    lines.append(f"    received {m.received}")
        return "\n".join(lines) if lines else "PASS"


def parse_stf(text: str) -> list[StfCommand]:
    """Split STF text into commands (comments and blank lines dropped)."""
    cmds = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split(None, 1)
        cmds.append(StfCommand(parts[0].lower(), parts[1] if len(parts) > 1 else "", lineno))
    return cmds


def _num(text: str, line: int) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise StfError(
            f"line {line}: invalid number {text!r}, expected decimal, 0x.. or 0b.."
        ) from None


def _hexdata(tokens: Sequence[str], line: int) -> str:
    data = "".join(tokens).lower()
    if not re.fullmatch(r"[0-9a-f*]*", data):
        raise StfError(f"line {line}: invalid packet data {data!r}, expected hex digits")
    return data


def _packet_bytes(data: str) -> bytes:
    """A packet line's bytes, read two hex digits at a time as p4c's BMv2 runner does.

    A lone last digit is a byte of its own value (``...20 0`` ends in 0x00).
    """
    whole = bytes.fromhex(data[: len(data) // 2 * 2])
    return whole + bytes([int(data[-1], 16)]) if len(data) % 2 else whole


def parse_key_value(info: KeyInfo, text: str, line: int) -> KeyMatch | None:
    """Turn an STF key value into a match for a key of this kind."""
    kind = info.match_kind
    if kind is MatchKind.RANGE:
        if ".." in text:
            lo, hi = text.split("..", 1)
            return RangeMatch(_num(lo, line), _num(hi, line))
        return RangeMatch(_num(text, line), _num(text, line))
    if kind in (MatchKind.EXACT, MatchKind.VALID):
        return ExactMatch(_num(text, line))
    low = text.lower()
    if low.startswith("0x"):
        digits, bpd, base = low[2:], 4, 16
    elif low.startswith("0b"):
        digits, bpd, base = low[2:], 1, 2
    else:
        if kind is MatchKind.LPM and "*" not in text:
            return LpmMatch(_num(text, line), info.bitwidth)
        raise StfError(f"line {line}: key {info.name!r} needs a hex or binary value, got {text!r}")
    full = (1 << info.bitwidth) - 1
    value = int(digits.replace("*", "0"), base) if digits else 0
    mask_digits = "".join("0" if d == "*" else ("f" if base == 16 else "1") for d in digits)
    mask = (int(mask_digits, base) if mask_digits else 0) & full
    if kind is MatchKind.LPM:
        extra = len(digits) * bpd - info.bitwidth
        plen = max(0, min(info.bitwidth, sum(1 for d in digits if d != "*") * bpd - extra))
        if "*" in digits and digits.rstrip("*").count("*"):
            raise StfError(f"line {line}: lpm value {text!r} has '*' before a digit")
        return LpmMatch(value & full & mask, plen)
    return TernaryMatch(value & mask, mask)


_ACTION_RE = re.compile(r"([A-Za-z_$][\w$.]*)\s*\((.*)\)\s*(=\s*\S+)?\s*$")


def _resolve(names: Sequence[str], name: str) -> str:
    """Exact name, else a unique dotted suffix (as p4c's runner accepts); else unchanged."""
    if name in names:
        return name
    cands = [n for n in names if n.endswith("." + name)]
    return cands[0] if len(cands) == 1 else name


def _table_name(sw: CoreSwitch, name: str) -> str:
    return _resolve([t.name for t in sw.tables()], name)


def _parse_action(sw: CoreSwitch, text: str, line: int, table: str | None = None) -> ActionCall:
    m = _ACTION_RE.search(text)
    if m is None:
        raise StfError(f"line {line}: expected ACTION(PARAM:VALUE, ...), got {text!r}")
    name, body = m.group(1), m.group(2)
    if table is not None:
        name = _resolve(sw.table_info(table).actions, name)
    info = sw.action_info(name)
    given: dict[str, int] = {}
    for raw in body.split(","):
        part = raw.strip()
        if not part:
            continue
        if ":" not in part:
            raise StfError(f"line {line}: action parameter {part!r} is not NAME:VALUE")
        pname, pval = part.split(":", 1)
        given[pname.strip()] = _num(pval.strip(), line)
    params = []
    for p in info.params:
        if p.name not in given:
            raise StfError(f"line {line}: action {name!r} misses parameter {p.name!r}")
        params.append(given.pop(p.name))
    if given:
        raise StfError(f"line {line}: action {name!r} has no parameter {sorted(given)!r}")
    return ActionCall(info.name, tuple(params))


_STACK_INDEX_RE = re.compile(r"\$([0-9]+)")


def _valid_form(name: str) -> str:
    """One spelling of a validity key: 'h.isValid()', 'h.valid' and 'h.$valid$' alike."""
    for alias in (".isValid()", ".valid"):
        if name.endswith(alias):
            return name[: -len(alias)] + ".$valid$"
    return name


def _find_key(keys: Sequence[KeyInfo], name: str, table: str, line: int) -> int:
    # p4c's runner writes a stack element 'extra[0]' as 'extra$0'
    name = _valid_form(_STACK_INDEX_RE.sub(r"[\1]", name))
    names = [_valid_form(k.name) for k in keys]
    for i, k in enumerate(names):
        if k == name:
            return i
    cands = [i for i, k in enumerate(names) if k.endswith("." + name)]
    if len(cands) == 1:
        return cands[0]
    raise StfError(f"line {line}: table {table!r} has no key {name!r}")


def _do_add(sw: CoreSwitch, args: str, line: int) -> None:
    paren = args.find("(")
    if paren < 0:
        raise StfError(f"line {line}: 'add' needs ACTION(...)")
    head = args[:paren].split()
    if len(head) < 2:
        raise StfError(f"line {line}: expected 'add TABLE [PRIORITY] KEY:VALUE ... ACTION(...)'")
    action_text = head[-1] + args[paren:]
    table = _table_name(sw, head[0])
    rest = head[1:-1]
    info = sw.table_info(table)
    priority = 0
    if rest and ":" not in rest[0]:
        given = _num(rest[0], line)
        rest = rest[1:]
        # p4c's runner hands BMv2 '10000 - PRIORITY' (smaller wins there) and only
        # for ternary tables: 0 is a valid STF priority, larger still wins here
        if info.needs_priority:
            if given < 0:
                raise StfError(f"line {line}: priority {given!r} is negative")
            priority = given + 1
    matches: list[KeyMatch | None] = [None] * len(info.keys)
    for tok in rest:
        kname, _, kval = tok.rpartition(":")
        if not kname:
            raise StfError(f"line {line}: key {tok!r} is not NAME:VALUE")
        idx = _find_key(info.keys, kname, table, line)
        matches[idx] = parse_key_value(info.keys[idx], kval, line)
    for i, k in enumerate(info.keys):
        if matches[i] is None and k.match_kind in (MatchKind.EXACT, MatchKind.VALID):
            matches[i] = ExactMatch(0)
        elif matches[i] is None and k.match_kind is MatchKind.LPM:
            matches[i] = LpmMatch(0, 0)
    sw.add_entry(table, matches, _parse_action(sw, action_text, line, table), priority)


def _rates(committed: str, peak: str, line: int) -> MeterRates:
    try:
        cir, cbs = committed.split(":")
        pir, pbs = peak.split(":")
        return MeterRates(float(cir), int(cbs, 0), float(pir), int(pbs, 0))
    except ValueError:
        raise StfError(
            f"line {line}: invalid meter rates {committed!r} {peak!r}, expected CIR:CBS PIR:PBS"
        ) from None


def _configure(sw: CoreSwitch, cmd: StfCommand, mc_nodes: list[int]) -> None:
    words = cmd.args.split()
    line = cmd.line
    match cmd.keyword:
        case "add":
            _do_add(sw, cmd.args, line)
        case "setdefault":
            parts = cmd.args.split(None, 1)
            if len(parts) != 2:
                raise StfError(f"line {line}: expected 'setdefault TABLE ACTION(...)'")
            table = _table_name(sw, parts[0])
            sw.set_default_action(table, _parse_action(sw, parts[1], line, table))
        case "register_write":
            if len(words) != 3:
                raise StfError(f"line {line}: expected 'register_write NAME INDEX VALUE'")
            sw.register_write(words[0], _num(words[1], line), _num(words[2], line))
        case "register_reset":
            sw.register_reset(words[0])
        case "counter_write" if len(words) == 4:
            sw.counter_write(
                words[0],
                _num(words[1], line),
                CounterValue(_num(words[2], line), _num(words[3], line)),
            )
        case "meter_set_rates":
            if len(words) != 4:
                raise StfError(
                    f"line {line}: expected 'meter_set_rates NAME INDEX CIR:CBS PIR:PBS'"
                )
            index, rates = _num(words[1], line), _rates(words[2], words[3], line)
            array = next((a for a in sw.arrays() if a.name == words[0]), None)
            if array is not None and array.is_direct and array.binding is not None:
                # simple_switch_CLI: a direct meter's INDEX is its table's entry handle
                sw.set_direct_meter_rates(array.binding, index, rates)
            else:
                sw.meter_set_rates(words[0], index, rates)
        case "meter_array_set_rates":
            if len(words) != 3:
                raise StfError(
                    f"line {line}: expected 'meter_array_set_rates NAME CIR:CBS PIR:PBS'"
                )
            rates = _rates(words[1], words[2], line)
            size = next((a.size for a in sw.arrays() if a.name == words[0]), 0)
            for index in range(size):
                sw.meter_set_rates(words[0], index, rates)
        case "mirroring_add":
            if len(words) != 2:
                raise StfError(f"line {line}: expected 'mirroring_add SESSION PORT'")
            sw.set_clone_session(_num(words[0], line), CloneSession(port=_num(words[1], line)))
        case "mirroring_add_mc":
            sw.set_clone_session(_num(words[0], line), CloneSession(mgrp=_num(words[1], line)))
        case "mirroring_delete":
            sw.set_clone_session(_num(words[0], line), None)
        case "mc_mgrp_create":
            sw.mc_mgrp_create(_num(words[0], line))
        case "mc_node_create":
            if not words:
                raise StfError(f"line {line}: expected 'mc_node_create RID PORT...'")
            mc_nodes.append(
                sw.mc_node_create(_num(words[0], line), [_num(w, line) for w in words[1:]])
            )
        case "mc_node_associate":
            if len(words) != 2:
                raise StfError(f"line {line}: expected 'mc_node_associate GROUP NODE'")
            sw.mc_node_associate(_num(words[0], line), _num(words[1], line))
        case _:
            raise StfError(f"line {line}: unknown command {cmd.keyword!r}")


def run_stf(
    json_text: str,
    stf_text: str,
    options: SwitchOptions | None = None,
    *,
    drop_unknown_ports: bool = False,
) -> StfResult:
    """Run one STF test on a fresh switch loaded from ``json_text``.

    The switch has the ports named by ``packet`` and ``expect`` lines. A packet
    sent to any other port is a mismatch, unless ``drop_unknown_ports`` is set:
    then it is dropped unseen, as by p4c's runner, whose BMv2 has no such port.
    """
    cmds = parse_stf(stf_text)
    sw = CoreSwitch.from_json(json_text, options)
    result = StfResult()
    expects: dict[int, list[Expectation]] = {}
    ports: set[int] = set()
    for c in cmds:
        if c.keyword in ("packet", "expect"):
            words = c.args.split()
            if not words:
                raise StfError(f"line {c.line}: {c.keyword} needs a port")
            port = _num(words[0], c.line)
            ports.add(port)
            if c.keyword == "expect":
                rest = words[1:]
                exact = bool(rest) and rest[-1].endswith("$")
                if exact:
                    rest = [*rest[:-1], rest[-1][:-1]]
                expects.setdefault(port, []).append(
                    Expectation(port, _hexdata(rest, c.line), exact, c.line)
                )
    received: dict[int, list[bytes]] = {}
    mc_nodes: list[int] = []
    for c in cmds:
        if c.keyword == "expect" or c.keyword in IGNORED or c.keyword in PASSED_THROUGH:
            continue
        if c.keyword == "packet":
            words = c.args.split()
            data_hex = _hexdata(words[1:], c.line)
            if "*" in data_hex:
                raise StfError(f"line {c.line}: packet data {data_hex!r} has a wildcard")
            for oport, odata in sw.process(_num(words[0], c.line), _packet_bytes(data_hex)):
                received.setdefault(oport, []).append(odata)
            continue
        try:
            _configure(sw, c, mc_nodes)
        except SwitchError as exc:
            result.errors.append(f"line {c.line}: {c.keyword}: {exc}")
    if drop_unknown_ports:
        received = {port: pkts for port, pkts in received.items() if port in ports}
    result.received = received
    for port in sorted(ports | set(received)):
        exp = expects.get(port, [])
        got = received.get(port, [])
        for i in range(max(len(exp), len(got))):
            e = exp[i] if i < len(exp) else None
            g = got[i] if i < len(got) else None
            if e is None and g is not None:
                why = (
                    "unexpected packet" if port in ports else "packet on a port that does not exist"
                )
                result.mismatches.append(Mismatch(port, i, None, g.hex(), why))
            elif e is not None and g is None:
                result.mismatches.append(
                    Mismatch(port, i, e.nibbles, None, f"missing packet (expect at line {e.line})")
                )
            elif e is not None and g is not None and not e.matches(g):
                result.mismatches.append(
                    Mismatch(port, i, e.nibbles, g.hex(), f"wrong packet (expect at line {e.line})")
                )
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: run one STF test and print the diff."""
    ap = argparse.ArgumentParser(prog="python -m p4lite.switch.stf", description=__doc__)
    ap.add_argument("json", type=Path, help="BMv2 JSON program")
    ap.add_argument("stf", type=Path, help="STF test")
    ap.add_argument(
        "--drop-unknown-ports",
        action="store_true",
        help="drop packets sent to ports the STF never names (p4c's runner), not fail",
    )
    ap.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING)
    try:
        result = run_stf(
            args.json.read_text(),
            args.stf.read_text(),
            drop_unknown_ports=args.drop_unknown_ports,
        )
    except (OSError, StfError, SwitchError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(result.render())
    return 0 if result.passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
