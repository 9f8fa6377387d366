"""The `p4lite-switch` command line: simple_switch_grpc's flags, start-up with a
program, readiness by polling the gRPC port, clean stop on SIGTERM."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
from p4.v1 import p4runtime_pb2, p4runtime_pb2_grpc

from p4lite.switch.__main__ import parse_args

ROOT = Path(__file__).resolve().parents[3]
REFERENCE = ROOT / "tests" / "conformance" / "reference"


def test_parse_simple_switch_grpc_flags() -> None:
    args, target = parse_args(
        [
            "prog.json",
            "-i",
            "1@s1-eth1",
            "-i",
            "2@s1-eth2",
            "--device-id",
            "3",
            "--log-console",
            "-L",
            "debug",
            "--thrift-port",
            "9091",
            "--pcap",
            "/tmp/caps",
            "--port-delay",
            "2:25",
            "--",
            "--grpc-server-addr",
            "127.0.0.1:50051",
            "--cpu-port",
            "255",
        ]
    )
    assert args.program == "prog.json"
    assert args.interface == [(1, "s1-eth1"), (2, "s1-eth2")]
    assert args.device_id == 3
    assert args.log_level == "debug"
    assert args.pcap == Path("/tmp/caps")
    assert args.port_delay == [(2, 0.025)]
    assert target.grpc_server_addr == "127.0.0.1:50051"
    assert target.cpu_port == 255


def test_defaults_and_no_p4() -> None:
    args, target = parse_args(["--no-p4"])
    assert args.program is None and args.no_p4
    assert target.grpc_server_addr == "0.0.0.0:9559"
    assert target.cpu_port is None


def test_pcap_without_directory_before_the_program() -> None:
    args, _ = parse_args(["-i", "1@eth1", "--pcap", "prog.json"])
    assert args.program == "prog.json"
    assert args.pcap == Path(".")


@pytest.mark.parametrize(
    "argv",
    [[], ["prog.json", "--no-p4"], ["--no-p4", "-i", "eth0"], ["--no-p4", "--port-delay", "1:x"]],
)
def test_bad_command_lines_exit_2(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as excinfo:
        parse_args(argv)
    assert excinfo.value.code == 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.02)
    raise TimeoutError(f"port {port} never accepted")


def test_process_serves_program_and_stops_on_sigterm(tmp_path) -> None:
    port = _free_port()
    program = REFERENCE / "table_exact.json"
    log = tmp_path / "switch.log"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "p4lite.switch",
            str(program),
            "--device-id",
            "1",
            "--log-file",
            str(log),
            "--log-level",
            "info",
            "--",
            "--grpc-server-addr",
            f"127.0.0.1:{port}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    try:
        _wait_listening(port, proc)
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = p4runtime_pb2_grpc.P4RuntimeStub(channel)
            rtype = p4runtime_pb2.GetForwardingPipelineConfigRequest
            reply = stub.GetForwardingPipelineConfig(
                rtype(device_id=1, response_type=rtype.DEVICE_CONFIG_AND_COOKIE)
            )
            assert reply.config.p4_device_config == program.read_bytes()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        text = log.read_text()
        assert f"listening on 127.0.0.1:{port}" in text
        assert "switch stopped" in text
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_unreadable_program_exits_1(tmp_path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "p4lite.switch",
            str(bad),
            "--",
            "--grpc-server-addr",
            "127.0.0.1:0",
        ],
        capture_output=True,
        check=False,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 1
    assert b"bad.json: pipeline config: cannot load the BMv2 JSON" in result.stderr
