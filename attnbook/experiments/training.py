"""The training chapter's experiments: a tiny character GPT on the grammar corpus, one-change variants of it,
its gradients checked against finite differences and PyTorch, sampling, and Xiong et al. (2020)'s Pre-LN vs
Post-LN comparison. Every training run goes through the run cache (:func:`attnbook.runs.cached_train`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from .. import model as _model
from .._checks import check_choice, check_int, check_real
from ..analysis import layer_grad_norms
from ..config import ModelConfig
from ..data import ADJECTIVES, NOUNS, VERBS, CharTokenizer, get_batch, make_dataset, normalize_data_spec
from ..layers import block as _block
from ..runs import cached_train, default_cache_dir, run_key
from ..sample import generate, next_token_distribution
from ..stats import xavier_params
from ..train import TrainConfig, TrainResult
from .seeds import train_missing

__all__ = [
    "DATA_SPEC",
    "INITS",
    "TEMPERATURES",
    "TOP_KS",
    "VARIANTS",
    "XIONG_LRS",
    "XIONG_RUNS",
    "BeforeAfter",
    "GradCheck",
    "Run",
    "SamplingGrid",
    "Setup",
    "Variant",
    "attention_before_after",
    "block_gradient_check",
    "chapter_jobs",
    "chapter_runs",
    "chapter_setup",
    "figure_runs",
    "final_losses",
    "init_grad_norms",
    "prefetch_runs",
    "sampling_grid",
    "train_variants",
    "valid_word_fraction",
    "variant_configs",
    "with_seed",
    "xiong_configs",
    "xiong_runs",
]

# The project's own corpus: 2,000 sentences of the small agreement grammar of attnbook.data.
DATA_SPEC: dict[str, Any] = {"kind": "grammar", "n_sentences": 2000, "seed": 0}


class Setup(NamedTuple):
    """What every run of the chapter shares: the data, the base model and the base training recipe."""

    data_spec: Mapping[str, Any]  # a spec for attnbook.data.make_dataset
    model: ModelConfig  # the base model; variants change one field
    train: TrainConfig  # the base recipe; variants change one field


def chapter_setup(data_spec: Mapping[str, Any] | None = None) -> Setup:
    """The chapter's base run: 2 Pre-LN blocks, C = 64, 4 heads, T = 32; 400 AdamW steps of 16 sequences.

    Parameters
    ----------
    data_spec : dict, optional
        Default :data:`DATA_SPEC`; the vocabulary size is read from the dataset it describes.

    Returns
    -------
    setup : Setup
    """
    spec = normalize_data_spec(DATA_SPEC if data_spec is None else data_spec)
    ds = make_dataset(spec)
    model = ModelConfig(vocab_size=ds.vocab_size, block_size=32, d_model=64, n_layer=2, n_head=4, d_ff=256)
    train = TrainConfig(
        steps=400,
        batch_size=16,
        lr=3e-3,
        warmup_steps=20,
        min_lr=3e-4,
        eval_interval=25,
        eval_batches=4,
        log_interval=10,
        seed=0,
    )
    return Setup(spec, model, train)


def _check_setup(setup) -> Setup:
    if setup is None:
        return chapter_setup()
    if not isinstance(setup, Setup):
        raise TypeError(f"setup must be an attnbook.experiments.training.Setup, got {type(setup).__name__}")
    return setup


# ----------------------------------------------------------------------------------------------------
# The experiment comparison: a base run and variants that each change one thing


class Variant(NamedTuple):
    """One run of the comparison: a label and what it changes relative to the base run."""

    label: str
    model: Mapping[str, Any]  # ModelConfig overrides
    train: Mapping[str, Any]  # TrainConfig overrides
    lr_factor: float = 1.0  # multiplies the base lr and min_lr (learning-rate variants)


VARIANTS: dict[str, Variant] = {
    "base": Variant("base: Pre-LN, LayerNorm, GeLU, learned positions, lr 3e-3, warm-up", {}, {}),
    "rmsnorm": Variant("RMSNorm instead of LayerNorm", {"norm": "rmsnorm"}, {}),
    "post": Variant("Post-LN instead of Pre-LN", {"block": "post"}, {}),
    "relu": Variant("ReLU instead of GeLU", {"activation": "relu"}, {}),
    "rope": Variant("RoPE instead of learned positions", {"pos": "rope"}, {}),
    "lr_high": Variant("learning rate ×3", {}, {}, 3.0),
    "no_warmup": Variant("no warm-up", {}, {"warmup_steps": 0}),
}


class Run(NamedTuple):
    """A finished (or cached) training run with the configs that produced it."""

    name: str
    label: str
    cfg: ModelConfig
    train_cfg: TrainConfig
    result: TrainResult  # params, history (see attnbook.train.train), step, status

    @property
    def history(self) -> dict[str, np.ndarray]:
        """The run's recorded history (``step``, ``loss``, ``eval_step``, ``val_loss``, ...)."""
        return self.result.history


