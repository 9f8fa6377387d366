"""Evaluate entries the way din.p4 would: match semantics, MLP layers, the forest.

The second leg of the three-way check (model prediction == entry simulation ==
switch output): the arithmetic is din.p4's, bit for bit (bit<32> wrapping
accumulation, sign test, shift, clamp; 16-bit vote sums). Pure: imports the
standard library and this package only (numpy only through entries.mlp).
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from controller.entries.errors import EntriesError
from controller.entries.mlp import MODE_EXIT_HEAD, MODE_FINAL, MODE_NEXT_HERE
from controller.entries.schema import CLS, FEATURES, MLP, MLP_WIDTH, NUM_CLASSES, NUM_TREES, table
from controller.entries.types import (
    ActionProfileGroup,
    ActionProfileMember,
    Entity,
    Exact,
    Lpm,
    Match,
    Range,
    TableEntry,
    Ternary,
)

log = logging.getLogger(__name__)

MASK32 = 0xFFFFFFFF
MAX_PASSES = 16
MSG_REQUEST = 1
MSG_RESPONSE = 2
MSG_ESCALATION = 3
STAGE_DONE = 255


def _matches(m: Match, value: int, bits: int) -> bool:
    match m:
        case Exact(v):
            return value == v
        case Lpm(v, plen):
            mask = ((1 << plen) - 1) << (bits - plen)
            return value & mask == v & mask
        case Ternary(v, mask):
            return value & mask == v & mask
        case Range(lo, hi):
            return lo <= value <= hi


def _lpm_len(entry: TableEntry) -> int:
    return sum(m.prefix_len for _, m in entry.match if isinstance(m, Lpm))


@dataclass(frozen=True, slots=True)
class Hit:
    """A lookup result: the action run and its parameters (``entry`` None on a miss)."""

    action: str
    params: dict[str, int]
    entry: TableEntry | None


class TableSim:
    """Tables filled with entries; ``lookup`` returns the action din.p4 would run."""

    def __init__(self, entries: Iterable[Entity] = ()) -> None:
        """Index ``entries`` by table (action profile objects are ignored)."""
        self._tables: dict[str, list[TableEntry]] = {}
        self._defaults: dict[str, TableEntry] = {}
        # Tables with only exact keys are looked up by dict, as a switch hashes them.
        self._exact: dict[str, dict[tuple[int, ...], TableEntry]] = {}
        self.members: dict[int, ActionProfileMember] = {}
        self.groups: dict[int, ActionProfileGroup] = {}
        for e in entries:
            self.add(e)

    def add(self, entry: Entity) -> None:
        """Add one entry, action profile member or group, or replace a default action."""
        if isinstance(entry, ActionProfileMember):
            self.members[entry.member_id] = entry
            return
        if isinstance(entry, ActionProfileGroup):
            for mid, _ in entry.members:
                if mid not in self.members:
                    raise EntriesError(f"group {entry.group_id}: member {mid!r} not added yet")
            self.groups[entry.group_id] = entry
            return
        spec = table(entry.table)
        if entry.is_default:
            self._defaults[entry.table] = entry
            return
        if all(k.kind == "exact" for k in spec.keys):
            got = entry.match_dict()
            if set(got) != {k.name for k in spec.keys}:
                raise EntriesError(
                    f"entry of {entry.table!r}: match fields {sorted(got)!r}: expected "
                    f"{[k.name for k in spec.keys]!r}"
                )
            key = tuple(got[k.name].value for k in spec.keys)  # type: ignore[union-attr]
            index = self._exact.setdefault(entry.table, {})
            if key in index:
                raise EntriesError(f"entry of {entry.table!r}: duplicate key {key!r}")
            index[key] = entry
        rows = self._tables.setdefault(entry.table, [])
        rows.append(entry)

    def entries(self, name: str) -> list[TableEntry]:
        """The (non-default) entries of table ``name``."""
        return list(self._tables.get(name, ()))

    def lookup(self, name: str, keys: Mapping[str, int]) -> TableEntry | None:
        """The entry that wins for these key values, or None on a miss.

        A field absent from an entry's match is a wildcard (P4Runtime omits
        don't-care ternary and range fields). Among hits the highest priority
        wins, for lpm the longest prefix; equal priorities of overlapping
        entries are ambiguous in P4Runtime and rejected here.
        """
        spec = table(name)
        for key in spec.keys:
            if key.kind != "selector" and key.name not in keys:
                raise EntriesError(f"lookup in {name!r}: no value for key {key.name!r}")
        if all(k.kind == "exact" for k in spec.keys):
            return self._exact.get(name, {}).get(tuple(keys[k.name] for k in spec.keys))
        hits = [
            e
            for e in self._tables.get(name, ())
            if all(_matches(m, keys[f], spec.key(f).bits) for f, m in e.match)
        ]
        if not hits:
            return None
        if any(k.kind == "lpm" for k in spec.keys):
            return max(hits, key=_lpm_len)
        best = max(e.priority for e in hits)
        top = [e for e in hits if e.priority == best]
        if len(top) > 1:
            raise EntriesError(
                f"lookup in {name!r} with {dict(keys)!r}: {len(top)} entries of priority "
                f"{best} match; expected one"
            )
        return top[0]

    def apply(self, name: str, keys: Mapping[str, int], default: str) -> Hit:
        """Lookup with the table's default action (``default``, no params) on a miss."""
        entry = self.lookup(name, keys)
        if entry is not None and entry.action is not None:
            return Hit(entry.action, entry.param_dict(), entry)
        if entry is not None:
            raise EntriesError(f"table {name!r}: action profile entries are not simulated")
        dflt = self._defaults.get(name)
        if dflt is not None and dflt.action is not None:
            return Hit(dflt.action, dflt.param_dict(), None)
        return Hit(default, {}, None)


