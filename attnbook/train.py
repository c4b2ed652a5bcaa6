"""The training loop: :func:`train_step` (one AdamW update) and :func:`train` (batches, schedule, history, Ctrl-C).

The configuration is :class:`~attnbook.config.TrainConfig` (importable from here too), checkpoints are
:mod:`attnbook.checkpoint`, the recorded history is :mod:`attnbook.history`, and the command line is
:mod:`attnbook.cli` (``python -m attnbook.train --preset=tiny --steps=200`` runs it).
"""

from __future__ import annotations

import math
import os
import signal
import sys
import threading
from collections.abc import Callable, Mapping
from typing import NamedTuple

import numpy as np
from tqdm import tqdm

from . import model as _model
from ._checks import as_int_array, check_int, check_real
from .analysis import attention_entropy, layer_grad_norms
from .checkpoint import Checkpoint as Checkpoint  # re-exported
from .checkpoint import check_params, load_checkpoint, save_checkpoint
from .config import ModelConfig, TrainConfig
from .data import get_batch
from .history import History
from .optim import Adam, AdamW, clip_grad_norm, global_norm, lr_schedule

# TrainConfig, Checkpoint, load_checkpoint and save_checkpoint are importable from here as before; they
# are documented in attnbook.config and attnbook.checkpoint, so they are not in __all__ (one doc target).
__all__ = [
    "StepResult",
    "StopSignals",
    "TrainResult",
    "check_data",
    "estimate_loss",
    "main",
    "train",
    "train_step",
]

# Independent random streams, each derived from (seed, stream, step): a resumed run draws exactly the
# batches and dropout masks the uninterrupted run would have drawn, with no generator state to save.
_BATCH_STREAM, _DROPOUT_STREAM, _EVAL_STREAM = 1, 2, 3


class TrainResult(NamedTuple):
    """What :func:`train` returns."""

    params: dict[str, np.ndarray]  # the trained parameters
    history: dict[str, np.ndarray]  # named arrays, see attnbook.history.HISTORY_FIELDS
    opt_state: dict[str, np.ndarray] | None  # optimizer.state_dict(), None when loaded from the run cache
    step: int  # optimizer updates done
    status: str = "done"  # "done", "interrupted" (Ctrl-C / KeyboardInterrupt) or "diverged" (see detail)
    detail: str = ""  # for "diverged": the step and what became non-finite (params are the last finite state)


class StepResult(NamedTuple):
    """What :func:`train_step` returns."""

    loss: float  # batch loss before the update
    grad_norm: float  # global gradient norm before clipping (NaN when no update was made)
    stats: dict[str, np.ndarray | float] | None  # the step's history row when recorded, else None
    updated: bool  # False when something was not finite: params and optimizer are as before the step
    nonfinite: str = ""  # what was not finite: "logits", "loss", "gradients" or "parameters" ("" if all were)


# ----------------------------------------------------------------------------------------------------
# Data and evaluation


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


def check_data(cfg: ModelConfig, data) -> tuple[np.ndarray, np.ndarray | None]:
    """Check that ``data`` can train ``cfg``'s model and split it into train and validation arrays.

    Parameters
    ----------
    cfg : ModelConfig
    data : ndarray of int, (train, val) pair, or attnbook.data.Dataset
        Token streams (N,) or rows of examples (N, L) with ids below ``vocab_size`` and at least
        ``block_size + 1`` tokens (per row).

    Returns
    -------
    train, val : ndarray
        ``val`` is None when only one array was given.
    """
    if not isinstance(cfg, ModelConfig):
        raise TypeError(f"cfg must be a ModelConfig, got {type(cfg).__name__}")
    train_data, val_data = _split_data(data)
    train_data = _check_split("train data", train_data, cfg)
    return train_data, None if val_data is None else _check_split("val data", val_data, cfg)


def _rng(seed: int, stream: int, step: int = 0) -> np.random.Generator:
    return np.random.default_rng((seed, stream, step))