def variant_configs(name: str, setup: Setup | None = None) -> tuple[ModelConfig, TrainConfig]:
    """The model and training configs of the variant ``name`` of :data:`VARIANTS`.

    Parameters
    ----------
    name : str
    setup : Setup, optional
        Default :func:`chapter_setup`.

    Returns
    -------
    cfg : ModelConfig
    train_cfg : TrainConfig
    """
    check_choice("name", name, VARIANTS)
    setup = _check_setup(setup)
    v = VARIANTS[name]
    cfg = setup.model.replace(**v.model)
    train = setup.train.replace(**v.train)
    if v.lr_factor != 1.0:
        train = train.replace(lr=train.lr * v.lr_factor, min_lr=train.min_lr * v.lr_factor)
    return cfg, train


def _check_names(names, valid: Mapping) -> tuple[str, ...]:
    if isinstance(names, str):
        raise TypeError("names must be a sequence of str, not a single str")
    names = tuple(names)
    if not names:
        raise ValueError("names must not be empty")
    for n in names:
        check_choice("names[i]", n, tuple(valid))
    return names


def train_variants(
    names: Iterable[str] | None = None, setup: Setup | None = None, *, cache_dir=None
) -> dict[str, Run]:
    """Train (or load from the run cache) the base run and its variants.

    Parameters
    ----------
    names : iterable of str, optional
        Keys of :data:`VARIANTS`; default all of them.
    setup : Setup, optional
        Default :func:`chapter_setup`.
    cache_dir : path, optional
        Run cache folder (default :func:`attnbook.runs.default_cache_dir`).

    Returns
    -------
    runs : dict of str to Run
        In the order of ``names``.
    """
    names = _check_names(VARIANTS if names is None else names, VARIANTS)
    setup = _check_setup(setup)
    out = {}
    for n in names:
        cfg, tc = variant_configs(n, setup)
        out[n] = Run(n, VARIANTS[n].label, cfg, tc, cached_train(cfg, tc, setup.data_spec, cache_dir))
    return out


def prefetch_runs(
    jobs: Sequence[tuple[ModelConfig, TrainConfig]],
    data_spec: Mapping[str, Any],
    *,
    workers: int = 2,
    cache_dir=None,
) -> int:
    """Train the runs that are not in the run cache yet, ``workers`` at a time in separate processes.

    Training is deterministic and each run is written to the cache atomically, so a later
    :func:`attnbook.runs.cached_train` of the same configs returns exactly what a sequential build would.
    With ``workers=1`` (or one missing run) nothing is done here: the callers train as they go.

    Parameters
    ----------
    jobs : sequence of (ModelConfig, TrainConfig)
    data_spec : dict
    workers : int
        Processes to use (each trains with one BLAS thread if ``OPENBLAS_NUM_THREADS=1`` is set).
    cache_dir : path, optional
        Default :func:`attnbook.runs.default_cache_dir`.

    Returns
    -------
    n_trained : int
        How many runs were trained by the workers.
    """
    workers = check_int("workers", workers, low=1)
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    missing = []
    for cfg, tc in jobs:
        if not isinstance(cfg, ModelConfig) or not isinstance(tc, TrainConfig):
            raise TypeError("jobs must be (ModelConfig, TrainConfig) pairs")
        if not (root / f"{run_key(cfg, tc, data_spec)}.npz").exists():
            missing.append((cfg, tc, dict(data_spec)))
    if workers == 1 or len(missing) < 2:
        return 0
    return train_missing(missing, workers=workers, cache_dir=cache_dir)


