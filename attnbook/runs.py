"""The run cache: training results on disk under a hash of configs, data, package source and numerics.

A book rebuild with no change reuses every trained model; any change to a config, a data spec or the
code of the model and its training retrains (figures never show results of older code). So does a change
of what the floating-point results depend on besides the code (:func:`numeric_environment`): the NumPy
version, its BLAS library, the CPU's vector extensions and the number of BLAS threads (a matrix product
split over 2 threads sums in another order than over 1: a chapter 8 model differed by 1.2e-2).
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import os
import platform
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

try:  # POSIX advisory locks; elsewhere two builds may train the same run at once (harmless, only slower)
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

from .config import ModelConfig
from .data import make_dataset, normalize_data_spec
from .train import TrainConfig, TrainResult, load_checkpoint, save_checkpoint, train

__all__ = [
    "cached_train",
    "default_cache_dir",
    "numeric_environment",
    "openblas_runtime",
    "run_key",
    "load_or_make",
    "run_lock",
    "source_hash",
]

# The variables BLAS libraries read their thread count from (OpenBLAS, its GotoBLAS name, OpenMP, MKL,
# Accelerate); NumPy's BLAS reads them once, when it is loaded.
THREAD_VARIABLES = (
    "OPENBLAS_NUM_THREADS",
    "GOTO_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)

_PACKAGE_DIR = Path(__file__).resolve().parent
# Modules that cannot change what a given (config, train config, data spec) trains to are left out of the
# source hash: figure builders, the pretrained BERT, the chapters' experiment definitions (their configs and
# data specs are in the key themselves), the PyTorch reference twin, the readable reference kernels, the
# command line and the book/statistics helpers. Editing them retrains nothing.
_SOURCE_EXCLUDE = (
    "viz",
    "pretrained",
    "experiments",
    "reference",
    "book.py",
    "stats.py",
    "words.py",
    "wordvec.py",
    "cli.py",
    "layers/reference.py",
)


def source_hash(package_dir: str | os.PathLike | None = None) -> str:
    """SHA-256 of the package's ``.py`` files (relative path and bytes, sorted by path).

    Modules that cannot change a training result are not included (see ``_SOURCE_EXCLUDE``).
    """
    root = Path(package_dir) if package_dir is not None else _PACKAGE_DIR
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py"), key=lambda p: p.relative_to(root).as_posix()):
        rel = path.relative_to(root)
        if rel.parts[0] in _SOURCE_EXCLUDE or rel.as_posix() in _SOURCE_EXCLUDE:
            continue
        h.update(rel.as_posix().encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    return h.hexdigest()


def _loaded_openblas() -> list[str]:
    """Paths of the OpenBLAS libraries in this process (Linux), else the one in NumPy's wheel folder."""
    try:
        with open("/proc/self/maps", encoding="utf-8") as f:
            paths = sorted({line.split()[-1] for line in f if "openblas" in line.rsplit("/", 1)[-1]})
        if paths:
            return paths
    except OSError:
        pass
    return sorted(str(p) for p in (Path(np.__file__).parent.parent / "numpy.libs").glob("*openblas*"))


def openblas_runtime() -> dict[str, Any] | None:
    """The thread count and CPU kernel OpenBLAS is using (as threadpoolctl asks it), or None if not found.

    NumPy's OpenBLAS reads its thread variables once, when loaded, and picks kernels for the CPU it runs
    on; asking the library gives what it really does rather than what the environment says now.
    """
    for path in _loaded_openblas():
        try:
            lib = ctypes.CDLL(path)  # already loaded: the same library, not a second copy
        except OSError:
            continue
        for prefix, suffix in (
            ("scipy_openblas", "64_"),
            ("scipy_openblas", ""),
            ("openblas", "64_"),
            ("openblas", ""),
        ):
            threads = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
            core = getattr(lib, f"{prefix}_get_corename{suffix}", None)
            if threads is None:
                continue
            threads.restype, threads.argtypes = ctypes.c_int, []
            name = None
            if core is not None:
                core.restype, core.argtypes = ctypes.c_char_p, []
                name = core().decode("ascii", "replace")
            return {"threads": int(threads()), "core": name}
    return None


def numeric_environment() -> dict[str, Any]:
    """What a training result depends on besides the code and the configs, as a JSON-able dict.

    The NumPy version; its BLAS (name, version and build configuration, from ``numpy.show_config``);
    the machine and the vector extensions NumPy found (BLAS picks its kernels by CPU); and the BLAS
    threads: what OpenBLAS reports it uses (:func:`openblas_runtime`: thread count and CPU kernel) or,
    for another BLAS, the thread variables that are set (``THREAD_VARIABLES``), or with none set the
    number of CPUs (the default of OpenBLAS and MKL).
    """
    try:
        config = np.show_config(mode="dicts")
        blas = config.get("Build Dependencies", {}).get("blas", {})
        blas = {k: blas.get(k) for k in ("name", "version", "openblas configuration") if k in blas}
        simd = config.get("SIMD Extensions", {}).get("found", [])
    except (TypeError, AttributeError):  # NumPy < 1.25 has no mode="dicts"
        blas, simd = {}, []
    threads: dict[str, Any] | None = openblas_runtime()
    if threads is None:
        threads = {v: os.environ[v] for v in THREAD_VARIABLES if v in os.environ} or {"cpus": os.cpu_count()}
    return {
        "numpy": np.__version__,
        "blas": blas,
        "machine": platform.machine(),
        "simd": sorted(simd),
        "threads": threads,
    }


