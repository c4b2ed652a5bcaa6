"""The training chapter's experiments on tiny settings: configs change one thing, runs go through the run cache,
the gradient check catches a wrong backward pass, and the directions the chapter reports hold."""

from __future__ import annotations

import numpy as np
import pytest

import attnbook.runs
from attnbook import model
from attnbook.config import ModelConfig
from attnbook.data import make_dataset
from attnbook.experiments import training as X
from attnbook.layers import block
from attnbook.train import TrainConfig

SPEC = {"kind": "grammar", "n_sentences": 200, "seed": 0}


@pytest.fixture(scope="module")
def tiny():
    ds = make_dataset(SPEC)
    cfg = ModelConfig(vocab_size=ds.vocab_size, block_size=12, d_model=16, n_layer=2, n_head=2, d_ff=32)
    tc = TrainConfig(
        steps=4,
        batch_size=4,
        lr=1e-3,
        min_lr=1e-4,
        warmup_steps=2,
        eval_interval=2,
        eval_batches=1,
        log_interval=1,
    )
    return X.Setup(SPEC, cfg, tc), ds.tokenizer


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("runs")


@pytest.fixture(scope="module")
def base_run(tiny, cache):
    setup, _ = tiny
    return X.train_variants(["base"], setup, cache_dir=cache)["base"]


def _diff(a, b) -> dict:
    da, db = a.to_dict(), b.to_dict()
    return {k: (da[k], db[k]) for k in da if da[k] != db[k]}


def test_chapter_setup_matches_its_data():
    setup = X.chapter_setup()
    assert setup.model.vocab_size == make_dataset(setup.data_spec).vocab_size
    assert setup.model.n_layer == 2 and 32 <= setup.model.d_model <= 64
    assert setup.train.dtype == "float32"


@pytest.mark.parametrize("name", sorted(X.VARIANTS))
def test_each_variant_changes_one_thing(name, tiny):
    setup, _ = tiny
    cfg, tc = X.variant_configs(name, setup)
    model_diff, train_diff = _diff(setup.model, cfg), _diff(setup.train, tc)
    v = X.VARIANTS[name]
    assert set(model_diff) == set(v.model)
    if v.lr_factor != 1.0:
        assert set(train_diff) == {"lr", "min_lr"}
        assert tc.lr == pytest.approx(setup.train.lr * v.lr_factor)
    else:
        assert set(train_diff) == set(v.train)
    if name == "base":
        assert not model_diff and not train_diff
    else:  # exactly one setting differs from the base run
        assert len(model_diff) + (1 if train_diff else 0) == 1


def test_runs_go_through_the_cache(tiny, cache, base_run, monkeypatch):
    setup, _ = tiny
    assert base_run.result.status == "done" and base_run.result.step == setup.train.steps

    def refuse(*args, **kwargs):
        raise AssertionError("a cached run was trained again")

    monkeypatch.setattr(attnbook.runs, "train", refuse)
    again = X.train_variants(["base"], setup, cache_dir=cache)["base"]
    for k, v in base_run.history.items():
        np.testing.assert_array_equal(again.history[k], v)
    with pytest.raises(AssertionError, match="trained again"):
        X.train_variants(["relu"], setup, cache_dir=cache)


def test_prefetch_trains_missing_runs_in_parallel(tiny, tmp_path, monkeypatch):
    setup, _ = tiny
    jobs = [X.variant_configs(n, setup) for n in ("base", "relu", "rope")]
    sequential = X.train_variants(["relu"], setup, cache_dir=tmp_path / "seq")["relu"]
    assert X.prefetch_runs(jobs, setup.data_spec, workers=2, cache_dir=tmp_path / "par") == 3
    assert X.prefetch_runs(jobs, setup.data_spec, workers=2, cache_dir=tmp_path / "par") == 0  # all cached

    def refuse(*args, **kwargs):
        raise AssertionError("a prefetched run was trained again")

    monkeypatch.setattr(attnbook.runs, "train", refuse)
    runs = X.train_variants(["base", "relu", "rope"], setup, cache_dir=tmp_path / "par")
    for k, v in sequential.history.items():  # a worker process trains exactly what the parent would
        np.testing.assert_array_equal(runs["relu"].history[k], v)
    with pytest.raises(TypeError, match="jobs"):
        X.prefetch_runs([(setup.model, None)], setup.data_spec)
    with pytest.raises(ValueError, match="workers"):
        X.prefetch_runs(jobs, setup.data_spec, workers=0)


def test_chapter_runs(tiny, tmp_path):
    setup, _ = tiny
    variants, xiong = X.chapter_runs(
        setup, workers=1, cache_dir=tmp_path, n_layer=2, lrs=(1e-3,), warmup_steps=2, steps=3
    )
    assert list(variants) == list(X.VARIANTS) and list(xiong[1e-3]) == list(X.XIONG_RUNS)


