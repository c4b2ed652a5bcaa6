"""The transformer's layers as pure forward/backward pairs: ``forward(...) -> (out, cache)``, ``backward(dout, cache)``.

Each module holds one layer (or one family): :mod:`~attnbook.layers.linear`,
:mod:`~attnbook.layers.embedding`, :mod:`~attnbook.layers.norm`, :mod:`~attnbook.layers.activations`,
:mod:`~attnbook.layers.loss`, :mod:`~attnbook.layers.dropout`, :mod:`~attnbook.layers.attention` and
:mod:`~attnbook.layers.block`. The public functions check their inputs; the underscored kernels they
wrap are what :mod:`attnbook.model` calls, so the checks run once per model call rather than per layer.
"""

from attnbook.layers import activations, attention, block, dropout, embedding, linear, loss, norm

__all__ = ["activations", "attention", "block", "dropout", "embedding", "linear", "loss", "norm"]
