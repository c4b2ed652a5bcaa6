"""Chapter 8's "type it twice": the trained two-layer induction model and the same model at initialisation, run by
NumPy on a text the reader types (the reference the page's JavaScript forward pass is checked against).

The page runs both models with ``attnbook/viz/js/runtime/gpt.mjs`` and reads the text with the rule of
:func:`attnbook.experiments.own_text.encode_text`; the statistic it shows is
:func:`attnbook.analysis.copy_weight`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from .. import model as _model
from .._checks import check_int
from ..analysis import copy_weight
from ..config import ModelConfig
from .induction import InductionRun
from .own_text import Reference, reference

__all__ = ["MODELS", "InductionModels", "induction_models", "induction_reference", "copy_weights"]

MODELS = ("trained", "random")  # the toggle's two models, in this order everywhere


class InductionModels(NamedTuple):
    """The trained induction model and the same configuration at initialisation, as the page runs them."""

    trained: dict[str, np.ndarray]  # float32 parameters after training
    random: dict[str, np.ndarray]  # float32 parameters of attnbook.model.init_params(cfg, seed)
    cfg: ModelConfig
    chars: str  # vocabulary in id order
    seed: int  # the initialisation's seed


def induction_models(run: InductionRun, seed: int | None = None) -> InductionModels:
    """The run's trained model and its configuration initialised with ``seed`` (default: the run's own seed, the
    model the training started from), both as float32.

    Parameters
    ----------
    run : InductionRun
        :func:`attnbook.experiments.induction.run_induction` with two layers.
    seed : int, optional

    Returns
    -------
    InductionModels
    """
    if not isinstance(run, InductionRun):
        raise TypeError(f"run must be an InductionRun, got {type(run).__name__}")
    seed = run.setup.seed if seed is None else check_int("seed", seed, low=0)
    f32 = {k: np.asarray(v, dtype=np.float32) for k, v in run.result.params.items()}
    rnd = {k: np.asarray(v, dtype=np.float32) for k, v in _model.init_params(run.cfg, seed).items()}
    return InductionModels(f32, rnd, run.cfg, run.data.chars, int(seed))


def induction_reference(models: InductionModels, texts: Sequence[str]) -> tuple[Reference, ...]:
    """NumPy's forward pass of each text through each model (in :data:`MODELS` order), as the page computes it."""
    if not isinstance(models, InductionModels):
        raise TypeError(f"models must be an InductionModels, got {type(models).__name__}")
    return tuple(reference(getattr(models, m), models.cfg, models.chars, texts) for m in MODELS)


def copy_weights(models: InductionModels, text: str) -> np.ndarray:
    """:func:`attnbook.analysis.copy_weight` of every head of both models on ``text``.

    Returns
    -------
    weights : ndarray of float64, shape (2, n_layer, H)
        ``[0]`` trained, ``[1]`` random; NaN when no character of the window occurred before.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    refs = induction_reference(models, [text])
    window = refs[0].encoded[0].window
    if not window:
        L, H = models.cfg.n_layer, models.cfg.n_head
        return np.full((2, L, H), np.nan)
    return np.stack([copy_weight(r.attention[0], window) for r in refs])
