"""Labelled flow data sets: from real captures (nDPI's test captures and their result
files) or from the frames a traffic generator makes (``from_frames``).

``derive`` reads a tree laid out like nDPI's source (``tests/pcap/<F>`` and
``tests/result/<F>.out``), turns each capture into din.p4's flows
(``capture.din_packets``: unidirectional 5-tuples over IPv4, the switch's
packet semantics) and labels each flow with the workload class that
``ndpi_classes.workload_of`` gives nDPI's line for its conversation (matched
in either direction). Flows with no nDPI line, or none the mapping keeps, are
dropped and counted; a conversation listed twice with different labels is
dropped too. Hash collisions in the switch's flow table are not modelled:
each flow is seen as if it had its slot alone.

The result, ``FlowData``, keeps every labelled flow's packets (time, IPv4
length, TCP flags), so features can be taken at any packet (``flow_features``,
the Python reference of din.p4's registers). Files: one ``.npz`` zip of
``.npy`` arrays and ``dataset.json`` (the manifest: source, mapping, classes,
counts), validated on load with errors that name the field. ``flow_split``
makes a train/test ``Split``, stratified by class, one sample per flow.
Imports numpy, scikit-learn (through ``synthetic``) and the standard library.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import socket
import struct
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from controller.models.capture import (
    LINKTYPE_ETHERNET,
    DinPacket,
    FlowKey,
    din_packets,
    din_view,
    ipv4_offset,
)
from controller.models.datasets import Split
from controller.models.errors import ModelError
from controller.models.ndpi import Conversation, NdpiFlow, read_result
from controller.models.ndpi_classes import BULK, mapping_table, workload_of
from controller.models.synthetic import FLOW_CLASSES, FlowSet

log = logging.getLogger(__name__)

NDPI_FLOWS = "ndpi-flows"
FORMAT = "din-flow-data"
FORMAT_VERSION = 1
MANIFEST = "dataset.json"
CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".cap")
REWRITTEN = "checksum_rewritten"
ARRAYS = ("packets", "offsets", "keys", "labels", "captures", "apps")


@dataclass(frozen=True, slots=True, eq=False)
class FlowData:
    """Labelled unidirectional flows with their packets, and the manifest that says whence."""

    classes: tuple[str, ...]
    packets: npt.NDArray[np.int64]  # (packets, 3): ts_us, IPv4 total_len, TCP flags
    offsets: npt.NDArray[np.int64]  # (flows + 1,): flow i is packets[offsets[i]:offsets[i+1]]
    keys: npt.NDArray[np.int64]  # (flows, 5): src, dst, protocol, sport, dport
    labels: npt.NDArray[np.int64]  # (flows,): index into classes
    captures: npt.NDArray[np.int64]  # (flows,): index into capture_names
    apps: npt.NDArray[np.int64]  # (flows,): index into app_names (nDPI's label)
    capture_names: tuple[str, ...]
    app_names: tuple[str, ...]
    manifest: dict[str, object] = field(default_factory=dict)

    @property
    def flows(self) -> int:
        """Number of flows."""
        return int(self.labels.shape[0])

    def flow(self, index: int) -> tuple[tuple[int, int, int], ...]:
        """Packets ``(ts_us, length, tcp_flags)`` of flow ``index``."""
        rows = self.packets[self.offsets[index] : self.offsets[index + 1]]
        return tuple((int(t), int(n), int(f)) for t, n, f in rows)

    def service_ports(self) -> npt.NDArray[np.int64]:
        """Each flow's ``service_port`` feature: min(sport, dport)."""
        ports: npt.NDArray[np.int64] = np.minimum(self.keys[:, 3], self.keys[:, 4])
        return ports

    def flow_set(self, seed: int = 0) -> FlowSet:
        """The flows as a ``FlowSet`` (features at the N-th or a drawn packet, as synthetic)."""
        return FlowSet(
            self.classes,
            tuple(self.flow(i) for i in range(self.flows)),
            tuple(int(p) for p in self.service_ports()),
            self.labels.copy(),
            seed,
        )

    def class_counts(self) -> dict[str, int]:
        """Flows per class."""
        counts = np.bincount(self.labels, minlength=len(self.classes))
        return {c: int(n) for c, n in zip(self.classes, counts, strict=True)}


