"""The command line ``attnbook-train {train,sample,info}``: argparse, with an option for every config field.

``attnbook-train --preset=tiny --steps=200 --out=ckpt.npz`` (no subcommand means ``train``) trains and
writes a checkpoint; ``attnbook-train sample ckpt.npz --prompt="the "`` generates text from one;
``attnbook-train info ckpt.npz`` describes one. Every field of :class:`~attnbook.config.ModelConfig` and
:class:`~attnbook.config.TrainConfig` is an option (``--d_model=32``), its help the field's comment.
Whatever can be checked before training is (options, data, the output path, the resume checkpoint): a
problem is one line naming the option or file, exit status 2. A run always ends with a checkpoint: a
diverging run saves its last finite state (exit status 3), Ctrl-C (once or twice) and SIGTERM stop after the
current step and save it (130, 143), and no signal can cut the atomic write short. ``--resume`` continues
the checkpoint's run with its model and training settings; only ``--steps`` may differ unless
``--override=NAME,...`` allows more, and each resume is recorded in the checkpoint (``extra["resumes"]``).
"""

from __future__ import annotations

import argparse
import ast
import copy
import dataclasses
import difflib
import hashlib
import inspect
import io
import math
import signal
import sys
import tempfile
import textwrap
import tokenize
import typing
from pathlib import Path
from typing import Any, Literal

import numpy as np

from . import model as _model
from .checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from .config import PRESETS, ModelConfig, TrainConfig
from .data import CharTokenizer, Dataset, make_dataset
from .train import StopSignals, check_data, train

__all__ = ["build_parser", "field_comments", "main"]

PROG = "attnbook-train"
COMMANDS = ("train", "sample", "info")
DATASETS = ("grammar", "copy", "reverse", "repeated")
EXIT_USAGE, EXIT_DIVERGED = 2, 3  # and 128 + signal number when stopped: 130 (SIGINT), 143 (SIGTERM)


MODEL_FIELDS = tuple(f.name for f in dataclasses.fields(ModelConfig))
TRAIN_FIELDS = tuple(f.name for f in dataclasses.fields(TrainConfig))
_OVERRIDABLE = ("data", "preset", *MODEL_FIELDS, *TRAIN_FIELDS)
# On --resume, the settings that may change without --override: extending (or shortening) the run.
FREE_ON_RESUME = ("steps",)


class UsageError(Exception):
    """A bad option, file or combination found after parsing: reported in one line, exit status 2."""


# ----------------------------------------------------------------------------------------------------
# Options generated from the config dataclasses


def field_comments(cls) -> dict[str, str]:
    """The inline comment of each field of dataclass ``cls`` (``x: int = 1  # this``), read from its source."""
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):  # no source (e.g. a frozen application): options without help
        return {}
    body = ast.parse(source).body[0].body
    line_to_field = {n.lineno: n.target.id for n in body if isinstance(n, ast.AnnAssign)}
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    return {
        line_to_field[t.start[0]]: t.string.lstrip("#").strip()
        for t in tokens
        if t.type == tokenize.COMMENT and t.start[0] in line_to_field
    }


def _bool(text: str) -> bool:
    low = text.lower()
    if low not in ("true", "false", "1", "0", "yes", "no"):
        raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")
    return low in ("true", "1", "yes")


def _ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def _names(text: str) -> tuple[str, ...]:
    names = tuple(s.strip().lstrip("-").replace("-", "_") for s in text.split(",") if s.strip())
    unknown = [n for n in names if n not in _OVERRIDABLE]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown setting(s) {', '.join(unknown)}; one of data, preset or a model/training option"
        )
    return names


