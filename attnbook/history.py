"""The training history: what :func:`attnbook.train.train` records, as named arrays, and its check on load."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .config import ModelConfig

__all__ = ["HISTORY_FIELDS", "History", "check_history"]

# name -> (dtype, shape of one row, the field it is recorded with); a row shape uses "L" = n_layer,
# "H" = n_head, "P" = probe rows, "T" = block_size. Fields recorded together have equal lengths.
# A row at step s holds the batch loss before update s + 1; estimates and snapshots at s use the
# parameters after s updates.
HISTORY_FIELDS: dict[str, tuple[type, tuple[str, ...], str]] = {
    # at each logged step (every log_interval and the last)
    "step": (np.int64, (), "step"),
    "loss": (np.float64, (), "step"),  # batch loss before the update
    "lr": (np.float64, (), "step"),
    "grad_norm": (np.float64, (), "step"),  # global norm before clipping
    "grad_norm_layers": (np.float64, ("L",), "step"),
    "act_mean": (np.float64, ("L",), "step"),  # residual stream after each block
    "act_std": (np.float64, ("L",), "step"),
    "act_max": (np.float64, ("L",), "step"),
    "attn_entropy": (np.float64, ("L", "H"), "step"),  # mean entropy of each head's rows, nats
    # at each loss estimate (every eval_interval and the end)
    "eval_step": (np.int64, (), "eval_step"),
    "train_loss": (np.float64, (), "eval_step"),
    "val_loss": (np.float64, (), "eval_step"),  # NaN without validation data
    # at each of snapshot_steps: attention maps of the probe batch probe_idx (P, T)
    "snapshot_step": (np.int64, (), "snapshot_step"),
    "snapshot_attn": (np.float32, ("L", "P", "H", "T", "T"), "snapshot_step"),
}


class History:
    """Rows appended while training; :meth:`arrays` gives the named arrays of results and checkpoints."""

    def __init__(self, arrays: Mapping[str, np.ndarray] | None = None, before_step: int | None = None):
        """Start empty or from ``arrays``; with ``before_step``, without the rows of steps from it on.

        A run resumed at ``before_step`` records those steps again (a diverged run ends with such a row).
        """
        self.rows: dict[str, list] = {k: [] for k in HISTORY_FIELDS}
        self.shapes: dict[str, tuple[int, ...]] = {}
        self.probe_idx = None
        arrays = dict(arrays or {})
        if before_step is not None and "step" in arrays:
            keep = np.asarray(arrays["step"]) < before_step
            for k, (_, _, group) in HISTORY_FIELDS.items():
                if group == "step" and k in arrays:
                    arrays[k] = np.asarray(arrays[k])[keep]
        for k, a in arrays.items():
            if k == "probe_idx":
                self.probe_idx = np.asarray(a)
            elif k in self.rows:
                self.rows[k] = list(np.asarray(a))
                self.shapes[k] = np.asarray(a).shape[1:]

    def add(self, **values) -> None:
        """Append one row to each named field."""
        for k, v in values.items():
            self.rows[k].append(v)

    def last(self, key: str):
        """The last row of ``key``, or None before the first."""
        return self.rows[key][-1] if self.rows[key] else None

    def arrays(self) -> dict[str, np.ndarray]:
        """Every field as an array (rows stacked; an empty field has 0 rows) plus ``probe_idx`` if set."""
        out = {}
        for k, rows in self.rows.items():
            dtype = HISTORY_FIELDS[k][0]
            if rows:
                out[k] = np.asarray(np.stack([np.asarray(r) for r in rows]), dtype=dtype)
            else:
                out[k] = np.zeros((0, *self.shapes.get(k, ())), dtype=dtype)
        if self.probe_idx is not None:
            out["probe_idx"] = np.asarray(self.probe_idx, dtype=np.int64)
        return out


# Fields whose values are never negative (NaN or inf aside: no validation data, or a diverging step).
_NON_NEGATIVE = (
    "loss",
    "lr",
    "grad_norm",
    "grad_norm_layers",
    "act_std",
    "attn_entropy",
    "train_loss",
    "val_loss",
    "snapshot_attn",
)


def check_history(history: Mapping[str, np.ndarray], cfg: ModelConfig, step: int | None = None) -> None:
    """Check that ``history`` is one :func:`attnbook.train.train` could have recorded for ``cfg``.

    Parameters
    ----------
    history : dict[str, ndarray]
        Some or all of ``HISTORY_FIELDS`` (a field recorded together with ``step``, ``eval_step`` or
        ``snapshot_step`` is present exactly when that one is) and optionally ``probe_idx`` (P, T).
    cfg : ModelConfig
    step : int, optional
        Updates done by the run the history belongs to: every recorded step must be at most this.

    Raises
    ------
    ValueError
        Naming the field: unknown, wrong dtype or row shape, a length that disagrees with its group,
        steps that are negative, not increasing or beyond ``step``, negative values of a loss, rate,
        norm, spread, entropy or attention weight (``lr`` must also be finite), or probe ids outside the
        vocabulary.
    """
    if not isinstance(history, Mapping):
        raise TypeError(f"history must be a dict of arrays, got {type(history).__name__}")
    unknown = sorted(set(history) - set(HISTORY_FIELDS) - {"probe_idx"})
    if unknown:
        raise ValueError(f"history has unknown fields {unknown}")
    probe = history.get("probe_idx")
    if probe is not None and (probe.dtype != np.int64 or probe.ndim != 2 or probe.shape[1] != cfg.block_size):
        raise ValueError(
            f"history['probe_idx'] must be int64 (P, {cfg.block_size}), got {probe.dtype} {probe.shape}"
        )
    sizes = {
        "L": cfg.n_layer,
        "H": cfg.n_head,
        "T": cfg.block_size,
        "P": None if probe is None else len(probe),
    }
    for name, (dtype, row, group) in HISTORY_FIELDS.items():
        if (name in history) != (group in history):
            raise ValueError(f"history has {name!r} without {group!r} or the other way round")
        if name not in history:
            continue
        a = history[name]
        if not isinstance(a, np.ndarray) or a.ndim == 0:
            raise ValueError(f"history[{name!r}] must be an array of rows, got {type(a).__name__}")
        shape = (len(history[group]), *(sizes[d] for d in row))
        if len(a) == 0 == shape[0]:
            shape = a.shape  # an empty field has no rows to take a shape from
        if (
            a.dtype != dtype
            or a.ndim != len(shape)
            or any(n not in (None, m) for n, m in zip(shape, a.shape, strict=True))
        ):
            expected = ", ".join("N" if n is None else str(n) for n in shape)
            raise ValueError(
                f"history[{name!r}] must be {np.dtype(dtype)} ({expected}), got {a.dtype} {a.shape}"
            )
    if "snapshot_attn" in history and len(history["snapshot_attn"]) and probe is None:
        raise ValueError("history has snapshot_attn but no probe_idx")
    if probe is not None and probe.size and (probe.min() < 0 or probe.max() >= cfg.vocab_size):
        raise ValueError(f"history['probe_idx'] has token ids outside [0, {cfg.vocab_size})")
    for name in ("step", "eval_step", "snapshot_step"):
        s = history.get(name)
        if s is None or not len(s):
            continue
        if s[0] < 0 or np.any(np.diff(s) <= 0):
            raise ValueError(f"history[{name!r}] must be non-negative and increasing, got {s.tolist()}")
        if step is not None and s[-1] > step:
            raise ValueError(f"history[{name!r}] records step {s[-1]}, beyond the run's {step} updates")
    for name in _NON_NEGATIVE:
        a = history.get(name)
        if a is None or not a.size:
            continue
        if np.any(a < 0) or (name == "lr" and not np.isfinite(a).all()):
            raise ValueError(
                f"history[{name!r}] has negative values" + (" or NaN/inf" if name == "lr" else "")
            )