# ------------------------------------------------------------------ derive


@dataclass(slots=True)
class _Tally:
    captures: int = 0
    packets: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    flows_dropped: dict[str, int] = field(default_factory=dict)

    def drop(self, reason: str, n: int = 1) -> None:
        self.flows_dropped[reason] = self.flows_dropped.get(reason, 0) + n


def _ip_text(value: int) -> str:
    return socket.inet_ntoa(struct.pack("!I", value))


def _conversation(key: FlowKey) -> Conversation:
    ends = {(_ip_text(key.src), key.sport), (_ip_text(key.dst), key.dport)}
    return (key.protocol, frozenset(ends))


def _labels(flows: Sequence[NdpiFlow]) -> dict[Conversation, NdpiFlow | None]:
    """nDPI's flow per conversation (None: listed twice with different labels)."""
    out: dict[Conversation, NdpiFlow | None] = {}
    for flow in flows:
        if not flow.ipv4:
            continue
        conv = flow.conversation
        if conv in out:
            known = out[conv]
            if known is not None and known.label != flow.label:
                out[conv] = None
            continue
        out[conv] = flow
    return out


@dataclass(slots=True)
class _Builder:
    classes: tuple[str, ...]
    packets: list[npt.NDArray[np.int64]] = field(default_factory=list)
    keys: list[tuple[int, int, int, int, int]] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    captures: list[int] = field(default_factory=list)
    apps: list[int] = field(default_factory=list)
    capture_names: list[str] = field(default_factory=list)
    app_index: dict[str, int] = field(default_factory=dict)

    def add(self, key: FlowKey, rows: list[DinPacket], workload: str, app: str) -> None:
        self.packets.append(
            np.array([(p.ts_us, p.length, p.tcp_flags) for p in rows], dtype=np.int64)
        )
        self.keys.append((key.src, key.dst, key.protocol, key.sport, key.dport))
        self.labels.append(self.classes.index(workload))
        self.captures.append(len(self.capture_names) - 1)
        self.apps.append(self.app_index.setdefault(app, len(self.app_index)))


def _add_capture(
    builder: _Builder, pcap: Path, result: Path, tally: _Tally, min_packets: int
) -> None:
    skipped: dict[str, int] = {}
    by_flow: dict[FlowKey, list[DinPacket]] = {}
    for packet in din_packets(pcap, skipped):
        by_flow.setdefault(packet.key, []).append(packet)
    for reason, n in skipped.items():
        tally.skipped[reason] = tally.skipped.get(reason, 0) + n
    tally.packets += sum(len(v) for v in by_flow.values())
    labels = _labels(read_result(str(result)))
    builder.capture_names.append(pcap.name)
    volume = {key: sum(p.length for p in rows) for key, rows in by_flow.items()}
    for key, rows in by_flow.items():
        conv = _conversation(key)
        if conv not in labels:
            tally.drop("no_ndpi_line")
            continue
        flow = labels[conv]
        if flow is None:
            tally.drop("conflicting_labels")
            continue
        verdict = workload_of(flow)
        if verdict.workload is None:
            tally.drop(verdict.reason)
            continue
        if verdict.direction == BULK and volume[key] < volume.get(key.reverse(), 0):
            tally.drop("not_the_bulk_direction")
            continue
        if len(rows) < min_packets:
            tally.drop("too_few_packets")
            continue
        builder.add(key, rows, verdict.workload, flow.label)


def capture_pairs(source: str | os.PathLike[str]) -> list[tuple[Path, Path]]:
    """(capture, result file) pairs of an nDPI-like tree, sorted by capture name."""
    root = Path(source)
    pcaps, results = root / "tests" / "pcap", root / "tests" / "result"
    if not pcaps.is_dir() or not results.is_dir():
        raise ModelError(
            f"nDPI source {str(root)!r}: expected folders tests/pcap and tests/result "
            "(run `make data` to fetch them)"
        )
    pairs = []
    for pcap in sorted(pcaps.iterdir()):
        result = results / f"{pcap.name}.out"
        if pcap.suffix in CAPTURE_SUFFIXES and result.is_file():
            pairs.append((pcap, result))
    if not pairs:
        raise ModelError(f"nDPI source {str(root)!r}: no capture in tests/pcap has a result file")
    return pairs


