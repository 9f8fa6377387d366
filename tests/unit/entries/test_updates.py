"""Version switch-over: the order of writes and its refusals."""

from __future__ import annotations

import numpy as np
import pytest

from controller.entries.errors import EntriesError
from controller.entries.mlp import IntLayer, layer_entries
from controller.entries.steering import Service, service_entries
from controller.entries.types import ActionProfileGroup, ActionProfileMember, TableEntry
from controller.entries.updates import Update, switch_over

LAYER = IntLayer(np.array([[1]]), np.array([0]), 0)


def test_insert_switch_delete_order() -> None:
    new = layer_entries(3, 2, 0, LAYER)
    old = [*layer_entries(3, 1, 0, LAYER), *service_entries([Service(3, ((1, 1),))])]
    ops = switch_over(3, 2, new, old)
    kinds = [op.kind for op in ops]
    assert kinds == ["insert"] * len(new) + ["modify"] + ["delete"] * len(old)
    switch = ops[len(new)].entity
    assert isinstance(switch, TableEntry)
    assert switch.table == "MyIngress.active_model_version"
    assert switch.param_dict() == {"version": 2}
    deletes = [type(op.entity) for op in ops if op.kind == "delete"]
    # Entries that point at groups go first, then groups, then members.
    assert deletes.index(ActionProfileGroup) > max(
        i for i, t in enumerate(deletes) if t is TableEntry
    )
    assert deletes[-1] is ActionProfileMember
    assert switch_over(3, 2, new, first_time=True)[-1].kind == "insert"


def test_refusals() -> None:
    with pytest.raises(EntriesError, match=r"new entry of '[\w.]+' has model_version 1"):
        switch_over(3, 2, layer_entries(3, 1, 0, LAYER))
    with pytest.raises(EntriesError, match=r"old entry .* has the new model_version 2"):
        switch_over(3, 2, [], layer_entries(3, 2, 0, LAYER))
    with pytest.raises(EntriesError, match="update kind 'upsert'"):
        Update("upsert", layer_entries(3, 2, 0, LAYER)[0])