def _field_kwargs(annotation) -> dict[str, Any]:
    """argparse keyword arguments for a field of this type."""
    if annotation is bool:  # --bias, --bias=false
        return {"type": _bool, "nargs": "?", "const": True, "metavar": "BOOL"}
    if typing.get_origin(annotation) is Literal:
        return {"choices": typing.get_args(annotation)}
    if typing.get_origin(annotation) is tuple:
        return {"type": _ints, "metavar": "N,N,..."}
    if annotation in (int, float):
        return {"type": annotation, "metavar": annotation.__name__.upper()}
    raise TypeError(f"no command-line option for fields of type {annotation}")


def _add_fields(parser: argparse.ArgumentParser, cls, title: str, defaults: bool) -> None:
    """One option per field of ``cls``; not given, an option is absent from the namespace."""
    group = parser.add_argument_group(title)
    comments = field_comments(cls)
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        shown = (",".join(map(str, f.default)) or "none") if isinstance(f.default, tuple) else f.default
        default = f" (default: {shown})" if defaults else ""
        names = dict.fromkeys([f"--{f.name}", f"--{f.name.replace('_', '-')}"])  # --batch-size too
        group.add_argument(
            *names,
            dest=f.name,
            default=argparse.SUPPRESS,
            help=comments.get(f.name, "") + default,
            **_field_kwargs(hints[f.name]),
        )


class _Formatter(argparse.HelpFormatter):
    """Help listing an option under its first spelling only (``--batch_size``; ``--batch-size`` works too)."""

    def _format_action_invocation(self, action: argparse.Action) -> str:
        names = action.option_strings
        if len(names) == 2 and names[1] == names[0].replace("_", "-"):
            action = copy.copy(action)
            action.option_strings = action.option_strings[:1]
        return super()._format_action_invocation(action)


