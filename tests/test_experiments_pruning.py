"""Head importance (Michel et al. 2019): the gate gradients against finite differences of the loss in the head mask,
and the ablation deltas against removing each head by hand."""

import numpy as np
import pytest

from attnbook import model
from attnbook.analysis import token_losses
from attnbook.config import ModelConfig
from attnbook.experiments.pruning import head_gate_gradients, head_importance

TINY = ModelConfig(
    vocab_size=7, block_size=6, d_model=8, n_layer=2, n_head=2, d_ff=4, attn_only=True, pos="rope"
)


def window_losses(params, x, y, head_mask=None):
    """(W,) mean loss of each window with the heads scaled by ``head_mask``."""
    logits, _ = model.forward(params, x, TINY, head_mask=head_mask)
    return token_losses(logits, y).mean(axis=1)


def test_head_gate_gradients_match_finite_differences():
    params = model.init_params(TINY, 3, dtype=np.float64)
    params = {k: v + 0.3 * np.random.default_rng(4).standard_normal(v.shape) for k, v in params.items()}
    rng = np.random.default_rng(2)
    x, y = rng.integers(0, 7, (3, 6)), rng.integers(0, 7, (3, 6))
    g = head_gate_gradients(params, TINY, x, y)  # (n_layer, W, H)
    assert g.shape == (2, 3, 2)
    eps = 1e-6
    for layer in range(2):
        for h in range(2):
            m = np.ones((2, 2))
            m[layer, h] = 1 + eps
            up = window_losses(params, x, y, m)
            m[layer, h] = 1 - eps
            down = window_losses(params, x, y, m)
            np.testing.assert_allclose(g[layer, :, h], (up - down) / (2 * eps), rtol=1e-6, atol=1e-9)
    imp = head_importance(params, TINY, x, y)
    np.testing.assert_allclose(imp.importance, np.abs(g).mean(axis=1))
    assert imp.base_loss == pytest.approx(window_losses(params, x, y).mean())
    for layer in range(2):
        for h in range(2):
            m = np.ones((2, 2))
            m[layer, h] = 0
            expected = window_losses(params, x, y, m).mean() - window_losses(params, x, y).mean()
            assert imp.ablation_delta[layer, h] == pytest.approx(expected)


def test_bad_input():
    params = model.init_params(TINY, 0)
    x = np.zeros((2, 6), dtype=int)
    with pytest.raises(ValueError, match="same shape"):
        head_gate_gradients(params, TINY, x, x[:, :3])
    with pytest.raises(ValueError, match="y"):
        head_gate_gradients(params, TINY, x, x + 7)
    with pytest.raises(ValueError, match="targets"):
        head_importance(params, TINY, x, x[:, :3])
