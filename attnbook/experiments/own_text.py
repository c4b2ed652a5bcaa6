"""Chapter 10's experiment: the character GPT that the page runs in JavaScript, trained once with its optimizer state
(so a reader can continue training it), saved as the checkpoint the chapter links, and run by NumPy on preset texts
(the reference the page's forward pass is checked against).

The text rule is shared with the page (``encodeText`` in ``attnbook/viz/js/runtime/gpt.mjs``): characters in the
vocabulary are kept, ASCII capitals whose lower case is in it are folded to lower case, anything else is skipped,
and the model reads the last ``block_size`` characters that remain (its window).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from .. import model as _model
from .._checks import check_int
from ..checkpoint import load_checkpoint, save_checkpoint
from ..config import ModelConfig, TrainConfig
from ..data import CharTokenizer, make_dataset, normalize_data_spec
from ..runs import default_cache_dir, load_or_make, run_key
from ..train import train
from .training import Setup, chapter_setup

__all__ = [
    "BLOCK_SIZE",
    "PRESET_TEXTS",
    "STEPS",
    "Encoded",
    "OwnTextModel",
    "Reference",
    "encode_text",
    "own_text_model",
    "own_text_setup",
    "reference",
    "save_model",
    "stream_stages",
]

BLOCK_SIZE = 64  # characters the page's model reads at once (chapter 7's model reads 32)
STEPS = 1200  # optimizer updates (chapter 7's base run makes 400: this model is the reader's to play with)

# Texts whose NumPy forward pass ships with the figure: the page must show exactly these numbers for them.
PRESET_TEXTS = (
    "the cat and the dogs see the ",  # ordinary: the model should expect an object next
    "",  # empty: nothing to predict from
    "t",  # one character
    "The Zebra sees 3 old cats!",  # capitals folded, z, 3 and ! outside the vocabulary
    "the dog. the dog. the dog. the dog.",  # repeated
    "the quiet girl hears the old king. the young boys follow the happy frogs. the bird sees the",  # > 64
)


class OwnTextModel(NamedTuple):
    """The trained model of chapter 10, as a reader gets it in the downloaded checkpoint."""

    params: dict[str, np.ndarray]  # float32 parameters (attnbook.model names)
    cfg: ModelConfig
    train_cfg: TrainConfig
    tokenizer: CharTokenizer
    step: int  # optimizer updates done
    opt_state: dict[str, np.ndarray]  # Adam's moments: what `attnbook-train --resume` continues from
    history: dict[str, np.ndarray]  # losses etc. (attnbook.history)
    data_spec: dict[str, Any]  # the corpus it was trained on (attnbook.data.make_dataset)


def own_text_setup() -> Setup:
    """Chapter 7's base run (data, model, recipe) with a window of :data:`BLOCK_SIZE` characters, trained for
    :data:`STEPS` updates (validation loss estimated every 100)."""
    s = chapter_setup()
    return Setup(
        s.data_spec, s.model.replace(block_size=BLOCK_SIZE), s.train.replace(steps=STEPS, eval_interval=100)
    )


def own_text_model(cache_dir: str | os.PathLike | None = None, *, progress: bool = False) -> OwnTextModel:
    """Train the chapter's model, or load it from the run cache.

    The run cache (:func:`attnbook.runs.cached_train`) keeps parameters and history only; a reader who wants to
    continue training needs Adam's state too, so this run is stored with it, under the run cache's key and in its
    format (a later ``cached_train`` of the same configs finds it). Training is deterministic: the same configs
    and code give the same file.

    Parameters
    ----------
    cache_dir : path, optional
        Default :func:`attnbook.runs.default_cache_dir`.
    progress : bool
        Show the progress bar when training is needed.

    Returns
    -------
    OwnTextModel
    """
    setup = own_text_setup()
    cfg, tc, spec = setup.model, setup.train, normalize_data_spec(setup.data_spec)
    key = run_key(cfg, tc, spec)
    path = (Path(cache_dir) if cache_dir is not None else default_cache_dir()) / f"{key}.npz"
    ds = make_dataset(spec)

    def make():
        result = train(cfg, tc, ds, progress=progress)
        if result.status != "done":
            raise RuntimeError(f"training the chapter 10 model ended with status {result.status!r}")
        extra = {"run_key": key, "status": "done", "data_spec": spec, "tokenizer": ds.tokenizer.to_dict()}
        save_checkpoint(
            path, result.params, cfg, tc, result.step, result.opt_state, result.history, extra=extra
        )
        return _stored(path, key, cfg, tc)

    # another process (the build's prefetch) may be training it: load_or_make waits for it, then reads
    ck = load_or_make(path, lambda: _stored(path, key, cfg, tc), make)
    params, history, opt_state, step = ck.params, ck.history, ck.opt_state, ck.step
    return OwnTextModel(params, cfg, tc, ds.tokenizer, step, opt_state, history, spec)


def _stored(path: Path, key: str, cfg: ModelConfig, tc: TrainConfig):
    """The finished run with Adam's state at ``path``, or None."""
    try:
        ck = load_checkpoint(path)
    except (OSError, ValueError):
        return None
    usable = (
        ck.extra.get("run_key") == key
        and ck.extra.get("status") == "done"
        and ck.opt_state is not None
        and (ck.cfg, ck.train_cfg) == (cfg, tc)
    )
    return ck if usable else None