def final_losses(run: Run) -> dict[str, float]:
    """The last estimates of a run: ``train_loss`` and ``val_loss`` (NaN if it diverged before any).

    Parameters
    ----------
    run : Run

    Returns
    -------
    losses : dict
        ``"train_loss"``, ``"val_loss"``, ``"best_val_loss"`` (the lowest estimate) and ``"diverged"``
        (1.0 if training stopped on a non-finite loss, else 0.0).
    """
    if not isinstance(run, Run):
        raise TypeError(f"run must be a Run, got {type(run).__name__}")
    h = run.history
    val, tr = h["val_loss"], h["train_loss"]
    finite = val[np.isfinite(val)]
    return {
        "train_loss": float(tr[-1]) if len(tr) else math.nan,
        "val_loss": float(val[-1]) if len(val) else math.nan,
        "best_val_loss": float(finite.min()) if len(finite) else math.nan,
        "diverged": float(run.result.status == "diverged"),
    }


def figure_runs(runs: Mapping[str, Run]) -> dict[str, tuple[str, dict[str, np.ndarray], str]]:
    """``{key: (label, history, status)}``, the form the training figures of :mod:`attnbook.viz.training` take."""
    if not isinstance(runs, Mapping) or not all(isinstance(r, Run) for r in runs.values()):
        raise TypeError("runs must be a dict of Run")
    return {k: (r.label, r.history, r.result.status) for k, r in runs.items()}


# ----------------------------------------------------------------------------------------------------
# Gradient check of one block: centred finite differences (float64) and PyTorch autograd


class GradCheck(NamedTuple):
    """Relative errors of the hand-written backward pass of one block, per input/parameter."""

    names: tuple[str, ...]  # "x" (the block's input), then the block's parameters
    shapes: tuple[tuple[int, ...], ...]
    errors: np.ndarray  # (P,) max |ours - reference| / max |reference| for each name
    reference: str  # "finite differences" or "pytorch"


def _block_problem(cfg: ModelConfig, batch_size: int, seq_len: int, seed: int):
    """A float64 input, parameters away from their initial values, and a random upstream gradient."""
    rng = np.random.default_rng(seed)
    params = {}
    for key, shape in _block.param_shapes(cfg).items():
        # Gains near 1 and every other entry random, so each parameter carries a non-trivial gradient.
        base = 1.0 if key.endswith(".w") else 0.0
        params[key] = base + 0.3 * rng.standard_normal(shape)
    x = rng.standard_normal((batch_size, seq_len, cfg.d_model))  # (B, T, C)
    dout = rng.standard_normal((batch_size, seq_len, cfg.d_model))  # (B, T, C)
    return x, params, dout


def _check_gradcheck_args(cfg, batch_size, seq_len, seed) -> tuple[ModelConfig, int, int, int]:
    if not isinstance(cfg, ModelConfig):
        raise TypeError(f"cfg must be a ModelConfig, got {type(cfg).__name__}")
    if cfg.dropout > 0:
        raise ValueError(f"cfg.dropout must be 0 for a gradient check, got {cfg.dropout}")
    batch_size = check_int("batch_size", batch_size, low=1, high=8)
    seq_len = check_int("seq_len", seq_len, low=1, high=cfg.block_size)
    seed = check_int("seed", seed, low=0)
    return cfg, batch_size, seq_len, seed


