"""p4runtime-shell driving the p4lite switch as it drives simple_switch_grpc:
`setup` with a pipeline (tests/p4/mac_learning.p4 compiled by p4lite),
table entries written, modified, read and deleted, PacketOut, PacketIn,
DigestList and IdleTimeoutNotification. The shell keeps one client in module
globals, so it runs in a process of its own against the in-process server."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PROGRAM = ROOT / "tests" / "p4" / "mac_learning.p4"
PACKET_OUT = bytes.fromhex("020000000002 0200000000bb 88b5") + bytes(46)
TO_CPU = bytes.fromhex("0200000000cc 0200000000dd 88b5") + bytes(46)

SCRIPT = textwrap.dedent(
    """
    import sys
    import p4runtime_sh.shell as sh

    addr, p4info, device_config = sys.argv[1:4]
    sh.setup(
        device_id=0,
        grpc_addr=addr,
        election_id=(0, 1),
        config=sh.FwdPipeConfig(p4info, device_config),
    )
    digests = sh.DigestList()
    notes = sh.IdleTimeoutNotification()
    packet_in = sh.PacketIn()

    te = sh.TableEntry("MyIngress.dmac")(action="MyIngress.forward")
    te.match["hdr.ethernet.dst_addr"] = "0x020000000002&&&0xffffffffffff"
    te.priority = 10
    te.action["port"] = "2"
    te.insert()
    cpu = sh.TableEntry("MyIngress.dmac")(action="MyIngress.to_cpu")
    cpu.match["hdr.ethernet.dst_addr"] = "0x0200000000cc&&&0xffffffffffff"
    cpu.priority = 20
    cpu.insert()
    te.action["port"] = "3"
    te.modify()
    for e in sh.TableEntry("MyIngress.dmac").read():
        print("READ", e.priority, e.action.action_name if e.action else None, flush=True)

    sh.DigestEntry("learn_t").insert()
    aged = sh.TableEntry("MyIngress.smac")(action="MyIngress.known")
    aged.match["hdr.ethernet.src_addr"] = "02:00:00:00:00:aa"
    aged.idle_timeout_ns = 200_000_000
    aged.insert()

    frame = bytes.fromhex("020000000002 0200000000bb 88b5") + bytes(46)
    sh.PacketOut(payload=frame, egress_port="1").send()
    print("SNIFF", flush=True)
    # sniff(timeout=...) collects for the whole timeout: keep each one short.
    for msg in packet_in.sniff(timeout=4):
        md = {m.metadata_id: m.value.hex() for m in msg.packet.metadata}
        print("PACKET_IN", msg.packet.payload.hex(), sorted(md.values()), flush=True)
        break
    for msg in digests.sniff(timeout=2):
        print("DIGEST", len(msg.digest.data), flush=True)
        break
    for msg in notes.sniff(timeout=2):
        entries = msg.idle_timeout_notification.table_entry
        print("IDLE", len(entries), entries[0].idle_timeout_ns, flush=True)
        break
    te.delete()
    print("LEFT", sum(1 for _ in sh.TableEntry("MyIngress.dmac").read()), flush=True)
    sh.teardown()
    """
)


@pytest.fixture
def program(tmp_path: Path) -> tuple[Path, Path]:
    device_config, p4info = tmp_path / "mac_learning.json", tmp_path / "mac_learning.p4info.txtpb"
    subprocess.run(
        [
            *(sys.executable, "-m", "p4lite.compiler"),
            *("-o", str(device_config), "--p4runtime-files", str(p4info), str(PROGRAM)),
        ],
        check=True,
        cwd=ROOT,
        timeout=120,
    )
    return p4info, device_config


def test_p4runtime_shell_session(harness, program) -> None:
    p4info, device_config = program
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            SCRIPT,
            f"127.0.0.1:{harness.port}",
            str(p4info),
            str(device_config),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 120
        while not lines or lines[-1] != "SNIFF":
            line = proc.stdout.readline()
            assert line, (
                f"p4runtime-shell ended early: {lines} {proc.stderr.read() if proc.stderr else ''}"
            )
            lines.append(line.strip())
            assert time.monotonic() < deadline
        # The PacketOut left on port 1 without its packet_out header.
        assert harness.ports[1].take() == PACKET_OUT
        # A frame for 02:00:00:00:00:cc from an unknown source: a PacketIn and a digest.
        harness.ports[2].inject(TO_CPU)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    lines += out.split("\n")
    assert proc.returncode == 0, err
    assert "READ 20 MyIngress.to_cpu" in lines
    assert "READ 10 MyIngress.forward" in lines
    # The payload is the frame as it came in; ingress_port 2 and _pad 0 in the metadata.
    assert f"PACKET_IN {TO_CPU.hex()} ['00', '02']" in lines
    assert "DIGEST 1" in lines
    assert "IDLE 1 200000000" in lines
    assert "LEFT 1" in lines