def save_model(m: OwnTextModel, path: str | os.PathLike) -> Path:
    """Write ``m`` as a checkpoint the command line reads (``attnbook-train info|sample|train --resume``).

    It carries the model and training configs, the tokenizer (``extra["tokenizer"]``), the data spec, the
    history and the optimizer state; :func:`attnbook.checkpoint.load_checkpoint` reads it back.
    """
    if not isinstance(m, OwnTextModel):
        raise TypeError(f"m must be an OwnTextModel (own_text_model()), got {type(m).__name__}")
    extra = {"data_spec": dict(m.data_spec), "tokenizer": m.tokenizer.to_dict()}
    return save_checkpoint(path, m.params, m.cfg, m.train_cfg, m.step, m.opt_state, m.history, extra=extra)


class Encoded(NamedTuple):
    """A text as the model reads it (see the module docstring for the rule)."""

    text: str  # what was typed
    window: str  # the characters the model reads: kept (and folded) ones, the last block_size of them
    ids: np.ndarray  # (T,) int64 token ids of `window`
    folded: str  # the capitals folded to lower case, each once, in order of appearance
    skipped: str  # the characters skipped (outside the vocabulary), each once, in order of appearance
    n_skipped: int  # how many characters were skipped in all
    n_cut: int  # kept characters before the window (dropped because the text is longer than block_size)


def _once(chars: list[str]) -> str:
    return "".join(dict.fromkeys(chars))


def encode_text(text: str, chars: str, block_size: int) -> Encoded:
    """The token ids the model reads for ``text``: keep, fold ASCII capitals, skip the rest, keep the last window.

    Parameters
    ----------
    text : str
    chars : str
        The vocabulary in id order (``CharTokenizer.chars``).
    block_size : int
        The model's window.

    Returns
    -------
    Encoded
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    if not isinstance(chars, str) or not chars or len(set(chars)) != len(chars):
        raise ValueError(f"chars must be a non-empty str of distinct characters, got {chars!r}")
    block_size = check_int("block_size", block_size, low=1)
    stoi = {c: i for i, c in enumerate(chars)}
    kept, folded, skipped = [], [], []
    for ch in text:
        if ch in stoi:
            kept.append(ch)
        elif "A" <= ch <= "Z" and ch.lower() in stoi:
            kept.append(ch.lower())
            folded.append(ch)
        else:
            skipped.append(ch)
    n_cut = max(0, len(kept) - block_size)
    window = "".join(kept[n_cut:])
    ids = np.array([stoi[c] for c in window], dtype=np.int64)
    return Encoded(text, window, ids, _once(folded), _once(skipped), len(skipped), n_cut)


def stream_stages(cfg: ModelConfig) -> tuple[str, ...]:
    """Names of the points where :func:`reference` reads the residual stream: after the embedding, after each
    block, and after the final norm when the model has one (the input of the unembedding)."""
    if not isinstance(cfg, ModelConfig):
        raise TypeError(f"cfg must be a ModelConfig, got {type(cfg).__name__}")
    stages = ["embedding + position"] + [f"after block {i + 1}" for i in range(cfg.n_layer)]
    if cfg.norm != "none" and cfg.block != "post":
        stages.append("after the final norm")
    return tuple(stages)


class Reference(NamedTuple):
    """NumPy's forward pass (float64, from the float32 weights) of each text, as the page computes it."""

    encoded: tuple[Encoded, ...]
    stages: tuple[str, ...]  # stream_stages(cfg)
    log_probs: tuple[np.ndarray, ...]  # per text (T, V): log-softmax of the logits at each position
    attention: tuple[np.ndarray, ...]  # per text (L, H, T, T)
    stream: tuple[np.ndarray, ...]  # per text (S, T, C): the residual stream at each stage


def reference(
    params: Mapping[str, np.ndarray], cfg: ModelConfig, chars: str, texts: Sequence[str]
) -> Reference:
    """Run NumPy's forward pass on each text as the page reads it (:func:`encode_text`).

    The page computes in float64 from the float32 weights, so this does too. An empty window (nothing typed,
    or nothing in the vocabulary) gives arrays with T = 0.

    Parameters
    ----------
    params : dict of str to ndarray
    cfg : ModelConfig
    chars : str
        The vocabulary, ``len(chars) == cfg.vocab_size``.
    texts : sequence of str

    Returns
    -------
    Reference
    """
    if not isinstance(cfg, ModelConfig):
        raise TypeError(f"cfg must be a ModelConfig, got {type(cfg).__name__}")
    if not isinstance(chars, str) or len(chars) != cfg.vocab_size:
        raise ValueError(f"chars must be a str of vocab_size={cfg.vocab_size} characters, got {chars!r}")
    if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
        raise TypeError("texts must be a sequence of str")
    if not isinstance(params, Mapping):
        raise TypeError(f"params must be a dict of arrays, got {type(params).__name__}")
    p64 = {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}
    stages = stream_stages(cfg)
    L, H, C, V = cfg.n_layer, cfg.n_head, cfg.d_model, cfg.vocab_size
    enc, logp, att, stream = [], [], [], []
    for text in texts:
        e = encode_text(text, chars, cfg.block_size)
        T = len(e.ids)
        enc.append(e)
        if T == 0:
            logp.append(np.zeros((0, V)))
            att.append(np.zeros((L, H, 0, 0)))
            stream.append(np.zeros((len(stages), 0, C)))
            continue
        logits, cache = _model.forward(p64, e.ids[None, :], cfg)  # (1, T, V)
        z = logits[0] - logits[0].max(axis=-1, keepdims=True)
        logp.append(z - np.log(np.exp(z).sum(axis=-1, keepdims=True)))  # (T, V)
        att.append(_model.attention_maps(cache)[:, 0])  # (L, H, T, T)
        points = [cache.embedding[0]] + [r[0] for r in cache.residuals]
        if len(stages) > len(points):
            points.append(cache.xf)  # (T, C): the final norm's output, the unembedding's input
        stream.append(np.stack(points))  # (S, T, C)
    return Reference(tuple(enc), stages, tuple(logp), tuple(att), tuple(stream))
