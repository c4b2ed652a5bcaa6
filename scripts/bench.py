"""Benchmark the NumPy GPT against an equivalent PyTorch eager model, side by side in one run.

Measures, for a tiny config (d_model 64, 2 layers, 2 heads, T 32, B 16) and a small one (vocab 65,
d_model 128, 4 layers, 4 heads, T 64, B 32): training-step throughput (forward + backward + AdamW,
float32, tokens/s), forward-only attention-map extraction time, and peak memory. Each framework and
config runs in its own subprocess, so peak RSS (``resource.getrusage(...).ru_maxrss``) is that
framework's alone. Throughput and time are the best of several rounds after a warm-up.

Prints one JSON object per line on stdout, ``{"name", "numpy", "torch", "unit", "ratio"}`` with
``ratio = numpy / torch``, then a readable table on stderr. ``--quick`` runs a fast smoke test.
The workers run in alternating order over several passes and each number is the best over them.

    python scripts/bench.py [--quick] [--rounds=N] [--passes=N]
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# name -> (model fields, batch size); the model fields are those of attnbook.config.ModelConfig.
CONFIGS = {
    "tiny": (dict(vocab_size=65, block_size=32, d_model=64, n_layer=2, n_head=2, d_ff=256), 16),
    "small": (dict(vocab_size=65, block_size=64, d_model=128, n_layer=4, n_head=4, d_ff=512), 32),
}
TARGETS = {"train_tiny": 0.5, "train_small": 0.6}  # issue 3: NumPy tokens/s as a fraction of PyTorch's
TORCH_THREADS = 2


# ----------------------------------------------------------------------------------------------------
# Workers (run in a subprocess, one framework and one config each)


def _timeit(fn, n_iter: int, rounds: int) -> float:
    """Best wall time (s) of ``rounds`` rounds of ``n_iter`` calls."""
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(n_iter):
            fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _numpy_worker(fields: dict, B: int, n_iter: int, rounds: int) -> dict:
    import numpy as np

    from attnbook import model
    from attnbook.config import ModelConfig
    from attnbook.optim import AdamW

    cfg = ModelConfig(**fields)
    T = cfg.block_size
    rng = np.random.default_rng(0)
    x = rng.integers(0, cfg.vocab_size, size=(B, T))
    y = rng.integers(0, cfg.vocab_size, size=(B, T))
    params = model.init_params(cfg, 0, dtype=np.float32)
    opt = AdamW(params, lr=1e-4, weight_decay=0.01)

    def train_step():
        logits, cache = model.forward(params, x, cfg, training=True)
        _, dlogits = model.loss(logits, y)
        opt.step(model.backward(dlogits, cache))

    def attention_maps():
        _, cache = model.forward(params, x, cfg)
        return model.attention_maps(cache)  # (n_layer, B, H, T, T)

    assert attention_maps().shape == (cfg.n_layer, B, cfg.n_head, T, T)
    for _ in range(3):  # warm-up: caches, allocator, BLAS threads
        train_step()
        attention_maps()
    train_s = _timeit(train_step, n_iter, rounds)
    attn_s = _timeit(attention_maps, n_iter, rounds)
    return {"train": B * T * n_iter / train_s, "attn_ms": 1e3 * attn_s / n_iter}


def _torch_worker(fields: dict, B: int, n_iter: int, rounds: int) -> dict:
    import math

    import torch
    import torch.nn.functional as F
    from torch import nn

    torch.set_num_threads(TORCH_THREADS)
    torch.manual_seed(0)
    V, T, C, L, H, FF = (
        fields[k] for k in ("vocab_size", "block_size", "d_model", "n_layer", "n_head", "d_ff")
    )

    class Block(nn.Module):
        """Pre-LN block with explicit attention weights (so the maps can be read, as in the NumPy model)."""

        def __init__(self):
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(C), nn.LayerNorm(C)
            self.qkv, self.proj = nn.Linear(C, 3 * C), nn.Linear(C, C)
            self.fc, self.out = nn.Linear(C, FF), nn.Linear(FF, C)
            self.register_buffer("causal", torch.ones(T, T, dtype=torch.bool).tril())

        def forward(self, x):
            Bx, Tx, _ = x.shape
            q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
            q, k, v = (t.view(Bx, Tx, H, C // H).transpose(1, 2) for t in (q, k, v))
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(C // H))
            att = att.masked_fill(~self.causal[:Tx, :Tx], float("-inf")).softmax(dim=-1)
            self.att = att
            x = x + self.proj((att @ v).transpose(1, 2).reshape(Bx, Tx, C))
            return x + self.out(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte, self.wpe = nn.Embedding(V, C), nn.Embedding(T, C)
            self.blocks = nn.ModuleList(Block() for _ in range(L))
            self.ln_f = nn.LayerNorm(C)
            self.lm_head = nn.Linear(C, V, bias=False)

        def forward(self, idx):
            x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
            for b in self.blocks:
                x = b(x)
            return self.lm_head(self.ln_f(x))

    m = GPT()
    decay = [p for p in m.parameters() if p.dim() >= 2]
    no_decay = [p for p in m.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}]
    )
    x = torch.randint(0, V, (B, T))
    y = torch.randint(0, V, (B, T))

    def train_step():
        loss = F.cross_entropy(m(x).view(-1, V), y.view(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def attention_maps():
        with torch.no_grad():
            m(x)
            return torch.stack([b.att for b in m.blocks]).numpy()

    assert attention_maps().shape == (L, B, H, T, T)
    for _ in range(3):
        train_step()
        attention_maps()
    train_s = _timeit(train_step, n_iter, rounds)
    attn_s = _timeit(attention_maps, n_iter, rounds)
    return {"train": B * T * n_iter / train_s, "attn_ms": 1e3 * attn_s / n_iter}


def _worker(framework: str, config: str, n_iter: int, rounds: int) -> None:
    fields, B = CONFIGS[config]
    run = _numpy_worker if framework == "numpy" else _torch_worker
    out = run(fields, B, n_iter, rounds)
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(json.dumps(out))


# ----------------------------------------------------------------------------------------------------
# Driver


def _run_worker(framework: str, config: str, n_iter: int, rounds: int) -> dict:
    cmd = [sys.executable, __file__, f"--worker={framework}", f"--config={config}"]
    cmd += [f"--iters={n_iter}", f"--rounds={rounds}"]
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=os.environ.copy())
    if res.returncode != 0:
        raise RuntimeError(f"{framework}/{config} worker failed:\n{res.stderr}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def _args(argv: list[str]) -> dict[str, str]:
    out = {}
    for a in argv:
        if not a.startswith("--"):
            raise SystemExit(f"arguments look like --key=value, got {a!r}\n{__doc__}")
        k, _, v = a[2:].partition("=")
        if k not in ("quick", "rounds", "passes", "worker", "config", "iters", "help"):
            raise SystemExit(f"unknown option --{k}; valid: --quick, --rounds=N, --passes=N")
        out[k] = v
    return out


def main(argv: list[str] | None = None) -> int:
    """Run every benchmark and print JSON lines (stdout) and a table (stderr)."""
    args = _args(sys.argv[1:] if argv is None else argv)
    if "help" in args:
        print(__doc__)
        return 0
    if "worker" in args:
        _worker(args["worker"], args["config"], int(args["iters"]), int(args["rounds"]))
        return 0
    quick = "quick" in args
    rounds = int(args.get("rounds", 2 if quick else 7))
    n_pass = int(args.get("passes", 1 if quick else 3))
    iters = {"tiny": 2 if quick else 20, "small": 1 if quick else 5}
    rows = []
    for config in CONFIGS:
        fields, B = CONFIGS[config]
        # Several passes in alternating order, best of each: a burst of load elsewhere on the machine
        # then hits both frameworks alike instead of deciding the ratio.
        passes: dict[str, list[dict]] = {"numpy": [], "torch": []}
        for i in range(n_pass):
            for fw in ("numpy", "torch") if i % 2 == 0 else ("torch", "numpy"):
                passes[fw].append(_run_worker(fw, config, iters[config], rounds))
        res = {
            fw: {
                "train": max(r["train"] for r in runs),
                "attn_ms": min(r["attn_ms"] for r in runs),
                "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
            }
            for fw, runs in passes.items()
        }
        T = fields["block_size"]
        rows.append((f"train_{config}", res["numpy"]["train"], res["torch"]["train"], "tokens/s"))
        rows.append(
            (
                f"attention_maps_{config}",
                res["numpy"]["attn_ms"],
                res["torch"]["attn_ms"],
                f"ms/batch B{B} T{T}",
            )
        )
        rows.append((f"peak_rss_{config}", res["numpy"]["peak_rss_mb"], res["torch"]["peak_rss_mb"], "MB"))
    records = []
    for name, np_val, torch_val, unit in rows:
        rec = {"name": name, "numpy": round(np_val, 3), "torch": round(torch_val, 3), "unit": unit}
        rec["ratio"] = round(np_val / torch_val, 3)
        records.append(rec)
        print(json.dumps(rec), flush=True)

    lines = [f"{'benchmark':<22} {'numpy':>12} {'torch':>12} {'numpy/torch':>12}  unit", "-" * 78]
    for r in records:
        target = TARGETS.get(r["name"])
        note = (
            "" if target is None else f"  (target >= {target}: {'ok' if r['ratio'] >= target else 'BELOW'})"
        )
        values = f"{r['numpy']:>12,.1f} {r['torch']:>12,.1f} {r['ratio']:>11.2f}x"
        lines.append(f"{r['name']:<22} {values}  {r['unit']}{note}")
    mode = "quick smoke run, " if quick else ""
    load = os.getloadavg()[0]
    lines.append(
        f"({mode}best of {n_pass} passes x {rounds} rounds; torch threads {TORCH_THREADS}; "
        f"{os.cpu_count()} CPUs; load average {load:.1f})"
    )
    print("\n".join(lines), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
