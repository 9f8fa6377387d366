"""A Mininet network of P4Runtime switches carries real traffic.

Two hosts, one switch running ``tests/p4/ipv4_lpm.p4`` compiled with the chosen
compiler, routes installed over real P4Runtime: h1 pings h2. Exercises
topologies.network, the P4RuntimeSwitch node class (start by PID, readiness by
polling the gRPC port, log file, stop), the compiler, the switch and its server.
"""

from __future__ import annotations

import itertools
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf import text_format
from p4.config.v1 import p4info_pb2
from p4.v1 import p4runtime_pb2, p4runtime_pb2_grpc

from p4lite import toolchain
from topologies import model, network

pytestmark = [pytest.mark.mininet, pytest.mark.root, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]

TOPOLOGY = {
    "hosts": {
        "h1": {
            "ip": "10.0.1.1/24",
            "mac": "08:00:00:00:01:11",
            "commands": [
                "ip route add default via 10.0.1.254 dev eth0",
                "ip neigh replace 10.0.1.254 lladdr 08:00:00:00:01:fe dev eth0",
            ],
        },
        "h2": {
            "ip": "10.0.2.2/24",
            "mac": "08:00:00:00:02:22",
            "commands": [
                "ip route add default via 10.0.2.254 dev eth0",
                "ip neigh replace 10.0.2.254 lladdr 08:00:00:00:02:fe dev eth0",
            ],
        },
    },
    "switches": {"s1": {}},
    "links": [["h1", "s1-p1"], ["h2", "s1-p2"]],
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Controller:
    """The least a controller does: become primary, push the pipeline, write entries."""

    def __init__(self, address: str, p4info: p4info_pb2.P4Info) -> None:
        self.channel = grpc.insecure_channel(address)
        self.stub = p4runtime_pb2_grpc.P4RuntimeStub(self.channel)
        self.p4info = p4info
        self.requests: list[p4runtime_pb2.StreamMessageRequest] = []
        self.ready = threading.Event()
        arbitration = p4runtime_pb2.StreamMessageRequest()
        arbitration.arbitration.device_id = 0
        arbitration.arbitration.election_id.low = 1
        self.stream = self.stub.StreamChannel(itertools.chain([arbitration], self._hold()))
        first = next(self.stream)
        assert first.arbitration.status.code == grpc.StatusCode.OK.value[0]

    def _hold(self) -> Iterator[p4runtime_pb2.StreamMessageRequest]:
        self.ready.wait()
        yield from ()

    def id_of(self, kind: str, name: str) -> int:
        for obj in getattr(self.p4info, kind):
            if obj.preamble.name == name:
                return int(obj.preamble.id)
        raise KeyError(name)

    def set_pipeline(self, json_path: Path) -> None:
        request = p4runtime_pb2.SetForwardingPipelineConfigRequest(
            device_id=0,
            action=p4runtime_pb2.SetForwardingPipelineConfigRequest.VERIFY_AND_COMMIT,
        )
        request.election_id.low = 1
        request.config.p4info.CopyFrom(self.p4info)
        request.config.p4_device_config = json_path.read_bytes()
        self.stub.SetForwardingPipelineConfig(request)

    def add_route(self, prefix: bytes, plen: int, mac: bytes, port: int) -> None:
        request = p4runtime_pb2.WriteRequest(device_id=0)
        request.election_id.low = 1
        update = request.updates.add(type=p4runtime_pb2.Update.INSERT)
        entry = update.entity.table_entry
        entry.table_id = self.id_of("tables", "MyIngress.ipv4_lpm")
        match = entry.match.add(field_id=1)
        match.lpm.value = prefix
        match.lpm.prefix_len = plen
        entry.action.action.action_id = self.id_of("actions", "MyIngress.ipv4_forward")
        entry.action.action.params.add(param_id=1, value=mac)
        entry.action.action.params.add(param_id=2, value=port.to_bytes(2, "big").lstrip(b"\0"))
        self.stub.Write(request)

    def close(self) -> None:
        self.ready.set()
        self.stream.cancel()
        self.channel.close()


def test_h1_pings_h2_through_a_p4runtime_switch(tmp_path: Path) -> None:
    compiled = toolchain.compile_program(REPO / "tests" / "p4" / "ipv4_lpm.p4", tmp_path / "build")
    p4info = text_format.Parse(compiled.p4info.read_text(), p4info_pb2.P4Info())
    grpc_base = _free_port()
    topo = model.parse(TOPOLOGY, "two-hosts")
    net = network.build(
        topo, json_path=compiled.json, log_dir=tmp_path / "logs", grpc_base=grpc_base
    )
    with network.running(net):
        info = net.switches["s1"]
        ctl = Controller(info.grpc_addr, p4info)
        try:
            ctl.set_pipeline(compiled.json)
            ctl.add_route(bytes([10, 0, 1, 1]), 32, bytes.fromhex("080000000111"), 1)
            ctl.add_route(bytes([10, 0, 2, 2]), 32, bytes.fromhex("080000000222"), 2)
            h1 = net.net.get("h1")
            out = h1.cmd("ping -c 3 -i 0.2 -W 2 10.0.2.2")
        finally:
            ctl.close()
        assert " 0% packet loss" in out, out
        assert info.log_file.is_file()
    # The switch process is gone once the network stopped.
    s1 = net.net.get("s1")
    assert s1.process is None
