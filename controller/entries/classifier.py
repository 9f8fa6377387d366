"""Tree / forest flow classifiers -> din.p4 classifier entries (Planter-style encoding).

quant_<f>: feature value range -> bin (the models layer's code, one per
threshold interval); code_<f>: bin -> one 16-bit code per tree, bit k set when
the bin lies above the k-th threshold that tree uses on f; tree_<t>: one
ternary entry per leaf over the tree's 12 codes, whose action adds the leaf's
class scores. Also classifier_phase (per-packet model, then flow model) and
class_qos. Pure: imports the standard library and controller.models.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from controller.entries.errors import EntriesError
from controller.entries.schema import CLS, FEATURES, NUM_CLASSES, NUM_TREES
from controller.entries.types import Exact, Range, TableEntry, Ternary
from controller.models.trees import LEAF, ForestModel, Tree, leaf_boxes
from controller.models.trees import leaf_scores as model_leaf_scores

log = logging.getLogger(__name__)

MAX_BINS = 256  # meta.bin.<f> is bit<8>
MAX_TREE_THRESHOLDS = 16  # bits of a tree code
SCORE_MAX = 255
SCORES = ("proba", "vote")
U32_MAX = 0xFFFFFFFF
PRIORITY = 1  # quant ranges and tree leaves are disjoint: any one priority will do


def tree_thresholds(tree: Tree, feature: int) -> list[int]:
    """Sorted bin thresholds (go left iff bin <= t) that ``tree`` uses on ``feature``."""
    inner = (tree.feature == feature) & (tree.feature != LEAF)
    return sorted({int(c) for c in tree.code[inner]})


def tree_code(thresholds: Sequence[int], bin_: int) -> int:
    """A tree's code of a bin: bit k set when ``bin_ > thresholds[k]``."""
    return sum(1 << k for k, t in enumerate(thresholds) if bin_ > t)


def box_ternary(thresholds: Sequence[int], lo: int, hi: int) -> Ternary | None:
    """Ternary match of codes whose bins lie in lo..hi (None: any bin, omit the field).

    lo and hi are at the tree's own thresholds (lo = t + 1 or 0, hi = t or the
    last bin), so the bits of the thresholds below lo (1) and at or above hi
    (0) decide it; thresholds strictly inside do not matter.
    """
    value = mask = 0
    for k, t in enumerate(thresholds):
        if t < lo:
            value |= 1 << k
            mask |= 1 << k
        elif t >= hi:
            mask |= 1 << k
    return Ternary(value, mask) if mask else None


def _check_model(model: ForestModel, cls_model: int) -> None:
    where = f"classifier {model.name!r}"
    if not 0 <= cls_model <= 0xFF:
        raise EntriesError(f"{where}: cls_model {cls_model!r}: expected 0..255 (bit<8>)")
    if len(model.trees) > NUM_TREES or not model.trees:
        raise EntriesError(f"{where}: {len(model.trees)} trees: expected 1..{NUM_TREES}")
    if not 1 <= len(model.classes) <= NUM_CLASSES:
        raise EntriesError(f"{where}: {len(model.classes)} classes: expected 1..{NUM_CLASSES}")
    names = tuple((f.spec.name, f.spec.bits) for f in model.features)
    if names != FEATURES:
        raise EntriesError(f"{where}: features {names!r}: expected {FEATURES!r}")
    for f in model.features:
        if f.codes > MAX_BINS:
            raise EntriesError(
                f"{where}: feature {f.spec.name!r} has {f.codes} bins: expected <= {MAX_BINS}"
            )
    for t, tree in enumerate(model.trees):
        for i, f in enumerate(model.features):
            used = tree_thresholds(tree, i)
            if len(used) > MAX_TREE_THRESHOLDS:
                raise EntriesError(
                    f"{where}: tree {t} uses {len(used)} thresholds on {f.spec.name!r}: "
                    f"expected <= {MAX_TREE_THRESHOLDS}"
                )


def leaf_scores(tree: Tree, node: int, classes: int, scores: str) -> tuple[int, ...]:
    """The 8 class scores of a leaf: fractions x 255 (``proba``) or one-hot 255 (``vote``)."""
    out = [0] * NUM_CLASSES
    if scores == "vote":
        out[int(tree.leaf_class[node])] = SCORE_MAX
    elif scores == "proba":
        # The models layer's own rounding, so that predict_int stays the reference.
        row = model_leaf_scores(tree)[node]
        for c in range(classes):
            out[c] = int(row[c])
    else:
        raise EntriesError(f"leaf scores {scores!r}: expected one of {SCORES!r}")
    return tuple(out)


