"""A content-addressed cache for trained models and evaluation logs.

Training the tiny target and the retain-only reference takes minutes; every
notebook needs them.  Each artefact is stored under a key made from a hash of
everything that determines it (world, profile, model config, hyper-parameters,
library versions), so a second run reuses it and a changed setting can never
silently pick up a stale file.

An entry is a folder ``<cache>/<kind>/<key>/`` holding the artefact, a
``manifest.json`` (size and SHA-256 of every file) and ``spec.json`` (what the
entry is).  The cache guards against the ways such files get lost or silently
wrong:

* writes go to a temporary folder that is renamed into place, so an interrupted
  run leaves no half-written entry, and ``spec.json`` is written last;
* every reuse checks the files against the manifest, so a truncated or
  corrupted file is noticed instead of loaded;
* a damaged entry is moved aside (never deleted: you may want to look at it) and
  rebuilt, and the log names the folder to delete afterwards;
* a lock file per entry (``<kind>/<key>.lock``) makes a second process wait for
  the first one's build and then reuse it, instead of training the same model
  twice; lock files are tiny and are kept, because deleting a lock file that
  another process is waiting on would let two processes in at once;
* temporary folders left by a killed run are removed the next time the cache
  is used for that kind;
* files get the permissions of the process umask (``mkdtemp`` alone would make
  them private), so a cache folder can be shared by a group.

Locking needs ``fcntl``, which Windows lacks: there, entries are not locked and
only temporary folders older than an hour count as left over.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

logger = logging.getLogger(__name__)

MANIFEST = "manifest.json"
SPEC = "spec.json"
ORPHAN_AGE_S = 3600  # without locks (Windows), a temporary folder this old is taken as left over

# Entries already checked by this process, with the (size, mtime) of their files at
# that time: a notebook calling ``cached`` repeatedly then hashes each entry once.
_verified: dict[Path, tuple] = {}


class CacheError(RuntimeError):
    """A cache entry is damaged and could not be repaired automatically."""


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
    folder is renamed into place only when ``build`` returns, with a manifest of
    its files and ``spec.json`` beside them.

    An existing entry is reused only if its files match the manifest; otherwise it
    is moved aside to ``<key>.damaged-<time>`` and rebuilt (a warning names it).
    Entries written before manifests existed (``spec.json`` but no manifest) are
    trusted once and given a manifest, so existing caches keep working.
    A second process asking for the same entry meanwhile waits for this build and
    reuses it.  ``manifest.json`` and ``spec.json`` are reserved names in the entry.
    ``verbose`` logs the reuse at INFO level instead of DEBUG.
    """
    final = entry_path(kind, spec)
    final.parent.mkdir(parents=True, exist_ok=True)
    _remove_orphaned_temps(final.parent)
    with _entry_lock(final):
        if os.path.lexists(final):
            problem = _problem(final)
            if problem is None:
                logger.log(logging.INFO if verbose else logging.DEBUG, "reusing cached %s", _shown(final))
                return final
            _set_aside(final, problem)
        return _build(final, spec, build)


def _build(final: Path, spec: dict, build: Callable[[Path], None]) -> Path:
    """Build into a temporary folder, record its manifest, and rename it to ``final``."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=final.parent))
    try:
        build(tmp)
        manifest = _manifest(tmp)
        write_new(tmp / MANIFEST, json.dumps({"files": manifest}, indent=2, sort_keys=True))
        # Last: a folder with spec.json is complete.
        write_new(tmp / SPEC, json.dumps(spec, indent=2, sort_keys=True, default=str))
        _apply_umask(tmp)
        _move_into_place(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    _verified[final] = _fingerprint(final, manifest)
    return final


def _move_into_place(tmp: Path, final: Path) -> None:
    """Rename ``tmp`` to ``final``; if an unlocked process (Windows) won the race, keep theirs."""
    try:
        os.rename(tmp, final)
    except OSError:
        if not (final / SPEC).exists():
            raise


# ---------------------------------------------------------------- checking an entry


def _problem(final: Path) -> str | None:
    """Why the entry ``final`` cannot be reused, or None when its files are as built."""
    if not (final / SPEC).is_file():
        return f"it has no {SPEC} (an interrupted run or a hand-made folder)"
    if not (final / MANIFEST).exists():
        _add_manifest(final)
        return None
    try:
        expected = json.loads((final / MANIFEST).read_text())["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return f"its {MANIFEST} is unreadable"
    fingerprint = _fingerprint(final, expected)
    if fingerprint is None:
        return "a file listed in its manifest is missing"
    if _verified.get(final) == fingerprint:
        return None
    for name, (size, _) in zip(sorted(expected), fingerprint):
        if size != expected[name]["size"]:
            return f"{name} has {size} bytes instead of {expected[name]['size']}"
        if _sha256(final / name) != expected[name]["sha256"]:
            return f"{name} does not match its checksum"
    _verified[final] = fingerprint
    return None


def _add_manifest(final: Path) -> None:
    """Give an entry made before manifests existed a manifest of its current files."""
    if not os.access(final, os.W_OK):  # someone else's entry in a shared cache: use it as it is
        return
    write_new(final / MANIFEST, json.dumps({"files": _manifest(final)}, indent=2, sort_keys=True))
    logger.debug("recorded a manifest for %s", _shown(final))


def _manifest(folder: Path) -> dict[str, dict]:
    """Size and SHA-256 of every file under ``folder``, by path relative to it."""
    files = {path.relative_to(folder).as_posix(): path for path in sorted(folder.rglob("*")) if path.is_file()}
    return {
        name: {"size": path.stat().st_size, "sha256": _sha256(path)}
        for name, path in files.items()
        if name not in (MANIFEST, SPEC)
    }


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fingerprint(final: Path, manifest: dict) -> tuple | None:
    """Size and modification time of the manifest's files (cheap to get), or None if one is missing."""
    try:
        stats = [(final / name).stat() for name in sorted(manifest)]
    except FileNotFoundError:
        return None
    return tuple((st.st_size, st.st_mtime_ns) for st in stats)


