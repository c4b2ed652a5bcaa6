"""The NumPy BERT on all-MiniLM-L6-v2 against transformers' BertModel (eager attention) on the same files.

Both run in float64, so any difference beyond rounding (~1e-14 measured) is a real disagreement; the
tolerance asked of the book is 1e-5. One float32-vs-float32 check covers the default dtype.
"""

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # never reach the network: the model is local files only

import numpy as np
import pytest
import torch
import transformers

from attnbook.pretrained import minilm

pytestmark = pytest.mark.reference

ATOL = 1e-5

SENTENCES = {
    "plain": ("The quick brown fox jumps over the lazy dog.", None),
    "punctuation": ("Wait... what?! No -- really; (yes), \"quoted\" & 'single' #tags @you.", None),
    "unicode": ("Café naïve résumé: Zürich, São Paulo, Øresund, 東京 and Москва — ça va?", None),
    "numbers": ("In 1969, 3 astronauts flew 384,400 km; pi is 3.14159 and 2^10 = 1024.", None),
    "one_word": ("Hello", None),
    "long": (
        " ".join(
            f"Sentence number {i} says that the {w} sat on the mat, and then it left."
            for i, w in enumerate(
                ["cat", "dog", "bird", "fish", "mouse", "horse", "cow", "goat", "owl", "fox"]
            )
        ),
        None,
    ),
    "pair": ("Where did the cat sit?", "The cat sat on the mat near the door."),
}


@pytest.fixture(scope="module")
def torch_bert():
    """The reference model, loaded once per module from the package's directory (no download)."""
    model = transformers.BertModel.from_pretrained(
        str(minilm.model_dir()), attn_implementation="eager", local_files_only=True
    )
    return model.eval()


def _reference(model, ids, types, dtype):
    model = model.to(dtype)
    with torch.no_grad():
        out = model(
            input_ids=torch.from_numpy(ids)[None],
            token_type_ids=torch.from_numpy(types)[None],
            attention_mask=torch.ones(1, len(ids), dtype=torch.long),
            output_attentions=True,
            output_hidden_states=True,
        )
    attn = torch.stack(out.attentions)[:, 0].numpy()  # (L, H, T, T)
    hidden = torch.stack(out.hidden_states)[:, 0].numpy()  # (L + 1, T, C)
    pooled = out.last_hidden_state[0].mean(dim=0)  # sentence-transformers' mean pooling (no padding)
    normalized = torch.nn.functional.normalize(pooled, dim=0)
    return attn, hidden, pooled.numpy(), normalized.numpy()


def _report(name, ours, ref):
    diff = np.abs(ours - ref)
    where = np.unravel_index(int(np.argmax(diff)), diff.shape)
    return f"{name}: max |diff| {diff.max():.3g} at {where}: ours {ours[where]!r}, torch {ref[where]!r}"


@pytest.mark.parametrize("key", list(SENTENCES))
def test_matches_transformers_float64(torch_bert, key):
    text, pair = SENTENCES[key]
    out = minilm.encode(text, pair, dtype=np.float64)
    _, ids, types = minilm.tokenize(text, pair)
    attn, hidden, pooled, normalized = _reference(torch_bert, ids, types, torch.float64)
    assert out.attentions.dtype == np.float64
    assert out.attentions.shape == attn.shape
    assert out.hidden_states.shape == hidden.shape
    np.testing.assert_allclose(
        out.attentions, attn, rtol=0, atol=ATOL, err_msg=_report("attn", out.attentions, attn)
    )
    np.testing.assert_allclose(
        out.hidden_states, hidden, rtol=0, atol=ATOL, err_msg=_report("hidden", out.hidden_states, hidden)
    )
    np.testing.assert_allclose(out.pooled, pooled, rtol=0, atol=ATOL)
    unit = minilm.encode(text, pair, normalize=True, dtype=np.float64).pooled
    np.testing.assert_allclose(unit, normalized, rtol=0, atol=ATOL)


def test_matches_transformers_float32(torch_bert):
    """Default dtype: float32 against float32 torch (measured ~3e-6; summation order differs)."""
    text, pair = SENTENCES["pair"]
    out = minilm.encode(text, pair)
    _, ids, types = minilm.tokenize(text, pair)
    attn, hidden, pooled, _ = _reference(torch_bert, ids, types, torch.float32)
    assert out.hidden_states.dtype == np.float32
    np.testing.assert_allclose(out.attentions, attn, rtol=0, atol=2e-5)
    np.testing.assert_allclose(out.hidden_states, hidden, rtol=0, atol=5e-5)
    np.testing.assert_allclose(out.pooled, pooled, rtol=0, atol=2e-5)


def test_sentence_pair_uses_token_types(torch_bert):
    """The pair's second segment is type 1; getting it wrong would change every hidden state."""
    text, pair = SENTENCES["pair"]
    tokens, ids, types = minilm.tokenize(text, pair)
    first_sep = tokens.index("[SEP]")
    assert np.all(types[: first_sep + 1] == 0) and np.all(types[first_sep + 1 :] == 1)
    _, hidden, _, _ = _reference(torch_bert, ids, np.zeros_like(types), torch.float64)
    ours = minilm.encode(text, pair, dtype=np.float64).hidden_states
    assert np.abs(ours - hidden).max() > 1e-3  # the token-type embedding matters


@pytest.mark.parametrize("key", ["punctuation", "unicode", "numbers", "pair"])
def test_tokens_match_python_wordpiece(key):
    """Our ids (Rust tokenizers on tokenizer.json) equal transformers' pure-Python WordPiece on vocab.txt."""
    text, pair = SENTENCES[key]
    tokens, ids, types = minilm.tokenize(text, pair)
    slow = transformers.models.bert.BertTokenizerLegacy(
        vocab_file=str(minilm.model_dir() / "vocab.txt"), do_lower_case=True
    )
    ref = slow(text, pair, return_token_type_ids=True)
    assert ids.tolist() == ref["input_ids"]
    assert types.tolist() == ref["token_type_ids"]
    assert tokens == slow.convert_ids_to_tokens(ref["input_ids"])


def test_long_sentence_is_long():
    """The "long" case really exercises ~200 positions (a guard on the test data itself)."""
    tokens, _, _ = minilm.tokenize(*SENTENCES["long"])
    assert 150 <= len(tokens) <= 300
