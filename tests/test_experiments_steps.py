"""Chapter 2's sweep: every state equals one call of attention_steps, against a loop-by-loop reference; bad input."""

import numpy as np
import pytest

from attnbook.attention import attention_steps
from attnbook.experiments.steps import TEMPERATURES, steps_sweep
from attnbook.masks import causal

T, C, H = 4, 6, 2
D = C // H


def inputs(seed=3):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((T, C))
    w_q, w_k, w_v, w_o = rng.standard_normal((4, C, C)) / np.sqrt(C)
    return dict(
        tokens=["the", "cat", "sat", "the"],
        token_ids=np.array([1, 5, 9, 1]),
        x=x,
        w_q=w_q,
        w_k=w_k,
        w_v=w_v,
        w_o=w_o,
    )


def naive_weights(x, w_q, w_k, h, tau, masked):
    """Head ``h``'s softmax(q kᵀ / (√D τ)) row by row, keys j > i left out when ``masked``."""
    q, k = x @ w_q[:, h * D : (h + 1) * D], x @ w_k[:, h * D : (h + 1) * D]
    out = np.zeros((T, T))
    for i in range(T):
        keys = [j for j in range(T) if not masked or j <= i]
        s = np.array([q[i] @ k[j] / (np.sqrt(D) * tau) for j in keys])
        e = np.exp(s - s.max())
        out[i, keys] = e / e.sum()
    return out


@pytest.fixture(scope="module")
def sweep():
    return steps_sweep(**inputs(), n_head=H)


def test_shapes_lead_with_the_settings_each_intermediate_depends_on(sweep):
    N = len(TEMPERATURES)
    assert sweep.temperatures == TEMPERATURES and TEMPERATURES[0] == 0.25 and TEMPERATURES[-1] == 3.0
    assert sweep.tokens == ("the", "cat", "sat", "the") and sweep.token_ids.tolist() == [1, 5, 9, 1]
    assert sweep.x.shape == (T, C) and sweep.q.shape == sweep.v.shape == (H, T, D)
    assert sweep.scores.shape == (H, T, T) and sweep.scaled.shape == (N, H, T, T)
    assert sweep.masked.shape == sweep.weights.shape == (N, 2, H, T, T)
    assert sweep.weighted.shape == (N, 2, H, T, D) and sweep.concat.shape == sweep.out.shape == (N, 2, T, C)


@pytest.mark.parametrize("ti", [0, TEMPERATURES.index(1.0), len(TEMPERATURES) - 1])
@pytest.mark.parametrize("mi", [0, 1])
def test_every_state_is_one_run_of_attention_steps(sweep, ti, mi):
    a = inputs()
    ref = attention_steps(
        a["x"],
        a["w_q"],
        a["w_k"],
        a["w_v"],
        a["w_o"],
        H,
        mask=causal(T) if mi else None,
        temperature=TEMPERATURES[ti],
    )
    for f in ("x", "q", "k", "v", "scores"):
        np.testing.assert_array_equal(getattr(sweep, f), getattr(ref, f))
    np.testing.assert_array_equal(sweep.scaled[ti], ref.scaled)
    for f in ("masked", "weights", "weighted", "concat", "out"):
        np.testing.assert_array_equal(getattr(sweep, f)[ti, mi], getattr(ref, f))
    for h in range(H):
        expected = naive_weights(a["x"], a["w_q"], a["w_k"], h, TEMPERATURES[ti], mi == 1)
        np.testing.assert_allclose(sweep.weights[ti, mi, h], expected, atol=1e-12)


def test_the_causal_states_hide_the_future(sweep):
    upper = np.triu(np.ones((T, T), dtype=bool), 1)
    assert np.isneginf(sweep.masked[:, 1][..., upper]).all() and np.isfinite(sweep.masked[:, 0]).all()
    assert (sweep.weights[:, 1][..., upper] == 0).all()
    np.testing.assert_allclose(sweep.weights.sum(-1), 1.0)
    # a lower temperature sharpens every row: the largest weight grows
    top = sweep.weights[:, 0].max(-1).mean(axis=(1, 2))  # (N,)
    assert (np.diff(top) < 0).all()


def test_other_temperatures():
    s = steps_sweep(**inputs(), n_head=H, temperatures=[0.5, 2])
    assert s.temperatures == (0.5, 2.0) and s.weights.shape[0] == 2
    np.testing.assert_allclose(s.scaled[1] * 4, s.scaled[0])


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        (dict(tokens=["a", "b"]), ValueError, "tokens must have T = 4"),
        (dict(tokens="abcd"), TypeError, "tokens"),
        (dict(token_ids=np.array([0, 1, 2])), ValueError, "token_ids"),
        (dict(token_ids=np.array([0, -1, 2, 0])), ValueError, "token_ids"),
        (dict(token_ids=np.zeros(4)), TypeError, "token_ids"),
        (dict(x=np.zeros(4)), ValueError, "x"),
        (dict(x=np.zeros((T, C), dtype=int)), TypeError, "x"),
        (dict(w_k=np.zeros((C, C + 1))), ValueError, "w_k"),
        (dict(n_head=4), ValueError, "n_head"),
        (dict(temperatures=[]), TypeError, "temperatures"),
        (dict(temperatures=1.0), TypeError, "temperatures"),
        (dict(temperatures=[1.0, 0.5]), ValueError, "increasing"),
        (dict(temperatures=[0.0, 1.0]), ValueError, "temperatures"),
    ],
)
def test_bad_input(change, error, match):
    kwargs = {**inputs(), "n_head": H, **change}
    with pytest.raises(error, match=match):
        steps_sweep(**kwargs)
