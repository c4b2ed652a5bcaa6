"""Masks: patterns against explicit loops, shapes, dtypes and the errors on bad input."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attnbook import masks

SMALL = settings(max_examples=40, deadline=None)


def loop_mask(T, allowed):
    out = np.zeros((T, T), dtype=bool)
    for i in range(T):
        for j in range(T):
            out[i, j] = allowed(i, j)
    return out


@SMALL
@given(T=st.integers(1, 12))
def test_causal_matches_loop(T):
    m = masks.causal(T)
    assert m.dtype == np.bool_ and m.shape == (T, T)
    np.testing.assert_array_equal(m, loop_mask(T, lambda i, j: j <= i))


@SMALL
@given(T=st.integers(1, 12), window=st.integers(0, 14))
def test_local_matches_loop(T, window):
    m = masks.local(T, window)
    assert m.dtype == np.bool_ and m.shape == (T, T)
    np.testing.assert_array_equal(m, loop_mask(T, lambda i, j: abs(i - j) <= window))
    np.testing.assert_array_equal(m, m.T)  # documented as symmetric
    mc = masks.local(T, window, causal=True)
    np.testing.assert_array_equal(mc, loop_mask(T, lambda i, j: i - window <= j <= i))


def test_local_window_extremes():
    np.testing.assert_array_equal(masks.local(5, 0), np.eye(5, dtype=bool))
    assert masks.local(5, 4).all()
    np.testing.assert_array_equal(masks.local(5, 4, causal=True), masks.causal(5))


@SMALL
@given(data=st.data())
def test_global_local_matches_loop(data):
    T = data.draw(st.integers(1, 12))
    window = data.draw(st.integers(0, 5))
    n_global = data.draw(st.integers(0, T))

    def allowed(i, j):
        return i < n_global or j < n_global or abs(i - j) <= window

    m = masks.global_local(T, window, n_global)
    assert m.dtype == np.bool_ and m.shape == (T, T)
    np.testing.assert_array_equal(m, loop_mask(T, allowed))
    mc = masks.global_local(T, window, n_global, causal=True)
    np.testing.assert_array_equal(mc, loop_mask(T, lambda i, j: allowed(i, j) and j <= i))


def test_global_local_zero_globals_is_local():
    np.testing.assert_array_equal(masks.global_local(7, 2, 0), masks.local(7, 2))
    assert masks.global_local(4, 0, 4).all()


@SMALL
@given(T=st.integers(1, 8), lengths=st.lists(st.integers(0, 8), min_size=1, max_size=4))
def test_padding_matches_loop(T, lengths):
    lengths = [min(n, T) for n in lengths]
    m = masks.padding(np.array(lengths), T)
    assert m.dtype == np.bool_ and m.shape == (len(lengths), T, T)
    for b, n in enumerate(lengths):
        np.testing.assert_array_equal(m[b], loop_mask(T, lambda i, j, n=n: j < n))
    m[0, 0, 0] = not m[0, 0, 0]  # the result is a writable array of its own, not a broadcast view


def test_padding_accepts_list_and_zero_length():
    m = masks.padding([3, 0], 3)
    assert m[0].all() and not m[1].any()


def test_combine_and_count():
    c = masks.combine(masks.causal(4), masks.padding([2, 4], 4))  # (4, 4) & (2, 4, 4) -> (2, 4, 4)
    assert c.shape == (2, 4, 4) and c.dtype == np.bool_
    expected = np.array(
        [loop_mask(4, lambda i, j: j <= i and j < 2), loop_mask(4, lambda i, j: j <= i)], dtype=bool
    )
    np.testing.assert_array_equal(c, expected)
    assert masks.count_allowed(masks.causal(5)) == 15  # T (T + 1) / 2
    assert masks.count_allowed(masks.local(5, 1)) == 5 + 2 * 4  # diagonal + two off-diagonals
    assert masks.count_allowed(c) == int(expected.sum())
    assert isinstance(masks.count_allowed(c), int)
    single = masks.causal(3)
    np.testing.assert_array_equal(masks.combine(single), single)


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda: masks.causal(0), ValueError, "T"),
        (lambda: masks.causal(3.0), TypeError, "T"),
        (lambda: masks.causal(True), TypeError, "T"),
        (lambda: masks.local(4, -1), ValueError, "window"),
        (lambda: masks.local(4, 1.5), TypeError, "window"),
        (lambda: masks.local(0, 1), ValueError, "T"),
        (lambda: masks.local(4, 1, causal=1), TypeError, "causal"),
        (lambda: masks.global_local(4, 1, 5), ValueError, "n_global"),
        (lambda: masks.global_local(4, 1, -1), ValueError, "n_global"),
        (lambda: masks.global_local(4, -2, 1), ValueError, "window"),
        (lambda: masks.padding([5], 4), ValueError, "lengths"),
        (lambda: masks.padding([-1], 4), ValueError, "lengths"),
        (lambda: masks.padding([[1, 2]], 4), ValueError, "lengths"),
        (lambda: masks.padding(np.array([1.0]), 4), TypeError, "lengths"),
        (lambda: masks.padding([1], 0), ValueError, "T"),
        (lambda: masks.combine(), ValueError, "masks"),
        (lambda: masks.combine(masks.causal(3), np.ones((3, 3))), TypeError, "masks"),
        (lambda: masks.combine(masks.causal(3), masks.causal(4)), ValueError, "masks"),
        (lambda: masks.count_allowed(np.ones(3)), TypeError, "mask"),
    ],
)
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
