"""What to build and how to train it: two frozen dataclasses with validated fields, model presets, JSON round-trips."""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

from attnbook._checks import check_bool, check_choice, check_int, check_real

__all__ = ["PRESETS", "ModelConfig", "TrainConfig", "from_preset"]

Norm = Literal["layernorm", "rmsnorm", "none"]
BlockKind = Literal["pre", "post", "sandwich"]
Activation = Literal["relu", "gelu", "swish", "swiglu"]
Position = Literal["none", "sinusoidal", "learned", "rope", "alibi"]
MaskKind = Literal["causal", "local", "global_local"]
Optimizer = Literal["adamw", "adam"]
DType = Literal["float32", "float64"]


@dataclass(frozen=True)
class ModelConfig:
    """Hyper-parameters of the decoder-only transformer in :mod:`attnbook.model`.

    Every field is checked in ``__post_init__``; a bad value raises ``ValueError`` (or ``TypeError`` for a
    wrong type) naming the field. Defaults are the ``"tiny"`` preset.
    """

    vocab_size: int = 65  # V, number of token ids (65 = the characters of tiny Shakespeare)
    block_size: int = 32  # longest sequence the model accepts (rows of the learned position table)
    d_model: int = 64  # C, width of the residual stream
    n_layer: int = 2  # number of transformer blocks
    n_head: int = 2  # H, attention heads per block; must divide d_model (head dim D = C / H)
    d_ff: int = 256  # MLP hidden width; for swiglu the width of *each* of its two branches (and even)
    norm: Norm = "layernorm"  # normalisation layer (Ba et al. 2016 / Zhang & Sennrich 2019) or none
    block: BlockKind = "pre"  # norm placement: Pre-LN, Post-LN (Vaswani et al.), Sandwich (Ding et al.)
    activation: Activation = "gelu"  # MLP non-linearity; "gelu" is GPT-2's tanh approximation
    pos: Position = "learned"  # position scheme; rope rotates q and k, alibi biases the scores
    attn_only: bool = False  # blocks without MLP (the induction-head models of Olsson et al. 2022)
    mask: MaskKind = "causal"  # attention pattern; local and global_local are also causal
    window: int = 8  # local / global_local: a query sees the `window` keys before it (and itself)
    n_global: int = 1  # global_local: the first n_global tokens are seen by every later token
    tie_weights: bool = False  # output head shares the token embedding matrix (lm_head = wte.T)
    dropout: float = 0.0  # dropout probability on embeddings, attention weights and residual branches
    norm_eps: float = 1e-5  # epsilon inside the norm's square root
    bias: bool = True  # biases in the linear layers and in LayerNorm

    def __post_init__(self) -> None:
        check_int("vocab_size", self.vocab_size, low=1)
        check_int("block_size", self.block_size, low=1)
        check_int("d_model", self.d_model, low=1)
        check_int("n_layer", self.n_layer, low=1)
        check_int("n_head", self.n_head, low=1)
        check_int("d_ff", self.d_ff, low=1)
        for name, kind in (
            ("norm", Norm),
            ("block", BlockKind),
            ("activation", Activation),
            ("pos", Position),
            ("mask", MaskKind),
        ):
            check_choice(name, getattr(self, name), get_args(kind))
        check_bool("attn_only", self.attn_only)
        check_int("window", self.window, low=0)
        check_int("n_global", self.n_global, low=0, high=self.block_size)
        check_bool("tie_weights", self.tie_weights)
        check_real("dropout", self.dropout, low=0.0)
        if self.dropout >= 1.0:
            raise ValueError(f"dropout must be < 1, got {self.dropout}")
        check_real("norm_eps", self.norm_eps, low=0.0, low_inclusive=False)
        check_bool("bias", self.bias)
        if self.d_model % self.n_head:
            raise ValueError(f"n_head must divide d_model, got n_head={self.n_head}, d_model={self.d_model}")
        if self.activation == "swiglu" and not self.attn_only and self.d_ff % 2:
            raise ValueError(f"d_ff must be even for the swiglu activation, got {self.d_ff}")
        if self.pos == "rope" and self.head_dim % 2:
            raise ValueError(
                f"pos='rope' needs an even head dimension d_model / n_head, got {self.d_model}/{self.n_head}"
            )
        if self.pos == "sinusoidal" and self.d_model % 2:
            raise ValueError(f"pos='sinusoidal' needs an even d_model, got {self.d_model}")

    @property
    def head_dim(self) -> int:
        """D, the width of one attention head (``d_model // n_head``)."""
        return self.d_model // self.n_head

    def replace(self, **overrides: Any) -> ModelConfig:
        """Return a copy with some fields changed (validated again)."""
        _check_field_names(ModelConfig, overrides)
        return dataclasses.replace(self, **overrides)

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as a JSON-able dict (only ints, floats, bools and strings)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelConfig:
        """Rebuild a config from :meth:`to_dict` output; unknown or missing keys raise ``ValueError``."""
        if not isinstance(d, dict):
            raise TypeError(f"d must be a dict, got {type(d).__name__}")
        _check_field_names(cls, d)
        missing = sorted({f.name for f in dataclasses.fields(cls)} - set(d))
        if missing:
            raise ValueError(f"d is missing ModelConfig fields {missing}")
        values = {}
        for f in dataclasses.fields(cls):
            v = d[f.name]
            # JSON turns 1e-5 into a float but may hand back 0.0 as 0: accept ints for the float fields.
            if (
                f.name in ("dropout", "norm_eps")
                and isinstance(v, numbers.Integral)
                and not isinstance(v, bool)
            ):
                v = float(v)
            values[f.name] = v
        return cls(**values)


