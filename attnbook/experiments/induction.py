"""The induction-head experiment of "What trained heads learn" (Olsson et al. 2022): attention-only models of one
and two layers trained on repeated random letters, their head scores and loss curves over training (the phase
change), and the loss with heads ablated.

Every model is trained through the run cache (:func:`attnbook.runs.cached_train`), so a rebuild with no change
trains nothing; the statistics come from :mod:`attnbook.analysis`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .. import model as _model
from .._checks import as_float_array, as_int_array, check_int, check_real
from ..analysis import attention_entropy, prefix_matching_score, previous_token_score, token_losses
from ..config import ModelConfig
from ..runs import cached_train
from ..train import TrainConfig, TrainResult

__all__ = [
    "ALPHABET",
    "Ablations",
    "InductionCurves",
    "InductionRun",
    "InductionSetup",
    "RepeatedText",
    "WindowRoles",
    "all_head_masks",
    "head_ablations",
    "induction_curves",
    "largest_jump",
    "phase_change",
    "recent_letters",
    "repeated_text",
    "run_induction",
    "split_losses",
    "window_roles",
]

# Token alphabet of the induction task, already in code-point order so that the character tokenizer
# (which sorts its vocabulary) gives the letter ALPHABET[i] the id i.
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


# ----------------------------------------------------------------------------------------------------
# The data: repeated random segments, and what each position of a window is


class RepeatedText(NamedTuple):
    """A stream of random segments, each written ``copies`` times in a row, and its train/validation split.

    The segment lengths vary, so a repeat is never at a fixed distance: a model can only predict it by
    finding the earlier occurrence of the current token and copying what followed (an induction head),
    not by attending a fixed number of positions back.
    """

    spec: dict  # data spec for attnbook.runs.cached_train (kind "text")
    chars: str  # the vocabulary, id order
    val_ids: np.ndarray  # (N,) token ids of the validation stream
    seg_len: np.ndarray  # (N,) length L of the segment each validation token belongs to
    copy: np.ndarray  # (N,) which copy of its segment the token is in (0 = first occurrence)
    offset: np.ndarray  # (N,) position of the token inside its copy, 0 .. L-1


def _segments(rng, n_tokens, vocab_size, min_len, max_len, copies, first_len=None):
    ids, seg_len, copy, offset = [], [], [], []
    n = 0
    while n < n_tokens:
        L = first_len if (first_len is not None and n == 0) else int(rng.integers(min_len, max_len + 1))
        r = rng.integers(0, vocab_size, size=L)  # (L,)
        for c in range(copies):
            ids.append(r)
            seg_len.append(np.full(L, L))
            copy.append(np.full(L, c))
            offset.append(np.arange(L))
        n += copies * L
    cat = [np.concatenate(a).astype(np.int64) for a in (ids, seg_len, copy, offset)]
    return cat


def repeated_text(
    vocab_size: int = 32,
    min_len: int = 6,
    max_len: int = 10,
    copies: int = 3,
    n_train: int = 60_000,
    n_val: int = 8_000,
    probe_len: int | None = None,
    seed: int = 0,
) -> RepeatedText:
    """Build the induction task's text: random segments of ``min_len``..``max_len`` letters, each repeated.

    Parameters
    ----------
    vocab_size : int
        V, letters used (at most ``len(ALPHABET)``).
    min_len, max_len : int
        Range of the segment length L (inclusive).
    copies : int
        How many times each segment is written (2 = "a random sequence and its repeat").
    n_train, n_val : int
        At least this many tokens in the training and in the validation stream.
    probe_len : int, optional
        Length of the first validation segment (default ``max_len``): the training run snapshots the
        attention of the first validation windows, so this is the sequence the figures show.
    seed : int

    Returns
    -------
    RepeatedText
    """
    vocab_size = check_int("vocab_size", vocab_size, low=2, high=len(ALPHABET))
    min_len = check_int("min_len", min_len, low=2)
    max_len = check_int("max_len", max_len, low=min_len)
    copies = check_int("copies", copies, low=2)
    n_train = check_int("n_train", n_train, low=1)
    n_val = check_int("n_val", n_val, low=1)
    probe_len = max_len if probe_len is None else check_int("probe_len", probe_len, low=2)
    seed = check_int("seed", seed, low=0)
    rng = np.random.default_rng(seed)
    train_ids = _segments(rng, n_train, vocab_size, min_len, max_len, copies)[0]
    val_ids, seg_len, copy, offset = _segments(rng, n_val, vocab_size, min_len, max_len, copies, probe_len)
    chars = ALPHABET[:vocab_size]
    table = np.array(list(chars))
    text = "".join(table[train_ids]) + "".join(table[val_ids])
    if len(set(text)) != vocab_size:
        raise ValueError(f"n_train + n_val = {n_train + n_val} tokens do not use all {vocab_size} letters")
    n = len(text)
    val_fraction = len(val_ids) / n  # make_dataset keeps round(n * val_fraction) tokens for validation
    if round(n * val_fraction) != len(val_ids):  # pragma: no cover - guards the float round trip
        raise RuntimeError("validation split does not fall on the boundary between the two streams")
    spec = {"kind": "text", "text": text, "val_fraction": val_fraction}
    return RepeatedText(spec, chars, val_ids, seg_len, copy, offset)


class WindowRoles(NamedTuple):
    """What each position of a batch of validation windows is, for scoring heads and splitting the loss."""

    x: np.ndarray  # (W, T) input ids
    y: np.ndarray  # (W, T) next-token targets
    source: np.ndarray  # (W, T) key an induction head should attend from each query, -1 if none
    repeat: np.ndarray  # (W, T) bool, target predictable by copying (its earlier occurrence is in the window)
    fresh: np.ndarray  # (W, T) bool, target is the first occurrence of a random letter (best loss ln V)


def window_roles(data: RepeatedText, block_size: int, n_windows: int) -> WindowRoles:
    """Cut the validation stream into consecutive windows of ``block_size`` tokens and label every position.

    The windows start at 0, T, 2T, ... exactly like the probe batch the training run snapshots.

    Parameters
    ----------
    data : RepeatedText
    block_size : int
        T.
    n_windows : int
        W; the stream must hold ``W * T + 1`` tokens.

    Returns
    -------
    WindowRoles
        For the query at window position ``i`` (stream position ``p``) in a repeat of a segment of length
        L, ``source = i - L + 1``: the token after the current token's previous occurrence (the
        prefix-matching key). A target at stream position ``j`` counts as ``repeat`` when it is in a later
        copy and the current token's previous occurrence ``j - 1 - L`` lies inside the window.
    """
    if not isinstance(data, RepeatedText):
        raise TypeError(f"data must be a RepeatedText, got {type(data).__name__}")
    T = check_int("block_size", block_size, low=2)
    W = check_int("n_windows", n_windows, low=1)
    if W * T + 1 > data.val_ids.shape[0]:
        raise ValueError(
            f"n_windows * block_size + 1 = {W * T + 1} exceeds the {data.val_ids.shape[0]} validation tokens"
        )
    starts = np.arange(W) * T  # (W,)
    pos = starts[:, None] + np.arange(T)  # (W, T) stream position of each query
    i = np.broadcast_to(np.arange(T), (W, T))
    L, c = data.seg_len[pos], data.copy[pos]
    source = np.where((c >= 1) & (i - L >= 0), i - L + 1, -1)
    j = pos + 1  # stream position of each target
    Lj, cj, kj = data.seg_len[j], data.copy[j], data.offset[j]
    repeat = (cj >= 1) & ((kj >= 1) | (cj >= 2)) & (j - 1 - Lj >= starts[:, None])
    fresh = cj == 0
    return WindowRoles(data.val_ids[pos], data.val_ids[j], source, repeat, fresh)


# ----------------------------------------------------------------------------------------------------
# The runs, their head scores over training, and the phase change


@dataclass(frozen=True)
class InductionSetup:
    """The induction-head experiment: data, attention-only models of one and two layers, training."""

    vocab_size: int = 32  # V, random letters
    block_size: int = 32  # T, training window
    d_model: int = 64  # C
    n_head: int = 2  # H per layer
    pos: str = "rope"  # relative positions make a previous-token head easy to express
    min_len: int = 6  # segment length range
    max_len: int = 10
    copies: int = 3  # each segment written three times, as in Elhage et al.'s repeated random tokens
    n_train: int = 60_000  # tokens in the training stream
    n_val: int = 8_000  # tokens in the validation stream
    steps: int = 600
    batch_size: int = 32
    lr: float = 3e-3  # constant after a short warm-up
    interval: int = 20  # evaluate the loss and snapshot the attention every this many steps
    probe_size: int = 8  # validation windows whose attention is snapshotted
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("vocab_size", "block_size", "d_model", "n_head", "steps", "batch_size", "interval"):
            check_int(name, getattr(self, name), low=1)
        check_int("probe_size", self.probe_size, low=1)
        check_real("lr", self.lr, low=0.0, low_inclusive=False)
        if self.block_size < self.copies * self.min_len:
            raise ValueError(
                f"block_size={self.block_size} must hold at least copies * min_len = "
                f"{self.copies * self.min_len} tokens so that repeats are visible"
            )

    def model_config(self, n_layer: int) -> ModelConfig:
        """The attention-only model with ``n_layer`` layers."""
        return ModelConfig(
            vocab_size=self.vocab_size,
            block_size=self.block_size,
            d_model=self.d_model,
            n_layer=check_int("n_layer", n_layer, low=1),
            n_head=self.n_head,
            d_ff=4,  # unused: attention-only blocks have no MLP
            pos=self.pos,
            attn_only=True,
        )

    def train_config(self) -> TrainConfig:
        """Constant learning rate after warm-up, no weight decay; loss and attention every ``interval``."""
        snaps = tuple(range(0, self.steps + 1, self.interval))
        if snaps[-1] != self.steps:
            snaps = (*snaps, self.steps)
        return TrainConfig(
            steps=self.steps,
            batch_size=self.batch_size,
            lr=self.lr,
            warmup_steps=min(20, self.steps),
            min_lr=self.lr,
            weight_decay=0.0,
            eval_interval=self.interval,
            eval_batches=4,
            log_interval=self.interval,
            snapshot_steps=snaps,
            probe_size=self.probe_size,
            seed=self.seed,
        )

    def data(self) -> RepeatedText:
        """The task's text (the same for every model of this setup)."""
        return repeated_text(
            self.vocab_size,
            self.min_len,
            self.max_len,
            self.copies,
            self.n_train,
            self.n_val,
            probe_len=min(self.max_len, self.block_size // self.copies),
            seed=self.seed,
        )


class InductionRun(NamedTuple):
    """A trained induction-task model and what is needed to evaluate it."""

    setup: InductionSetup
    cfg: ModelConfig
    result: TrainResult
    data: RepeatedText
    probe: WindowRoles  # the snapshotted windows, labelled
    val: WindowRoles  # all whole validation windows, labelled


def run_induction(setup: InductionSetup, n_layer: int, cache_dir=None, data: RepeatedText | None = None):
    """Train (or load from the run cache) the attention-only model with ``n_layer`` layers.

    Parameters
    ----------
    setup : InductionSetup
    n_layer : int
        2 for the induction model, 1 for the control that cannot compose heads.
    cache_dir : path, optional
        Run cache folder (default ``$ATTNBOOK_CACHE`` or ``<repo>/.cache/runs``).
    data : RepeatedText, optional
        ``setup.data()``, passed in to build it once for several runs.

    Returns
    -------
    InductionRun
    """
    if not isinstance(setup, InductionSetup):
        raise TypeError(f"setup must be an InductionSetup, got {type(setup).__name__}")
    data = setup.data() if data is None else data
    if not isinstance(data, RepeatedText):
        raise TypeError(f"data must be a RepeatedText, got {type(data).__name__}")
    cfg = setup.model_config(n_layer)
    result = cached_train(cfg, setup.train_config(), data.spec, cache_dir)
    T = setup.block_size
    n_windows = (data.val_ids.shape[0] - 1) // T
    probe = window_roles(data, T, min(setup.probe_size, n_windows))
    return InductionRun(setup, cfg, result, data, probe, window_roles(data, T, n_windows))


class InductionCurves(NamedTuple):
    """What happened during training, at every snapshot and loss estimate."""

    steps: np.ndarray  # (S,) snapshot steps
    probe_attention: np.ndarray  # (S, n_layer, H, T, T) float32, attention on the first probe window
    probe_tokens: tuple[str, ...]  # the T letters of that window
    induction: np.ndarray  # (S, n_layer, H) prefix-matching score over the probe windows
    previous: np.ndarray  # (S, n_layer, H) previous-token score
    entropy: np.ndarray  # (S, n_layer, H) mean attention entropy (nats)
    eval_steps: np.ndarray  # (E,) steps of the loss estimates
    val_loss: np.ndarray  # (E,) validation loss (whole windows)


def induction_curves(run: InductionRun) -> InductionCurves:
    """Head scores from the attention snapshots and the validation-loss curve of a run.

    Parameters
    ----------
    run : InductionRun

    Returns
    -------
    InductionCurves
    """
    if not isinstance(run, InductionRun):
        raise TypeError(f"run must be an InductionRun, got {type(run).__name__}")
    h = run.result.history
    maps = h["snapshot_attn"]  # (S, L, P, H, T, T)
    P = run.probe.x.shape[0]
    if maps.shape[2] != P or not np.array_equal(h["probe_idx"], run.probe.x):
        raise ValueError("the run's probe batch is not the first validation windows of its data")
    ent = attention_entropy(maps).astype(np.float64).mean(axis=(2, 4))  # (S, L, H)
    tokens = tuple(run.data.chars[t] for t in run.probe.x[0])
    return InductionCurves(
        steps=h["snapshot_step"].copy(),
        probe_attention=np.ascontiguousarray(maps[:, :, 0], dtype=np.float32),
        probe_tokens=tokens,
        induction=prefix_matching_score(maps, run.probe.source),
        previous=previous_token_score(maps),
        entropy=ent,
        eval_steps=h["eval_step"].copy(),
        val_loss=h["val_loss"].astype(np.float64),
    )


def phase_change(steps, values, low: float = 0.1, high: float = 0.9) -> tuple[int, int]:
    """Steps at which a curve has first covered ``low`` and ``high`` of its total change.

    Parameters
    ----------
    steps : ndarray of int, shape (E,)
        Increasing.
    values : ndarray, shape (E,)
        A loss (falling) or a score (rising); the change is ``values[-1] - values[0]``.
    low, high : float
        Fractions in (0, 1), ``low < high``.

    Returns
    -------
    (start, end) : tuple of int
        First steps where the curve has gone ``low`` and ``high`` of the way from its first to its last
        value: the window in which most of the change happens.
    """
    steps = as_int_array("steps", steps, ndim=1)
    values = as_float_array("values", values, ndim=1)
    if steps.shape != values.shape or steps.size < 2:
        raise ValueError(
            f"steps and values must be 1-D of the same length >= 2, got {steps.shape}, {values.shape}"
        )
    if np.any(np.diff(steps) <= 0):
        raise ValueError("steps must be strictly increasing")
    low = check_real("low", low, low=0.0, high=1.0, low_inclusive=False)
    high = check_real("high", high, low=low, high=1.0, low_inclusive=False)
    total = values[-1] - values[0]
    if total == 0:
        raise ValueError("values do not change, so there is no phase change to locate")
    frac = (values - values[0]) / total  # 0 at the start, 1 at the end
    start = int(steps[np.argmax(frac >= low)])
    end = int(steps[np.argmax(frac >= high)])
    return start, end


def largest_jump(steps, values) -> tuple[int, int, float]:
    """The interval between consecutive points over which a curve changes most, in the direction of its trend.

    Parameters
    ----------
    steps : ndarray of int, shape (E,)
        Increasing.
    values : ndarray, shape (E,)

    Returns
    -------
    (before, after, fraction) : tuple of int, int, float
        The steps bounding the biggest single move, and that move as a fraction of the total change
        ``values[-1] - values[0]``.
    """
    steps = as_int_array("steps", steps, ndim=1)
    values = as_float_array("values", values, ndim=1)
    if steps.shape != values.shape or steps.size < 2:
        raise ValueError(
            f"steps and values must be 1-D of the same length >= 2, got {steps.shape}, {values.shape}"
        )
    total = values[-1] - values[0]
    if total == 0:
        raise ValueError("values do not change, so there is no jump to locate")
    moves = np.diff(values) / total  # (E-1,) positive along the trend
    k = int(np.argmax(moves))
    return int(steps[k]), int(steps[k + 1]), float(moves[k])


def split_losses(run: InductionRun, params: dict | None = None, head_mask=None) -> tuple[float, float]:
    """Mean loss on repeated tokens and on first occurrences, over all validation windows of a run.

    Parameters
    ----------
    run : InductionRun
    params : dict of str to ndarray, optional
        Default: the trained parameters (pass ``attnbook.model.init_params(run.cfg, seed)`` for the start).
    head_mask : ndarray, shape (n_layer, n_head), optional

    Returns
    -------
    (repeat, fresh) : tuple of float
        In nats; a model that knows nothing scores ``ln V`` on both, perfect copying 0 on ``repeat``.
    """
    if not isinstance(run, InductionRun):
        raise TypeError(f"run must be an InductionRun, got {type(run).__name__}")
    params = run.result.params if params is None else params
    logits, _ = _model.forward(params, run.val.x, run.cfg, head_mask=head_mask)  # (W, T, V)
    losses = token_losses(logits, run.val.y)  # (W, T)
    return float(losses[run.val.repeat].mean()), float(losses[run.val.fresh].mean())


def recent_letters(run: InductionRun, params: dict | None = None) -> dict[str, float]:
    """Does a model favour letters already in the window (a "bag of recent letters"), and does it know which?

    Over all validation windows, with ``seen`` the letters that occur at or before the current position:

    Returns
    -------
    dict of str to float
        ``seen_mass`` and ``seen_share``: at first occurrences (``fresh`` targets), the mean probability the
        model puts on the seen letters, and the mean fraction of the alphabet they make up (what a model
        blind to the window would put on them). ``p_true`` and ``p_other``: at repeats, the mean probability
        of the correct letter and of each other seen letter. A bag of recent letters has ``seen_mass >
        seen_share`` and ``p_true`` close to ``p_other``; copying has ``p_true`` far above ``p_other``.
    """
    if not isinstance(run, InductionRun):
        raise TypeError(f"run must be an InductionRun, got {type(run).__name__}")
    params = run.result.params if params is None else params
    v = run.val
    logits, _ = _model.forward(params, v.x, run.cfg)  # (W, T, V)
    z = logits - logits.max(axis=-1, keepdims=True)
    probs = np.exp(z)
    probs /= probs.sum(axis=-1, keepdims=True)  # (W, T, V)
    V = run.cfg.vocab_size
    seen = np.cumsum(np.eye(V, dtype=np.int32)[v.x], axis=1) > 0  # (W, T, V) letter occurred at or before i
    mass = (probs * seen).sum(axis=-1)  # (W, T)
    n_seen = seen.sum(axis=-1)  # (W, T)
    p_true = np.take_along_axis(probs, v.y[..., None], axis=-1)[..., 0]  # (W, T)
    p_other = (mass - p_true) / np.maximum(n_seen - 1, 1)  # (W, T) the target was seen at every repeat
    return {
        "seen_mass": float(mass[v.fresh].mean()),
        "seen_share": float((n_seen / V)[v.fresh].mean()),
        "p_true": float(p_true[v.repeat].mean()),
        "p_other": float(p_other[v.repeat].mean()),
    }


# ----------------------------------------------------------------------------------------------------
# Ablation


def all_head_masks(n_layer: int, n_head: int) -> np.ndarray:
    """Every on/off pattern of the heads, as ``head_mask`` arrays.

    Returns
    -------
    masks : ndarray of float64, shape (2 ** (n_layer * n_head), n_layer, n_head)
        Mask ``k`` keeps head ``(l, h)`` (value 1) unless bit ``l * n_head + h`` of ``k`` is set (value 0):
        ``masks[0]`` is the intact model.
    """
    n_layer = check_int("n_layer", n_layer, low=1)
    n_head = check_int("n_head", n_head, low=1)
    n = n_layer * n_head
    if n > 12:
        raise ValueError(f"n_layer * n_head must be <= 12 to enumerate every mask, got {n}")
    bits = (np.arange(2**n)[:, None] >> np.arange(n)) & 1  # (2^n, n)
    return (1.0 - bits).reshape(2**n, n_layer, n_head)


class Ablations(NamedTuple):
    """The model's loss (and last layer's attention) with every combination of heads ablated."""

    masks: np.ndarray  # (K, n_layer, H) head_mask of each combination, 0 = ablated
    repeat_loss: np.ndarray  # (K,) mean loss on repeated tokens over the validation windows
    fresh_loss: np.ndarray  # (K,) mean loss on first occurrences
    probe_loss: np.ndarray  # (K, T) loss at each position of the first probe window
    probe_attention: np.ndarray  # (K, H, T, T) float32, last layer's attention on that window


def head_ablations(run: InductionRun, masks=None) -> Ablations:
    """Evaluate a trained induction-task model with heads switched off (``head_mask``).

    Parameters
    ----------
    run : InductionRun
    masks : ndarray, shape (K, n_layer, n_head), optional
        Default :func:`all_head_masks`.

    Returns
    -------
    Ablations
    """
    if not isinstance(run, InductionRun):
        raise TypeError(f"run must be an InductionRun, got {type(run).__name__}")
    cfg = run.cfg
    if masks is None:
        masks = all_head_masks(cfg.n_layer, cfg.n_head)
    masks = as_float_array("masks", masks, ndim=3)
    if masks.shape[1:] != (cfg.n_layer, cfg.n_head):
        raise ValueError(f"masks must have shape (K, {cfg.n_layer}, {cfg.n_head}), got {masks.shape}")
    v, p = run.val, run.probe
    rep, fre, probe_loss, probe_att = [], [], [], []
    for m in masks:
        logits, _ = _model.forward(run.result.params, v.x, cfg, head_mask=m)  # (W, T, V)
        losses = token_losses(logits, v.y)  # (W, T)
        rep.append(losses[v.repeat].mean())
        fre.append(losses[v.fresh].mean())
        logits, cache = _model.forward(run.result.params, p.x[:1], cfg, head_mask=m)  # the first probe window
        probe_loss.append(token_losses(logits, p.y[:1])[0])  # (T,)
        probe_att.append(_model.attention_maps(cache)[-1, 0])  # (H, T, T)
    return Ablations(
        masks,
        np.array(rep),
        np.array(fre),
        np.stack(probe_loss),
        np.stack(probe_att).astype(np.float32),
    )
