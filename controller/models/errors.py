"""The one exception base of the models stack; imports nothing."""


class ModelError(Exception):
    """A model, data set or model file is invalid or cannot be produced."""