# ------------------------------------------------------------------ MLP


def mlp_layer(
    sim: TableSim, model_id: int, version: int, layer: int, x: Sequence[int]
) -> list[int] | None:
    """MyIngress.mlp over the 16 uint8 values ``x``; None when mlp_bias misses."""
    if len(x) != MLP_WIDTH or any(not 0 <= v <= 255 for v in x):
        raise EntriesError(f"MLP input {list(x)!r}: expected {MLP_WIDTH} values 0..255")
    base = {
        "hdr.din.model_id": model_id,
        "hdr.din.model_version": version,
        "meta.mlp.layer": layer,
    }
    bias = sim.apply(MLP + "mlp_bias", base, MLP + "layer_missing")
    if bias.action != MLP + "set_bias":
        return None
    shift = bias.params["shift"]
    acc = [bias.params[f"b{j}"] for j in range(MLP_WIDTH)]
    for i, v in enumerate(x):
        hit = sim.apply(f"{MLP}mlp_in_{i}", {**base, f"hdr.din_vec.v{i}": v}, "NoAction")
        if hit.action == MLP + "accumulate":
            acc = [(a + hit.params[f"p{j}"]) & MASK32 for j, a in enumerate(acc)]
    # Bit 31 set: negative as int32, so ReLU gives 0; else a logical shift and clamp.
    return [0 if a >> 31 else min(255, a >> shift) for a in acc]


def argmax_margin(y: Sequence[int], num_classes: int) -> tuple[int, int]:
    """din.p4's exit argmax over y[0..C-1]: (class, top1 - top2), ties to the lower index."""
    best, second, cls = y[0], 0, 0
    for k in range(1, min(num_classes, MLP_WIDTH)):
        if y[k] > best:
            second, best, cls = best, y[k], k
        elif y[k] > second:
            second = y[k]
    return cls, best - second


@dataclass(frozen=True, slots=True)
class RequestResult:
    """A DIN request after one switch: header fields the MLP stage may change."""

    msg_type: int
    stage: int
    model_version: int
    vector: tuple[int, ...]
    result_class: int
    confidence: int
    layers: tuple[int, ...]  # layer indices computed, in order (exit heads included)
    dropped: bool = False


