"""Chapter 10's experiment: the text rule, the trained model's cache entry (with Adam's state), the checkpoint a
reader downloads (loadable, resumable from the command line) and NumPy's reference forward pass."""

import numpy as np
import pytest

import attnbook.experiments.own_text as ot
from attnbook import cli, model
from attnbook.checkpoint import load_checkpoint
from attnbook.config import ModelConfig
from attnbook.data import CharTokenizer
from attnbook.experiments.training import Setup, chapter_setup
from attnbook.runs import cached_train

CHARS = "\n .abcdefghiklmnopqrstuvwy"  # the grammar corpus's vocabulary


@pytest.mark.parametrize(
    ("text", "block", "window", "folded", "skipped", "n_skipped", "n_cut"),
    [
        ("the cat", 64, "the cat", "", "", 0, 0),
        ("", 64, "", "", "", 0, 0),
        ("The Cat", 64, "the cat", "TC", "", 0, 0),
        ("THE", 64, "the", "THE", "", 0, 0),
        ("Zebra 3!", 64, "ebra ", "", "Z3!", 3, 0),  # z is not in the vocabulary, so Z is skipped, not folded
        ("jazz jazz", 64, "a a", "", "jz", 6, 0),
        ("é É 🙂", 64, "  ", "", "éÉ🙂", 3, 0),  # code points, as Python and the page iterate a string
        ("abcdefghik", 6, "efghik", "", "", 0, 4),
        ("ab.Cd", 4, "b.cd", "C", "", 0, 1),
        ("!!!", 64, "", "", "!", 3, 0),
    ],
)
def test_encode_text_keeps_folds_skips_and_windows(text, block, window, folded, skipped, n_skipped, n_cut):
    e = ot.encode_text(text, CHARS, block)
    assert (e.window, e.folded, e.skipped, e.n_skipped, e.n_cut) == (
        window,
        folded,
        skipped,
        n_skipped,
        n_cut,
    )
    assert e.text == text and e.ids.dtype == np.int64
    np.testing.assert_array_equal(e.ids, [CHARS.index(c) for c in window])


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        ((b"the", CHARS, 8), TypeError, "text"),
        (("the", "aab", 8), ValueError, "chars"),
        (("the", "", 8), ValueError, "chars"),
        (("the", CHARS, 0), ValueError, "block_size"),
    ],
)
def test_encode_text_bad_input(args, error, match):
    with pytest.raises(error, match=match):
        ot.encode_text(*args)


def test_setup_is_chapter_7s_with_a_longer_window():
    base, s = chapter_setup(), ot.own_text_setup()
    assert s.model == base.model.replace(block_size=ot.BLOCK_SIZE) and ot.BLOCK_SIZE >= 64
    assert s.train == base.train.replace(steps=ot.STEPS, eval_interval=100)
    assert s.data_spec == base.data_spec


@pytest.fixture
def tiny(monkeypatch, tmp_path):
    """own_text_model on a tiny setup (a few steps) in a temporary run cache."""
    base = chapter_setup()
    setup = Setup(
        base.data_spec,
        base.model.replace(block_size=8, d_model=8, n_head=2, d_ff=16),
        base.train.replace(steps=3, eval_interval=2, eval_batches=1, log_interval=1, batch_size=2),
    )
    monkeypatch.setattr(ot, "own_text_setup", lambda: setup)
    return setup, tmp_path


def test_the_model_is_trained_once_and_stored_with_adams_state(tiny, monkeypatch):
    setup, cache = tiny
    m = ot.own_text_model(cache)
    assert m.step == 3 and m.cfg == setup.model and m.opt_state is not None
    assert m.tokenizer.chars == CHARS and m.data_spec["kind"] == "grammar"

    def no_training(*a, **k):
        raise AssertionError("trained again instead of reading the cache")

    monkeypatch.setattr(ot, "train", no_training)
    again = ot.own_text_model(cache)
    for k, v in m.params.items():
        np.testing.assert_array_equal(again.params[k], v)
    assert set(again.opt_state) == set(m.opt_state)
    # The entry is the run cache's own: cached_train finds it and trains nothing.
    monkeypatch.setattr("attnbook.runs.train", no_training)
    r = cached_train(setup.model, setup.train, setup.data_spec, cache)
    np.testing.assert_array_equal(r.params["wte"], m.params["wte"])


