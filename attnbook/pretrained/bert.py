"""A forward-only NumPy BERT encoder (Devlin et al. 2019) that runs Hugging Face ``BertModel`` weights.

The parameters keep the Hugging Face names (``"encoder.layer.0.attention.self.query.weight"``) so a
checkpoint loads without renaming and the book can print the table as it is on disk. Linear weights are
stored ``(out, in)`` as in PyTorch, so every projection is ``x @ w.T + b``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from attnbook._checks import as_int_array, check_int, check_real
from attnbook.attention import merge_heads, scaled_dot_product_attention, split_heads
from attnbook.layers import linear
from attnbook.layers.activations import gelu_forward
from attnbook.layers.norm import layernorm_forward

__all__ = ["BertConfig", "EncoderOutput", "forward"]


@dataclass(frozen=True)
class BertConfig:
    """Shape of a BERT encoder (Hugging Face ``config.json`` names in the comments)."""

    vocab_size: int = 30522  # vocab_size
    d_model: int = 384  # hidden_size, C
    n_layer: int = 6  # num_hidden_layers, L
    n_head: int = 12  # num_attention_heads, H
    d_ff: int = 1536  # intermediate_size
    max_position: int = 512  # max_position_embeddings: the longest sequence the model accepts
    type_vocab_size: int = 2  # type_vocab_size: sentence A / sentence B
    eps: float = 1e-12  # layer_norm_eps

    def __post_init__(self) -> None:
        for name in ("vocab_size", "d_model", "n_layer", "n_head", "d_ff", "max_position", "type_vocab_size"):
            check_int(name, getattr(self, name), low=1)
        check_real("eps", self.eps, low=0.0, low_inclusive=False)
        if self.d_model % self.n_head:
            raise ValueError(f"n_head={self.n_head} must divide d_model={self.d_model}")

    @classmethod
    def from_hf(cls, hf: dict) -> BertConfig:
        """Build from a Hugging Face ``config.json`` dict (only absolute positions and GELU are supported)."""
        if hf.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError(
                f"only absolute position embeddings are supported, got {hf['position_embedding_type']}"
            )
        if hf.get("hidden_act", "gelu") != "gelu":
            raise ValueError(f"only hidden_act='gelu' (exact, erf) is supported, got {hf['hidden_act']!r}")
        return cls(
            vocab_size=hf["vocab_size"],
            d_model=hf["hidden_size"],
            n_layer=hf["num_hidden_layers"],
            n_head=hf["num_attention_heads"],
            d_ff=hf["intermediate_size"],
            max_position=hf["max_position_embeddings"],
            type_vocab_size=hf["type_vocab_size"],
            eps=float(hf["layer_norm_eps"]),
        )


class EncoderOutput(NamedTuple):
    """Everything the encoder computes that the book shows."""

    hidden_states: np.ndarray  # (L + 1, T, C): the embeddings, then the output of every layer
    attentions: np.ndarray  # (L, H, T, T): softmax weights of every layer and head


def _linear(x: np.ndarray, params: dict[str, np.ndarray], name: str) -> np.ndarray:
    # Hugging Face stores (out, in); the project's linear layer takes (in, out): pass the transposed view.
    return linear.forward(x, params[f"{name}.weight"].T, params[f"{name}.bias"])[0]  # (T, out)


def _layer_norm(x: np.ndarray, params: dict[str, np.ndarray], name: str, eps: float) -> np.ndarray:
    return layernorm_forward(x, params[f"{name}.weight"], params[f"{name}.bias"], eps)[0]  # (T, C)


def forward(params: dict[str, np.ndarray], input_ids, token_type_ids, cfg: BertConfig) -> EncoderOutput:
    """Run the encoder on one sequence (no padding, so every token may attend to every token).

    Parameters
    ----------
    params : dict of str to ndarray
        Hugging Face ``BertModel`` weights, all of one float dtype (the computation's dtype).
    input_ids : ndarray of int, shape (T,)
        WordPiece ids including ``[CLS]`` and ``[SEP]``, ``1 <= T <= cfg.max_position``.
    token_type_ids : ndarray of int, shape (T,)
        0 for sentence A, 1 for sentence B.
    cfg : BertConfig

    Returns
    -------
    out : EncoderOutput
        ``hidden_states (L + 1, T, C)`` and ``attentions (L, H, T, T)`` in the dtype of ``params``.
    """
    if not isinstance(cfg, BertConfig):
        raise TypeError(f"cfg must be a BertConfig, got {type(cfg).__name__}")
    ids = as_int_array("input_ids", input_ids, ndim=1, low=0, high=cfg.vocab_size)
    types = as_int_array("token_type_ids", token_type_ids, ndim=1, low=0, high=cfg.type_vocab_size)
    T = ids.shape[0]
    if not 1 <= T <= cfg.max_position:
        raise ValueError(f"input_ids must have 1 <= T <= {cfg.max_position} tokens, got {T}")
    if types.shape != ids.shape:
        raise ValueError(f"token_type_ids must have shape {ids.shape} like input_ids, got {types.shape}")
    dtype = params["embeddings.word_embeddings.weight"].dtype
    eps = cfg.eps

    x = (
        params["embeddings.word_embeddings.weight"][ids]
        + params["embeddings.position_embeddings.weight"][:T]
        + params["embeddings.token_type_embeddings.weight"][types]
    )  # (T, C)
    x = _layer_norm(x, params, "embeddings.LayerNorm", eps)
    hidden = [x]
    attentions = []
    for i in range(cfg.n_layer):
        p = f"encoder.layer.{i}"
        q = split_heads(_linear(x, params, f"{p}.attention.self.query"), cfg.n_head)  # (H, T, D)
        k = split_heads(_linear(x, params, f"{p}.attention.self.key"), cfg.n_head)  # (H, T, D)
        v = split_heads(_linear(x, params, f"{p}.attention.self.value"), cfg.n_head)  # (H, T, D)
        ctx, w = scaled_dot_product_attention(q, k, v)  # (H, T, D), (H, T, T)
        attn = _linear(merge_heads(ctx), params, f"{p}.attention.output.dense")  # (T, C)
        # Post-LN: the residual sum is normalised (BERT), unlike GPT-2's pre-LN.
        x = _layer_norm(x + attn, params, f"{p}.attention.output.LayerNorm", eps)
        # Exact (erf) GELU: BERT's hidden_act="gelu", not the tanh approximation GPT-2 uses.
        h = gelu_forward(_linear(x, params, f"{p}.intermediate.dense"), approximate="none")[0]  # (T, d_ff)
        ff = _linear(h, params, f"{p}.output.dense")  # (T, C)
        x = _layer_norm(x + ff, params, f"{p}.output.LayerNorm", eps)
        hidden.append(x)
        attentions.append(w)
    hs = np.stack(hidden).astype(dtype, copy=False)  # (L + 1, T, C)
    return EncoderOutput(hs, np.stack(attentions).astype(dtype, copy=False))  # (L, H, T, T)
