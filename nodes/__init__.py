"""The DIN inference node daemon (``python -m nodes``, ``din-node``).

One process per inference host: it finishes partitioned DIN requests with the
models layer's integer reference, serves escalations with a large model and
advertises its load (CATS service metrics). May import ``controller.models``,
``traffic.wire``, numpy and the standard library; never ``topologies`` or
``controller.cli``.
"""