@dataclass(frozen=True)
class TrainConfig:
    """How to train: optimisation, schedule, and what to record (:func:`attnbook.train.train`).

    Every field is validated in ``__post_init__`` (``ValueError``/``TypeError`` naming the field).
    """

    steps: int = 200  # optimizer updates in total
    batch_size: int = 16  # B, sequences per batch
    lr: float = 3e-3  # peak learning rate, reached at the end of warm-up
    warmup_steps: int = 20  # linear warm-up from lr / warmup_steps to lr (0 = none)
    min_lr: float = 3e-4  # cosine decay floor at the last step (= lr for a constant rate)
    optimizer: Optimizer = "adamw"  # AdamW decays matrices only (nanoGPT's rule)
    beta1: float = 0.9  # Adam's first-moment decay
    beta2: float = 0.99  # Adam's second-moment decay (0.99 suits small batches, as in nanoGPT's char model)
    eps: float = 1e-8  # Adam's denominator epsilon
    weight_decay: float = 0.01  # AdamW decoupled decay, or Adam's L2 coefficient
    grad_clip: float = 1.0  # clip the global gradient norm to this (0 = no clipping)
    eval_interval: int = 50  # estimate train/val loss every this many steps (and at the end)
    eval_batches: int = 4  # batches per loss estimate (the same fixed batches every time)
    log_interval: int = 10  # record loss, lr, gradient norms, activation stats, attention entropy
    seed: int = 0  # initial weights, batches and dropout all derive from it
    snapshot_steps: tuple[int, ...] = ()  # after how many updates to save attention maps of the probe batch
    probe_size: int = 1  # sequences in the fixed probe batch used for snapshots
    dtype: DType = "float32"  # parameter dtype (float64 for exact comparisons)

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "eval_interval", "eval_batches", "log_interval", "probe_size"):
            check_int(name, getattr(self, name), low=1)
        check_int("warmup_steps", self.warmup_steps, low=0)
        check_int("seed", self.seed, low=0)
        check_real("lr", self.lr, low=0.0, low_inclusive=False)
        check_real("min_lr", self.min_lr, low=0.0, high=self.lr)
        check_choice("optimizer", self.optimizer, get_args(Optimizer))
        check_real("beta1", self.beta1, low=0.0, high=1.0)
        check_real("beta2", self.beta2, low=0.0, high=1.0)
        if self.beta1 >= 1.0 or self.beta2 >= 1.0:
            raise ValueError(f"beta1 and beta2 must be < 1, got {self.beta1}, {self.beta2}")
        check_real("eps", self.eps, low=0.0)
        check_real("weight_decay", self.weight_decay, low=0.0)
        check_real("grad_clip", self.grad_clip, low=0.0)
        if not isinstance(self.snapshot_steps, tuple):
            raise TypeError(
                f"snapshot_steps must be a tuple of ints, got {type(self.snapshot_steps).__name__}"
            )
        for s in self.snapshot_steps:
            check_int("snapshot_steps[i]", s, low=0, high=self.steps)
        if list(self.snapshot_steps) != sorted(set(self.snapshot_steps)):
            raise ValueError(f"snapshot_steps must be strictly increasing, got {self.snapshot_steps}")
        check_choice("dtype", self.dtype, get_args(DType))

    def replace(self, **overrides: Any) -> TrainConfig:
        """Return a copy with some fields changed (validated again)."""
        _check_field_names(TrainConfig, overrides)
        return dataclasses.replace(self, **overrides)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict of the fields (``snapshot_steps`` as a list)."""
        d = dataclasses.asdict(self)
        d["snapshot_steps"] = list(self.snapshot_steps)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise ``ValueError``, missing keys take defaults."""
        if not isinstance(d, Mapping):
            raise TypeError(f"d must be a dict, got {type(d).__name__}")
        _check_field_names(cls, d)
        d = dict(d)
        if "snapshot_steps" in d and isinstance(d["snapshot_steps"], list):
            d["snapshot_steps"] = tuple(d["snapshot_steps"])
        for name in ("lr", "min_lr", "beta1", "beta2", "eps", "weight_decay", "grad_clip"):
            if isinstance(d.get(name), int) and not isinstance(d.get(name), bool):
                d[name] = float(d[name])  # JSON may give back 0.0 as 0
        return cls(**d)


