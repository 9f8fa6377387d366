"""traffic.send / traffic.recv command lines, run in-process (no sockets but pcap)."""

from __future__ import annotations

from pathlib import Path

import pytest

from traffic import recv, send
from traffic.build import RequestSpec, din_requests
from traffic.frames import Endpoints, parse_frame
from traffic.pcap import read_pcap
from traffic.wire import MsgType, decode

EP = Endpoints("00:00:0a:00:01:01", "00:00:0a:00:02:02", "10.0.1.1", "10.0.2.2", 40000, 7350)


def test_din_requests_are_seeded_and_numbered() -> None:
    spec = RequestSpec(model_id=3, tenant_id=4, sensitivity=2)
    frames = din_requests(EP, 4, spec, seed=9, first_id=10)
    assert frames == din_requests(EP, 4, spec, seed=9, first_id=10)
    msgs = [decode(parse_frame(f).l4_payload) for f in frames]
    assert [m.header.request_id for m in msgs] == [10, 11, 12, 13]
    assert {(m.header.model_id, m.header.tenant_id, m.header.sensitivity) for m in msgs} == {
        (3, 4, 2)
    }
    assert msgs[0].vector != msgs[1].vector


def test_send_din_to_pcap(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "din.pcap"
    assert send.main(["--din", "3", "--model-id", "5", "--pcap-out", str(out)]) == 0
    assert "wrote 3 frames" in capsys.readouterr().out
    msgs = [decode(parse_frame(f).l4_payload) for _, f in read_pcap(out)]
    assert [(m.header.msg_type, m.header.model_id, m.header.request_id) for m in msgs] == [
        (MsgType.REQUEST, 5, 1),
        (MsgType.REQUEST, 5, 2),
        (MsgType.REQUEST, 5, 3),
    ]


def test_send_advertisement_to_pcap(tmp_path: Path) -> None:
    out = tmp_path / "adv.pcap"
    argv = ["--advertise", "--instance-id", "7", "--capacity", "250", "--pcap-out", str(out)]
    assert send.main(argv) == 0
    (record,) = read_pcap(out)
    msg = decode(parse_frame(record[1]).l4_payload)
    assert msg.header.msg_type == MsgType.ADVERTISE
    assert msg.advert is not None
    assert (msg.advert.instance_id, msg.advert.capacity) == (7, 250)


def test_workload_to_pcap_then_replay_to_pcap(tmp_path: Path) -> None:
    first = tmp_path / "w.pcap"
    argv = ["--workload", "industrial_control", "--duration", "0.5", "--seed", "2"]
    assert send.main([*argv, "--pcap-out", str(first)]) == 0
    records = read_pcap(first)
    assert len(records) >= 50
    assert parse_frame(records[0][1]).dst_port == 2222
    second = tmp_path / "r.pcap"
    assert send.main(["--replay", str(first), "--pcap-out", str(second)]) == 0
    assert [f for _, f in read_pcap(second)] == [f for _, f in records]


def test_send_needs_an_interface_or_a_pcap() -> None:
    with pytest.raises(SystemExit) as exc:
        send.main(["--din", "1"])
    assert exc.value.code == 2


def test_send_bad_address_is_exit_2(caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    argv = ["--din", "1", "--src-ip", "10.0.1", "--pcap-out", str(tmp_path / "x.pcap")]
    assert send.main(argv) == 2
    assert "'10.0.1'" in caplog.text


def test_recv_on_a_missing_interface_is_exit_1(caplog: pytest.LogCaptureFixture) -> None:
    assert recv.main(["-i", "no-such-if0", "--timeout", "0.1"]) == 1
    assert "'no-such-if0'" in caplog.text