def derive(
    source: str | os.PathLike[str], *, min_packets: int = 1, name: str = NDPI_FLOWS
) -> FlowData:
    """Labelled flows of every capture of ``source`` that has a result file.

    Flows with fewer than ``min_packets`` packets are dropped (and counted).
    """
    if min_packets < 1:
        raise ModelError(f"min packets {min_packets!r}: expected an int >= 1")
    builder = _Builder(FLOW_CLASSES)
    tally = _Tally()
    for pcap, result in capture_pairs(source):
        try:
            _add_capture(builder, pcap, result, tally, min_packets)
        except ModelError as exc:
            # A capture that cannot be read at all (nDPI ships fuzzed ones) is left out.
            log.warning("%s: left out: %s", pcap.name, exc)
            tally.drop("unreadable_capture")
            continue
        tally.captures += 1
    if not builder.labels:
        raise ModelError(f"nDPI source {str(source)!r}: no labelled IPv4 flow in any capture")
    lengths = [len(p) for p in builder.packets]
    data = FlowData(
        classes=FLOW_CLASSES,
        packets=np.concatenate(builder.packets).astype(np.int64),
        offsets=np.concatenate(([0], np.cumsum(lengths))).astype(np.int64),
        keys=np.array(builder.keys, dtype=np.int64),
        labels=np.array(builder.labels, dtype=np.int64),
        captures=np.array(builder.captures, dtype=np.int64),
        apps=np.array(builder.apps, dtype=np.int64),
        capture_names=tuple(builder.capture_names),
        app_names=tuple(builder.app_index),
        manifest={},
    )
    manifest: dict[str, object] = {
        "name": name,
        "source": str(source),
        "mapping": mapping_table(),
        "min_packets": min_packets,
        "captures_read": tally.captures,
        "packets_in_flows": tally.packets,
        "packets_skipped": {k: v for k, v in sorted(tally.skipped.items()) if k != REWRITTEN},
        # Taken with the checksum the wire carried (see controller.models.capture).
        "packets_checksum_rewritten": tally.skipped.get(REWRITTEN, 0),
        "flows_dropped": dict(sorted(tally.flows_dropped.items())),
        "flows_per_class": data.class_counts(),
        "packets_per_class": {
            c: int(np.diff(data.offsets)[data.labels == i].sum())
            for i, c in enumerate(data.classes)
        },
    }
    log.info("derived %d flows from %d captures of %s", data.flows, tally.captures, source)
    return _with_manifest(data, manifest)


@dataclass(frozen=True, slots=True)
class LabelledFrames:
    """One flow given as Ethernet frames: its class, a label of its origin, ``(ts_us, frame)``."""

    workload: str
    app: str
    frames: Sequence[tuple[int, bytes]]


