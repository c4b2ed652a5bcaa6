"""The training loop: batches, AdamW, clipping, schedule, recorded history, progress, checkpoints and the CLI.

Run ``python -m attnbook.train --preset=tiny --steps=200 --lr=3e-3 --out=ckpt.npz``; any field of
:class:`TrainConfig` or :class:`~attnbook.config.ModelConfig` can be overridden with ``--key=value``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import signal
import sys
import tempfile
import threading
import time
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np

from . import model as _model
from ._checks import as_int_array, check_choice, check_int, check_real
from .config import PRESETS, ModelConfig
from .data import get_batch, make_dataset
from .optim import Adam, AdamW, clip_grad_norm, global_norm, lr_schedule

__all__ = [
    "Checkpoint",
    "TrainConfig",
    "TrainResult",
    "estimate_loss",
    "load_checkpoint",
    "main",
    "save_checkpoint",
    "train",
]

CHECKPOINT_FORMAT = "attnbook.checkpoint"
CHECKPOINT_VERSION = 1

# Independent random streams, each derived from (seed, stream, step): a resumed run draws exactly the
# batches and dropout masks the uninterrupted run would have drawn, with no generator state to save.
_BATCH_STREAM, _DROPOUT_STREAM, _EVAL_STREAM = 1, 2, 3


@dataclass(frozen=True)
class TrainConfig:
    """How to train: optimisation, schedule, and what to record.

    Every field is validated in ``__post_init__`` (``ValueError``/``TypeError`` naming the field).
    """

    steps: int = 200  # optimizer updates in total
    batch_size: int = 16  # B, sequences per batch
    lr: float = 3e-3  # peak learning rate, reached at the end of warm-up
    warmup_steps: int = 20  # linear warm-up from lr / warmup_steps to lr (0 = none)
    min_lr: float = 3e-4  # cosine decay floor at the last step (= lr for a constant rate)
    optimizer: Literal["adamw", "adam"] = "adamw"  # AdamW decays matrices only (nanoGPT's rule)
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
    dtype: Literal["float32", "float64"] = "float32"  # parameter dtype (float64 for exact comparisons)

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "eval_interval", "eval_batches", "log_interval", "probe_size"):
            check_int(name, getattr(self, name), low=1)
        check_int("warmup_steps", self.warmup_steps, low=0)
        check_int("seed", self.seed, low=0)
        check_real("lr", self.lr, low=0.0, low_inclusive=False)
        check_real("min_lr", self.min_lr, low=0.0, high=self.lr)
        check_choice("optimizer", self.optimizer, ("adamw", "adam"))
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
        check_choice("dtype", self.dtype, ("float32", "float64"))

    def replace(self, **overrides: Any) -> TrainConfig:
        """Return a copy with some fields changed (validated again)."""
        _check_names(TrainConfig, overrides)
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
        _check_names(cls, d)
        d = dict(d)
        if "snapshot_steps" in d and isinstance(d["snapshot_steps"], list):
            d["snapshot_steps"] = tuple(d["snapshot_steps"])
        for name in ("lr", "min_lr", "beta1", "beta2", "eps", "weight_decay", "grad_clip"):
            if isinstance(d.get(name), int) and not isinstance(d.get(name), bool):
                d[name] = float(d[name])  # JSON may give back 0.0 as 0
        return cls(**d)


def _check_names(cls, d: Mapping[str, Any]) -> None:
    valid = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(d) - valid)
    if unknown:
        raise ValueError(f"unknown {cls.__name__} field(s) {unknown}; valid: {sorted(valid)}")


class TrainResult(NamedTuple):
    """What :func:`train` returns."""

    params: dict[str, np.ndarray]  # the trained parameters
    history: dict[str, np.ndarray]  # named arrays, see :func:`train`
    opt_state: dict[str, np.ndarray] | None  # optimizer.state_dict(), None when loaded from the run cache
    step: int  # optimizer updates done
    status: str = "done"  # "done", "interrupted" (Ctrl-C / KeyboardInterrupt) or "diverged" (non-finite loss)


class Checkpoint(NamedTuple):
    """What :func:`load_checkpoint` returns."""

    params: dict[str, np.ndarray]
    cfg: ModelConfig
    train_cfg: TrainConfig
    step: int
    opt_state: dict[str, np.ndarray] | None
    history: dict[str, np.ndarray]
    extra: dict[str, Any]  # JSON metadata given to save_checkpoint (e.g. the tokenizer)


# ----------------------------------------------------------------------------------------------------
# Data and evaluation helpers


def _split_data(data) -> tuple[np.ndarray, np.ndarray | None]:
    if hasattr(data, "train") and hasattr(data, "val"):
        return data.train, data.val
    if isinstance(data, tuple) and len(data) == 2:
        return data
    if isinstance(data, (np.ndarray, list)):
        return data, None
    raise TypeError("data must be an int array, a (train, val) pair, or a Dataset from attnbook.data")


def _check_split(name: str, data, cfg: ModelConfig) -> np.ndarray:
    data = as_int_array(name, data, low=0, high=cfg.vocab_size)
    if data.ndim not in (1, 2):
        raise ValueError(f"{name} must be a token stream (N,) or rows (N, L), got shape {data.shape}")
    length = data.shape[0] if data.ndim == 1 else data.shape[1]
    if length < cfg.block_size + 1:
        what = "tokens" if data.ndim == 1 else "tokens per row"
        raise ValueError(f"{name} has {length} {what}, needs at least block_size + 1 = {cfg.block_size + 1}")
    return data


def _rng(seed: int, stream: int, step: int = 0) -> np.random.Generator:
    return np.random.default_rng((seed, stream, step))


def estimate_loss(params, cfg: ModelConfig, data, batch_size: int, n_batches: int, seed: int = 0) -> float:
    """Mean loss over ``n_batches`` batches drawn with ``seed`` (the same batches for the same seed).

    Parameters
    ----------
    params : dict[str, ndarray]
    cfg : ModelConfig
    data : ndarray of int, shape (N,) or (N, L)
    batch_size, n_batches : int
    seed : int

    Returns
    -------
    loss : float
        Mean cross-entropy in nats.
    """
    batch_size = check_int("batch_size", batch_size, low=1)
    n_batches = check_int("n_batches", n_batches, low=1)
    rng = _rng(check_int("seed", seed, low=0), _EVAL_STREAM)
    total = 0.0
    for _ in range(n_batches):
        x, y = get_batch(data, cfg.block_size, batch_size, rng)
        logits, _ = _model.forward(params, x, cfg)
        total += _model.loss(logits, y)[0]
    return total / n_batches


def _probe_batch(data: np.ndarray, cfg: ModelConfig, size: int) -> np.ndarray:
    """The fixed batch whose attention maps are snapshotted: the first rows / windows of the data."""
    T = cfg.block_size
    if data.ndim == 2:
        return data[:size, :T].astype(np.int64)
    n = min(size, data.shape[0] // T)
    return data[: n * T].reshape(n, T).astype(np.int64)  # (P, T), consecutive windows


def _layer_groups(keys, n_layer: int) -> list[list[str]]:
    """Parameter names of each block: those whose first all-digit dotted component is the layer index."""
    groups: list[list[str]] = [[] for _ in range(n_layer)]
    for k in keys:
        m = re.search(r"(?:^|\.)(\d+)\.", k)
        if m and int(m.group(1)) < n_layer:
            groups[int(m.group(1))].append(k)
    return groups


def _sumsq(a: np.ndarray) -> float:
    flat = a.reshape(-1)
    return float(np.dot(flat, flat))


def _attention_entropy(maps: np.ndarray) -> np.ndarray:
    """Mean entropy (nats) of each head's attention rows: (L, B, H, T, T) -> (L, H)."""
    p = maps.astype(np.float64)
    logp = np.log(np.where(p > 0, p, 1.0))  # 0 log 0 = 0 (masked keys)
    ent = -(p * logp).sum(axis=-1)  # (L, B, H, T)
    return ent.mean(axis=(1, 3))  # (L, H)