def test_chapter_runs_trains_the_warm_up_runs_at_other_seeds(tiny, tmp_path, monkeypatch):
    setup, _ = tiny
    kw = dict(n_layer=2, lrs=(1e-3,), warmup_steps=2, steps=3)
    X.chapter_runs(setup, workers=2, cache_dir=tmp_path, xiong_seeds=(1,), variant_seeds=(2,), **kw)

    def refuse(*args, **kwargs):
        raise AssertionError("a run of another seed was not trained by chapter_runs")

    monkeypatch.setattr(attnbook.runs, "train", refuse)
    v2 = X.train_variants(setup=X.with_seed(setup, 2), cache_dir=tmp_path)
    assert v2["relu"].train_cfg.seed == 2 and list(v2) == list(X.VARIANTS)
    at1 = X.xiong_runs(X.with_seed(setup, 1), cache_dir=tmp_path, **kw)
    at0 = X.xiong_runs(setup, cache_dir=tmp_path, **kw)
    assert at1[1e-3]["pre-warmup"].train_cfg.seed == 1
    assert not np.array_equal(
        at1[1e-3]["pre-warmup"].history["loss"], at0[1e-3]["pre-warmup"].history["loss"]
    )
    with pytest.raises(TypeError, match="xiong_seeds"):
        X.chapter_runs(setup, cache_dir=tmp_path, xiong_seeds=1, **kw)
    with pytest.raises(TypeError, match="variant_seeds"):
        X.chapter_runs(setup, cache_dir=tmp_path, variant_seeds="1", **kw)


def test_final_losses(base_run):
    f = X.final_losses(base_run)
    assert f["val_loss"] == base_run.history["val_loss"][-1]
    assert f["best_val_loss"] <= f["val_loss"] and f["diverged"] == 0.0
    with pytest.raises(TypeError):
        X.final_losses(base_run.result)


def test_variant_arguments_are_checked(tiny):
    setup, _ = tiny
    with pytest.raises(ValueError, match="name"):
        X.variant_configs("bigger", setup)
    with pytest.raises(TypeError, match="setup"):
        X.variant_configs("base", setup=(1, 2, 3))
    with pytest.raises(TypeError, match="names"):
        X.train_variants("base", setup)
    with pytest.raises(ValueError, match="names"):
        X.train_variants([], setup)


# ----------------------------------------------------------------------------------------- gradient check

CHECK = ModelConfig(vocab_size=10, block_size=6, d_model=8, n_layer=1, n_head=2, d_ff=12)


def test_finite_differences_agree_with_the_backward_pass():
    g = X.block_gradient_check(CHECK, batch_size=1, seq_len=4)
    assert g.names[0] == "x" and set(g.names[1:]) == set(block.param_shapes(CHECK))
    assert g.reference == "finite differences"
    assert g.errors.max() < 1e-6


def test_the_check_catches_a_wrong_gradient(monkeypatch):
    real = block.backward

    def wrong(dout, cache):  # drop the residual path's contribution to dx: a classic mistake
        dx, grads = real(dout, cache)
        return dx - dout, grads

    monkeypatch.setattr(X._block, "backward", wrong)
    g = X.block_gradient_check(CHECK, batch_size=1, seq_len=4)
    errors = dict(zip(g.names, g.errors, strict=True))
    assert errors["x"] > 0.1
    assert max(v for k, v in errors.items() if k != "x") < 1e-6


@pytest.mark.reference
@pytest.mark.parametrize(
    "change",
    [
        {"block": "pre"},
        {"block": "post", "activation": "swiglu"},
        {"block": "sandwich", "norm": "rmsnorm"},
        {"pos": "rope", "mask": "local", "window": 2},
        {"pos": "alibi", "mask": "global_local", "window": 1, "n_global": 2, "bias": False},
        {"pos": "alibi", "d_model": 6, "n_head": 3, "attn_only": True},  # ALiBi slopes for a non-power of two
    ],
)
def test_pytorch_agrees_with_the_backward_pass(change):
    g = X.block_gradient_check(CHECK.replace(**change), "pytorch")
    assert g.reference == "pytorch" and g.errors.max() < 1e-10


def test_gradient_check_arguments():
    with pytest.raises(ValueError, match="reference"):
        X.block_gradient_check(CHECK, "jax")
    with pytest.raises(ValueError, match="seq_len"):
        X.block_gradient_check(CHECK, seq_len=7)
    with pytest.raises(ValueError, match="dropout"):
        X.block_gradient_check(CHECK.replace(dropout=0.1))
    with pytest.raises(TypeError, match="cfg"):
        X.block_gradient_check("tiny")


# ---------------------------------------------------------------------------------- attention, sampling


def test_attention_before_after(base_run, tiny):
    _, tok = tiny
    text = "the cat sees"
    ba = X.attention_before_after(base_run, text, tok)
    L, H, T = base_run.cfg.n_layer, base_run.cfg.n_head, len(text)
    assert ba.tokens == tuple(text)
    assert ba.random.shape == ba.trained.shape == (L, H, T, T)
    np.testing.assert_allclose(ba.trained.sum(-1), 1.0, rtol=1e-5)
    assert np.all(np.triu(ba.trained, 1) == 0)  # causal
    # "random" is the model training started from: the same seed's initial parameters
    init = model.init_params(base_run.cfg, base_run.train_cfg.seed)
    _, cache = model.forward(init, tok.encode(text)[None], base_run.cfg)
    np.testing.assert_array_equal(ba.random, model.attention_maps(cache)[:, 0])
    assert not np.allclose(ba.random, ba.trained)
    with pytest.raises(ValueError, match="block_size"):
        X.attention_before_after(base_run, "x" * 13, tok)
    with pytest.raises(TypeError, match="tokenizer"):
        X.attention_before_after(base_run, text, None)


