"""The multi-head figures: grid layout, payloads against independent computations, view in several states, names,
bad input."""

import numpy as np
import pytest
from bokeh.models import ColumnDataSource, RadioButtonGroup, Widget

from attnbook.attention import attention_steps
from attnbook.experiments.multihead import Heads, heads_from_steps
from attnbook.masks import causal
from attnbook.viz.figure import pick
from attnbook.viz.multihead import (
    HEAD_COLORS,
    grid_shape,
    head_split_figure,
    multihead_figure,
    payload,
    split_layout,
    split_payload,
)

T, C = 5, 6
COUNTS = (1, 2, 3, 6)
TOKENS = [f"t{i}" for i in range(T)]


def random_views(seed=0, counts=COUNTS):
    rng = np.random.default_rng(seed)
    x, ws = rng.standard_normal((T, C)), rng.standard_normal((4, C, C))
    return {H: heads_from_steps(attention_steps(x, *ws, H, mask=causal(T))) for H in counts}


def check_names(layout, prefix):
    for m in [*layout.select({"type": Widget}), *layout.select({"type": ColumnDataSource})]:
        assert m.name and m.name.startswith(f"{prefix}-"), m
    names = [m.name for m in layout.references() if getattr(m, "name", None)]
    assert len(names) == len(set(names)), "model names must be unique"
    return {m.name: m for m in layout.references() if getattr(m, "name", None)}


@pytest.mark.parametrize("n_head", [1, 2, 3, 4, 5, 6, 8, 12, 16])
def test_grid_shape_fits_and_has_no_empty_row(n_head):
    ncols, nrows, size = grid_shape(n_head, 740, 500)
    assert ncols * nrows >= n_head > (nrows - 1) * ncols
    assert ncols * size + (ncols - 1) * 14 <= 740 + 1e-9
    assert nrows * (size + 26) + (nrows - 1) * 14 <= 500 + 1e-9  # 26: key labels and title over a panel
    # no other column count gives bigger square panels
    for c in range(1, n_head + 1):
        r = -(-n_head // c)
        assert min((740 - 14 * (c - 1)) / c, (500 - 26 * r - 14 * (r - 1)) / r) <= size + 1e-9


# --- the split ----------------------------------------------------------------------------------------------


def split(frames=8):
    q = np.random.default_rng(3).standard_normal((T, C))
    return q, split_payload(TOKENS, q, COUNTS, frames=frames)


@pytest.mark.parametrize("H", COUNTS)
def test_split_view_moves_each_column_from_its_place_to_its_sheet(H):
    q, p = split(frames=8)
    D = C // H
    # Written out per cell: column j of token i belongs to head h = j // D, position d = j % D in it.
    for step, expect in (
        (0, lambda i, j, h, d: (j, -i)),  # (T, C): the columns where they are
        (4, lambda i, j, h, d: (j + 0.6 * h, -i)),  # (T, H, D): groups apart
        # (H, T, D): a stack of sheets, each half a row up, closer when many would rise more than 2 rows
        (8, lambda i, j, h, d: (d + 0.5 * h, -i + min(0.5, 2 / max(H - 1, 1)) * h)),
    ):
        v = p.view({"heads": str(H), "progress": step})["cells"]
        got = {
            (tok, col.split(" ")[0]): (x, y, val)
            for tok, col, x, y, val in zip(v["token"], v["column"], v["x"], v["y"], v["value"], strict=True)
        }
        for i in range(T):
            for j in range(C):
                x, y, val = got[(TOKENS[i], f"c{j}")]
                np.testing.assert_allclose((x, y), expect(i, j, j // D, j % D), atol=1e-12)
                assert val == np.float32(q[i, j])
        if H > 1:  # back sheets first: head 1 is drawn last, on top
            assert v["head"][0] == str(H) and v["head"][-1] == "1"
            assert v["color"][-1] == HEAD_COLORS[0]


def test_split_view_labels_and_caption():
    _, p = split(frames=8)
    start = p.view({"heads": "3", "progress": 0})
    assert start["head-labels"]["text"] == ["h1", "h2", "h3"]
    assert (
        "(T, C) = (5, 6)" in start["caption"]["text"] and "D = C / H = 6 / 3 = 2" in start["caption"]["text"]
    )
    mid = p.view({"heads": "3", "progress": 3})["caption"]["text"]
    assert "(T, H, D) = (5, 3, 2)" in mid and "3 groups of 2" in mid and "step 3 of 8" in mid
    end = p.view({"heads": "3", "progress": 8})
    assert "(H, T, D) = (3, 5, 2)" in end["caption"]["text"] and "3 separate" in end["caption"]["text"]
    assert end["head-labels"]["text"] == ["h1", "", "h3"]  # the stack shows its front and back sheets only
    assert end["head-labels"]["y"][0] < -T  # the front sheet's label sits below the stack
    one = p.view({"heads": "1", "progress": 8})["caption"]["text"]
    assert "1 separate (T, D) = (5, 6) matrix" in one and "nothing to split" in one


def test_split_cells_show_the_values_of_q():
    q, p = split(frames=8)
    for step in (0, 3, 4):  # before the sheets stack: every cell shows its value
        v = p.view({"heads": "3", "progress": step})["cells"]
        assert v["label"] == [f"{x:.1f}" for x in v["value"].tolist()]
    v = p.view({"heads": "3", "progress": 8})["cells"]  # stacked: the front sheet only (head 1)
    assert [lab != "" for lab in v["label"]] == [h == "1" for h in v["head"]]
    assert "value of Q" in p.view({"heads": "3", "progress": 0})["caption"]["text"]
    # written dark on light head colours and white on dark ones
    assert (
        p.inks[HEAD_COLORS.index("#1f77b4")] == "#ffffff"
        and p.inks[HEAD_COLORS.index("#ff7f0e")] == "#222222"
    )
    assert v["ink"] == [p.inks[int(h) - 1] for h in v["head"]]


def test_split_payload_and_names():
    q, p = split(frames=8)
    np.testing.assert_array_equal(p.q, q.astype(np.float32))
    assert p.controls[0].values == ("1", "2", "3", "6") and p.controls[1].values == tuple(range(9))
    layout = head_split_figure(TOKENS, q, COUNTS, n_head=2, frames=8)
    models = check_names(layout, "split")
    assert models["split-heads"].value == "2" and models["split-heads"].options == ["1", "2", "3", "6"]
    assert models["split-progress"].end == 8 and models["split-play"].label.endswith("Play")
    assert {"split-cells", "split-head-labels", "split-payload", "split-caption"} <= set(models)
    assert split_layout(p).select_one({"name": "split-heads"}).value == "2"  # the second smallest count


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(head_counts=(1, 4)), ValueError, "divide"),
        (dict(head_counts=(2, 1)), ValueError, "increasing"),
        (dict(head_counts="12"), TypeError, "head_counts"),
        (dict(head_counts=()), TypeError, "head_counts"),
        (dict(n_head=4), ValueError, "n_head"),
        (dict(frames=7), ValueError, "frames"),
        (dict(tokens=["a"] * (T + 1)), ValueError, "tokens"),
        (dict(q=np.ones((T, C), dtype=int)), TypeError, "q"),
        (dict(name=""), TypeError, "name"),
    ],
)
def test_split_figure_bad_input(kwargs, error, match):
    a = dict(tokens=TOKENS, q=np.ones((T, C)), head_counts=COUNTS)
    a.update(kwargs)
    with pytest.raises(error, match=match):
        head_split_figure(**a)