def _activation_stats(cache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-layer mean, std and max of the residual stream, as three float64 vectors."""
    stats = _model.activation_stats(cache)
    if isinstance(stats, Mapping):
        return tuple(np.asarray(stats[k], dtype=np.float64).reshape(-1) for k in ("mean", "std", "max"))
    arr = np.asarray(stats, dtype=np.float64)  # (n, 3) rows of (mean, std, max)
    return arr[..., 0].reshape(-1), arr[..., 1].reshape(-1), arr[..., 2].reshape(-1)


# ----------------------------------------------------------------------------------------------------
# History


_HISTORY_DTYPES = {
    "step": np.int64,
    "loss": np.float64,
    "lr": np.float64,
    "grad_norm": np.float64,
    "grad_norm_layers": np.float64,
    "act_mean": np.float64,
    "act_std": np.float64,
    "act_max": np.float64,
    "attn_entropy": np.float64,
    "eval_step": np.int64,
    "train_loss": np.float64,
    "val_loss": np.float64,
    "snapshot_step": np.int64,
    "snapshot_attn": np.float32,
}


class _History:
    """Lists of rows while training; named arrays (:meth:`arrays`) for results and checkpoints."""

    def __init__(self, arrays: Mapping[str, np.ndarray] | None = None):
        self.rows: dict[str, list] = {k: [] for k in _HISTORY_DTYPES}
        self.shapes: dict[str, tuple[int, ...]] = {}
        self.probe_idx = None
        for k, a in (arrays or {}).items():
            if k == "probe_idx":
                self.probe_idx = np.asarray(a)
            elif k in self.rows:
                self.rows[k] = list(np.asarray(a))
                self.shapes[k] = np.asarray(a).shape[1:]

    def add(self, **values) -> None:
        for k, v in values.items():
            self.rows[k].append(v)

    def last(self, key: str):
        return self.rows[key][-1] if self.rows[key] else None

    def arrays(self) -> dict[str, np.ndarray]:
        out = {}
        for k, rows in self.rows.items():
            if rows:
                out[k] = np.asarray(np.stack([np.asarray(r) for r in rows]), dtype=_HISTORY_DTYPES[k])
            else:
                out[k] = np.zeros((0, *self.shapes.get(k, ())), dtype=_HISTORY_DTYPES[k])
        if self.probe_idx is not None:
            out["probe_idx"] = np.asarray(self.probe_idx, dtype=np.int64)
        return out


# ----------------------------------------------------------------------------------------------------
# Progress and interruption


class _Progress:
    """A one-line progress bar on stderr, redrawn with a carriage return at most ten times a second."""

    def __init__(self, total: int, start: int, enabled: bool, stream=None):
        self.total, self.start, self.enabled = total, start, enabled
        self.stream = stream if stream is not None else sys.stderr
        self.t0 = time.perf_counter()
        self.last_draw = 0.0
        self.val = math.nan

    def update(self, step: int, loss: float, lr: float, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if not force and now - self.last_draw < 0.1 and step < self.total:
            return
        self.last_draw = now
        width = 24
        filled = int(width * step / self.total)
        bar = "=" * filled + (">" if filled < width else "") + " " * (width - filled - 1)
        rate = (step - self.start) / max(now - self.t0, 1e-9)
        val = f" val {self.val:.4f}" if math.isfinite(self.val) else ""
        line = f"\rstep {step:>{len(str(self.total))}}/{self.total} [{bar}] loss {loss:.4f}{val} lr {lr:.2e}"
        self.stream.write(f"{line} {rate:.1f} step/s ")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


class _DeferSigint:
    """Turn the first Ctrl-C into a request to stop after the current step (a second one stops at once)."""

    def __init__(self):
        self.requested = False
        self._old = None

    def _handler(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            try:
                self._old = signal.signal(signal.SIGINT, self._handler)
            except ValueError:  # not allowed here (e.g. some embedded interpreters)
                self._old = None
        return self

    def __exit__(self, *exc):
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)
        return False


# ----------------------------------------------------------------------------------------------------
# Training


def _check_params_for(cfg: ModelConfig, params: Mapping[str, np.ndarray], dtype, what: str) -> None:
    expected = _model.param_shapes(cfg)
    missing = sorted(set(expected) - set(params))
    extra = sorted(set(params) - set(expected))
    if missing or extra:
        raise ValueError(f"{what} do not match the model config: missing {missing}, unexpected {extra}")
    for k, shape in expected.items():
        p = params[k]
        if not isinstance(p, np.ndarray) or p.shape != shape:
            raise ValueError(f"{what}[{k!r}] must have shape {shape}, got {getattr(p, 'shape', None)}")
        if p.dtype != dtype:
            raise TypeError(f"{what}[{k!r}] must have dtype {np.dtype(dtype)}, got {p.dtype}")


def train(
    cfg: ModelConfig,
    train_cfg: TrainConfig,
    data,
    *,
    params: Mapping[str, np.ndarray] | None = None,
    resume_from: str | os.PathLike | None = None,
    progress: bool = True,
    callback: Callable[[int, dict[str, float]], None] | None = None,
    checkpoint_path: str | os.PathLike | None = None,
) -> TrainResult:
    """Train the GPT of :mod:`attnbook.model` and record what happened.

    Parameters
    ----------
    cfg : ModelConfig
    train_cfg : TrainConfig
    data : ndarray of int, (train, val) pair, or attnbook.data.Dataset
        Token streams (N,) or rows of examples (N, L); see :func:`attnbook.data.get_batch`.
    params : dict[str, ndarray], optional
        Initial parameters (copied); default ``init_params(cfg, train_cfg.seed)``.
    resume_from : path, optional
        A checkpoint of the same model config: its parameters, optimizer state and history are
        restored and training continues from its step up to ``train_cfg.steps``. Batches are derived
        from ``(seed, step)``, so the result equals the uninterrupted run's.
    progress : bool
        Draw a progress line on stderr.
    callback : callable, optional
        ``callback(step, logs)`` after each update (``logs`` has loss, lr, grad_norm and, when just
        estimated, val_loss). Raising ``KeyboardInterrupt`` in it stops training like Ctrl-C.
    checkpoint_path : path, optional
        Where to save a checkpoint at the end (also when interrupted).

    Returns
    -------
    TrainResult
        ``history`` holds named arrays: at each logged step (every ``log_interval`` and the last)
        ``step`` (N,), ``loss`` (N,), ``lr`` (N,), ``grad_norm`` (N,) before clipping,
        ``grad_norm_layers`` (N, n_layer), ``act_mean``/``act_std``/``act_max`` (N, n_stats) of the
        residual stream, ``attn_entropy`` (N, n_layer, H); at each estimate (every ``eval_interval``
        updates and at the end) ``eval_step`` (M,), ``train_loss`` (M,), ``val_loss`` (M,) (NaN without
        validation data); at each of ``snapshot_steps`` ``snapshot_step`` (S,) and ``snapshot_attn``
        (S, n_layer, P, H, T, T) for the probe batch ``probe_idx`` (P, T). ``loss`` at step ``s`` is the
        batch loss before update ``s + 1``; estimates and snapshots at ``s`` use the parameters after
        ``s`` updates. Ctrl-C stops after the current update (``status="interrupted"``); a non-finite
        loss stops training (``status="diverged"``).
    """
    if not isinstance(cfg, ModelConfig):
        raise TypeError(f"cfg must be a ModelConfig, got {type(cfg).__name__}")
    if not isinstance(train_cfg, TrainConfig):
        raise TypeError(f"train_cfg must be a TrainConfig, got {type(train_cfg).__name__}")
    tc = train_cfg
    dtype = np.dtype(tc.dtype)
    train_data, val_data = _split_data(data)
    train_data = _check_split("train data", train_data, cfg)
    val_data = None if val_data is None else _check_split("val data", val_data, cfg)

    history = _History()
    opt_state = None
    start = 0
    if resume_from is not None:
        if params is not None:
            raise ValueError("give either params or resume_from, not both")
        ck = load_checkpoint(resume_from)
        if ck.cfg != cfg:
            diff = {k: (v, getattr(cfg, k)) for k, v in ck.cfg.to_dict().items() if getattr(cfg, k) != v}
            raise ValueError(f"checkpoint {resume_from} was trained with another model config: {diff}")
        if ck.opt_state is None:
            raise ValueError(f"checkpoint {resume_from} has no optimizer state to resume from")
        params, opt_state, start, history = ck.params, ck.opt_state, ck.step, _History(ck.history)
        if start > tc.steps:
            raise ValueError(f"checkpoint {resume_from} is at step {start}, past train_cfg.steps={tc.steps}")
    if params is None:
        params = _model.init_params(cfg, tc.seed, dtype=dtype)
    else:
        _check_params_for(cfg, params, dtype, "params")
        params = {k: np.array(v, copy=True) for k, v in params.items()}

    opt_cls = AdamW if tc.optimizer == "adamw" else Adam
    opt = opt_cls(params, lr=tc.lr, betas=(tc.beta1, tc.beta2), eps=tc.eps, weight_decay=tc.weight_decay)
    if opt_state is not None:
        opt.load_state_dict(opt_state)

    groups = _layer_groups(params, cfg.n_layer)
    eval_data = val_data if val_data is not None else train_data
    probe = _probe_batch(eval_data, cfg, tc.probe_size) if tc.snapshot_steps else None
    if probe is not None:
        history.probe_idx = probe
    snapshots = set(tc.snapshot_steps)
    eval_bs = tc.batch_size

    def evaluate(step: int) -> float:
        if history.last("eval_step") == step:  # already estimated (e.g. the end of the run we resume)
            return history.last("val_loss")
        tr = estimate_loss(params, cfg, train_data, eval_bs, tc.eval_batches, tc.seed)
        va = math.nan
        if val_data is not None:
            va = estimate_loss(params, cfg, val_data, eval_bs, tc.eval_batches, tc.seed)
        history.add(eval_step=step, train_loss=tr, val_loss=va)
        bar.val = va
        return va

    def snapshot(step: int) -> None:
        if step in snapshots and history.last("snapshot_step") != step:
            _, pcache = _model.forward(params, probe, cfg)
            history.add(snapshot_step=step, snapshot_attn=_model.attention_maps(pcache).astype(np.float32))

    bar = _Progress(tc.steps, start, progress)
    status = "done"
    step = start
    in_update = False
    try:
        with _DeferSigint() as sigint:
            for it in range(start, tc.steps):
                if sigint.requested:
                    status = "interrupted"
                    break
                logs: dict[str, float] = {}
                if it % tc.eval_interval == 0:
                    logs["val_loss"] = evaluate(it)
                snapshot(it)
                lr = lr_schedule(it, tc.lr, tc.warmup_steps, tc.steps, tc.min_lr)
                x, y = get_batch(train_data, cfg.block_size, tc.batch_size, _rng(tc.seed, _BATCH_STREAM, it))
                drop_rng = _rng(tc.seed, _DROPOUT_STREAM, it) if cfg.dropout > 0 else None
                logits, cache = _model.forward(params, x, cfg, training=True, rng=drop_rng)
                loss, dlogits = _model.loss(logits, y)
                log_now = it % tc.log_interval == 0 or it == tc.steps - 1
                if not math.isfinite(loss):
                    status = "diverged"
                    log_now = True
                if log_now:
                    mean, std, mx = _activation_stats(cache)
                    row = {
                        "step": it,
                        "loss": loss,
                        "lr": lr,
                        "act_mean": mean,
                        "act_std": std,
                        "act_max": mx,
                        "attn_entropy": _attention_entropy(_model.attention_maps(cache)),
                        "grad_norm": math.nan,
                        "grad_norm_layers": np.full(cfg.n_layer, np.nan),
                    }
                if status == "diverged":
                    history.add(**row)
                    break
                grads = _model.backward(dlogits, cache)
                if log_now:  # per-layer norms before clipping rescales them
                    row["grad_norm_layers"] = np.sqrt([sum(_sumsq(grads[k]) for k in g) for g in groups])
                gnorm = clip_grad_norm(grads, tc.grad_clip) if tc.grad_clip > 0 else global_norm(grads)
                in_update = True
                opt.step(grads, lr=lr)
                in_update = False
                step = it + 1
                if log_now:
                    row["grad_norm"] = gnorm
                    history.add(**row)
                bar.update(step, loss, lr)
                if callback is not None:
                    callback(step, {"loss": loss, "lr": lr, "grad_norm": gnorm, **logs})
            else:
                evaluate(tc.steps)
                snapshot(tc.steps)
    except KeyboardInterrupt:
        if in_update:  # the parameters are half-updated: nothing consistent to return
            raise
        status = "interrupted"
    finally:
        last_loss, last_lr = history.last("loss"), history.last("lr")
        bar.update(
            step, math.nan if last_loss is None else last_loss, math.nan if last_lr is None else last_lr, True
        )
        bar.close()

    result = TrainResult(params, history.arrays(), opt.state_dict(), step, status)
    if checkpoint_path is not None:
        save_checkpoint(checkpoint_path, params, cfg, tc, step, result.opt_state, result.history)
    return result


# ----------------------------------------------------------------------------------------------------
# Checkpoints


def save_checkpoint(
    path: str | os.PathLike,
    params: Mapping[str, np.ndarray],
    cfg: ModelConfig,
    train_cfg: TrainConfig,
    step: int,
    opt_state: Mapping[str, np.ndarray] | None = None,
    history: Mapping[str, np.ndarray] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write a ``.npz`` checkpoint (no pickle) atomically: the file is complete or absent.

    Parameters
    ----------
    path : path
        Target file; written to a temporary file in the same folder and renamed.
    params : dict[str, ndarray]
    cfg : ModelConfig
    train_cfg : TrainConfig
    step : int
        Optimizer updates done.
    opt_state : dict[str, ndarray], optional
        ``optimizer.state_dict()``; needed to resume.
    history : dict[str, ndarray], optional
    extra : dict, optional
        JSON-serialisable metadata (e.g. the tokenizer), returned by :func:`load_checkpoint`.

    Returns
    -------
    path : Path
    """
    path = Path(path)
    step = check_int("step", step, low=0)
    meta = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "model_config": cfg.to_dict(),
        "train_config": train_cfg.to_dict(),
        "step": step,
        "has_opt_state": opt_state is not None,
        "extra": dict(extra or {}),
    }
    arrays = {"meta": np.array([json.dumps(meta)])}  # the config travels as a JSON string array
    arrays.update({f"param.{k}": np.asarray(v) for k, v in params.items()})
    arrays.update({f"opt.{k}": np.asarray(v) for k, v in (opt_state or {}).items()})
    arrays.update({f"history.{k}": np.asarray(v) for k, v in (history or {}).items()})
    for k, v in arrays.items():
        if v.dtype == object:
            raise TypeError(f"checkpoint entry {k} is an object array, which cannot be saved without pickle")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    """Read every array of an .npz, turning any corruption into one ValueError."""
    if not path.exists():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}  # reading each member checks its CRC
    except Exception as e:  # BadZipFile, EOFError, zlib.error, ValueError (pickled data), OSError ...
        raise ValueError(
            f"checkpoint {path} is unreadable (truncated or corrupt?): {type(e).__name__}: {e}"
        ) from e


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint`, checking it completely before returning.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is truncated or corrupt, is not an attnbook checkpoint, or its parameters or
        optimizer state do not match its model config (names or shapes). Nothing is partially loaded.
    """
    path = Path(path)
    arrays = _read_npz(path)
    try:
        meta = json.loads(str(arrays["meta"][0]))
        if meta.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"format is {meta.get('format')!r}, expected {CHECKPOINT_FORMAT!r}")
        if meta.get("version") != CHECKPOINT_VERSION:
            raise ValueError(f"version {meta.get('version')!r} is not {CHECKPOINT_VERSION}")
        cfg = ModelConfig.from_dict(meta["model_config"])
        train_cfg = TrainConfig.from_dict(meta["train_config"])
        step = check_int("step", meta["step"], low=0)
    except (KeyError, IndexError, ValueError, TypeError) as e:
        raise ValueError(f"checkpoint {path} has missing or invalid metadata: {e}") from e

    params = {k[len("param.") :]: v for k, v in arrays.items() if k.startswith("param.")}
    opt_state = {k[len("opt.") :]: v for k, v in arrays.items() if k.startswith("opt.")}
    history = {k[len("history.") :]: v for k, v in arrays.items() if k.startswith("history.")}
    dtypes = {v.dtype for v in params.values()}
    if len(dtypes) != 1 or not np.issubdtype(next(iter(dtypes)), np.floating):
        raise ValueError(
            f"checkpoint {path} parameters must share one float dtype, got {sorted(map(str, dtypes))}"
        )
    try:
        _check_params_for(cfg, params, next(iter(dtypes)), "parameters")
    except (ValueError, TypeError) as e:
        raise ValueError(f"checkpoint {path}: {e}") from e
    if meta.get("has_opt_state"):
        expected = {"t"} | {f"{s}.{k}" for k in params for s in ("m", "v")}
        if set(opt_state) != expected:
            missing, unexpected = sorted(expected - set(opt_state)), sorted(set(opt_state) - expected)
            raise ValueError(
                f"checkpoint {path}: optimizer state does not match the parameters "
                f"(missing {missing}, unexpected {unexpected})"
            )
        for k, p in params.items():
            for s in ("m", "v"):
                if opt_state[f"{s}.{k}"].shape != p.shape:
                    raise ValueError(f"checkpoint {path}: optimizer state {s}.{k} has the wrong shape")
    else:
        opt_state = None
    return Checkpoint(params, cfg, train_cfg, step, opt_state, history, meta.get("extra", {}))


# ----------------------------------------------------------------------------------------------------
# Command line

_CLI_OPTIONS = {
    "preset": "model preset, one of " + ", ".join(PRESETS),
    "out": "checkpoint file to write (default checkpoint.npz)",
    "data": "grammar, copy, reverse, repeated, or a path to a UTF-8 text file (default grammar)",
    "resume": "checkpoint to resume from",
    "sample": "characters to generate after training (character data only; default 200, 0 = none)",
    "quiet": "no progress line",
}


def _parse_value(name: str, annotation, text: str):
    """Convert ``text`` to the type of a dataclass field, or raise ValueError naming the field."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    try:
        if annotation is bool:
            low = text.lower()
            if low not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError("expected true or false")
            return low in ("true", "1", "yes")
        if annotation is int:
            return int(text)
        if annotation is float:
            return float(text)
        if origin is Literal:
            if text not in args:
                raise ValueError(f"expected one of {args}")
            return text
        if origin is tuple:
            return tuple(int(s) for s in text.split(",") if s.strip())
        if annotation is str:
            return text
    except ValueError as e:
        raise ValueError(f"--{name}={text}: {e}") from None
    raise ValueError(f"--{name}: unsupported field type {annotation}")


def _parse_argv(argv: list[str]) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
    model_types = typing.get_type_hints(ModelConfig)
    train_types = typing.get_type_hints(TrainConfig)
    options: dict[str, str] = {}
    model_over: dict[str, Any] = {}
    train_over: dict[str, Any] = {}
    valid = sorted(set(_CLI_OPTIONS) | set(model_types) | set(train_types))
    for arg in argv:
        if arg in ("-h", "--help"):
            raise _Help
        if not arg.startswith("--"):
            raise ValueError(f"arguments must look like --key=value, got {arg!r}")
        key, eq, value = arg[2:].partition("=")
        key = key.replace("-", "_")
        if not eq and key != "quiet":
            raise ValueError(f"--{key} needs a value: --{key}=VALUE")
        if key in _CLI_OPTIONS:
            options[key] = value
        elif key in train_types:
            train_over[key] = _parse_value(key, train_types[key], value)
        elif key in model_types:
            model_over[key] = _parse_value(key, model_types[key], value)
        else:
            raise ValueError(f"unknown option --{key}; valid keys: {', '.join(valid)}")
    return options, model_over, train_over


class _Help(Exception):
    pass


def _usage() -> str:
    model_fields = ", ".join(f.name for f in dataclasses.fields(ModelConfig))
    train_fields = ", ".join(f.name for f in dataclasses.fields(TrainConfig))
    opts = "\n".join(f"  --{k:<8} {v}" for k, v in _CLI_OPTIONS.items())
    return (
        "usage: python -m attnbook.train [--key=value ...]\n\n"
        f"options:\n{opts}\n\nmodel fields (ModelConfig): {model_fields}\n"
        f"training fields (TrainConfig): {train_fields}\n"
    )


def main(argv: list[str] | None = None) -> int:
    """Command line entry point: train a preset with ``--key=value`` overrides and write a checkpoint.

    Returns the exit status (0 success, 2 bad arguments, 130 interrupted).
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        options, model_over, train_over = _parse_argv(argv)
        preset = check_choice("preset", options.get("preset", "tiny"), PRESETS)
        data_opt = options.get("data", "grammar")
        if data_opt in ("grammar", "copy", "reverse", "repeated"):
            spec: dict[str, Any] = {"kind": data_opt}
        else:
            text_path = Path(data_opt)
            if not text_path.is_file():
                raise ValueError(f"--data={data_opt}: not a known dataset and not a file")
            spec = {"kind": "text", "text": text_path.read_text(encoding="utf-8")}
        ds = make_dataset(spec)
        # The data decide the vocabulary (and, for rows of examples, the longest block) unless overridden.
        fit: dict[str, Any] = {"vocab_size": ds.vocab_size}
        if ds.train.ndim == 2:
            fit["block_size"] = min(PRESETS[preset].block_size, ds.train.shape[1] - 1)
        cfg = PRESETS[preset].replace(**{**fit, **model_over})
        if cfg.vocab_size < ds.vocab_size:
            raise ValueError(f"--vocab_size={cfg.vocab_size} is smaller than the data's {ds.vocab_size}")
        train_cfg = TrainConfig(**train_over)
        n_sample = int(options.get("sample", "200"))
    except _Help:
        print(_usage())
        return 0
    except (ValueError, TypeError) as e:
        print(f"error: {e}\n\n{_usage()}", file=sys.stderr)
        return 2

    out = Path(options.get("out") or "checkpoint.npz")
    n_params = sum(math.prod(s) for s in _model.param_shapes(cfg).values())
    print(f"model {preset}: {cfg}\n{n_params:,} parameters; training: {train_cfg}", file=sys.stderr)
    result = train(
        cfg,
        train_cfg,
        ds,
        resume_from=options.get("resume") or None,
        progress="quiet" not in options,
    )
    h = result.history
    extra = {"data_spec": {k: v for k, v in spec.items() if k != "text"}}
    if ds.tokenizer is not None:
        extra["tokenizer"] = ds.tokenizer.to_dict()
    save_checkpoint(out, result.params, cfg, train_cfg, result.step, result.opt_state, h, extra=extra)
    if len(h["val_loss"]):
        print(f"step {result.step}: train loss {h['train_loss'][-1]:.4f}, val loss {h['val_loss'][-1]:.4f}")
    print(f"wrote {out} ({result.status})")
    if ds.tokenizer is not None and n_sample > 0 and result.status != "diverged":
        from .sample import generate

        prompt = ds.val[:1]
        ids = generate(result.params, cfg, prompt, n_sample, temperature=0.8, seed=train_cfg.seed)
        print(ds.tokenizer.decode(ids))
    return 130 if result.status == "interrupted" else 0


if __name__ == "__main__":
    raise SystemExit(main())