def run_request(
    sim: TableSim, model_id: int, version: int, stage: int, vector: Sequence[int]
) -> RequestResult:
    """All passes of one switch over a DIN request (role, layers, exit head, exit)."""
    vec = list(vector)
    if version == 0:
        hit = sim.apply(
            "MyIngress.active_model_version", {"hdr.din.model_id": model_id}, "NoAction"
        )
        version = hit.params.get("version", 0)
    msg_type, result_class, confidence = MSG_REQUEST, 0, 0
    layers: list[int] = []
    head_now, head_layer, head_classes, passes = False, 0, 0, 0
    while True:
        if head_now:
            layer, num_classes, mode = head_layer, head_classes, MODE_EXIT_HEAD
        else:
            role = sim.apply(
                "MyIngress.mlp_role",
                {
                    "hdr.din.model_id": model_id,
                    "hdr.din.model_version": version,
                    "hdr.din.stage": stage,
                },
                "NoAction",
            )
            if role.action != "MyIngress.set_mlp_role":
                break
            layer, mode = stage, role.params["mode"]
            num_classes = role.params["num_classes"]
            head_layer, head_classes = role.params["head_layer"], num_classes
        y = mlp_layer(sim, model_id, version, layer, vec)
        if y is None:
            break
        layers.append(layer)
        recirc, was_head = False, head_now
        head_now = False
        if was_head or mode == MODE_FINAL:
            cls, conf = argmax_margin(y, num_classes)
            thr = sim.apply(
                "MyIngress.exit_threshold",
                {
                    "hdr.din.model_id": model_id,
                    "hdr.din.model_version": version,
                    "meta.exit_class": cls,
                },
                "NoAction",
            )
            min_conf = thr.params.get("min_confidence")
            if min_conf is not None and conf >= min_conf:
                vec, msg_type, stage = list(y), MSG_RESPONSE, STAGE_DONE
                result_class, confidence = cls, conf
            elif not was_head:
                msg_type, result_class, confidence = MSG_ESCALATION, cls, conf
        else:
            vec, stage = list(y), (stage + 1) & 0xFF
            recirc = mode in (MODE_NEXT_HERE, MODE_EXIT_HEAD)
            head_now = mode == MODE_EXIT_HEAD
        if not recirc:
            break
        if passes >= MAX_PASSES:
            return RequestResult(
                msg_type, stage, version, tuple(vec), result_class, confidence, tuple(layers), True
            )
        passes += 1
    return RequestResult(
        msg_type, stage, version, tuple(vec), result_class, confidence, tuple(layers)
    )


# ------------------------------------------------------------ classifier


@dataclass(frozen=True, slots=True)
class ClassifyResult:
    """The classifier's view of one packet (``enabled`` False when the phase missed)."""

    enabled: bool
    cls_model: int
    bins: tuple[int, ...]
    codes: tuple[tuple[int, ...], ...]  # per tree, per feature
    votes: tuple[int, ...]
    valid: bool  # at least one tree hit
    flow_class: int
    confidence: int