def _max_rel(ours: np.ndarray, ref: np.ndarray) -> float:
    ours = np.asarray(ours, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    scale = np.abs(ref).max(initial=0.0)
    diff = np.abs(ours - ref).max(initial=0.0)
    return 0.0 if scale == 0.0 and diff == 0.0 else float(diff / max(scale, 1e-300))


def _analytic(cfg, x, params, dout):
    out, cache = _block.forward(x, params, cfg)
    dx, grads = _block.backward(dout, cache)
    return out, {"x": dx, **grads}


def block_gradient_check(
    cfg: ModelConfig,
    reference: str = "finite differences",
    *,
    batch_size: int = 2,
    seq_len: int = 5,
    seed: int = 0,
    eps: float = 1e-6,
) -> GradCheck:
    """Check one transformer block's backward pass (:mod:`attnbook.layers.block`) in float64.

    The scalar checked is ``L = sum(block(x) * dout)`` for a random ``dout`` (B, T, C), whose gradient with
    respect to the block's output is ``dout`` (llm.c's trick). Every entry of ``x`` and of every parameter
    is compared.

    Parameters
    ----------
    cfg : ModelConfig
        The block's norm, placement, activation, width, heads, mask and position scheme (RoPE and ALiBi act
        inside the block; keep it small: every entry costs two forward passes with finite differences).
    reference : {"finite differences", "pytorch"}
        Centred differences ``(L(θ + ε) - L(θ - ε)) / 2ε``, or PyTorch autograd on the twin of the block
        written from the definitions with ``torch.nn.functional`` (:mod:`attnbook.reference.torch_gpt`,
        which needs ``torch``).
    batch_size, seq_len : int
        B and T of the random input.
    seed : int
    eps : float
        The finite-difference step ε.

    Returns
    -------
    GradCheck
        ``errors[i]`` = ``max|ours - reference| / max|reference|`` over the entries of ``names[i]``.
    """
    cfg, batch_size, seq_len, seed = _check_gradcheck_args(cfg, batch_size, seq_len, seed)
    check_choice("reference", reference, ("finite differences", "pytorch"))
    eps = check_real("eps", eps, low=0.0, low_inclusive=False)
    x, params, dout = _block_problem(cfg, batch_size, seq_len, seed)
    _, ours = _analytic(cfg, x, params, dout)
    if reference == "pytorch":
        from ..reference import torch_gpt  # the PyTorch oracle: imports torch, needed only here

        ref = torch_gpt.block_grads(cfg, x, params, dout)
    else:
        arrays = {"x": x, **params}

        def scalar() -> float:
            return float(np.sum(_block.forward(arrays["x"], params, cfg)[0] * dout))

        ref = {}
        for name, a in arrays.items():
            flat = a.reshape(-1)  # a view: perturbing it perturbs the array the block reads
            num = np.empty(flat.size)
            for i in range(flat.size):
                old = flat[i]
                flat[i] = old + eps
                fp = scalar()
                flat[i] = old - eps
                fm = scalar()
                flat[i] = old
                num[i] = (fp - fm) / (2.0 * eps)
            ref[name] = num.reshape(a.shape)
    names = ("x", *_block.param_shapes(cfg))  # the input first, then the parameters in model order
    errors = np.array([_max_rel(ours[n], ref[n]) for n in names])
    return GradCheck(names, tuple(ours[n].shape for n in names), errors, reference)


# ----------------------------------------------------------------------------------------------------
# Attention before and after training; sampling


class BeforeAfter(NamedTuple):
    """Attention weights of one text under the initial and the trained parameters of a run."""

    tokens: tuple[str, ...]  # the characters of the text, T of them
    random: np.ndarray  # (n_layer, H, T, T) at initialisation (the parameters training started from)
    trained: np.ndarray  # (n_layer, H, T, T) after training


def attention_before_after(run: Run, text: str, tokenizer: CharTokenizer) -> BeforeAfter:
    """Run ``text`` through a run's model before and after training and return both attention maps.

    Parameters
    ----------
    run : Run
    text : str
        At most ``block_size`` characters of the tokenizer's vocabulary.
    tokenizer : CharTokenizer

    Returns
    -------
    BeforeAfter
    """
    if not isinstance(run, Run):
        raise TypeError(f"run must be a Run, got {type(run).__name__}")
    if not isinstance(tokenizer, CharTokenizer):
        raise TypeError(f"tokenizer must be a CharTokenizer, got {type(tokenizer).__name__}")
    if not isinstance(text, str) or not text:
        raise ValueError("text must be a non-empty str")
    if len(text) > run.cfg.block_size:
        raise ValueError(
            f"text must have at most block_size = {run.cfg.block_size} characters, got {len(text)}"
        )
    ids = tokenizer.encode(text)[None, :]  # (1, T)
    init = _model.init_params(run.cfg, run.train_cfg.seed, dtype=np.dtype(run.train_cfg.dtype))
    maps = []
    for params in (init, run.result.params):
        _, cache = _model.forward(params, ids, run.cfg)
        maps.append(_model.attention_maps(cache)[:, 0])  # (n_layer, H, T, T)
    return BeforeAfter(tuple(text), maps[0], maps[1])


# The sampling figure's settings: temperatures on an even grid (a slider) and top-k choices (None = all).
TEMPERATURES = (0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0)
TOP_KS = (None, 10, 5, 3)


class SamplingGrid(NamedTuple):
    """Samples and next-character distributions for every prompt × temperature × top-k."""

    prompts: tuple[str, ...]
    temperatures: tuple[float, ...]
    top_ks: tuple[int | None, ...]
    samples: tuple[tuple[tuple[str, ...], ...], ...]  # [prompt][temperature][top-k]: the generated text
    probs: np.ndarray  # (P, n_temperatures, n_top_ks, V) distribution of the character after the prompt
    vocab: str  # the characters in id order


def sampling_grid(
    params: Mapping[str, np.ndarray],
    cfg: ModelConfig,
    tokenizer: CharTokenizer,
    prompts: Sequence[str],
    *,
    temperatures: Sequence[float] = TEMPERATURES,
    top_ks: Sequence[int | None] = TOP_KS,
    n_new: int = 80,
    seed: int = 0,
) -> SamplingGrid:
    """Generate from a trained model for every setting, with the same seed for all of them.

    With one seed, the uniform draws behind the sampling are the same in every setting, so two samples
    differ only because the temperature or top-k changed the distribution they are drawn from.

    Parameters
    ----------
    params : dict of str to ndarray
    cfg : ModelConfig
    tokenizer : CharTokenizer
    prompts : sequence of str
    temperatures : sequence of float, each > 0
    top_ks : sequence of int or None
        None samples from all V characters.
    n_new : int
        Characters generated after each prompt.
    seed : int

    Returns
    -------
    SamplingGrid
    """
    if not isinstance(tokenizer, CharTokenizer):
        raise TypeError(f"tokenizer must be a CharTokenizer, got {type(tokenizer).__name__}")
    if isinstance(prompts, str) or not prompts or not all(isinstance(p, str) and p for p in prompts):
        raise TypeError("prompts must be a non-empty sequence of non-empty str")
    temps = tuple(check_real("temperatures[i]", t, low=0.0, low_inclusive=False) for t in temperatures)
    ks = tuple(None if k is None else check_int("top_ks[i]", k, low=1, high=cfg.vocab_size) for k in top_ks)
    if not temps or not ks:
        raise ValueError("temperatures and top_ks must not be empty")
    n_new = check_int("n_new", n_new, low=1)
    seed = check_int("seed", seed, low=0)
    samples, probs = [], np.empty((len(prompts), len(temps), len(ks), cfg.vocab_size))
    for pi, prompt in enumerate(prompts):
        ids = tokenizer.encode(prompt)
        per_t = []
        for ti, t in enumerate(temps):
            per_k = []
            for ki, k in enumerate(ks):
                out = generate(params, cfg, ids, n_new, temperature=t, top_k=k, seed=seed)
                per_k.append(tokenizer.decode(out[len(ids) :]))
                probs[pi, ti, ki] = next_token_distribution(params, cfg, ids, temperature=t, top_k=k)
            per_t.append(tuple(per_k))
        samples.append(tuple(per_t))
    return SamplingGrid(tuple(prompts), temps, ks, tuple(samples), probs, tokenizer.chars)


# Every word the grammar can produce: nouns singular and plural, verbs in both agreeing forms.
_GRAMMAR_WORDS = frozenset(
    ("the", "and", *ADJECTIVES, *NOUNS, *(n + "s" for n in NOUNS), *VERBS, *(v[:-1] for v in VERBS))
)


def valid_word_fraction(text: str) -> float:
    """Fraction of the words of ``text`` (split at spaces, newlines and full stops) that the grammar has.

    A crude but honest measure of generated text: a model that spells like the corpus scores 1.

    Parameters
    ----------
    text : str

    Returns
    -------
    fraction : float
        In [0, 1]; 0 for a text without words.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    words = re.findall(r"[^\s.]+", text)
    return sum(w in _GRAMMAR_WORDS for w in words) / len(words) if words else 0.0


# ----------------------------------------------------------------------------------------------------
# Xiong et al. (2020): Pre-LN vs Post-LN, gradients at initialisation and warm-up

INITS = ("gpt2", "xavier")

# The four runs at each learning rate: placement × warm-up, on a deeper stack than the base run.
XIONG_LRS = (3e-3, 1e-2)
XIONG_RUNS: dict[str, tuple[str, bool, str]] = {
    "pre-warmup": ("pre", True, "Pre-LN, warm-up"),
    "pre-no-warmup": ("pre", False, "Pre-LN, no warm-up"),
    "post-warmup": ("post", True, "Post-LN, warm-up"),
    "post-no-warmup": ("post", False, "Post-LN, no warm-up"),
}


def init_grad_norms(
    cfg: ModelConfig,
    data_spec: Mapping[str, Any] | None = None,
    *,
    blocks: Sequence[str] = ("pre", "post"),
    inits: Sequence[str] = INITS,
    seeds: Sequence[int] = (0, 1, 2, 3),
    batch_size: int = 16,
) -> dict[tuple[str, str], np.ndarray]:
    """Gradient norm of each block's MLP weights at initialisation, for each placement and initialisation.

    Xiong et al. (2020) look at the feed-forward sublayer's weights: at initialisation, Post-LN's gradients
    are large near the output, Pre-LN's are not. Here the measure is the 2-norm of the gradient of the
    loss with respect to ``mlp.w_in`` and ``mlp.w_out`` of each block together, on one batch of the
    training text, averaged over ``seeds`` (each seed draws new parameters and a new batch). No training.

    Parameters
    ----------
    cfg : ModelConfig
        The model (its ``block`` is replaced by each of ``blocks``); not attention-only.
    data_spec : dict, optional
        Default :data:`DATA_SPEC`.
    blocks : sequence of {"pre", "post", "sandwich"}
    inits : sequence of {"gpt2", "xavier"}
        :func:`attnbook.model.init_params` (what the book trains with) or
        :func:`attnbook.stats.xavier_params` (the original Transformer's, Xiong et al.'s setting).
    seeds : sequence of int
    batch_size : int

    Returns
    -------
    norms : dict
        ``norms[block, init]`` has shape (n_layer,), float64.
    """
    if not isinstance(cfg, ModelConfig):
        raise TypeError(f"cfg must be a ModelConfig, got {type(cfg).__name__}")
    if cfg.attn_only:
        raise ValueError("cfg must have MLP sublayers (attn_only=False)")
    blocks = tuple(check_choice("blocks[i]", b, ("pre", "post", "sandwich")) for b in blocks)
    inits = tuple(check_choice("inits[i]", i, INITS) for i in inits)
    seeds = tuple(check_int("seeds[i]", s, low=0) for s in seeds)
    if not blocks or not inits or not seeds:
        raise ValueError("blocks, inits and seeds must not be empty")
    batch_size = check_int("batch_size", batch_size, low=1)
    ds = make_dataset(DATA_SPEC if data_spec is None else data_spec)
    if ds.vocab_size > cfg.vocab_size:
        raise ValueError(f"cfg.vocab_size = {cfg.vocab_size} is smaller than the data's {ds.vocab_size}")
    out = {}
    for b in blocks:
        c = cfg.replace(block=b)
        for init in inits:
            norms = np.zeros((len(seeds), c.n_layer))
            for si, s in enumerate(seeds):
                params = _model.init_params(c, s) if init == "gpt2" else xavier_params(c, s)
                x, y = get_batch(ds.train, c.block_size, batch_size, np.random.default_rng((s, 7)))
                logits, cache = _model.forward(params, x, c)  # (B, T, V)
                _, dlogits = _model.loss(logits, y)
                grads = _model.backward(dlogits, cache)
                norms[si] = layer_grad_norms(grads, c.n_layer, include=("mlp.w_in", "mlp.w_out"))
            out[b, init] = norms.mean(axis=0)
    return out


def xiong_configs(
    setup: Setup | None = None,
    *,
    n_layer: int = 6,
    lrs: Sequence[float] = XIONG_LRS,
    warmup_steps: int = 50,
    steps: int = 250,
) -> dict[float, dict[str, tuple[ModelConfig, TrainConfig, str]]]:
    """The runs of the warm-up experiment: Pre-LN / Post-LN × with / without warm-up, at each learning rate.

    The base model of ``setup`` with ``n_layer`` blocks, trained ``steps`` steps at peak learning rate
    ``lr`` (cosine decay to lr / 10), either from the first step or after ``warmup_steps`` of linear warm-up.

    Returns
    -------
    configs : dict
        ``configs[lr][name] = (cfg, train_cfg, label)`` for each name of :data:`XIONG_RUNS`.
    """
    setup = _check_setup(setup)
    n_layer = check_int("n_layer", n_layer, low=1)
    lrs = tuple(check_real("lrs[i]", lr, low=0.0, low_inclusive=False) for lr in lrs)
    if not lrs or len(set(lrs)) != len(lrs):
        raise ValueError(f"lrs must be distinct learning rates, got {lrs}")
    steps = check_int("steps", steps, low=1)
    warmup_steps = check_int("warmup_steps", warmup_steps, low=1, high=steps)
    out: dict[float, dict[str, tuple[ModelConfig, TrainConfig, str]]] = {}
    for lr in lrs:
        out[lr] = {}
        for name, (block, warm, label) in XIONG_RUNS.items():
            cfg = setup.model.replace(n_layer=n_layer, block=block)
            tc = setup.train.replace(
                steps=steps, lr=lr, min_lr=lr / 10, warmup_steps=warmup_steps if warm else 0
            )
            out[lr][name] = (cfg, tc, label)
    return out


def with_seed(setup: Setup | None, seed: int) -> Setup:
    """``setup`` with the training seed (initialisation and batches) set to ``seed``; the data stay the same."""
    setup = _check_setup(setup)
    return setup._replace(train=setup.train.replace(seed=check_int("seed", seed, low=0)))


def chapter_jobs(
    setup: Setup | None = None,
    *,
    xiong_seeds: Sequence[int] = (),
    variant_seeds: Sequence[int] = (),
    **xiong_kwargs,
) -> list[tuple[ModelConfig, TrainConfig]]:
    """The ``(ModelConfig, TrainConfig)`` of every run :func:`chapter_runs` trains, in its order, once each: the
    warm-up runs (:func:`xiong_configs`, ``xiong_kwargs`` go there) at ``setup``'s seed then at each of
    ``xiong_seeds``, then the variants at ``setup``'s seed then at each of ``variant_seeds``."""
    setup = _check_setup(setup)
    for name, seeds in (("xiong_seeds", xiong_seeds), ("variant_seeds", variant_seeds)):
        if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Sequence):
            raise TypeError(f"{name} must be a sequence of int")
    jobs: list[tuple[ModelConfig, TrainConfig]] = []
    for s in (setup.train.seed, *(check_int("xiong_seeds[i]", s, low=0) for s in xiong_seeds)):
        groups = xiong_configs(with_seed(setup, s), **xiong_kwargs).values()
        jobs += [(c, t) for group in groups for c, t, _ in group.values() if (c, t) not in jobs]
    for s in (setup.train.seed, *(check_int("variant_seeds[i]", s, low=0) for s in variant_seeds)):
        jobs += [j for j in (variant_configs(n, with_seed(setup, s)) for n in VARIANTS) if j not in jobs]
    return jobs


