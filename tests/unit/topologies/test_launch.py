"""The launcher's checks before anything starts: the metrics port."""

from __future__ import annotations

import logging
import socket

import pytest

from topologies.launch import main, metrics_port_free


def test_a_port_out_of_range_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    for bad in ("70000", "-1", "x"):
        with pytest.raises(SystemExit) as exit_info:
            main(["--metrics-port", bad])
        assert exit_info.value.code == 2
        err = capsys.readouterr().err
        assert f"argument --metrics-port: {bad!r}: expected a port number, 0..65535" in err


def test_a_busy_metrics_port_is_named_before_anything_starts() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        said = metrics_port_free("127.0.0.1", port)
        assert said is not None
        assert said.startswith(f"metrics: cannot serve on 127.0.0.1:{port}: Address already in use")
        assert "METRICS_PORT= chooses another port" in said
    assert metrics_port_free("127.0.0.1", port) is None  # free again
    assert metrics_port_free("127.0.0.1", 0) is None  # any free port
    assert metrics_port_free("203.0.113.7", 9100) is not None  # not an address of this machine


def test_the_htb_quantum_note_is_kept_off_mininets_console(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from topologies import network  # noqa: PLC0415  (imports Mininet)

    mininet_log = logging.getLogger("mininet")
    assert any(isinstance(f, network.HtbQuantumNote) for f in mininet_log.filters)
    with caplog.at_level(logging.DEBUG):
        mininet_log.error(
            "*** Error: Warning: sch_htb: quantum of class 50001 is big. Consider r2q change.\n"
        )
        mininet_log.error("*** Error: RTNETLINK answers: Operation not permitted\n")
    said = [(r.name, r.levelno, r.getMessage()) for r in caplog.records]
    assert (
        "mininet",
        logging.ERROR,
        "*** Error: RTNETLINK answers: Operation not permitted\n",
    ) in said
    assert not any(n == "mininet" and "quantum" in m for n, _, m in said)
    assert (
        "topologies.network",
        logging.DEBUG,
        "tc: Warning: sch_htb: quantum of class 50001 is big. Consider r2q change.",
    ) in said