def _set_aside(final: Path, problem: str) -> None:
    """Rename a damaged entry to ``<key>.damaged-<time>`` so it can be rebuilt and still inspected."""
    aside = final.with_name(f"{final.name}.damaged-{datetime.now():%Y%m%d-%H%M%S-%f}")
    try:
        os.rename(final, aside)
    except OSError as err:
        raise CacheError(
            f"the cache entry {final} is damaged ({problem}) and could not be moved aside ({err}); "
            "delete that folder and run again."
        ) from err
    _verified.pop(final, None)
    logger.warning("cache entry %s is damaged (%s): moved it to %s and rebuilding it; "
                   "delete that folder when you no longer need it.", _shown(final), problem, _shown(aside))


def _shown(path: Path) -> str:
    """A cache path as shown in messages: relative to the cache root, which may be a private path."""
    return path.relative_to(cache_dir()).as_posix()


# ---------------------------------------------------------------- locks and leftovers


@contextmanager
def _entry_lock(final: Path) -> Iterator[None]:
    """Hold the entry's lock, waiting (with a message) while another process builds it."""
    fd = _open_lock(final)
    try:
        if not _try_lock(fd):
            logger.info("waiting for another process to finish %s", _shown(final))
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        _unlock(fd)


def _open_lock(final: Path) -> int:
    # Read-only is enough for flock, so another user's lock file in a shared cache works too.
    return os.open(final.with_name(f"{final.name}.lock"), os.O_RDONLY | os.O_CREAT, 0o666)


def _try_lock(fd: int) -> bool:
    """Take the lock if it is free; without fcntl (Windows) every lock is free."""
    if fcntl is None:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _unlock(fd: int) -> None:
    # An explicit unlock, not just close: a child forked during the build (a data
    # loader worker) holds a copy of ``fd`` and would otherwise keep the lock.
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)


def _remove_orphaned_temps(kind_dir: Path) -> None:
    """Delete ``.<key>-xxxx`` build folders whose builder is gone (killed mid-build).

    A builder holds its entry's lock from creating the folder to renaming it, so a
    temporary folder whose lock is free belongs to no one.
    """
    for tmp in kind_dir.glob(".*-*"):
        key = tmp.name[1:].rsplit("-", 1)[0]
        if tmp.is_dir() and _is_orphan(tmp, kind_dir / key):
            shutil.rmtree(tmp, ignore_errors=True)
            logger.debug("removed the leftover build folder %s", _shown(tmp))


def _is_orphan(tmp: Path, final: Path) -> bool:
    if fcntl is None:
        try:
            return time.time() - tmp.stat().st_mtime > ORPHAN_AGE_S
        except FileNotFoundError:  # its builder just renamed it into place
            return False
    fd = _open_lock(final)
    try:
        return _try_lock(fd)
    finally:
        _unlock(fd)


# ---------------------------------------------------------------- writing files


def _umask() -> int:
    """The process umask (reading it means setting it, so it is set back at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _apply_umask(folder: Path) -> None:
    """Give ``folder`` and everything in it the modes a plain ``mkdir``/``open`` would have."""
    mask = _umask()
    for path in [folder, *folder.rglob("*")]:
        if path.is_symlink():
            continue
        full = 0o777 if path.is_dir() or path.stat().st_mode & 0o100 else 0o666
        path.chmod(full & ~mask)


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