def from_frames(
    flows: Sequence[LabelledFrames], *, name: str, source: str, detail: dict[str, object]
) -> FlowData:
    """Labelled flows from Ethernet frames (e.g. a traffic generator's), as din.p4 sees them.

    Each entry must hold one unidirectional flow: every frame that din.p4's flow
    registers take (``capture.din_view``) must carry the same 5-tuple. Frames it
    does not take are counted in the manifest; a flow left with none is dropped
    and counted. ``detail`` goes into the manifest as it is (how the frames were made).
    """
    builder = _Builder(FLOW_CLASSES)
    builder.capture_names.append(source)
    tally = _Tally()
    for i, flow in enumerate(flows):
        if flow.workload not in FLOW_CLASSES:
            raise ModelError(f"flow {i}: class {flow.workload!r}: expected one of {FLOW_CLASSES}")
        rows: list[DinPacket] = []
        for ts_us, frame in flow.frames:
            start = ipv4_offset(LINKTYPE_ETHERNET, frame)
            view = (
                start
                if isinstance(start, str)
                else din_view(ts_us, frame[start:], len(frame) - start)
            )
            if isinstance(view, str):
                tally.skipped[view] = tally.skipped.get(view, 0) + 1
                continue
            if rows and view.key != rows[0].key:
                raise ModelError(
                    f"flow {i} ({flow.app}): frames of two flows, {rows[0].key!r} and {view.key!r}"
                )
            rows.append(view)
        tally.packets += len(rows)
        if not rows:
            tally.drop("no_packet_taken")
            continue
        builder.add(rows[0].key, rows, flow.workload, flow.app)
    if not builder.labels:
        raise ModelError(f"{source}: no flow with a packet din.p4 takes")
    lengths = [len(p) for p in builder.packets]
    data = FlowData(
        classes=FLOW_CLASSES,
        packets=np.concatenate(builder.packets).astype(np.int64),
        offsets=np.concatenate(([0], np.cumsum(lengths))).astype(np.int64),
        keys=np.array(builder.keys, dtype=np.int64),
        labels=np.array(builder.labels, dtype=np.int64),
        captures=np.array(builder.captures, dtype=np.int64),
        apps=np.array(builder.apps, dtype=np.int64),
        capture_names=tuple(builder.capture_names),
        app_names=tuple(builder.app_index),
        manifest={},
    )
    manifest: dict[str, object] = {
        "name": name,
        "source": source,
        **detail,
        "packets_in_flows": tally.packets,
        "packets_skipped": dict(sorted(tally.skipped.items())),
        "flows_dropped": dict(sorted(tally.flows_dropped.items())),
        "flows_per_class": data.class_counts(),
        "packets_per_class": {
            c: int(np.diff(data.offsets)[data.labels == i].sum())
            for i, c in enumerate(data.classes)
        },
    }
    log.info("%d flows from %s", data.flows, source)
    return _with_manifest(data, manifest)


def _with_manifest(data: FlowData, manifest: dict[str, object]) -> FlowData:
    return FlowData(
        data.classes,
        data.packets,
        data.offsets,
        data.keys,
        data.labels,
        data.captures,
        data.apps,
        data.capture_names,
        data.app_names,
        manifest,
    )


# ------------------------------------------------------------------- files


def _array_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.ascontiguousarray(arr), allow_pickle=False)
    return buf.getvalue()


def save_flow_data(data: FlowData, path: str | os.PathLike[str]) -> None:
    """Write ``data`` as one ``.npz`` (arrays + ``dataset.json``), atomically."""
    out = Path(path)
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        **data.manifest,
        "classes": list(data.classes),
        "capture_names": list(data.capture_names),
        "app_names": list(data.app_names),
        "flows": data.flows,
    }
    arrays = {name: getattr(data, name) for name in ARRAYS}
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.")
    try:
        with os.fdopen(fd, "wb") as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(MANIFEST, json.dumps(manifest, indent=2, sort_keys=False))
            for name, arr in arrays.items():
                zf.writestr(f"{name}.npy", _array_bytes(arr))
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    log.info("wrote %s: %d flows", out, data.flows)


