"""Models for the DIN data plane: data sets, training, int8 quantization, model files.

Modules, bottom up:

- ``errors``: ``ModelError``, the one exception base of this stack;
- ``features``: ``flow_features``, the per-flow features a switch computes;
- ``quant``: quantized MLPs and ``forward_int``, the integer reference;
- ``trees``: tree/forest classifiers over feature codes, ``predict_codes``;
- ``datasets``, ``synthetic``: digits pooled to 16 inputs; seeded workload flows;
- ``capture``, ``ndpi``, ``ndpi_classes``, ``flowdata``: real flows: captures read
  as din.p4 sees them, nDPI's labels, their mapping to the workload classes,
  labelled flow data files (``make data``);
- ``mlp``: training of the partitioned MLP, its early-exit head, the large model;
- ``evaluate``: accuracy and macro-F1, float and quantized;
- ``files``: ``save_model`` / ``load_model`` (``.npz`` arrays + ``model.json``).

This package may import numpy, scikit-learn and the standard library only: no
gRPC, no P4Runtime and no other controller package, so that ``controller.entries``
can turn its models into table entries without pulling in a client.
"""

from controller.models.errors import ModelError

__all__ = ["ModelError"]