def test_sampling_grid(base_run, tiny):
    _, tok = tiny
    temps, ks = (0.5, 1.0, 2.0), (None, 3)
    g = X.sampling_grid(
        base_run.result.params, base_run.cfg, tok, ["the ", "a"], temperatures=temps, top_ks=ks, n_new=6
    )
    assert g.probs.shape == (2, 3, 2, base_run.cfg.vocab_size) and g.vocab == tok.chars
    np.testing.assert_allclose(g.probs.sum(-1), 1.0)
    assert all(len(s) == 6 for p in g.samples for t in p for s in t)
    assert np.all((g.probs[:, :, 1] > 0).sum(-1) <= 3)  # top-3 keeps at most 3 characters (ties aside)
    top = g.probs[..., 0, :].max(-1)  # (P, n_temperatures), all characters
    assert np.all(np.diff(top, axis=1) < 0)  # a lower temperature sharpens the distribution
    again = X.sampling_grid(
        base_run.result.params, base_run.cfg, tok, ["the ", "a"], temperatures=temps, top_ks=ks, n_new=6
    )
    assert again.samples == g.samples  # seeded
    with pytest.raises(ValueError, match="temperatures"):
        X.sampling_grid(base_run.result.params, base_run.cfg, tok, ["a"], temperatures=(0.0,))
    with pytest.raises(ValueError, match="top_ks"):
        X.sampling_grid(base_run.result.params, base_run.cfg, tok, ["a"], top_ks=(0,))
    with pytest.raises(TypeError, match="prompts"):
        X.sampling_grid(base_run.result.params, base_run.cfg, tok, "a")


def test_valid_word_fraction():
    assert X.valid_word_fraction("the big cats see the dog.") == 1.0
    assert X.valid_word_fraction("the bgi cat sees\nthe dgo.") == pytest.approx(4 / 6)
    assert X.valid_word_fraction("") == 0.0
    with pytest.raises(TypeError):
        X.valid_word_fraction(3)


# ------------------------------------------------------------------------------------------------ Xiong


def test_post_ln_gradients_lean_towards_the_output_more_than_pre_ln(tiny):
    # Xiong et al.'s setting (Xavier init): last/first block ratio of the MLP gradient norms, Post > Pre.
    setup, _ = tiny
    cfg = setup.model.replace(n_layer=4)
    norms = X.init_grad_norms(cfg, SPEC, inits=("xavier",), seeds=(0, 1), batch_size=4)
    assert set(norms) == {("pre", "xavier"), ("post", "xavier")}
    ratio = {b: norms[b, "xavier"][-1] / norms[b, "xavier"][0] for b in ("pre", "post")}
    assert ratio["post"] > ratio["pre"]
    assert all(v.shape == (4,) and np.all(v > 0) for v in norms.values())


def test_init_grad_norms_arguments(tiny):
    setup, _ = tiny
    with pytest.raises(ValueError, match="attn_only"):
        X.init_grad_norms(setup.model.replace(attn_only=True), SPEC)
    with pytest.raises(ValueError, match="inits"):
        X.init_grad_norms(setup.model, SPEC, inits=("he",))
    with pytest.raises(ValueError, match="vocab_size"):
        X.init_grad_norms(setup.model.replace(vocab_size=5), SPEC)


def test_xiong_configs(tiny):
    setup, _ = tiny
    configs = X.xiong_configs(setup, n_layer=3, lrs=(1e-3, 1e-2), warmup_steps=2, steps=4)
    assert list(configs) == [1e-3, 1e-2]
    for lr, group in configs.items():
        assert list(group) == list(X.XIONG_RUNS)
        for name, (cfg, tc, label) in group.items():
            assert cfg.n_layer == 3 and cfg.block == name.split("-")[0] and tc.lr == lr
            assert (tc.warmup_steps == 0) == ("no-warmup" in name)
            assert isinstance(label, str) and label
            assert _diff(setup.model, cfg).keys() <= {"n_layer", "block"}
    with pytest.raises(ValueError, match="lrs"):
        X.xiong_configs(setup, lrs=(1e-3, 1e-3))
    with pytest.raises(ValueError, match="warmup_steps"):
        X.xiong_configs(setup, warmup_steps=5, steps=4)


def test_xiong_runs(tiny, cache):
    setup, _ = tiny
    runs = X.xiong_runs(setup, cache_dir=cache, n_layer=2, lrs=(1e-3,), warmup_steps=2, steps=3)
    group = runs[1e-3]
    assert list(group) == list(X.XIONG_RUNS)
    assert all(r.result.step == 3 and r.cfg.block == r.name.split("-")[0] for r in group.values())