def chapter_runs(
    setup: Setup | None = None,
    *,
    workers: int = 1,
    cache_dir=None,
    xiong_seeds: Sequence[int] = (),
    variant_seeds: Sequence[int] = (),
    **xiong_kwargs,
) -> tuple[dict[str, Run], dict[float, dict[str, Run]]]:
    """Every run of the chapter: :func:`train_variants` and :func:`xiong_runs` (``xiong_kwargs`` go there).

    With ``workers > 1`` the runs missing from the cache are first trained in parallel
    (:func:`prefetch_runs`), the slowest first. ``xiong_seeds``: training seeds at which the runs of
    :func:`xiong_runs` are also trained (read them with ``xiong_runs(with_seed(setup, seed))``);
    ``variant_seeds``: the same for :func:`train_variants` (``train_variants(setup=with_seed(setup, seed))``).

    Returns
    -------
    variants : dict of str to Run
    xiong : dict
        ``xiong[lr][name]``.
    """
    setup = _check_setup(setup)
    jobs = chapter_jobs(setup, xiong_seeds=xiong_seeds, variant_seeds=variant_seeds, **xiong_kwargs)
    prefetch_runs(jobs, setup.data_spec, workers=workers, cache_dir=cache_dir)
    return train_variants(setup=setup, cache_dir=cache_dir), xiong_runs(
        setup, cache_dir=cache_dir, **xiong_kwargs
    )


def xiong_runs(setup: Setup | None = None, *, cache_dir=None, **kwargs) -> dict[float, dict[str, Run]]:
    """Train (or load from the run cache) the runs of :func:`xiong_configs` (``kwargs`` go there).

    Returns
    -------
    runs : dict
        ``runs[lr][name]`` for each learning rate and each name of :data:`XIONG_RUNS`.
    """
    setup = _check_setup(setup)
    out: dict[float, dict[str, Run]] = {}
    for lr, configs in xiong_configs(setup, **kwargs).items():
        out[lr] = {
            name: Run(name, label, cfg, tc, cached_train(cfg, tc, setup.data_spec, cache_dir))
            for name, (cfg, tc, label) in configs.items()
        }
    return out
