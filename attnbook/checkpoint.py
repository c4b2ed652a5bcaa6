"""Checkpoints: a model, its configs, optimizer state and history in one ``.npz`` (never pickle), written atomically.

A file holds a JSON ``meta`` entry (format, version, both configs, step, extra metadata) and the arrays
``param.<name>``, ``opt.<name>`` and ``history.<name>``. :func:`load_checkpoint` checks all of it
against the model config before returning anything.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from . import model as _model
from ._checks import check_int
from .config import ModelConfig, TrainConfig
from .history import check_history

__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_VERSION",
    "Checkpoint",
    "check_params",
    "load_checkpoint",
    "save_checkpoint",
]

CHECKPOINT_FORMAT = "attnbook.checkpoint"
CHECKPOINT_VERSION = 1


class Checkpoint(NamedTuple):
    """What :func:`load_checkpoint` returns."""

    params: dict[str, np.ndarray]
    cfg: ModelConfig
    train_cfg: TrainConfig
    step: int  # optimizer updates done
    opt_state: dict[str, np.ndarray] | None  # optimizer.state_dict(), None if not saved
    history: dict[str, np.ndarray]  # see attnbook.history
    extra: dict[str, Any]  # JSON metadata given to save_checkpoint (e.g. the tokenizer)


def check_params(params: Mapping[str, np.ndarray], cfg: ModelConfig, dtype, name: str = "params") -> None:
    """Check that ``params`` has exactly the names and shapes of ``cfg``'s model, all of ``dtype``.

    Raises ``ValueError`` (names, shapes) or ``TypeError`` (dtype) naming ``name`` and the parameter.
    """
    expected = _model.param_shapes(cfg)
    missing = sorted(set(expected) - set(params))
    extra = sorted(set(params) - set(expected))
    if missing or extra:
        raise ValueError(f"{name} do not match the model config: missing {missing}, unexpected {extra}")
    for k, shape in expected.items():
        p = params[k]
        if not isinstance(p, np.ndarray) or p.shape != shape:
            raise ValueError(f"{name}[{k!r}] must have shape {shape}, got {getattr(p, 'shape', None)}")
        if p.dtype != dtype:
            raise TypeError(f"{name}[{k!r}] must have dtype {np.dtype(dtype)}, got {p.dtype}")


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
        Target file; written to a temporary file in the same folder, synced, then renamed over it.
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
    if not isinstance(cfg, ModelConfig):
        raise TypeError(f"cfg must be a ModelConfig, got {type(cfg).__name__}")
    if not isinstance(train_cfg, TrainConfig):
        raise TypeError(f"train_cfg must be a TrainConfig, got {type(train_cfg).__name__}")
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
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())  # the rename must not reach the disk before the data
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it private; a checkpoint is an ordinary file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    """Read every array of an .npz, turning any corruption into one ValueError."""
    if not path.exists():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    if path.is_dir():
        raise ValueError(f"checkpoint {path} is a directory, not a file")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"checkpoint {path} is not a complete .npz archive (truncated or corrupt?)")
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}  # reading each member checks its CRC
    except Exception as e:  # BadZipFile, EOFError, zlib.error, ValueError (pickled data), OSError ...
        raise ValueError(
            f"checkpoint {path} is unreadable (truncated or corrupt?): {type(e).__name__}: {e}"
        ) from e


def _with_prefix(arrays: Mapping[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    return {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint`, checking it completely before returning.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is truncated or corrupt, is not an attnbook checkpoint, or its parameters, optimizer
        state or history do not match its model config (names, shapes, dtypes). Every message names
        the file. Nothing is partially loaded.
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
    except (KeyError, IndexError, ValueError, TypeError, AttributeError) as e:
        raise ValueError(f"checkpoint {path} has missing or invalid metadata: {e}") from e

    params = _with_prefix(arrays, "param.")
    opt_state = _with_prefix(arrays, "opt.")
    history = _with_prefix(arrays, "history.")
    dtypes = {v.dtype for v in params.values()}
    if len(dtypes) != 1 or not np.issubdtype(next(iter(dtypes)), np.floating):
        raise ValueError(
            f"checkpoint {path} parameters must share one float dtype, got {sorted(map(str, dtypes))}"
        )
    try:
        check_params(params, cfg, next(iter(dtypes)), "parameters")
        check_history(history, cfg, step)
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