# --- the heads at work ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def views():
    return {"random": random_views(0), "other": random_views(1)}


@pytest.mark.parametrize(("mode", "H"), [(0, 1), (0, 3), (1, 2), (1, 6)])
def test_grid_view_matches_the_heads(views, mode, H):
    p = payload(TOKENS, views, mask=causal(T))
    heads = views[("random", "other")[mode]][H]
    v = p.view({"heads": str(H), "mode": mode})
    w = heads.weights.astype(np.float32)
    cells = v["cells"]
    assert len(cells["weight"]) == H * T * T
    for n, (h, qt, kt) in enumerate(zip(cells["head"], cells["q_token"], cells["k_token"], strict=True)):
        i, j = TOKENS.index(qt), TOKENS.index(kt)
        assert cells["weight"][n] == w[int(h) - 1, i, j]
        assert np.isnan(cells["color"][n]) == (j > i)  # the causal mask greys the future
    # each head's cells fill its own square panel, inside the grid, without overlapping another head's
    width, height = p.grid_size
    boxes = []
    for h in range(H):
        sel = np.array(cells["head"]) == str(h + 1)
        x, y, s = cells["x"][sel], cells["y"][sel], cells["size"][sel]
        assert np.allclose(s, s[0]) and np.isclose(x.max() - x.min() + s[0], T * s[0])
        box = (x.min() - s[0] / 2, x.max() + s[0] / 2, y.min() - s[0] / 2, y.max() + s[0] / 2)
        assert 0 <= box[0] and box[1] <= width and -height <= box[2] and box[3] <= 0
        boxes.append(box)
    for a in range(H):
        for b in range(a):
            assert (
                boxes[a][0] >= boxes[b][1]
                or boxes[b][0] >= boxes[a][1]
                or boxes[a][2] >= boxes[b][3]
                or (boxes[b][2] >= boxes[a][3])
            )
    assert v["titles"]["text"] == [f"head {h + 1}: entropy {e:.2f}" for h, e in enumerate(heads.entropy)]
    np.testing.assert_allclose(v["mean-cells"]["weight"], heads.weights.mean(0).ravel(), atol=1e-6)
    for part in ("concat", "out"):
        value = getattr(heads, part)
        np.testing.assert_allclose(v[part]["value"], value.ravel(), rtol=1e-6)
        np.testing.assert_allclose(v[part]["color"], (value / np.abs(value).max()).ravel(), rtol=1e-5)
    # a bar per head; a thin separator between two heads unless each head is one column (then bars suffice)
    D = C // H
    assert len(v["lines"]["x0"]) == (2 * H - 1 if D > 1 else H)
    assert v["lines"]["color"][0] == HEAD_COLORS[0] and v["lines"]["width"][0] == 3
    assert v["lines"]["width"][2::2] == (1.0,) * (H - 1) if D > 1 else set(v["lines"]["width"]) == {3}
    # every panel has its query characters down its left and its key characters over its top, inside the grid
    ax, cell = v["axis-labels"], float(pick(p, "panel_size", {"heads": str(H)})) / T
    assert ax["text"] == [*TOKENS, *TOKENS] * H and len(set(ax["size"])) == 1
    for h, box in enumerate(boxes):
        left, top = slice(2 * T * h, 2 * T * h + T), slice(2 * T * h + T, 2 * T * (h + 1))
        assert all(x < box[0] and x > 0 for x in ax["x"][left]) and set(ax["align"][left]) == {"right"}
        assert np.allclose(ax["y"][left], box[3] - (np.arange(T) + 0.5) * cell)
        assert all(y > box[3] for y in ax["y"][top]) and set(ax["baseline"][top]) == {"bottom"}
        assert np.allclose(ax["x"][top], box[0] + (np.arange(T) + 0.5) * cell)
        assert v["titles"]["y"][h] > max(ax["y"][top])  # the title sits above the key labels
    assert v["caption"]["text"].startswith(f"<b>{('random', 'other')[mode]}</b>: H = {H} head")