def classify(sim: TableSim, features: Sequence[int]) -> ClassifyResult:
    """MyIngress.classifier from the 12 feature values (FEATURES order) to class."""
    if len(features) != len(FEATURES):
        raise EntriesError(f"features {list(features)!r}: expected {len(FEATURES)} values")
    feats = dict(zip((n for n, _ in FEATURES), features, strict=True))
    phase = sim.apply(CLS + "classifier_phase", {"meta.feat.pkts": feats["pkts"]}, "off")
    if phase.action != CLS + "set_classifier":
        return ClassifyResult(False, 0, (), (), (), False, 0, 0)
    model = phase.params["cls_model"]
    bins, codes = [], [[0] * len(FEATURES) for _ in range(NUM_TREES)]
    for f, (name, _) in enumerate(FEATURES):
        q_keys = {"meta.cls.cls_model": model, f"meta.feat.{name}": feats[name]}
        q = sim.apply(f"{CLS}quant_{name}", q_keys, "")
        b = q.params.get("bin", 0)
        bins.append(b)
        c = sim.apply(f"{CLS}code_{name}", {"meta.cls.cls_model": model, f"meta.bin.{name}": b}, "")
        for t in range(NUM_TREES):
            codes[t][f] = c.params.get(f"t{t}", 0)
    votes, valid = [0] * NUM_CLASSES, False
    for t in range(NUM_TREES):
        keys = {"meta.cls.cls_model": model}
        keys.update({f"meta.c{t}.{n}": codes[t][f] for f, (n, _) in enumerate(FEATURES)})
        hit = sim.apply(f"{CLS}tree_{t}", keys, "NoAction")
        if hit.action == CLS + "tree_vote":
            valid = True
            votes = [(v + hit.params[f"s{k}"]) & 0xFFFF for k, v in enumerate(votes)]
    best, cls = votes[0], 0
    for k in range(1, NUM_CLASSES):
        if votes[k] > best:
            best, cls = votes[k], k
    return ClassifyResult(
        True,
        model,
        tuple(bins),
        tuple(tuple(row) for row in codes),
        tuple(votes),
        valid,
        cls,
        (best >> 2) & 0xFF,
    )


# -------------------------------------------------------------- steering

MASK48 = (1 << 48) - 1
MAX_INSTANCES = 64
ALL_INSTANCES = (1 << 64) - 1  # tenant_policy's default: nothing to check
CPU_PORT = 255
FLAG_FAILOVER = 0x02
FLAG_POLICY = 0x04


@dataclass(frozen=True, slots=True)
class SteerResult:
    """A request or escalation after steering and policy: where it goes, flags added, or a drop.

    ``steered``: din_steer and instance_info chose the instance here; else
    ``instance_id`` and ``addr`` are the packet's own (the policy gate's case).
    """

    steered: bool
    instance_id: int = 0
    addr: int = 0
    flags: int = 0
    dropped: bool = False


def crc16(data: bytes) -> int:
    """v1model ``HashAlgorithm.crc16`` (CRC-16/ARC: poly 0x8005 reflected, init 0)."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def selector_hash(src_addr: int, src_port: int) -> int:
    """instance_selector's hash over its key fields (``hdr.ipv4.src_addr``, ``hdr.udp.src_port``).

    Pass it as ``steer(pick=...)``; the member it selects also depends on the
    order the target keeps a group's members in (taken here as written).
    """
    return zlib.crc32(src_addr.to_bytes(4, "big") + src_port.to_bytes(2, "big"))


def _selected_action(sim: TableSim, entry: TableEntry, pick: int) -> Hit:
    if entry.action is not None:
        return Hit(entry.action, entry.param_dict(), entry)
    if entry.group_id is not None:
        group = sim.groups.get(entry.group_id)
        if group is None or not group.members:
            raise EntriesError(f"din_steer entry points at empty or unknown group {entry.group_id}")
        mid = group.members[pick % len(group.members)][0]
    else:
        mid = entry.member_id  # type: ignore[assignment]
    member = sim.members.get(mid)
    if member is None:
        raise EntriesError(f"din_steer entry points at unknown member {mid!r}")
    return Hit(member.action, dict(member.params), entry)


def policy_bitmap(sim: TableSim, tenant_id: int, sensitivity: int, stage: int) -> int:
    """tenant_policy's bitmap for a packet at ``stage``: ``allowed_raw`` at 0, else ``allowed``."""
    pol = sim.apply(
        "MyIngress.tenant_policy",
        {"hdr.din.tenant_id": tenant_id, "hdr.din.sensitivity": sensitivity},
        "MyIngress.set_allowed",
    )
    return pol.params.get("allowed_raw" if stage == 0 else "allowed", ALL_INSTANCES)