def run_key(cfg: ModelConfig, train_cfg: TrainConfig, data_spec: Mapping[str, Any]) -> str:
    """The cache key of a run: SHA-256 of both configs, the normalised data spec, :func:`source_hash`
    and :func:`numeric_environment`."""
    if not isinstance(cfg, ModelConfig):
        raise TypeError(f"cfg must be a ModelConfig, got {type(cfg).__name__}")
    if not isinstance(train_cfg, TrainConfig):
        raise TypeError(f"train_cfg must be a TrainConfig, got {type(train_cfg).__name__}")
    payload = {
        "model": cfg.to_dict(),
        "train": train_cfg.to_dict(),
        "data": normalize_data_spec(data_spec),
        "source": source_hash(),
        "numerics": numeric_environment(),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


T = TypeVar("T")


def default_cache_dir() -> Path:
    """``$ATTNBOOK_CACHE`` if set, else ``<repo>/.cache/runs`` next to the package."""
    env = os.environ.get("ATTNBOOK_CACHE")
    return Path(env) if env else _PACKAGE_DIR.parent / ".cache" / "runs"


@contextlib.contextmanager
def run_lock(path: str | os.PathLike) -> Iterator[None]:
    """Hold the lock of the cache entry ``path`` (``<key>.lock`` beside it): one process at a time trains a run.

    An exclusive ``flock`` on the lock file, waited for; the system releases it when its holder exits, even
    when killed, so a crashed trainer never blocks the next. The empty lock file stays (it is reused).
    Without ``fcntl`` (Windows) it does not lock.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fcntl is None:  # pragma: no cover - Windows
        yield
        return
    with open(path.with_suffix(".lock"), "a+b") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def load_or_make(path: str | os.PathLike, load: Callable[[], T | None], make: Callable[[], T]) -> T:
    """``load()`` of the cache entry ``path`` if it gives a result, else, holding the entry's :func:`run_lock`,
    ``load()`` again (another process may have made it while we waited) or ``make()`` (which stores it)."""
    found = load()
    if found is not None:
        return found
    with run_lock(path):
        found = load()
        return make() if found is None else found


def _load(path: Path, key: str, cfg: ModelConfig, train_cfg: TrainConfig) -> TrainResult | None:
    """The cached result at ``path``, or None when it is missing, unreadable or not this run's."""
    try:
        ck = load_checkpoint(path)
    except (OSError, ValueError, TypeError):
        return None
    if ck.extra.get("run_key") != key or ck.cfg != cfg or ck.train_cfg != train_cfg:
        return None
    status = ck.extra.get("status")
    if status not in ("done", "diverged"):
        return None
    return TrainResult(ck.params, ck.history, None, ck.step, status, ck.extra.get("detail", ""))


def cached_train(
    cfg: ModelConfig,
    train_cfg: TrainConfig,
    data_spec: Mapping[str, Any],
    cache_dir: str | os.PathLike | None = None,
    *,
    progress: bool = False,
) -> TrainResult:
    """Train on the dataset of ``data_spec`` (:func:`attnbook.train.train`), or reuse the stored result.

    Parameters
    ----------
    cfg : ModelConfig
    train_cfg : TrainConfig
    data_spec : dict
        A spec for :func:`attnbook.data.make_dataset`, e.g. ``{"kind": "grammar", "n_sentences": 2000}``.
    cache_dir : path, optional
        Default :func:`default_cache_dir`.
    progress : bool
        Show the training progress line when training is needed.

    Returns
    -------
    TrainResult
        ``opt_state`` is None (the optimizer state is not cached). The history round-trips exactly.
        An unreadable or mismatched cache entry is recomputed and overwritten, never returned; an
        interrupted run is returned but not stored. While another process trains the same run (a build's
        background prefetch, a second build), this one waits for it (:func:`run_lock`) and loads its result.
    """
    key = run_key(cfg, train_cfg, data_spec)
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = root / f"{key}.npz"
    return load_or_make(
        path,
        lambda: _load(path, key, cfg, train_cfg),
        lambda: _train_and_store(path, key, cfg, train_cfg, data_spec, progress),
    )


def _train_and_store(path: Path, key: str, cfg, train_cfg, data_spec, progress: bool) -> TrainResult:
    """Train the run and write it to ``path`` (not when interrupted); what a later cache hit returns."""
    ds = make_dataset(data_spec)
    result = train(cfg, train_cfg, ds, progress=progress)
    if result.status == "interrupted":
        return result
    extra = {
        "run_key": key,
        "status": result.status,
        "data_spec": _short_spec(data_spec),
        "numerics": numeric_environment(),
    }
    if result.detail:
        extra["detail"] = result.detail
    save_checkpoint(path, result.params, cfg, train_cfg, result.step, None, result.history, extra=extra)
    # Hand back what a later cache hit would return, so a first build and a rebuild see the same thing.
    return TrainResult(result.params, result.history, None, result.step, result.status, result.detail)


def _short_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    s = normalize_data_spec(spec)
    if s["kind"] == "text":  # the key already covers the text; keep the metadata small
        s["text"] = f"<{len(s['text'])} characters, sha256 {hashlib.sha256(s['text'].encode()).hexdigest()}>"
    return s
