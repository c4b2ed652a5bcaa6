"""Tests for attnbook.cli: options generated from the configs, today's spellings, resume, and one-line errors."""

import dataclasses
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import attnbook.cli
from attnbook.checkpoint import load_checkpoint, save_checkpoint
from attnbook.cli import build_parser, field_comments, main
from attnbook.config import ModelConfig, TrainConfig
from attnbook.data import make_dataset
from attnbook.train import train

ROOT = Path(__file__).resolve().parent.parent
# A model small enough to train a few steps in a fraction of a second.
SMALL = ["--d_model=16", "--n_layer=1", "--block_size=16", "--batch_size=2", "--eval_batches=1"]


def _train(tmp_path, *args, name="ck.npz"):
    out = tmp_path / name
    return main([*SMALL, "--steps=3", f"--out={out}", "--sample=0", "--quiet", *args]), out


# ---------------------------------------------------------------------------------------------- training


def test_trains_and_writes_a_checkpoint(tmp_path, capsys):
    out = tmp_path / "cli.npz"
    rc = main(["--preset=tiny", *SMALL, "--steps=3", "--lr=3e-3", f"--out={out}", "--sample=10"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert "3/3" in captured.err and "loss" in captured.err  # the progress bar (tqdm)
    assert f"wrote {out} (done)" in captured.out
    ck = load_checkpoint(out)
    assert ck.step == 3 and ck.cfg.d_model == 16 and ck.train_cfg.lr == 3e-3
    assert ck.cfg.vocab_size == len(ck.extra["tokenizer"]["chars"])  # fitted to the grammar corpus
    assert ck.extra["data_spec"] == {"kind": "grammar"}


def test_the_checkpoint_is_what_the_library_trains(tmp_path):
    rc, out = _train(tmp_path, "--seed=4", "--dropout=0.1")
    assert rc == 0
    ds = make_dataset({"kind": "grammar"})
    cfg = ModelConfig(vocab_size=ds.vocab_size, block_size=16, d_model=16, n_layer=1, dropout=0.1)
    r = train(cfg, TrainConfig(steps=3, batch_size=2, eval_batches=1, seed=4), ds, progress=False)
    ck = load_checkpoint(out)
    assert ck.cfg == cfg
    for k in r.params:
        np.testing.assert_array_equal(ck.params[k], r.params[k], err_msg=k)


def test_subcommand_spellings_are_the_same_run(tmp_path):
    rc1, a = _train(tmp_path, name="a.npz")
    rc2 = main(["train", *SMALL, "--steps", "3", "--out", str(tmp_path / "b.npz"), "--sample=0", "--quiet"])
    rc3 = main(["train", "--d-model=16", "--n-layer=1", "--block-size=16", "--batch-size=2", "--eval-batches=1",
                "--steps=3", f"--out={tmp_path / 'c.npz'}", "--sample=0", "--quiet=true"])  # fmt: skip
    assert rc1 == rc2 == rc3 == 0
    runs = [load_checkpoint(tmp_path / n) for n in ("a.npz", "b.npz", "c.npz")]
    for ck in runs[1:]:
        assert ck.cfg == runs[0].cfg and ck.train_cfg == runs[0].train_cfg
        assert all(np.array_equal(ck.params[k], runs[0].params[k]) for k in ck.params)


def test_quiet(tmp_path, capsys):
    assert _train(tmp_path)[0] == 0
    assert capsys.readouterr().err.count("\r") == 0  # --quiet: no bar
    assert _train(tmp_path, "--quiet=false")[0] == 0
    assert "3/3" in capsys.readouterr().err  # --quiet=false really means false
    assert _train(tmp_path, "--quiet", "false")[0] == 0
    assert "3/3" in capsys.readouterr().err


def test_bool_and_tuple_fields(tmp_path):
    rc, out = _train(tmp_path, "--bias=false", "--tie_weights", "--snapshot_steps=0,3", "--probe_size=2")
    assert rc == 0
    ck = load_checkpoint(out)
    assert ck.cfg.bias is False and ck.cfg.tie_weights is True
    assert ck.train_cfg.snapshot_steps == (0, 3) and ck.history["snapshot_attn"].shape[:3] == (2, 1, 2)


def test_algorithmic_data_fit_the_block(tmp_path):
    out = tmp_path / "ck.npz"
    assert main(["--data=copy", "--d_model=16", "--steps=1", "--sample=0", "--quiet", f"--out={out}"]) == 0
    ck = load_checkpoint(out)
    assert ck.cfg.vocab_size == 10 and ck.extra["data_spec"] == {"kind": "copy"}
    assert ck.cfg.block_size == 16  # rows of 17 tokens: the longest block they train
    assert main(["--data=copy", "--block_size=32", "--steps=1", "--quiet", f"--out={out}"]) == 2


def test_text_file_data(tmp_path, capsys):
    text = tmp_path / "text.txt"
    text.write_text("the cat sat on the mat. " * 40, encoding="utf-8")
    rc, out = _train(tmp_path, f"--data={text}", "--sample=5")
    assert rc == 0
    assert load_checkpoint(out).cfg.vocab_size == len(set(text.read_text()))
    printed = capsys.readouterr().out.splitlines()
    assert printed[-2] == f"wrote {out} (done)" and len(printed[-1]) > 5  # a prompt character + 5 sampled


# ---------------------------------------------------------------------------------------------- resume


def test_resume_continues_the_run_exactly(tmp_path):
    assert _train(tmp_path, "--lr=1e-2", "--seed=2", name="part.npz")[0] == 0
    # --resume takes the model and training settings from the checkpoint: only --steps is new
    rc = main(["--resume", str(tmp_path / "part.npz"), "--steps=5", f"--out={tmp_path / 'resumed.npz'}",
               "--sample=0", "--quiet"])  # fmt: skip
    assert rc == 0
    assert _train(tmp_path, "--lr=1e-2", "--seed=2", "--steps=5", name="full.npz")[0] == 0
    resumed, full = load_checkpoint(tmp_path / "resumed.npz"), load_checkpoint(tmp_path / "full.npz")
    assert resumed.step == full.step == 5
    assert resumed.cfg == full.cfg and resumed.train_cfg == full.train_cfg
    assert resumed.train_cfg.lr == 1e-2 and resumed.train_cfg.seed == 2
    for k in full.params:
        np.testing.assert_array_equal(resumed.params[k], full.params[k], err_msg=k)
    # the history keeps what the first run recorded at its end (its last step, a loss estimate at 3)
    np.testing.assert_array_equal(resumed.history["step"], [0, 2, 4])
    np.testing.assert_array_equal(full.history["step"], [0, 4])
    np.testing.assert_array_equal(resumed.history["eval_step"], [0, 3, 5])
    np.testing.assert_array_equal(resumed.history["loss"][[0, 2]], full.history["loss"])


def test_resume_refusals(tmp_path, capsys):
    assert _train(tmp_path, name="ck.npz")[0] == 0
    ck = tmp_path / "ck.npz"
    capsys.readouterr()
    cases = [
        (["--d_model=32"], "differs: --d_model=32 (checkpoint: 16); give --override=d_model to change it"),
        (["--d_model=32", "--override=d_model"], "d_model 16 -> 32 would change the parameters' shapes"),
        (["--preset=small"], "differs: --preset=small (checkpoint: block_size=16, d_model=16"),
        (["--steps=2"], "at step 3, past --steps=2"),
        (["--dtype=float64"], "holds float32 parameters, not --dtype=float64"),
        (
            ["--seed=7", "--lr=0.5", "--batch_size=2"],
            "--lr=0.5 (checkpoint: 0.003); --seed=7 (checkpoint: 0)",
        ),
        (["--seed=7", "--lr=0.5"], "give --override=lr,seed to change it"),
        (["--data=copy"], "--data=copy (checkpoint: grammar data)"),
    ]
    for args, message in cases:
        assert main([f"--resume={ck}", "--quiet", *args]) == 2, args
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err, err
        assert any(m in err for m in message.split("|")), err
    c = load_checkpoint(ck)
    save_checkpoint(tmp_path / "noopt.npz", c.params, c.cfg, c.train_cfg, c.step, None, c.history, c.extra)
    assert main([f"--resume={tmp_path / 'noopt.npz'}", "--steps=5"]) == 2
    assert "no optimizer state" in capsys.readouterr().err
    assert main(["--override=lr", "--lr=0.1", "--quiet"]) == 2  # nothing to override in a new run
    assert "--override applies only with --resume" in capsys.readouterr().err
    assert main([f"--resume={ck}", "--override=lr,bogus"]) == 2
    assert "argument --override: unknown setting(s) bogus" in capsys.readouterr().err


def test_resume_with_override_records_the_changes(tmp_path):
    assert _train(tmp_path, name="a.npz")[0] == 0
    rc = main([f"--resume={tmp_path / 'a.npz'}", "--override=lr,dropout", "--lr=1e-2", "--dropout=0.1",
               "--steps=5", f"--out={tmp_path / 'b.npz'}", "--sample=0", "--quiet"])  # fmt: skip
    assert rc == 0
    b = load_checkpoint(tmp_path / "b.npz")
    assert b.train_cfg.lr == 1e-2 and b.cfg.dropout == 0.1 and b.step == 5
    (resume,) = b.extra["resumes"]
    assert resume["step"] == 3 and resume["from"] == str(tmp_path / "a.npz")
    assert resume["changes"] == {"dropout": [0.0, 0.1], "lr": [3e-3, 1e-2], "steps": [3, 5]}
    rc = main([f"--resume={tmp_path / 'b.npz'}", "--steps=6", f"--out={tmp_path / 'c.npz'}", "--sample=0",
               "--quiet"])  # fmt: skip
    assert rc == 0  # the overridden settings are now the checkpoint's
    assert [r["changes"] for r in load_checkpoint(tmp_path / "c.npz").extra["resumes"]][1] == {
        "steps": [5, 6]
    }


def test_resume_recognises_its_text_file(tmp_path, capsys):
    text, other = tmp_path / "text.txt", tmp_path / "other.txt"
    text.write_text("the cat sat on the mat. " * 40, encoding="utf-8")
    other.write_text("the mat sat on the cat. " * 40, encoding="utf-8")
    assert _train(tmp_path, f"--data={text}", name="a.npz")[0] == 0
    resume = [f"--resume={tmp_path / 'a.npz'}", "--steps=4", "--sample=0", "--quiet"]
    assert main([*resume, f"--out={tmp_path / 'b.npz'}"]) == 2
    assert "was trained on a text file: give it again with --data=PATH" in capsys.readouterr().err
    assert main([*resume, f"--data={other}", f"--out={tmp_path / 'b.npz'}"]) == 2
    assert f"--data={other} (checkpoint: text data); give --override=data" in capsys.readouterr().err
    assert main([*resume, f"--data={text}", f"--out={tmp_path / 'b.npz'}"]) == 0


# ---------------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "args, message",
    [
        (["--stepz=3"], "unrecognized arguments: --stepz=3 (did you mean --steps?)"),
        (["stray"], "unrecognized arguments: stray"),
        (["--steps=many"], "argument --steps: invalid int value: 'many'"),
        (["--steps"], "argument --steps: expected one argument"),
        (["--sample=abc"], "argument --sample: invalid int value: 'abc'"),
        (["--attn_only=maybe"], "argument --attn_only/--attn-only: expected true or false"),
        (["--snapshot_steps=1,x"], "argument --snapshot_steps/--snapshot-steps: expected comma-separated"),
        (["--norm=batchnorm"], "argument --norm: invalid choice: 'batchnorm'"),
        (["--preset=huge"], "argument --preset: invalid choice: 'huge'"),
        (["--n_head=3"], "n_head must divide d_model"),
        (["--lr=0.01", "--min_lr=0.1"], "min_lr must be <= 0.01"),
        (["--vocab_size=5"], "--vocab_size=5 is smaller than the data's"),
        (["--block_size=100000"], "--data=grammar: train data has"),
        (["--data=nothing-here"], "--data=nothing-here: not one of grammar, copy, reverse, repeated"),
        (["--resume=nope.npz"], "--resume=nope.npz: checkpoint nope.npz does not exist"),
    ],
)
def test_bad_options_exit_2_naming_the_option(args, message, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_bad_files_exit_2_in_one_line(tmp_path, capsys):
    binary = tmp_path / "data.bin"
    binary.write_bytes(bytes(range(256)))
    truncated = tmp_path / "trunc.npz"
    assert _train(tmp_path, name="ok.npz")[0] == 0
    truncated.write_bytes((tmp_path / "ok.npz").read_bytes()[:100])
    (tmp_path / "file").write_text("")
    short = tmp_path / "short.txt"
    short.write_text("abc" * 10, encoding="utf-8")  # 27 training tokens, tiny's block_size is 32
    capsys.readouterr()
    cases = [
        ([f"--data={binary}"], f"--data={binary}: not a readable UTF-8 text file"),
        (
            [f"--data={short}"],
            f"--data={short}: train data has 27 tokens, needs at least block_size + 1 = 33",
        ),
        ([f"--resume={truncated}"], f"--resume={truncated}: checkpoint {truncated} is not a complete .npz"),
        ([f"--out={tmp_path}"], f"--out={tmp_path} is a directory"),
        ([f"--out={tmp_path / 'file' / 'ck.npz'}"], f"{tmp_path / 'file'} is a file, not a directory"),
    ]
    for args, message in cases:
        assert main([*args, "--steps=1", "--quiet"]) == 2, args
        err = capsys.readouterr().err
        assert err.startswith("attnbook-train: error: --") and message in err, err
        assert err.count("\n") == 1, err  # one line, no traceback, no usage


def test_out_is_checked_before_training(tmp_path, monkeypatch):
    def no_training(*args, **kwargs):
        raise AssertionError("trained although the output path is bad")

    monkeypatch.setattr(attnbook.cli, "train", no_training)
    assert main([f"--out={tmp_path}", "--steps=1"]) == 2
    assert list(tmp_path.iterdir()) == []  # the write probe is gone


# ---------------------------------------------------------------------------------------------- help


def test_help_lists_every_field_with_its_comment(capsys):
    assert main(["train", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())  # undo argparse's line wrapping
    for cls in (ModelConfig, TrainConfig):
        comments = field_comments(cls)
        assert set(comments) == {f.name for f in dataclasses.fields(cls)}
        for f in dataclasses.fields(cls):
            assert f"--{f.name} " in text, f.name
            assert " ".join(comments[f.name].split()) in text, f.name
    for option in ("--preset", "--data", "--out", "--resume", "--sample", "--quiet"):
        assert option in text
    assert "(default: 200)" in text and "{float32,float64}" in text
    assert main(["--help"]) == 0
    top = capsys.readouterr().out
    assert all(c in top for c in ("train", "sample", "info")) and "Without a subcommand" in top


def test_parser_accepts_every_field():
    parser = build_parser()
    ns = vars(parser.parse_args(["train", "--n_head=4", "--optimizer=adam", "--eps=1e-6"]))
    assert ns["n_head"] == 4 and ns["optimizer"] == "adam" and ns["eps"] == 1e-6
    assert "d_model" not in ns  # not given: taken from the preset or the checkpoint


# ---------------------------------------------------------------------------------------------- sample, info


def test_info_and_sample(tmp_path, capsys):
    assert _train(tmp_path)[0] == 0
    ck = tmp_path / "ck.npz"
    capsys.readouterr()
    assert main(["info", str(ck)]) == 0
    out = capsys.readouterr().out
    assert "step 3 of 3" in out and "d_model=16" in out and "can resume" in out
    assert main(["sample", str(ck), "--prompt=the ", "--tokens=12", "--seed=1"]) == 0
    first = capsys.readouterr().out
    assert first.startswith("the ") and len(first.rstrip("\n")) == 16
    assert main(["sample", str(ck), "--prompt=the ", "--tokens=12", "--seed=1"]) == 0
    assert capsys.readouterr().out == first  # seeded
    assert main(["sample", str(ck), "--prompt=Q"]) == 2
    assert "not in the vocabulary" in capsys.readouterr().err
    assert main(["sample", str(ck), "--temperature=-1"]) == 2
    assert "temperature" in capsys.readouterr().err
    assert main(["info", str(tmp_path / "nope.npz")]) == 2
    assert (
        capsys.readouterr().err
        == f"attnbook-train: error: checkpoint {tmp_path / 'nope.npz'} does not exist\n"
    )
    assert main(["info"]) == 2


def test_sample_without_a_tokenizer(tmp_path, capsys):
    assert _train(tmp_path, "--data=copy")[0] == 0
    capsys.readouterr()
    assert main(["sample", str(tmp_path / "ck.npz"), "--prompt=1,2,3", "--tokens=4"]) == 0
    ids = [int(s) for s in capsys.readouterr().out.strip().split(",")]
    assert ids[:3] == [1, 2, 3] and len(ids) == 7 and all(0 <= i < 10 for i in ids)


# ---------------------------------------------------------------------------------------------- entry points


def test_entry_points():
    assert 'attnbook-train = "attnbook.cli:main"' in (ROOT / "pyproject.toml").read_text()
    for cmd in (
        [sys.executable, "-m", "attnbook.train", "--help"],
        [sys.executable, "scripts/train.py", "--help"],
    ):
        res = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False)
        assert res.returncode == 0 and "Without a subcommand" in res.stdout, res.stderr
    res = subprocess.run([sys.executable, "-m", "attnbook.cli", "--steps=x"], capture_output=True, text=True,
                         cwd=ROOT, check=False)  # fmt: skip
    assert res.returncode == 2 and "argument --steps: invalid int value" in res.stderr


def test_ctrl_c_saves_a_checkpoint_and_exits_130(tmp_path):
    out = tmp_path / "ck.npz"
    cmd = [sys.executable, "-m", "attnbook.train", *SMALL, "--steps=100000", f"--out={out}", "--quiet"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert "parameters; training" in proc.stderr.readline() + proc.stderr.readline()  # about to train
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)  # one Ctrl-C: stop after the current step, save, exit 130
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    assert f"wrote {out} (interrupted)" in stdout and "Traceback" not in stderr
    ck = load_checkpoint(out)
    assert 0 < ck.step < 100000 and ck.opt_state is not None


# ---------------------------------------------------------------------------------------------- divergence and signals


def test_divergence_saves_the_last_finite_state_and_exits_3(tmp_path, capsys):
    rc, out = _train(tmp_path, "--lr=1e4", "--grad_clip=0", "--warmup_steps=0", "--steps=60")
    err = capsys.readouterr().err.splitlines()
    assert rc == attnbook.cli.EXIT_DIVERGED == 3
    assert err[-1].startswith("attnbook-train: diverged: non-finite") and "Traceback" not in "\n".join(err)
    ck = load_checkpoint(out)
    assert ck.extra["status"] == "diverged" and 0 < ck.step < 60 and f"at step {ck.step}" in err[-1]
    assert all(np.isfinite(p).all() for p in ck.params.values())


def test_the_last_estimate_is_labelled_with_its_step(tmp_path, capsys, monkeypatch):
    def stop_at_5(*args, **kwargs):  # an interrupted run: estimates at 0 and 4, stopped after step 5
        return train(
            *args, **kwargs, callback=lambda step, logs: _raise(KeyboardInterrupt) if step == 5 else 0
        )

    monkeypatch.setattr(attnbook.cli, "train", stop_at_5)
    rc, out = _train(tmp_path, "--steps=10", "--eval_interval=4")
    assert rc == 130 and load_checkpoint(out).step == 5
    assert "step 4: train loss" in capsys.readouterr().out


def _raise(e):
    raise e


def _start(tmp_path, *args, script=None):
    """A CLI run in a subprocess, once it is about to train."""
    out = tmp_path / "ck.npz"
    run = ["-c", script] if script else ["-m", "attnbook.cli"]
    cmd = [sys.executable, *run, *SMALL, "--steps=100000", f"--out={out}", "--quiet", *args]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert "parameters; training" in proc.stderr.readline() + proc.stderr.readline()
    time.sleep(0.5)
    return proc, out


def _finish(proc):
    try:
        return proc.communicate(timeout=60)
    finally:
        proc.kill()


def test_sigterm_saves_the_last_step_and_exits_143(tmp_path):
    proc, out = _start(tmp_path)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = _finish(proc)
    assert proc.returncode == 143, stderr
    assert "Traceback" not in stderr and "stopped by SIGTERM" in stderr
    ck = load_checkpoint(out)
    assert ck.extra["status"] == "interrupted" and 0 < ck.step < 100000 and ck.opt_state is not None


def test_double_ctrl_c_still_saves(tmp_path):
    proc, out = _start(tmp_path)
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGINT)  # impatient: the second one arrives during the step or the save
    stdout, stderr = _finish(proc)
    assert proc.returncode == 130 and "Traceback" not in stderr, stderr
    assert load_checkpoint(out).extra["status"] == "interrupted"


# The second Ctrl-C arrives while the checkpoint is being written (a real signal, sent from inside np.savez).
_CTRL_C_DURING_SAVE = """
import os, signal, sys
import numpy as np
from attnbook.cli import main
real = np.savez
def savez(f, **arrays):
    os.kill(os.getpid(), signal.SIGINT)
    real(f, **arrays)
    os.kill(os.getpid(), signal.SIGINT)
np.savez = savez
sys.exit(main(sys.argv[1:]))
"""


def test_ctrl_c_during_the_save_does_not_cut_it_short(tmp_path):
    proc, out = _start(tmp_path, script=_CTRL_C_DURING_SAVE)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = _finish(proc)
    assert proc.returncode == 130 and "Traceback" not in stderr, stderr
    ck = load_checkpoint(out)
    assert ck.extra["status"] == "interrupted" and ck.step > 0
    assert not list(tmp_path.glob(".ck.npz.*"))  # no temporary file left behind