def forest_entries(model: ForestModel, cls_model: int, scores: str = "proba") -> list[TableEntry]:
    """quant_*, code_* and tree_* entries of ``model`` in model slot ``cls_model``.

    Bin 0 and all-zero codes get no entry: the tables' defaults give them.
    ``scores="proba"`` (class fractions x 255) reproduces the models layer's
    ``predict_int`` exactly; ``scores="vote"`` gives a plain majority vote.
    """
    _check_model(model, cls_model)
    if scores not in SCORES:
        raise EntriesError(f"leaf scores {scores!r}: expected one of {SCORES!r}")
    slot = ("meta.cls.cls_model", Exact(cls_model))
    out: list[TableEntry] = []
    for i, f in enumerate(model.features):
        name = f.spec.name
        ranges = f.ranges()
        for b, (lo, hi) in enumerate(ranges):
            if b == 0:
                continue
            out.append(
                TableEntry(
                    f"{CLS}quant_{name}",
                    (slot, (f"meta.feat.{name}", Range(lo, hi))),
                    f"{CLS}set_bin_{name}",
                    (("bin", b),),
                    PRIORITY,
                )
            )
        used = [tree_thresholds(tree, i) for tree in model.trees]
        for b in range(len(ranges)):
            codes = [tree_code(u, b) for u in used]
            codes += [0] * (NUM_TREES - len(codes))
            if not any(codes):
                continue
            out.append(
                TableEntry(
                    f"{CLS}code_{name}",
                    (slot, (f"meta.bin.{name}", Exact(b))),
                    f"{CLS}set_codes_{name}",
                    tuple((f"t{t}", c) for t, c in enumerate(codes)),
                )
            )
    for t, tree in enumerate(model.trees):
        used = [tree_thresholds(tree, i) for i in range(len(model.features))]
        for box in leaf_boxes(tree, model.features):
            match: list[tuple[str, Exact | Ternary]] = [slot]
            for i, (lo, hi) in enumerate(box.ranges):
                tern = box_ternary(used[i], lo, hi)
                if tern is not None:
                    match.append((f"meta.c{t}.{FEATURES[i][0]}", tern))
            s = leaf_scores(tree, box.node, len(model.classes), scores)
            out.append(
                TableEntry(
                    f"{CLS}tree_{t}",
                    tuple(match),
                    CLS + "tree_vote",
                    tuple((f"s{c}", v) for c, v in enumerate(s)),
                    PRIORITY,
                )
            )
    log.info("classifier %r in slot %d: %d entries", model.name, cls_model, len(out))
    return out


def phase_entries(flow_model: int, switch_at: int, packet_model: int | None) -> list[TableEntry]:
    """classifier_phase: packets 1..switch_at-1 use ``packet_model``, later ones ``flow_model``.

    ``packet_model`` None leaves the first packets unclassified.
    """
    if not 1 <= switch_at <= U32_MAX:
        raise EntriesError(f"classifier switch-over at {switch_at!r} packets: expected >= 1")
    for what, slot in (("flow model", flow_model), ("packet model", packet_model)):
        if slot is not None and not 0 <= slot <= 0xFF:
            raise EntriesError(f"{what} slot {slot!r}: expected 0..255 (bit<8>)")
    table = CLS + "classifier_phase"
    out = []
    if packet_model is not None and switch_at > 1:
        out.append(
            TableEntry(
                table,
                (("meta.feat.pkts", Range(1, switch_at - 1)),),
                CLS + "set_classifier",
                (("cls_model", packet_model),),
                PRIORITY,
            )
        )
    out.append(
        TableEntry(
            table,
            (("meta.feat.pkts", Range(switch_at, U32_MAX)),),
            CLS + "set_classifier",
            (("cls_model", flow_model),),
            PRIORITY,
        )
    )
    return out


def qos_entries(dscp: Mapping[int, int]) -> list[TableEntry]:
    """class_qos: flow class -> DSCP."""
    out = []
    for cls, value in sorted(dscp.items()):
        if not 0 <= cls < NUM_CLASSES:
            raise EntriesError(f"class_qos class {cls!r}: expected 0..{NUM_CLASSES - 1}")
        if not 0 <= value <= 63:
            raise EntriesError(f"class_qos DSCP of class {cls}: {value!r}: expected 0..63")
        out.append(
            TableEntry(
                "MyIngress.class_qos",
                (("meta.cls.flow_class", Exact(cls)),),
                "MyIngress.set_dscp",
                (("dscp", value),),
            )
        )
    return out