def test_a_cache_entry_without_adams_state_is_trained_again(tiny):
    setup, cache = tiny
    cached_train(setup.model, setup.train, setup.data_spec, cache)  # no optimizer state in this entry
    m = ot.own_text_model(cache)
    assert m.opt_state is not None
    assert load_checkpoint(next(cache.glob("*.npz"))).opt_state is not None


def test_the_downloaded_checkpoint_loads_samples_and_resumes(tiny, tmp_path, capsys):
    setup, cache = tiny
    m = ot.own_text_model(cache)
    path = ot.save_model(m, tmp_path / "out" / "own_text_model.npz")
    ck = load_checkpoint(path)
    assert ck.cfg == m.cfg and ck.train_cfg == m.train_cfg and ck.step == m.step
    assert CharTokenizer.from_dict(ck.extra["tokenizer"]).chars == CHARS
    for k, v in m.params.items():
        np.testing.assert_array_equal(ck.params[k], v)
        assert ck.params[k].dtype == np.float32
    assert cli.main(["info", str(path)]) == 0
    assert cli.main(["sample", str(path), "--prompt=the cat ", "--tokens=5"]) == 0
    more = tmp_path / "more.npz"
    code = cli.main(["train", f"--resume={path}", "--steps=4", f"--out={more}", "--quiet", "--sample=0"])
    assert code == 0 and load_checkpoint(more).step == 4
    capsys.readouterr()
    with pytest.raises(TypeError, match="OwnTextModel"):
        ot.save_model({"params": m.params}, tmp_path / "x.npz")


@pytest.mark.parametrize(
    ("over", "stages"),
    [
        ({}, ("embedding + position", "after block 1", "after block 2", "after the final norm")),
        ({"block": "post"}, ("embedding + position", "after block 1", "after block 2")),
        ({"norm": "none", "n_layer": 1}, ("embedding + position", "after block 1")),
    ],
)
def test_stream_stages(over, stages):
    assert ot.stream_stages(ModelConfig(**over)) == stages


def test_reference_is_numpys_forward_pass_in_float64():
    cfg = ModelConfig(vocab_size=len(CHARS), block_size=8, d_model=8, n_layer=2, n_head=2, d_ff=16)
    params = model.init_params(cfg, 0)
    texts = ["the cat", "", "The Zebra sees the cats!", "t"]
    ref = ot.reference(params, cfg, CHARS, texts)
    assert ref.stages == ot.stream_stages(cfg)
    for text, e, logp, att, stream in zip(
        texts, ref.encoded, ref.log_probs, ref.attention, ref.stream, strict=True
    ):
        assert e == ot.encode_text(text, CHARS, cfg.block_size)._replace(ids=e.ids)
        T = len(e.window)
        assert logp.shape == (T, cfg.vocab_size) and att.shape == (2, 2, T, T) and stream.shape == (4, T, 8)
        if T == 0:
            continue
        p64 = {k: v.astype(np.float64) for k, v in params.items()}
        logits, cache = model.forward(p64, e.ids[None], cfg)
        np.testing.assert_allclose(np.exp(logp), np.exp(logits[0]) / np.exp(logits[0]).sum(-1, keepdims=True))
        np.testing.assert_allclose(att, model.attention_maps(cache)[:, 0])
        np.testing.assert_allclose(stream[0], cache.embedding[0])
        np.testing.assert_allclose(stream[-1], cache.xf)
        # Causal: the reference of a prefix is the first rows of the whole.
        head = ot.reference(params, cfg, CHARS, [e.window[: T // 2 + 1]])
        np.testing.assert_allclose(head.log_probs[0], logp[: T // 2 + 1], atol=1e-12)
    assert ref.encoded[2].n_cut > 0  # longer than the window of 8


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        (lambda p, c: ({}, c, CHARS, "the"), TypeError, "texts"),
        (lambda p, c: (p, "cfg", CHARS, ["the"]), TypeError, "cfg"),
        (lambda p, c: (p, c, CHARS[:-1], ["the"]), ValueError, "chars"),
        (lambda p, c: ([1], c, CHARS, ["the"]), TypeError, "params"),
    ],
)
def test_reference_bad_input(args, error, match):
    cfg = ModelConfig(vocab_size=len(CHARS), block_size=8, d_model=8, n_layer=1, n_head=2, d_ff=16)
    with pytest.raises(error, match=match):
        ot.reference(*args(model.init_params(cfg, 0), cfg))