def file_digest(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file, hex."""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError as exc:
        raise ModelError(f"flow data {str(path)!r}: cannot read: {exc.strerror}") from exc


def _names(where: str, manifest: dict[str, object], key: str) -> tuple[str, ...]:
    value = manifest.get(key)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ModelError(f"{where}: {MANIFEST}: {key} {value!r}: expected a list of strings")
    return tuple(value)


def _int_array(where: str, arrays: dict[str, np.ndarray], name: str, ndim: int) -> np.ndarray:
    arr = arrays.get(name)
    if arr is None:
        raise ModelError(f"{where}: array {name!r} is missing")
    if arr.ndim != ndim or arr.dtype.kind not in "iu":
        raise ModelError(
            f"{where}: array {name!r}: expected {ndim}-D integers, got {arr.dtype} {arr.shape!r}"
        )
    return arr.astype(np.int64)


def _index_in(where: str, name: str, arr: np.ndarray, size: int) -> None:
    if arr.size and (arr.min() < 0 or arr.max() >= size):
        raise ModelError(
            f"{where}: array {name!r}: values {int(arr.min())}..{int(arr.max())}: "
            f"expected indices 0..{size - 1}"
        )


def load_flow_data(path: str | os.PathLike[str]) -> FlowData:
    """Read and validate a flow data file written by ``save_flow_data``."""
    where = str(path)
    try:
        with zipfile.ZipFile(path) as zf:
            manifest = json.loads(zf.read(MANIFEST))
            arrays = {
                n[: -len(".npy")]: np.load(io.BytesIO(zf.read(n)), allow_pickle=False)
                for n in zf.namelist()
                if n.endswith(".npy")
            }
    except FileNotFoundError:
        raise ModelError(f"{where}: no such flow data file (make data writes one)") from None
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise ModelError(f"{where}: cannot read flow data: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        got = manifest.get("format") if isinstance(manifest, dict) else manifest
        raise ModelError(f"{where}: {MANIFEST}: format {got!r}: expected {FORMAT!r}")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ModelError(
            f"{where}: {MANIFEST}: format_version {manifest.get('format_version')!r}: "
            f"expected {FORMAT_VERSION}"
        )
    classes = _names(where, manifest, "classes")
    captures = _names(where, manifest, "capture_names")
    apps = _names(where, manifest, "app_names")
    packets = _int_array(where, arrays, "packets", 2)
    offsets = _int_array(where, arrays, "offsets", 1)
    keys = _int_array(where, arrays, "keys", 2)
    labels = _int_array(where, arrays, "labels", 1)
    flows = labels.shape[0]
    if packets.shape[1:] != (3,) or keys.shape != (flows, 5):
        raise ModelError(
            f"{where}: arrays 'packets' {packets.shape!r} and 'keys' {keys.shape!r}: "
            f"expected (n, 3) and ({flows}, 5)"
        )
    if (
        offsets.shape != (flows + 1,)
        or offsets[0] != 0
        or offsets[-1] != packets.shape[0]
        or np.any(np.diff(offsets) < 1)
    ):
        raise ModelError(
            f"{where}: array 'offsets': expected {flows + 1} increasing values from 0 to "
            f"{packets.shape[0]}"
        )
    index_arrays = {"captures": len(captures), "apps": len(apps)}
    out: dict[str, np.ndarray] = {}
    for name, size in index_arrays.items():
        arr = _int_array(where, arrays, name, 1)
        if arr.shape != (flows,):
            raise ModelError(f"{where}: array {name!r} {arr.shape!r}: expected ({flows},)")
        _index_in(where, name, arr, size)
        out[name] = arr
    _index_in(where, "labels", labels, len(classes))
    meta = {
        k: v
        for k, v in manifest.items()
        if k not in ("format", "format_version", "classes", "capture_names", "app_names")
    }
    return FlowData(
        classes=classes,
        packets=packets,
        offsets=offsets,
        keys=keys,
        labels=labels,
        captures=out["captures"],
        apps=out["apps"],
        capture_names=captures,
        app_names=apps,
        manifest=meta,
    )


# ------------------------------------------------------------------- split


def flow_split(
    path: str | os.PathLike[str],
    seed: int = 0,
    test_fraction: float = 0.25,
    packet_limit: int | None = None,
    min_packets: int | None = None,
) -> Split:
    """A flow data file as integer feature vectors, one per flow, split stratified by class.

    ``packet_limit`` and ``min_packets`` as in ``FlowSet.features``: the features
    a switch has at each flow's N-th packet (or its last, when shorter), or at a
    packet drawn from M..N. Every class present needs at least 2 flows.
    """
    from sklearn.model_selection import train_test_split  # noqa: PLC0415

    if not 0.0 < test_fraction < 1.0:
        raise ModelError(f"test fraction {test_fraction!r}: expected a number in (0, 1)")
    data = load_flow_data(path)
    counts = data.class_counts()
    thin = {c: n for c, n in counts.items() if n == 1}
    if thin:
        raise ModelError(
            f"flow data {str(path)!r}: classes with one flow {thin!r}: a stratified split "
            "needs at least 2 flows per class present"
        )
    x = data.flow_set(seed).features(packet_limit, min_packets)
    x_train, x_test, y_train, y_test = train_test_split(
        x, data.labels, test_size=test_fraction, random_state=seed, stratify=data.labels
    )
    name = data.manifest.get("name")
    return Split(
        name=name if isinstance(name, str) else NDPI_FLOWS,
        classes=data.classes,
        x_train=x_train,
        y_train=y_train,
        x_test=x_test,
        y_test=y_test,
        seed=seed,
        test_fraction=test_fraction,
    )
