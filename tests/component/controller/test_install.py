"""controller.install against the real p4lite P4Runtime server in-process: install and
read back, many switches at once, runtime JSON round trip, and the atomic model swap
while DIN requests flow through the switch."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from controller import install
from controller.entries import TableEntry, runtime_json
from controller.entries.mlp import Role
from controller.entries.simulator import TableSim, run_request
from controller.entries.types import Exact, Lpm, Range
from controller.models.files import load_model
from controller.p4rt import entities as pe
from controller.p4rt.errors import P4RuntimeWriteError
from controller.p4rt.multi import Fabric
from traffic.frames import Endpoints, parse_frame, udp_frame
from traffic.wire import DinHeader, MsgType, decode, encode

MODEL_ID = 1
CLIENT = Endpoints("00:00:0a:00:01:01", "00:00:0a:00:01:fe", "10.0.1.1", "10.0.9.9", 40000, 7350)


def _read_all(conn: Any, index: Any) -> set[pe.Entity]:
    tables = [pe.TableEntry(t.name) for t in index.tables if not t.is_const]
    return set(conn.read_entities(tables))


def test_install_model_reads_back_equal(
    make_switch: Callable[..., Any], models: Any, din: Any
) -> None:
    sw = make_switch()
    entries = install.model_entries(models.v1, MODEL_ID)
    assert len(entries) > 5000
    seen: list[install.InstallProgress] = []
    result = install.install(sw.conn, entries, batch_size=1000, progress=seen.append)
    assert result.written == {"s1": len(entries)} and not result.errors
    assert [p.done for p in seen][-1] == len(entries)
    assert all(p.total == len(entries) for p in seen)
    assert len(seen) == -(-len(entries) // 1000)
    back = _read_all(sw.conn, din.index)
    assert back == set(install.convert(entries, din.index))
    # And back into entries.types values, equal to what was installed.
    assert {install.from_p4rt(e) for e in back} == set(entries)
    assert install.active_versions(sw.conn) == {MODEL_ID: 1}


def test_install_on_two_switches_at_once(
    make_switch: Callable[..., Any], models: Any, din: Any
) -> None:
    a, b = make_switch("a"), make_switch("b")
    entries = install.model_entries(models.v1, MODEL_ID, roles=[Role(0, 0)])
    fabric = Fabric([a.conn, b.conn])
    seen: set[str] = set()
    result = install.install(fabric, entries, progress=lambda p: seen.add(p.switch))
    assert result.written == {"a": len(entries), "b": len(entries)}
    assert seen == {"a", "b"}
    want = set(install.convert(entries, din.index))
    assert _read_all(a.conn, din.index) == want == _read_all(b.conn, din.index)


def test_unknown_names_fail_before_anything_is_written(
    make_switch: Callable[..., Any], din: Any
) -> None:
    sw = make_switch()
    good = TableEntry(
        "MyIngress.active_model_version",
        (("hdr.din.model_id", Exact(3)),),
        "MyIngress.set_model_version",
        (("version", 1),),
    )
    bad = TableEntry("MyIngress.no_such_table", (), "NoAction")
    with pytest.raises(install.InstallError, match=r"'MyIngress\.no_such_table'"):
        install.install(sw.conn, [good, bad])
    assert _read_all(sw.conn, din.index) == set()
    bad_param = TableEntry(
        "MyIngress.active_model_version",
        (("hdr.din.model_id", Exact(3)),),
        "MyIngress.set_model_version",
        (("versoin", 1),),
    )
    with pytest.raises(install.InstallError, match=r"missing parameter 'version'"):
        install.convert([bad_param], din.index)


def test_duplicate_install_reports_the_switch_error(
    make_switch: Callable[..., Any], models: Any
) -> None:
    sw = make_switch()
    entries = install.model_entries(models.v1, MODEL_ID)[:10]
    install.install(sw.conn, entries)
    with pytest.raises(Exception, match="ALREADY_EXISTS") as info:
        install.install(sw.conn, entries)
    assert isinstance(info.value.__cause__ or info.value, Exception)
    result = install.install(sw.conn, entries, raise_on_error=False)
    assert isinstance(result.errors["s1"], P4RuntimeWriteError)


def test_runtime_json_installs_the_same_entries(
    make_switch: Callable[..., Any], models: Any, din: Any, tmp_path: Path
) -> None:
    direct, via_file = make_switch("direct"), make_switch("file")
    entries = install.model_entries(models.v1, MODEL_ID)
    runtime_json.write(tmp_path / "s1-runtime.json", entries)
    loaded = runtime_json.read(tmp_path / "s1-runtime.json").entries
    install.install(direct.conn, entries)
    install.install(via_file.conn, list(loaded))
    assert _read_all(direct.conn, din.index) == _read_all(via_file.conn, din.index)


def _answer_all(version: int) -> list[TableEntry]:
    # min_confidence 0: every request is answered by the switch, whatever its margin.
    return [
        TableEntry(
            "MyIngress.exit_threshold",
            (
                ("hdr.din.model_id", Exact(MODEL_ID)),
                ("hdr.din.model_version", Exact(version)),
                ("meta.exit_class", Exact(c)),
            ),
            "MyIngress.set_exit_threshold",
            (("min_confidence", 0),),
        )
        for c in range(10)
    ]


ROUTE = TableEntry(
    "MyIngress.ipv4_lpm",
    (("hdr.ipv4.dst_addr", Lpm(0x0A000100, 24)),),
    "MyIngress.ipv4_forward",
    (("dst_mac", 0x00000A000101), ("src_mac", 0x00000A0001FE), ("port", 1)),
)


def test_swap_while_requests_flow_never_mixes_models(
    make_switch: Callable[..., Any], models: Any
) -> None:
    sw = make_switch()
    v1 = [*install.model_entries(models.v1, MODEL_ID), *_answer_all(1)]
    v2 = [*install.model_entries(models.v2, MODEL_ID, activate=False), *_answer_all(2)]
    install.install(sw.conn, [ROUTE, *v1])

    inputs = np.random.default_rng(1).integers(0, 256, size=(50_000, 16))
    port = sw.ports[1]
    base = sw.server.dataplane.stats.processed
    flowing, swapped, stop = threading.Event(), threading.Event(), threading.Event()
    sent: list[int] = []

    def traffic() -> None:
        after = 0
        for i, x in enumerate(inputs):
            header = DinHeader(model_id=MODEL_ID, request_id=i)
            port.inject(udp_frame(CLIENT, encode(header, x.tolist())))
            sent.append(i)
            if i % 20 == 0:
                sw.wait_processed(base + i)  # pace to the switch: a short socket queue
            if i == 100:
                flowing.set()
            after += swapped.is_set()
            if after > 300 or stop.is_set():
                return

    answers: list[bytes] = []

    def collect() -> None:
        while not stop.is_set():
            answers.extend(port.take_all(0.02))

    threads = [threading.Thread(target=traffic), threading.Thread(target=collect)]
    for t in threads:
        t.start()
    try:
        assert flowing.wait(30)
        result = install.swap_model(sw.conn, MODEL_ID, 2, v2, batch_size=500)
        swapped.set()
        threads[0].join(60)
        sw.wait_processed(base + len(sent))
    finally:
        swapped.set()
        threads[0].join(60)
        stop.set()
        threads[1].join(60)
    answers.extend(port.take_all(0.2))
    assert (result.old_version, result.new_version) == (1, 2)
    assert result.deleted == len(v1) - 1  # all of version 1 but active_model_version

    sims = {1: TableSim(v1), 2: TableSim([*v2, install.active_version_entry(MODEL_ID, 2)])}
    versions = []
    differ = 0
    for frame in answers:
        msg = decode(parse_frame(frame).l4_payload)
        h = msg.header
        assert h.msg_type == MsgType.RESPONSE
        assert h.model_version in (1, 2)
        x = inputs[h.request_id].tolist()
        want = run_request(sims[h.model_version], MODEL_ID, 0, 0, x)
        other = run_request(sims[3 - h.model_version], MODEL_ID, 0, 0, x)
        assert tuple(msg.vector or ()) == want.vector, h.request_id
        assert (h.result_class, h.confidence) == (want.result_class, want.confidence)
        differ += want.vector != other.vector
        versions.append((h.request_id, h.model_version))
    assert sorted(r for r, _ in versions) == sent  # none lost
    assert differ > len(sent) // 2  # the two models tell their answers apart
    order = [v for _, v in sorted(versions)]
    assert order.count(1) >= 100 and order.count(2) >= 300
    # Once the switch answered with version 2, it never went back to version 1.
    assert order == sorted(order)
    # The old version is gone; the switch holds exactly the new one.
    assert install.version_entries(sw.conn, MODEL_ID, 1) == []
    assert install.active_versions(sw.conn) == {MODEL_ID: 2}
    assert set(install.version_entries(sw.conn, MODEL_ID, 2)) == set(v2)


def test_swap_refuses_the_active_version(make_switch: Callable[..., Any], models: Any) -> None:
    sw = make_switch()
    v1 = install.model_entries(models.v1, MODEL_ID)
    install.install(sw.conn, v1)
    with pytest.raises(install.InstallError, match="version 1 is already active"):
        install.swap_model(sw.conn, MODEL_ID, 1, v1)


def test_swap_on_an_empty_switch_inserts_the_active_version(
    make_switch: Callable[..., Any], models: Any
) -> None:
    sw = make_switch()
    v2 = install.model_entries(models.v2, MODEL_ID, activate=False)
    result = install.swap_model(sw.conn, MODEL_ID, 2, v2)
    assert (result.old_version, result.inserted, result.deleted) == (None, len(v2), 0)
    assert install.active_versions(sw.conn) == {MODEL_ID: 2}


def test_forest_install_reads_back_equal(
    make_switch: Callable[..., Any], din: Any, tmp_path: Path, kit: Any
) -> None:
    path = tmp_path / "forest.npz"
    result = kit.dinctl("train", "forest", "--flows-per-class", "40", "--out", str(path))
    assert result.returncode == 0, result.stderr
    forest = load_model(path)
    sw = make_switch()
    entries = install.model_entries(forest, 2)
    assert any(isinstance(m, Range) for e in entries for _, m in e.match)
    install.install(sw.conn, entries)
    back = _read_all(sw.conn, din.index)
    assert back == set(install.convert(entries, din.index))
    assert {install.from_p4rt(e) for e in back} == set(entries)
    with pytest.raises(install.InstallError, match="roles apply to mlp models only"):
        install.model_entries(forest, 2, roles=[Role(0, 0)])