def gate_allows(sim: TableSim, bitmap: int, dst_addr: int) -> bool:
    """Whether din.p4's policy gate lets a packet that was not steered leave for ``dst_addr``.

    Not checked: an unrestricted bitmap, a packet with no route (it goes to
    the CPU port) or routed to the CPU port. Otherwise the destination must
    be an instance (``instance_addr``) whose bit is set. The TTL check that
    comes before the route is not modelled.
    """
    if bitmap == ALL_INSTANCES:
        return True
    route = sim.lookup("MyIngress.ipv4_lpm", {"hdr.ipv4.dst_addr": dst_addr})
    if route is None or (
        route.action == "MyIngress.ipv4_forward" and route.param_dict()["port"] == CPU_PORT
    ):
        return True
    dst = sim.apply(
        "MyIngress.instance_addr", {"hdr.ipv4.dst_addr": dst_addr}, "MyIngress.dst_unknown"
    )
    if dst.action != "MyIngress.set_dst_instance":
        return False
    inst = dst.params["instance_id"]
    return inst < MAX_INSTANCES and bool(bitmap >> inst & 1)


def steer(
    sim: TableSim,
    model_id: int,
    msg_type: int,
    stage: int,
    *,
    pick: int = 0,
    tenant_id: int = 0,
    sensitivity: int = 0,
    now_us: int = 0,
    last_seen: Mapping[int, int] | None = None,
    instance_id: int = 0,
    dst_addr: int = 0,
) -> SteerResult:
    """Steering and tenant policy as din.p4 runs them on a packet about to be forwarded.

    ``stage`` is the packet's after this switch's layers (0: raw inputs).
    ``instance_id`` 0: din_steer, instance_info, failover and the policy
    check with re-steer to the backup; a packet steered upstream
    (``instance_id`` set) or not matched goes through the policy gate for
    ``dst_addr`` (see :func:`gate_allows`). The selector's hash is not
    modelled: ``pick`` chooses member ``pick % size`` of the group.
    """
    unchanged = SteerResult(False, instance_id, dst_addr)
    if msg_type not in (MSG_REQUEST, MSG_ESCALATION):
        return unchanged
    allowed = policy_bitmap(sim, tenant_id, sensitivity, stage)
    if instance_id == 0:
        keys = {"hdr.din.model_id": model_id, "hdr.din.msg_type": msg_type, "hdr.din.stage": stage}
        steered = _steer_here(sim, keys, pick=pick, allowed=allowed, now_us=now_us, seen=last_seen)
        if steered is not None:
            return steered
    if not gate_allows(sim, allowed, dst_addr):
        return SteerResult(False, instance_id, dst_addr, dropped=True)
    return unchanged


def _steer_here(
    sim: TableSim,
    keys: Mapping[str, int],
    *,
    pick: int,
    allowed: int,
    now_us: int,
    seen: Mapping[int, int] | None,
) -> SteerResult | None:
    """din_steer with failover and the policy check; None when nothing was steered."""
    seen_at = seen or {}
    entry = sim.lookup("MyIngress.din_steer", keys)
    if entry is None:
        return None
    hit = _selected_action(sim, entry, pick)
    if hit.action != "MyIngress.set_instance":
        return None
    chosen = hit.params["instance_id"]
    info = sim.apply(
        "MyIngress.instance_info", {"meta.steer.instance_id": chosen}, "MyIngress.instance_unknown"
    )
    if info.action != "MyIngress.set_instance_info":
        return None
    addr, backup = info.params["addr"], info.params["backup_id"]
    stale = info.params["stale_after_us"]
    flags = 0
    last = seen_at.get(chosen, 0) if chosen < MAX_INSTANCES else 0
    if stale != 0 and backup != 0 and (now_us - last) & MASK48 > stale:
        chosen, addr, flags = backup, info.params["backup_addr"], flags | FLAG_FAILOVER
    if chosen >= MAX_INSTANCES or not allowed >> chosen & 1:
        if backup not in (0, chosen) and backup < MAX_INSTANCES and allowed >> backup & 1:
            chosen, addr = backup, info.params["backup_addr"]
            flags |= FLAG_POLICY
        else:
            return SteerResult(True, flags=flags, dropped=True)
    return SteerResult(True, chosen, addr, flags)
