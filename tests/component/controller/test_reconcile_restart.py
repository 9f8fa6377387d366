"""Reconcile against p4lite switch processes: after the switch restarts (empty, same
address) the controller reconnects, pushes the pipeline and restores exactly the
intended entries; after the controller restarts, a new controller reads back, finds
nothing to write, and repairs only what changed behind its back."""

from __future__ import annotations

from typing import Any

from controller import install
from controller.p4rt import entities as pe
from controller.p4rt.client import SwitchConnection

FAST_RETRY = [("grpc.initial_reconnect_backoff_ms", 50), ("grpc.max_reconnect_backoff_ms", 100)]


def _state(conn: SwitchConnection) -> list[pe.Entity]:
    index = conn.index
    assert index is not None
    tables = [pe.TableEntry(t.name) for t in index.tables if not t.is_const]
    return sorted(conn.read_entities(tables), key=repr)


def test_switch_and_controller_restarts_are_reconciled(
    restartable_switch: Any, din: Any, models: Any
) -> None:
    switch = restartable_switch
    intended = install.convert(install.model_entries(models.v1, 1), din.index)
    config = din.json.read_bytes()
    with SwitchConnection(
        switch.address, name="s1", index=din.index, timeout=10, grpc_options=FAST_RETRY
    ) as conn:
        conn.connect(timeout=10)
        conn.set_pipeline(din.index, config)
        first = conn.sync(intended)
        assert len(first.inserts) == len(intended) and not first.deletes
        installed = _state(conn)
        assert len(installed) == len(intended)

        # The switch restarts empty on the same address: reconnect, push, restore.
        switch.stop()
        switch.start()
        conn.connect(timeout=20)
        assert conn.get_pipeline("P4INFO_AND_COOKIE").p4info.tables == []
        conn.set_pipeline(din.index, config)
        restored = conn.sync(intended)
        assert len(restored.inserts) == len(intended)
        assert not restored.modifies and not restored.deletes
        assert _state(conn) == installed

    # A new controller (a higher election id takes over) reads back and writes nothing.
    with SwitchConnection(switch.address, name="s1", index=din.index, election_id=2) as again:
        assert again.connect(timeout=10).is_primary
        assert not again.sync(intended)
        # Behind its back: one entry changed, one gone, one extra.
        mlp_in = [e for e in intended if isinstance(e, pe.TableEntry) and "mlp_in_3" in e.table]
        changed, gone = mlp_in[0], mlp_in[1]
        params = dict(changed.params)
        first_param = next(iter(params))
        params[first_param] ^= 1
        tampered = pe.TableEntry(
            changed.table, changed.match, changed.action, tuple(params.items()), changed.priority
        )
        extra = pe.TableEntry(
            "MyIngress.active_model_version",
            (("hdr.din.model_id", pe.Exact(9)),),
            "MyIngress.set_model_version",
            (("version", 3),),
        )
        again.modify([tampered])
        again.delete([gone])
        again.insert([extra])
        repair = again.sync(intended)
        assert repair.modifies == (changed,)
        assert repair.inserts == (gone,)
        assert repair.deletes == (extra,)
        assert _state(again) == installed