class _Parser(argparse.ArgumentParser):
    """argparse, suggesting the closest option for a misspelt one."""

    commands: dict[str, _Parser]  # set by build_parser on the top-level parser

    def unrecognized(self, words: list[str]) -> typing.NoReturn:
        """Report arguments this parser does not know, suggesting the closest options."""
        known = [o for a in self._actions for o in a.option_strings]
        close = [m for w in words for m in difflib.get_close_matches(w.partition("=")[0], known, n=1)]
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        self.error(
            f"unrecognized arguments: {' '.join(words)}{hint}; '{self.prog} --help' lists every option"
        )


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``attnbook-train`` and its subcommands ``train``, ``sample`` and ``info``."""
    parser = _Parser(
        prog=PROG,
        description="Train the NumPy GPT of attnbook, sample from a checkpoint, or describe one.",
        epilog=f"Without a subcommand, {PROG} trains: '{PROG} --preset=tiny' = '{PROG} train --preset=tiny'. "
        f"'{PROG} train --help' lists every model and training option.",
        allow_abbrev=False,
        formatter_class=_Formatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="{train,sample,info}")
    parser.commands = sub.choices  # name -> subparser, to report a stray argument against its command
    t = sub.add_parser(
        "train",
        help="train a model preset and write a checkpoint (Ctrl-C stops and saves)",
        description="Train a model preset on a dataset and write a checkpoint. Model options default to the "
        "preset's values (the vocabulary fitted to the data). With --resume, the model, the training "
        "options and the data are the checkpoint's: another value is refused unless --override names it "
        "(only --steps may change freely). Options may be spelt --batch_size=16 or --batch-size 16.",
        epilog="Exit status: 0 done; 2 a bad option or file (nothing trained); 3 diverged (the last finite "
        "state is saved); 130 or 143 stopped by Ctrl-C or SIGTERM (the last completed step is saved).",
        usage=f"{PROG} [train] [--key=value ...]",
        allow_abbrev=False,
        formatter_class=_Formatter,
    )
    run = t.add_argument_group("run")
    run.add_argument(
        "--preset", choices=list(PRESETS), default=argparse.SUPPRESS, help="model preset (default: tiny)"
    )
    run.add_argument(
        "--data",
        default=argparse.SUPPRESS,
        help=f"{', '.join(DATASETS)}, or a UTF-8 text file (default: grammar, or the resumed run's)",
    )
    run.add_argument("--out", default="", help="checkpoint file to write (default: checkpoint.npz)")
    run.add_argument(
        "--resume", default="", metavar="CHECKPOINT", help="continue training from this checkpoint"
    )
    run.add_argument(
        "--override",
        type=_names,
        default=(),
        metavar="NAME,...",
        help="with --resume: the settings allowed to differ from the checkpoint's (e.g. lr,batch_size; "
        "also data, preset); the changes are recorded in the checkpoint. --steps may always change",
    )
    run.add_argument(
        "--sample", type=int, default=200, metavar="N", help="characters to print after training (0 = none)"
    )
    run.add_argument(
        "--quiet", type=_bool, nargs="?", const=True, default=False, metavar="BOOL", help="no progress bar"
    )
    _add_fields(t, ModelConfig, "model (ModelConfig; default: the preset's value)", defaults=False)
    _add_fields(t, TrainConfig, "training (TrainConfig)", defaults=True)

    s = sub.add_parser("sample", help="generate from a checkpoint", description="Generate from a checkpoint.")
    s.add_argument("checkpoint", help="a checkpoint written by train")
    s.add_argument("--prompt", default=None, help="text to continue (token ids 1,2,3 without a tokenizer)")
    s.add_argument("--tokens", type=int, default=200, help="tokens to generate (default: 200)")
    s.add_argument("--temperature", type=float, default=0.8, help="0 = greedy (default: 0.8)")
    s.add_argument("--top_k", type=int, default=None, help="sample among the k most likely tokens only")
    s.add_argument("--seed", type=int, default=0, help="the same seed gives the same text (default: 0)")

    i = sub.add_parser("info", help="describe a checkpoint", description="Describe a checkpoint.")
    i.add_argument("checkpoint", help="a checkpoint written by train")
    return parser


# ----------------------------------------------------------------------------------------------------
# Checks before training


def _load(path: str, option: str | None = None) -> Checkpoint:
    try:
        return load_checkpoint(path)
    except (OSError, ValueError) as e:  # the message names the file
        raise UsageError(f"--{option}={path}: {e}" if option else str(e)) from None


def _dataset(data: str) -> tuple[Dataset, dict[str, Any]]:
    """The dataset of ``--data`` and the spec recorded in the checkpoint (without the text itself)."""
    if data in DATASETS:
        return make_dataset({"kind": data}), {"kind": data}
    path = Path(data)
    if not path.is_file():
        raise UsageError(f"--data={data}: not one of {', '.join(DATASETS)} and not a file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"--data={data}: not a readable UTF-8 text file ({e})") from None
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()  # to recognise the text on --resume
    try:
        return make_dataset({"kind": "text", "text": text}), {"kind": "text", "sha256": digest}
    except ValueError as e:
        raise UsageError(f"--data={data}: {e}") from None


def _check_out(out: Path) -> None:
    """Refuse before training an output path that the checkpoint could not be written to."""
    if out.is_dir():
        raise UsageError(f"--out={out} is a directory; give a file name such as {out / 'checkpoint.npz'}")
    for parent in out.parents:
        if parent.exists() and not parent.is_dir():
            raise UsageError(f"--out={out}: {parent} is a file, not a directory")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out.parent):  # a probe, removed on close
            pass
    except OSError as e:
        raise UsageError(f"--out={out}: cannot write there ({e.strerror or e})") from None


def _fit(preset: ModelConfig, ds: Dataset) -> ModelConfig:
    """The preset fitted to the data: its vocabulary (and, for rows of examples, the longest block)."""
    fit: dict[str, Any] = {"vocab_size": ds.vocab_size}
    if ds.train.ndim == 2:
        fit["block_size"] = min(preset.block_size, ds.train.shape[1] - 1)
    return preset.replace(**fit)


def _configs(args: dict[str, Any], ds: Dataset) -> tuple[ModelConfig, TrainConfig]:
    """The model and training configs of a new run: the preset fitted to the data, then the options."""
    model_over = {k: args[k] for k in MODEL_FIELDS if k in args}
    train_over = {k: args[k] for k in TRAIN_FIELDS if k in args}
    try:
        cfg = _fit(PRESETS[args.get("preset", "tiny")], ds).replace(**model_over)
        train_cfg = TrainConfig().replace(**train_over)
    except (ValueError, TypeError) as e:
        raise UsageError(f"invalid option: {e}") from None
    if cfg.vocab_size < ds.vocab_size:
        raise UsageError(f"--vocab_size={cfg.vocab_size} is smaller than the data's {ds.vocab_size}")
    return cfg, train_cfg


def _show(v: Any) -> str:
    return ",".join(map(str, v)) if isinstance(v, tuple) else str(v)


def _resume_configs(
    args: dict[str, Any], ds: Dataset, spec: dict[str, Any], ck: Checkpoint
) -> tuple[ModelConfig, TrainConfig, dict[str, list]]:
    """The configs of a resumed run: the checkpoint's, with the changes ``--override`` allows.

    Returns the configs and the changes, ``{setting: [checkpoint's value, new value]}``.
    """
    path, allowed = args["resume"], set(args["override"])
    model_over = {k: args[k] for k in MODEL_FIELDS if k in args}
    train_over = {k: args[k] for k in TRAIN_FIELDS if k in args}
    try:
        base = _fit(PRESETS[args["preset"]], ds) if "preset" in args else ck.cfg
        cfg = base.replace(**model_over)
        train_cfg = ck.train_cfg.replace(**train_over)
    except (ValueError, TypeError) as e:
        raise UsageError(f"invalid option: {e}") from None
    if train_cfg.dtype != ck.train_cfg.dtype:  # not a setting to change: the parameters are stored in one
        raise UsageError(
            f"--resume={path} holds {ck.train_cfg.dtype} parameters, not --dtype={train_cfg.dtype}"
        )
    changes: dict[str, list] = {}
    refused: list[str] = []
    old_spec = ck.extra.get("data_spec", {})
    # A text file is recognised by its SHA-256 (checkpoints from before it was recorded are taken on trust).
    if "data" in args and (
        spec["kind"] != old_spec.get("kind") or old_spec.get("sha256") not in (None, spec.get("sha256"))
    ):
        changes["data"] = [old_spec, spec]
        if "data" not in allowed:
            refused.append(f"--data={args['data']} (checkpoint: {old_spec.get('kind', '?')} data)")
    preset_diff = [
        f"{k}={_show(getattr(ck.cfg, k))}" for k in MODEL_FIELDS if getattr(base, k) != getattr(ck.cfg, k)
    ]
    if preset_diff and "preset" not in allowed:
        refused.append(f"--preset={args['preset']} (checkpoint: {', '.join(preset_diff)})")
    for name, old, new in [(k, getattr(ck.cfg, k), getattr(cfg, k)) for k in MODEL_FIELDS] + [
        (k, getattr(ck.train_cfg, k), getattr(train_cfg, k)) for k in TRAIN_FIELDS
    ]:
        if old == new:
            continue
        changes[name] = [old, new]
        if name in args and name not in allowed and name not in FREE_ON_RESUME:
            refused.append(f"--{name}={_show(new)} (checkpoint: {_show(old)})")
    if refused:
        names = ",".join(r.partition("=")[0][2:] for r in refused)
        raise UsageError(
            f"--resume={path} continues the checkpoint's run, which differs: {'; '.join(refused)}; "
            f"give --override={names} to change it"
        )
    reshaped = [k for k, s in _model.param_shapes(cfg).items() if _model.param_shapes(ck.cfg).get(k) != s]
    reshaped += [k for k in _model.param_shapes(ck.cfg) if k not in _model.param_shapes(cfg)]
    if reshaped:
        model_changes = ", ".join(
            f"{k} {_show(changes[k][0])} -> {_show(changes[k][1])}" for k in MODEL_FIELDS if k in changes
        )
        raise UsageError(
            f"--resume={path}: {model_changes} would change the parameters' shapes ({', '.join(reshaped[:3])}...); "
            "a resumed run keeps its model"
        )
    if cfg.vocab_size < ds.vocab_size:
        raise UsageError(
            f"--resume={path} has vocab_size={cfg.vocab_size}, smaller than the data's {ds.vocab_size}"
        )
    if ck.opt_state is None:
        raise UsageError(f"--resume={path} has no optimizer state to resume from")
    if ck.step > train_cfg.steps:
        raise UsageError(f"--resume={path} is at step {ck.step}, past --steps={train_cfg.steps}")
    return cfg, train_cfg, changes


# ----------------------------------------------------------------------------------------------------
# Subcommands


def _train(args: dict[str, Any]) -> int:
    ck = _load(args["resume"], "resume") if args["resume"] else None
    data = args.get("data")
    if data is None and ck is not None:
        data = ck.extra.get("data_spec", {}).get("kind", "grammar")
        if data not in DATASETS:
            raise UsageError(
                f"--resume={args['resume']} was trained on a text file: give it again with --data=PATH"
            )
    ds, spec = _dataset(data or "grammar")
    if ck is None:
        if args["override"]:
            raise UsageError("--override applies only with --resume (a new run takes every option as given)")
        cfg, train_cfg = _configs(args, ds)
    else:
        cfg, train_cfg, changes = _resume_configs(args, ds, spec, ck)
        if "data" not in args:
            spec = ck.extra.get("data_spec", spec)
    try:
        check_data(cfg, ds)
    except ValueError as e:
        raise UsageError(f"--data={data or 'grammar'}: {e}") from None
    out = Path(args["out"] or "checkpoint.npz")
    _check_out(out)

    n_params = sum(math.prod(s) for s in _model.param_shapes(cfg).values())
    source = f"resumed from {args['resume']}" if ck is not None else args.get("preset", "tiny")
    print(f"model ({source}): {cfg}\n{n_params:,} parameters; training: {train_cfg}", file=sys.stderr)
    extra: dict[str, Any] = {"data_spec": spec}
    if ck is not None:  # every resume, with what it changed: {setting: [before, after]}
        resume = {"step": ck.step, "from": str(args["resume"]), "changes": changes}
        extra["resumes"] = [*ck.extra.get("resumes", []), resume]
    if ds.tokenizer is not None:
        extra["tokenizer"] = ds.tokenizer.to_dict()
    # Ctrl-C (once or more) and SIGTERM stop training after the current step; none can cut the save short.
    with StopSignals((signal.SIGINT, signal.SIGTERM)) as stop:
        resume = ck._replace(cfg=cfg, train_cfg=train_cfg) if ck is not None else None  # with its changes
        result = train(cfg, train_cfg, ds, resume_from=resume, progress=not args["quiet"])
        extra["status"] = result.status
        if result.detail:
            extra["detail"] = result.detail
        h = result.history
        save_checkpoint(out, result.params, cfg, train_cfg, result.step, result.opt_state, h, extra=extra)
    if len(h["val_loss"]):  # the last estimate, labelled with the step it was measured at
        print(
            f"step {h['eval_step'][-1]}: train loss {h['train_loss'][-1]:.4f}, val loss {h['val_loss'][-1]:.4f}"
        )
    print(f"wrote {out} ({result.status})")
    if result.status == "diverged":
        print(f"{PROG}: diverged: {result.detail} (saved in {out})", file=sys.stderr)
        return EXIT_DIVERGED
    if result.status == "interrupted" or stop.received:
        signum = signal.SIGTERM if signal.SIGTERM in stop.received else signal.SIGINT
        name = signal.Signals(signum).name
        if result.status == "interrupted":
            print(f"{PROG}: stopped by {name} after step {result.step}; wrote {out}", file=sys.stderr)
        else:  # the run had finished: the signal came while saving, which it did not cut short
            print(f"{PROG}: {name} received while saving; {out} is complete", file=sys.stderr)
        return 128 + signum
    if ds.tokenizer is not None and args["sample"] > 0:
        from .sample import generate

        ids = generate(result.params, cfg, ds.val[:1], args["sample"], temperature=0.8, seed=train_cfg.seed)
        print(ds.tokenizer.decode(ids))
    return 0


def _sample(args: dict[str, Any]) -> int:
    from .sample import generate

    ck = _load(args["checkpoint"])
    tok = CharTokenizer.from_dict(ck.extra["tokenizer"]) if "tokenizer" in ck.extra else None
    prompt = args["prompt"]
    try:
        if tok is not None:
            ids = tok.encode(prompt if prompt is not None else tok.chars[0])
        else:
            ids = np.array([int(s) for s in (prompt or "0").split(",") if s.strip()], dtype=np.int64)
        out = generate(
            ck.params, ck.cfg, ids, args["tokens"], args["temperature"], args["top_k"], args["seed"]
        )
    except ValueError as e:
        raise UsageError(f"--prompt / sampling options: {e}") from None
    print(tok.decode(out) if tok is not None else ",".join(map(str, out.tolist())))
    return 0


def _info(args: dict[str, Any]) -> int:
    ck = _load(args["checkpoint"])
    h = ck.history
    n_params = sum(p.size for p in ck.params.values())
    dtype = next(iter(ck.params.values())).dtype
    print(f"checkpoint {args['checkpoint']}: step {ck.step} of {ck.train_cfg.steps}")
    print(f"model: {ck.cfg}\n{n_params:,} parameters ({dtype}); training: {ck.train_cfg}")
    print(f"optimizer state: {'yes (can resume)' if ck.opt_state is not None else 'no'}")
    if len(h.get("loss", ())):
        print(f"last logged step {h['step'][-1]}: batch loss {h['loss'][-1]:.4f}")
    if len(h.get("val_loss", ())):
        print(
            f"step {h['eval_step'][-1]}: train loss {h['train_loss'][-1]:.4f}, val loss {h['val_loss'][-1]:.4f}"
        )
    for k, v in ck.extra.items():
        if k != "tokenizer":
            print(f"{k}: {v}")
    if "tokenizer" in ck.extra:
        print(f"tokenizer: {len(ck.extra['tokenizer']['chars'])} characters")
    return 0


_RUN = {"train": _train, "sample": _sample, "info": _info}


def main(argv: list[str] | None = None) -> int:
    """Run ``attnbook-train`` with ``argv`` (default ``sys.argv[1:]``); return the exit status.

    0 success; 2 a bad option, file or combination (one line on stderr, nothing trained); 3 the run
    diverged (the last finite state is saved, ``status="diverged"``); 130 / 143 stopped by SIGINT (Ctrl-C)
    / SIGTERM (the last completed step is saved, ``status="interrupted"``).
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] not in (*COMMANDS, "-h", "--help"):
        argv = ["train", *argv]  # today's spelling: attnbook-train --preset=tiny ...
    parser = build_parser()
    try:
        namespace, extra = parser.parse_known_args(argv)
        if extra:
            parser.commands[namespace.command].unrecognized(extra)
        args = vars(namespace)
    except SystemExit as e:  # --help (0) or a parse error (2, already reported)
        return 0 if e.code is None else int(e.code)
    try:
        return _RUN[args.pop("command")](args)
    except UsageError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:  # before training started, or while sampling: nothing to save
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 128 + signal.SIGINT


if __name__ == "__main__":
    raise SystemExit(main())
