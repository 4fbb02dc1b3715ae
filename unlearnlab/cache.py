"""A content-addressed cache for trained models and evaluation logs.

Training the tiny target and the retain-only reference takes minutes; every
notebook needs them.  Each artefact is stored under a key made from a hash of
everything that determines it (world, profile, model config, hyper-parameters,
library versions), so a second run reuses it and a changed setting can never
silently pick up a stale file.  Writes go to a temporary folder that is renamed
into place, so an interrupted run leaves no half-written artefact, and an
existing entry is never overwritten.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable


def cache_dir() -> Path:
    """The cache root: ``$UNLEARNLAB_CACHE`` or ``~/.cache/unlearnlab``."""
    root = os.environ.get("UNLEARNLAB_CACHE") or Path.home() / ".cache" / "unlearnlab"
    path = Path(root).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def stable_hash(spec: dict, length: int = 16) -> str:
    """Hash a JSON-serialisable description; key order does not matter, nor ``3`` vs ``3.0``."""
    blob = json.dumps(_canonical(spec), sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:length]


def _canonical(value: Any) -> Any:
    """Replace integral floats by ints, recursively, so ``epochs=3.0`` names the same entry as ``epochs=3``.

    Other values are left alone, so a spec without integral floats keeps the key it had
    before this rule existed.  Booleans are not floats and stay booleans.
    """
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _canonical(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(item) for item in value]
    return value


def entry_path(kind: str, spec: dict) -> Path:
    """Where the artefact described by ``spec`` lives (it may not exist yet)."""
    return cache_dir() / kind / stable_hash(spec)


def cached(kind: str, spec: dict, build: Callable[[Path], None], verbose: bool = True) -> Path:
    """Return the folder of a cached artefact, building it first if needed.

    ``build(tmp)`` must write the artefact into the empty folder ``tmp``.  The
    folder is renamed into place only when ``build`` returns, and ``spec.json``
    is stored beside it so that a cache entry says what it is.
    """
    final = entry_path(kind, spec)
    if (final / "spec.json").exists():
        if verbose:
            print(f"[unlearnlab] reusing cached {kind} at {final}")
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=final.parent))
    try:
        build(tmp)
        (tmp / "spec.json").write_text(json.dumps(spec, indent=2, sort_keys=True, default=str))
        _move_into_place(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def _move_into_place(tmp: Path, final: Path) -> None:
    """Atomically rename ``tmp`` to ``final``; if another process won the race, keep theirs."""
    try:
        os.rename(tmp, final)
    except OSError:
        if not (final / "spec.json").exists():
            raise


def _umask() -> int:
    """The process umask (reading it means setting it, so it is set back at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_new(path: str | Path, text: str, overwrite: bool = False) -> Path:
    """Write a user-facing file atomically, refusing to replace an existing one.

    Results and plots that a learner produced are theirs: replacing them needs an
    explicit ``overwrite=True``.  The text goes to a temporary file that is flushed
    to disk and then renamed over ``path``, so a crash leaves the old file or the
    new one, never half of one; the file gets the usual umask permissions
    (``mkstemp`` alone would make it readable by its owner only).
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(
            f"{path} already exists; choose another output folder or pass overwrite=True."
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    return path
