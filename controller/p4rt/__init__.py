"""P4Runtime client layer: one client per switch, any number of switches.

Layers, bottom up (each imports only those below it):

- :mod:`~controller.p4rt.errors`: ``P4RTError`` and its subclasses.
- :mod:`~controller.p4rt.codec`: canonical byte strings, user value parsing.
- :mod:`~controller.p4rt.p4info`: ``P4InfoIndex`` (look-ups by name, alias, id).
- :mod:`~controller.p4rt.entities`: frozen entity dataclasses with
  ``to_proto``/``from_proto``, ``Update``, and ``EntityBuilder``.
- :mod:`~controller.p4rt.reconcile`: ``diff`` of intended and read state.
- :mod:`~controller.p4rt.client`: ``SwitchConnection`` (gRPC, StreamChannel).
- :mod:`~controller.p4rt.multi`: ``Fabric`` of many connections.

Knows nothing of ML: imports grpc, protobuf, the P4Runtime stubs and the
standard library only. This module imports nothing itself, so that the pure
layers (codec, p4info, entities, reconcile) load without grpc.
"""
