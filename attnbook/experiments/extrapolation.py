"""Length extrapolation (Press et al. 2021): attention-only character models trained on short windows of the
grammar corpus, one per position scheme, evaluated on windows up to several times longer.

Every model is trained through the run cache (:func:`attnbook.runs.cached_train`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .. import model as _model
from .._checks import as_int_array, check_choice, check_int
from ..analysis import token_losses
from ..config import ModelConfig
from ..data import make_dataset
from ..runs import cached_train
from ..train import TrainConfig

__all__ = [
    "Extrapolation",
    "ExtrapolationRun",
    "ExtrapolationSetup",
    "eval_windows",
    "extrapolation_losses",
    "run_extrapolation",
]

_SCHEMES = ("alibi", "rope", "sinusoidal", "none")


@dataclass(frozen=True)
class ExtrapolationSetup:
    """Attention-only character models trained on short windows of the grammar corpus, one per scheme."""

    schemes: tuple[str, ...] = ("alibi", "rope", "sinusoidal")
    train_len: int = 32  # T during training
    multiples: tuple[int, ...] = (1, 2, 4, 8)  # evaluation lengths, in units of train_len
    d_model: int = 64
    n_layer: int = 2
    n_head: int = 8  # 16 heads in all, for the ablation study too
    steps: int = 800
    batch_size: int = 16
    lr: float = 3e-3
    n_sentences: int = 2000
    val_fraction: float = 0.2
    seed: int = 0
    data_seed: int = 0  # seed of the grammar corpus

    def __post_init__(self) -> None:
        if not isinstance(self.schemes, tuple) or not self.schemes:
            raise TypeError("schemes must be a non-empty tuple of position schemes")
        for s in self.schemes:
            # learned positions have one row per trained position: nothing to use beyond train_len
            check_choice("schemes[i]", s, _SCHEMES)
        if not isinstance(self.multiples, tuple) or not self.multiples:
            raise TypeError("multiples must be a non-empty tuple of ints")
        for m in self.multiples:
            check_int("multiples[i]", m, low=1)
        if list(self.multiples) != sorted(set(self.multiples)):
            raise ValueError(f"multiples must be strictly increasing, got {self.multiples}")
        for name in ("train_len", "d_model", "n_layer", "n_head", "steps", "batch_size", "n_sentences"):
            check_int(name, getattr(self, name), low=1)

    @property
    def data_spec(self) -> dict:
        return {
            "kind": "grammar",
            "n_sentences": self.n_sentences,
            "seed": self.data_seed,
            "val_fraction": self.val_fraction,
        }

    def model_config(self, scheme: str, vocab_size: int, block_size: int | None = None) -> ModelConfig:
        """The model of one scheme; ``block_size`` other than ``train_len`` only to evaluate longer windows."""
        check_choice("scheme", scheme, _SCHEMES)
        return ModelConfig(
            vocab_size=vocab_size,
            block_size=self.train_len if block_size is None else block_size,
            d_model=self.d_model,
            n_layer=self.n_layer,
            n_head=self.n_head,
            d_ff=4,
            pos=scheme,
            attn_only=True,
        )

    def train_config(self) -> TrainConfig:
        return TrainConfig(
            steps=self.steps,
            batch_size=self.batch_size,
            lr=self.lr,
            warmup_steps=20,
            min_lr=self.lr / 10,
            eval_interval=max(1, self.steps // 4),
            log_interval=max(1, self.steps // 20),
            seed=self.seed,
        )


class ExtrapolationRun(NamedTuple):
    """One trained model per position scheme, and the validation stream they are evaluated on."""

    setup: ExtrapolationSetup
    vocab_size: int
    val_ids: np.ndarray  # (N,) validation characters
    results: dict  # scheme -> TrainResult


def run_extrapolation(setup: ExtrapolationSetup, cache_dir=None) -> ExtrapolationRun:
    """Train (or load from the run cache) one model per position scheme at context ``train_len``."""
    if not isinstance(setup, ExtrapolationSetup):
        raise TypeError(f"setup must be an ExtrapolationSetup, got {type(setup).__name__}")
    ds = make_dataset(setup.data_spec)
    results = {
        s: cached_train(
            setup.model_config(s, ds.vocab_size), setup.train_config(), setup.data_spec, cache_dir
        )
        for s in setup.schemes
    }
    return ExtrapolationRun(setup, ds.vocab_size, np.asarray(ds.val, dtype=np.int64), results)


class Extrapolation(NamedTuple):
    """Loss of each scheme's model on windows longer than it was trained on."""

    schemes: tuple[str, ...]
    lengths: np.ndarray  # (M,) evaluation window lengths
    loss: np.ndarray  # (S, M) mean loss over the same text cut into windows of each length
    position_loss: tuple  # M arrays (S, lengths[m]): mean loss at each position of the window
    n_tokens: int  # validation tokens scored at every length


def eval_windows(ids: np.ndarray, length: int, n_tokens: int) -> tuple[np.ndarray, np.ndarray]:
    """The first ``n_tokens`` predictions of a stream as consecutive windows of ``length`` (inputs, targets)."""
    ids = as_int_array("ids", ids, ndim=1, low=0)
    length = check_int("length", length, low=1)
    n_tokens = check_int("n_tokens", n_tokens, low=length)
    if n_tokens % length or n_tokens + 1 > ids.shape[0]:
        raise ValueError(f"n_tokens={n_tokens} must be a multiple of length={length} and < len(ids)")
    return ids[:n_tokens].reshape(-1, length), ids[1 : n_tokens + 1].reshape(-1, length)


def extrapolation_losses(run: ExtrapolationRun) -> Extrapolation:
    """Evaluate every scheme on the same validation text cut into windows of each length.

    The configuration is rebuilt with ``block_size`` = the evaluation length and the trained weights
    reused: ALiBi, RoPE and sinusoidal positions have no parameter tied to a length (learned positions
    would have no row for position ``train_len`` and beyond).
    """
    if not isinstance(run, ExtrapolationRun):
        raise TypeError(f"run must be an ExtrapolationRun, got {type(run).__name__}")
    s = run.setup
    lengths = np.array([m * s.train_len for m in s.multiples], dtype=np.int64)
    n_tokens = ((run.val_ids.shape[0] - 1) // lengths[-1]) * int(lengths[-1])
    if n_tokens == 0:
        raise ValueError(f"the validation stream is shorter than the longest window {lengths[-1]}")
    loss = np.empty((len(s.schemes), len(lengths)))
    pos_loss = []
    for m, Te in enumerate(lengths):
        x, y = eval_windows(run.val_ids, int(Te), n_tokens)
        per_scheme = []
        for k, scheme in enumerate(s.schemes):
            cfg = s.model_config(scheme, run.vocab_size, block_size=int(Te))
            logits, _ = _model.forward(run.results[scheme].params, x, cfg)  # (n, Te, V)
            losses = token_losses(logits, y)  # (n, Te)
            loss[k, m] = losses.mean()
            per_scheme.append(losses.mean(axis=0))
        pos_loss.append(np.stack(per_scheme))  # (S, Te)
    return Extrapolation(tuple(s.schemes), lengths, loss, tuple(pos_loss), n_tokens)