def _batch(data: np.ndarray, cfg: ModelConfig, tc: TrainConfig, step: int):
    """Batch ``step`` and its dropout generator (None without dropout), both derived from (seed, step)."""
    batch = get_batch(data, cfg.block_size, tc.batch_size, _rng(tc.seed, _BATCH_STREAM, step))
    return batch, (_rng(tc.seed, _DROPOUT_STREAM, step) if cfg.dropout > 0 else None)


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
        Mean cross-entropy in nats (inf when the model's logits are not finite).
    """
    batch_size = check_int("batch_size", batch_size, low=1)
    n_batches = check_int("n_batches", n_batches, low=1)
    rng = _rng(check_int("seed", seed, low=0), _EVAL_STREAM)
    total = 0.0
    for _ in range(n_batches):
        x, y = get_batch(data, cfg.block_size, batch_size, rng)
        logits, _ = _model.forward(params, x, cfg)
        if not np.isfinite(logits).all():
            return math.inf  # a diverging model: the loss is unbounded, not an error
        total += _model.loss(logits, y)[0]
    return total / n_batches


def _probe_batch(data: np.ndarray, cfg: ModelConfig, size: int) -> np.ndarray:
    """The fixed batch whose attention maps are snapshotted: the first rows / windows of the data."""
    T = cfg.block_size
    if data.ndim == 2:
        return data[:size, :T].astype(np.int64)
    n = min(size, data.shape[0] // T)
    return data[: n * T].reshape(n, T).astype(np.int64)  # (P, T), consecutive windows


class _Recorder:
    """Loss estimates and attention snapshots into the history, each at most once per step."""

    def __init__(self, history: History, cfg: ModelConfig, tc: TrainConfig, train_data, val_data):
        self.history, self.cfg, self.tc = history, cfg, tc
        self.train_data, self.val_data = train_data, val_data
        eval_data = val_data if val_data is not None else train_data
        self.probe = _probe_batch(eval_data, cfg, tc.probe_size) if tc.snapshot_steps else None
        if self.probe is not None:
            history.probe_idx = self.probe

    def evaluate(self, params, step: int) -> float:
        """Estimate train and validation loss after ``step`` updates; return the validation loss."""
        h, tc = self.history, self.tc
        if h.last("eval_step") == step:  # already estimated (e.g. the end of the run we resume)
            return h.last("val_loss")
        tr = estimate_loss(params, self.cfg, self.train_data, tc.batch_size, tc.eval_batches, tc.seed)
        va = math.nan
        if self.val_data is not None:
            va = estimate_loss(params, self.cfg, self.val_data, tc.batch_size, tc.eval_batches, tc.seed)
        h.add(eval_step=step, train_loss=tr, val_loss=va)
        return va

    def estimates(self, params, step: int) -> dict[str, float]:
        """What is due after ``step`` updates: a loss estimate (every eval_interval and at the end), a snapshot."""
        logs = {}
        if step % self.tc.eval_interval == 0 or step == self.tc.steps:
            logs["val_loss"] = self.evaluate(params, step)
        self.snapshot(params, step)
        return logs

    def snapshot(self, params, step: int) -> None:
        """Record the probe batch's attention maps if ``step`` is one of ``snapshot_steps``."""
        if step in self.tc.snapshot_steps and self.history.last("snapshot_step") != step:
            _, cache = _model.forward(params, self.probe, self.cfg)
            self.history.add(
                snapshot_step=step, snapshot_attn=_model.attention_maps(cache).astype(np.float32)
            )


# ----------------------------------------------------------------------------------------------------
# Statistics recorded in the history.
def _step_stats(cache, cfg: ModelConfig) -> dict[str, np.ndarray | float]:
    """A history row's statistics of the forward pass; the gradient norms are NaN until filled in.

    A forward pass with non-finite values (a diverging step) gives NaN statistics.
    """
    L = cfg.n_layer
    try:
        with np.errstate(all="ignore"):
            return _finite_step_stats(cache, L)
    except ValueError:  # non-finite activations or attention weights
        nan = np.full(L, np.nan)
        return {
            "act_mean": nan,
            "act_std": nan.copy(),
            "act_max": nan.copy(),
            "attn_entropy": np.full((L, cfg.n_head), np.nan),
            "grad_norm": math.nan,
            "grad_norm_layers": nan.copy(),
        }


def _finite_step_stats(cache, n_layer: int) -> dict[str, np.ndarray | float]:
    stats = _model.activation_stats(cache)  # (n_layer,) each
    return {
        "act_mean": np.asarray(stats["mean"], dtype=np.float64).reshape(-1),
        "act_std": np.asarray(stats["std"], dtype=np.float64).reshape(-1),
        "act_max": np.asarray(stats["max"], dtype=np.float64).reshape(-1),
        "attn_entropy": attention_entropy(_model.attention_maps(cache).astype(np.float64)).mean(
            axis=(1, 3)
        ),  # (L, H)
        "grad_norm": math.nan,
        "grad_norm_layers": np.full(n_layer, np.nan),
    }


# ----------------------------------------------------------------------------------------------------
# One step, and the loop


def _nonfinite_param(params: Mapping[str, np.ndarray]) -> str | None:
    """The name of the first parameter holding NaN or inf, or None."""
    return next((k for k, p in params.items() if not np.isfinite(p).all()), None)


def train_step(
    params: dict[str, np.ndarray],
    optimizer: Adam,
    batch: tuple[np.ndarray, np.ndarray],
    cfg: ModelConfig,
    *,
    lr: float,
    grad_clip: float = 0.0,
    rng: np.random.Generator | None = None,
    record: bool = False,
) -> StepResult:
    """One update: forward, loss, backward, gradient clipping and the optimizer step, in place on ``params``.

    Parameters
    ----------
    params : dict[str, ndarray]
        The parameters ``optimizer`` was built on (updated in place).
    optimizer : Adam or AdamW
        Holds the moment estimates (its ``state_dict()`` is the optimizer state).
    batch : (x, y) pair of int arrays, shape (B, T) each
        Inputs and next-token targets, as from :func:`attnbook.data.get_batch`.
    cfg : ModelConfig
    lr : float
        Learning rate of this update.
    grad_clip : float
        Clip the global gradient norm to this (0 = no clipping).
    rng : numpy Generator, optional
        Dropout masks (needed when ``cfg.dropout > 0``).
    record : bool
        Also compute the statistics of a history row (activations, attention entropy, gradient norms).

    Returns
    -------
    StepResult
        Non-finite logits, loss, gradients or updated parameters leave ``params`` and the optimizer as
        they were (``updated=False``, ``nonfinite`` says which) and always come with ``stats``.
    """
    if not isinstance(optimizer, Adam) or any(optimizer.params.get(k) is not p for k, p in params.items()):
        raise ValueError("optimizer must be an attnbook.optim Adam/AdamW built on these params")
    grad_clip = check_real("grad_clip", grad_clip, low=0.0)
    x, y = batch
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is detected below, not warned about
        logits, cache = _model.forward(params, x, cfg, training=True, rng=rng)
    if not np.isfinite(logits).all():
        return StepResult(math.nan, math.nan, _step_stats(cache, cfg), False, "logits")
    loss, dlogits = _model.loss(logits, y)
    stats = _step_stats(cache, cfg) if record or not math.isfinite(loss) else None
    if not math.isfinite(loss):
        return StepResult(loss, math.nan, stats, False, "loss")
    with np.errstate(over="ignore", invalid="ignore"):
        grads = _model.backward(dlogits, cache)
        if stats is not None:  # per-layer norms before clipping rescales them
            stats["grad_norm_layers"] = layer_grad_norms(grads, cfg.n_layer)
        gnorm = clip_grad_norm(grads, grad_clip) if grad_clip > 0 else global_norm(grads)
    if stats is not None:
        stats["grad_norm"] = gnorm
    if not math.isfinite(gnorm):
        return StepResult(loss, gnorm, stats or _step_stats(cache, cfg), False, "gradients")
    # The state before the update, to go back to when the update is interrupted or overflows.
    before = ({k: p.copy() for k, p in params.items()}, optimizer.state_dict())
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            optimizer.step(grads, lr=lr)
    except KeyboardInterrupt:
        _restore(params, optimizer, before)
        raise
    if _nonfinite_param(params) is not None:
        _restore(params, optimizer, before)
        return StepResult(loss, gnorm, stats or _step_stats(cache, cfg), False, "parameters")
    return StepResult(loss, gnorm, stats, True)


def _restore(params: dict[str, np.ndarray], optimizer: Adam, state: tuple[dict, dict]) -> None:
    """Put back parameters and optimizer state saved before an update (in place: the optimizer holds params)."""
    for k, p in state[0].items():
        np.copyto(params[k], p)
    optimizer.load_state_dict(state[1])


class StopSignals:
    """Defer stop signals: while active, SIGINT (and the other ``signums``) only record a request to stop.

    The loop checks :attr:`requested` between steps, and a checkpoint written inside is never cut short,
    however many signals arrive. Nested uses share their requests: an inner one (:func:`train`'s) hands what
    it received to the outer one (the command line's, which also defers SIGTERM) when it exits.
    Outside the main thread no handler can be installed and signals keep their usual effect.

    Parameters
    ----------
    signums : tuple of int
        The signals to defer (default: SIGINT, i.e. Ctrl-C).
    """

    _active: list[StopSignals] = []  # the stack of entered instances

    def __init__(self, signums: tuple[int, ...] = (signal.SIGINT,)):
        self.signums = tuple(signums)
        self.received: list[int] = []  # signal numbers, in order of arrival
        self._old: dict[int, object] = {}

    def _handler(self, signum, frame):
        self.received.append(signum)

    @property
    def requested(self) -> bool:
        """Whether this or an enclosing instance (in the main thread) has received a stop signal."""
        return bool(self.received) or (self in self._active and any(s.received for s in self._active))

    def __enter__(self) -> StopSignals:
        self._main = threading.current_thread() is threading.main_thread()
        if self._main:  # signals are delivered to the main thread only
            for signum in self.signums:
                try:
                    self._old[signum] = signal.signal(signum, self._handler)
                except (ValueError, OSError):  # not allowed here (e.g. some embedded interpreters)
                    pass
            self._active.append(self)
        return self

    def __exit__(self, *exc) -> bool:
        for signum, old in self._old.items():  # from now on a signal goes to the previous handler
            signal.signal(signum, old)
        self._old = {}
        if self._main:
            self._active.remove(self)
            if self._active and self.received:
                self._active[-1].received.extend(self.received)
        return False


def _initial_state(cfg: ModelConfig, tc: TrainConfig, params, resume_from) -> tuple[dict, Adam, History, int]:
    """Parameters, optimizer, history and first step: from a checkpoint, from ``params``, or fresh."""
    if not isinstance(tc, TrainConfig):
        raise TypeError(f"train_cfg must be a TrainConfig, got {type(tc).__name__}")
    history, opt_state, start = History(), None, 0
    if resume_from is not None:
        if params is not None:
            raise ValueError("give either params or resume_from, not both")
        ck = resume_from if isinstance(resume_from, Checkpoint) else load_checkpoint(resume_from)
        if isinstance(resume_from, Checkpoint):
            resume_from = "given"  # for the messages
        if ck.cfg != cfg:
            diff = {k: (v, getattr(cfg, k)) for k, v in ck.cfg.to_dict().items() if getattr(cfg, k) != v}
            raise ValueError(f"checkpoint {resume_from} was trained with another model config: {diff}")
        if ck.opt_state is None:
            raise ValueError(f"checkpoint {resume_from} has no optimizer state to resume from")
        params, opt_state, start = ck.params, ck.opt_state, ck.step
        history = History(ck.history, before_step=start)  # without the row of a diverged step
        if start > tc.steps:
            raise ValueError(f"checkpoint {resume_from} is at step {start}, past train_cfg.steps={tc.steps}")
    dtype = np.dtype(tc.dtype)
    if params is None:
        params = _model.init_params(cfg, tc.seed, dtype=dtype)
    else:
        check_params(params, cfg, dtype, "params")
        params = {k: np.array(v, copy=True) for k, v in params.items()}
    bad = _nonfinite_param(params)
    if bad is not None:
        raise ValueError(f"params[{bad!r}] has non-finite values (NaN or inf)")
    opt_cls = AdamW if tc.optimizer == "adamw" else Adam
    opt = opt_cls(params, lr=tc.lr, betas=(tc.beta1, tc.beta2), eps=tc.eps, weight_decay=tc.weight_decay)
    if opt_state is not None:
        opt.load_state_dict(opt_state)
    return params, opt, history, start


def _show(bar: tqdm, loss: float, lr: float, val: float | None) -> None:
    """Advance the progress bar by one step, with the latest loss, validation loss and learning rate."""
    if not bar.disable:
        val_text = f" val {val:.4f}" if val is not None and math.isfinite(val) else ""
        bar.set_postfix_str(f"loss {loss:.4f}{val_text} lr {lr:.2e}", refresh=False)
    bar.update()


def train(
    cfg: ModelConfig,
    train_cfg: TrainConfig,
    data,
    *,
    params: Mapping[str, np.ndarray] | None = None,
    resume_from: str | os.PathLike | Checkpoint | None = None,
    progress: bool = True,
    callback: Callable[[int, dict[str, float]], None] | None = None,
    checkpoint_path: str | os.PathLike | None = None,
) -> TrainResult:
    """Train the GPT of :mod:`attnbook.model`: :func:`train_step` on batches derived from ``(seed, step)``.

    Parameters
    ----------
    cfg : ModelConfig
    train_cfg : TrainConfig
    data : ndarray of int, (train, val) pair, or attnbook.data.Dataset
        See :func:`check_data`.
    params : dict[str, ndarray], optional
        Initial parameters (copied); default ``init_params(cfg, train_cfg.seed)``.
    resume_from : path or Checkpoint, optional
        A checkpoint of this model to continue up to ``train_cfg.steps``, as the uninterrupted run would
        (its file, or what :func:`~attnbook.checkpoint.load_checkpoint` read from it).
    progress : bool
        Show a progress bar (tqdm) on stderr.
    callback : callable, optional
        ``callback(step, logs)`` after each update (loss, lr, grad_norm, and val_loss when estimated);
        raising ``KeyboardInterrupt`` in it stops training like Ctrl-C.
    checkpoint_path : path, optional
        Where to save a checkpoint at the end (also when interrupted).

    Returns
    -------
    TrainResult
        Its ``history`` holds :data:`attnbook.history.HISTORY_FIELDS`. Ctrl-C stops after the current
        update (``status="interrupted"``; a second Ctrl-C too, and none interrupts the checkpoint write).
        Non-finite logits, loss, gradients or updated parameters stop before that update takes effect
        (``status="diverged"``): the result holds the last finite state, ``detail`` names the step and
        what was not finite, and the history ends with that step's row (its loss may be NaN or inf).
    """
    train_data, val_data = check_data(cfg, data)
    params, opt, history, start = _initial_state(cfg, train_cfg, params, resume_from)
    tc, rec = train_cfg, _Recorder(history, cfg, train_cfg, train_data, val_data)
    bar = tqdm(total=tc.steps, initial=start, disable=not progress, unit="step", file=sys.stderr)
    status, step, detail = "done", start, ""
    with StopSignals() as stop:
        try:
            for it in range(start, tc.steps):
                if stop.requested:
                    status = "interrupted"
                    break
                logs = rec.estimates(params, it)
                lr = lr_schedule(it, tc.lr, tc.warmup_steps, tc.steps, tc.min_lr)
                batch, drop_rng = _batch(train_data, cfg, tc, it)
                record = it % tc.log_interval == 0 or it == tc.steps - 1
                out = train_step(
                    params, opt, batch, cfg, lr=lr, grad_clip=tc.grad_clip, rng=drop_rng, record=record
                )
                if out.stats is not None:
                    history.add(step=it, loss=out.loss, lr=lr, **out.stats)
                if not out.updated:
                    status = "diverged"
                    detail = (
                        f"non-finite {out.nonfinite} at step {it}; kept the parameters after {it} updates"
                    )
                    break
                step = it + 1
                _show(bar, out.loss, lr, history.last("val_loss"))
                if callback is not None:
                    callback(step, {"loss": out.loss, "lr": lr, "grad_norm": out.grad_norm, **logs})
            else:
                rec.estimates(params, tc.steps)
        except KeyboardInterrupt:  # from the callback, or a Ctrl-C outside the main thread: params are whole
            status = "interrupted"
        finally:
            bar.close()
        result = TrainResult(params, history.arrays(), opt.state_dict(), step, status, detail)
        if checkpoint_path is not None:  # inside StopSignals: a Ctrl-C now cannot cut the write short
            extra = {"status": status, **({"detail": detail} if detail else {})}
            save_checkpoint(checkpoint_path, params, cfg, tc, step, result.opt_state, result.history, extra)
    return result


def main(argv: list[str] | None = None) -> int:
    """The command line, :func:`attnbook.cli.main` (kept here for ``python -m attnbook.train``)."""
    from .cli import main as cli_main  # the CLI imports this module

    return cli_main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