def test_grid_payload_pads_heads_and_indexes_by_mode_and_count(views):
    p = payload(TOKENS, views)
    assert p.weights.shape == (2, len(COUNTS), max(COUNTS), T, T) and p.weights.dtype == np.float32
    w = pick(p, "weights", {"heads": "2", "mode": 1})
    np.testing.assert_array_equal(w[:2], views["other"][2].weights.astype(np.float32))
    assert not w[2:].any()
    assert p.mask.all()  # no mask given: nothing greyed
    assert p.modes == ("random", "other") and p.controls[1].attr == "active"


def test_grid_figure_names_and_widgets(views):
    layout = multihead_figure(TOKENS, views, mask=causal(T), n_head=3, mode="random")
    models = check_names(layout, "multihead")
    group = models["multihead-mode"]
    assert isinstance(group, RadioButtonGroup) and group.labels == ["random", "other"] and group.active == 0
    assert group.visible and models["multihead-heads"].value == "3"
    assert {"multihead-cells", "multihead-mean-cells", "multihead-concat", "multihead-out"} <= set(models)
    single = multihead_figure(TOKENS, {"random": random_views()})
    group = single.select_one({"name": "multihead-mode"})
    assert not group.visible  # one set of weights: nothing to switch
    assert single.select_one({"name": "multihead-heads"}).value == str(COUNTS[1])


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        (lambda v: {}, TypeError, "views"),
        (lambda v: {"a": v["a"], "b": {H: v["a"][H] for H in COUNTS[:-1]}}, ValueError, "head counts"),
        (lambda v: {"a": {**v["a"], 2: (1, 2, 3)}}, TypeError, "Heads"),
        (
            lambda v: {"a": {**v["a"], 2: v["a"][2]._replace(weights=np.ones((3, T, T)))}},
            ValueError,
            "weights",
        ),
        (
            lambda v: {"a": {**v["a"], 2: v["a"][2]._replace(concat=np.ones((T, C + 1)))}},
            ValueError,
            "concat",
        ),
        (lambda v: {"a": {**v["a"], 2: v["a"][2]._replace(entropy=np.ones(3))}}, ValueError, "entropy"),
        (lambda v: {"a": {**v["a"], 4: v["a"][2]}}, ValueError, "divide"),
        (lambda v: {1: v["a"]}, TypeError, "mode labels"),
    ],
)
def test_grid_figure_bad_views(change, error, match):
    views = change({"a": random_views()})
    with pytest.raises(error, match=match):
        multihead_figure(TOKENS, views)


def test_grid_figure_bad_options(views):
    with pytest.raises(ValueError, match="mask"):
        multihead_figure(TOKENS, views, mask=np.ones((T, T)))
    with pytest.raises(ValueError, match="n_head"):
        multihead_figure(TOKENS, views, n_head=4)
    with pytest.raises(ValueError, match="mode"):
        multihead_figure(TOKENS, views, mode="b")
    with pytest.raises(ValueError, match="tokens"):
        multihead_figure(TOKENS[:-1], views)
    with pytest.raises(TypeError, match="name"):
        multihead_figure(TOKENS, views, name="")
    assert isinstance(random_views()[1], Heads)
