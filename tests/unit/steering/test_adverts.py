"""controller.steering.adverts: advertisements from digests and frames, and relay frames."""

from __future__ import annotations

import dataclasses

import pytest

from controller.steering.adverts import Advertisement, advert_frame, from_digest, from_frame
from controller.steering.errors import SteeringError
from traffic.frames import Endpoints, internet_checksum, udp_frame
from traffic.wire import DIN_UDP_PORT, DinAdvert, DinHeader, MsgType, encode

ADV = Advertisement(
    instance_id=5,
    addr="10.0.2.1",
    model_id=3,
    model_version=2,
    layer_first=0,
    layer_last=2,
    queue_len=7,
    utilisation=42,
    req_rate=1234,
    capacity=5000,
)


def _node_frame() -> bytes:
    """An advertisement as a node sends it, built with the traffic package's codecs."""
    payload = encode(
        DinHeader(msg_type=MsgType.ADVERTISE, model_id=3, model_version=2),
        DinAdvert(5, 0, 2, 7, 42, 1234, 5000),
    )
    ends = Endpoints(
        "02:00:00:00:02:01", "02:00:00:00:fe:00", "10.0.2.1", "10.0.2.254",
        DIN_UDP_PORT, DIN_UDP_PORT,
    )  # fmt: skip
    return udp_frame(ends, payload)


def test_a_node_frame_decodes_to_its_fields() -> None:
    assert from_frame(_node_frame(), "s1") == dataclasses.replace(ADV, switch="s1")


def test_a_digest_decodes_to_the_same_advertisement() -> None:
    values = {
        "src_addr": 0x0A000201,
        "instance_id": 5,
        "model_id": 3,
        "model_version": 2,
        "layer_first": 0,
        "layer_last": 2,
        "queue_len": 7,
        "utilisation": 42,
        "req_rate": 1234,
        "capacity": 5000,
        "ts": 99,
    }
    adv = from_digest(values, "s2")
    assert (adv.switch, adv.switch_ts_us) == ("s2", 99)
    assert dataclasses.replace(adv, switch="", switch_ts_us=0) == ADV


def test_relay_frame_round_trips_with_a_valid_ipv4_checksum() -> None:
    frame = advert_frame(ADV)
    assert from_frame(frame) == ADV
    assert internet_checksum(frame[14:34]) == 0
    # The body is byte for byte what the node itself sends.
    assert frame[42:] == _node_frame()[42:]


def test_bad_input_names_the_problem() -> None:
    with pytest.raises(SteeringError, match="ethertype 0x86dd"):
        from_frame(b"\x00" * 12 + b"\x86\xdd" + b"\x00" * 80)
    with pytest.raises(SteeringError, match="too short"):
        from_frame(b"\x00" * 20)
    request = bytearray(_node_frame())
    request[42] = 0x11  # a DIN request, not an advertisement
    with pytest.raises(SteeringError, match="type 1"):
        from_frame(bytes(request))
    with pytest.raises(SteeringError, match=r"members .*'capacity'"):
        from_digest({"src_addr": 1, "instance_id": 2}, "s1")
    with pytest.raises(SteeringError, match="instance id"):
        Advertisement(instance_id=64, addr="10.0.0.1", model_id=1)
    with pytest.raises(SteeringError, match="utilisation 101"):
        Advertisement(instance_id=1, addr="10.0.0.1", model_id=1, utilisation=101)
    with pytest.raises(SteeringError, match=r"'10\.0\.0'"):
        Advertisement(instance_id=1, addr="10.0.0", model_id=1)