def _check_field_names(cls, d) -> None:
    valid = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(d) - valid)
    if unknown:
        raise ValueError(f"unknown {cls.__name__} field(s) {unknown}; known: {sorted(valid)}")


PRESETS: dict[str, ModelConfig] = {
    # The benchmark's two sizes (issue 3): tiny trains in seconds, small is the book's character model.
    "tiny": ModelConfig(vocab_size=65, block_size=32, d_model=64, n_layer=2, n_head=2, d_ff=256),
    "small": ModelConfig(vocab_size=65, block_size=64, d_model=128, n_layer=4, n_head=4, d_ff=512),
    # Induction heads need two attention layers (Olsson et al. 2022); one layer is the control.
    "induction1": ModelConfig(
        vocab_size=32, block_size=64, d_model=64, n_layer=1, n_head=4, d_ff=256, attn_only=True
    ),
    "induction2": ModelConfig(
        vocab_size=32, block_size=64, d_model=64, n_layer=2, n_head=4, d_ff=256, attn_only=True
    ),
    # Length extrapolation (Press et al. 2021): train short, evaluate longer, ALiBi vs sinusoidal.
    "alibi": ModelConfig(
        vocab_size=65, block_size=128, d_model=64, n_layer=2, n_head=4, d_ff=256, pos="alibi"
    ),
    "sinusoidal": ModelConfig(
        vocab_size=65, block_size=128, d_model=64, n_layer=2, n_head=4, d_ff=256, pos="sinusoidal"
    ),
    # Post-LN, the original placement, which needs learning-rate warm-up (Xiong et al. 2020).
    "postln": ModelConfig(
        vocab_size=65, block_size=64, d_model=128, n_layer=4, n_head=4, d_ff=512, block="post"
    ),
}


def from_preset(name: str, **overrides: Any) -> ModelConfig:
    """Return the preset ``name`` with ``overrides`` applied (``dataclasses.replace``, validated again).

    Parameters
    ----------
    name : str
        One of ``PRESETS``.
    **overrides
        Field values to change, e.g. ``n_layer=3``.

    Returns
    -------
    cfg : ModelConfig
    """
    check_choice("name", name, PRESETS)
    return PRESETS[name].replace(**overrides)
