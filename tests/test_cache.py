"""The artefact cache: content keys, reuse, verification, repair, locking, permissions, atomic writes."""
import hashlib
import json
import logging
import multiprocessing
import os
import stat
import time

import pytest

from unlearnlab import cache

posix_only = pytest.mark.skipif(cache.fcntl is None, reason="locks need fcntl")


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    """A fresh cache root per test, and a process that has verified nothing yet."""
    monkeypatch.setenv("UNLEARNLAB_CACHE", str(tmp_path))
    monkeypatch.setattr(cache, "_verified", {})


def write_weights(folder):
    (folder / "weights.bin").write_bytes(b"trained weights")
    (folder / "sub").mkdir()
    (folder / "sub" / "config.json").write_text("{}")


def counting(calls):
    def build(folder):
        calls.append(folder)
        write_weights(folder)

    return build


def new_process():
    """Forget what this process has verified, as a restarted notebook would."""
    cache._verified.clear()


def test_key_ignores_dict_order_and_changes_with_content():
    assert cache.stable_hash({"a": 1, "b": 2}) == cache.stable_hash({"b": 2, "a": 1})
    assert cache.stable_hash({"a": 1}) != cache.stable_hash({"a": 2})


def test_key_is_the_same_for_integral_floats_and_ints():
    assert cache.stable_hash({"epochs": 3}) == cache.stable_hash({"epochs": 3.0})
    assert cache.stable_hash({"train": {"wd": 0.0, "sizes": [1.0, 2]}}) == \
        cache.stable_hash({"train": {"wd": 0, "sizes": (1, 2.0)}})
    assert cache.stable_hash({"flag": True}) != cache.stable_hash({"flag": 1})
    assert cache.stable_hash({"lr": 0.5}) != cache.stable_hash({"lr": 0})


def test_key_without_integral_floats_is_unchanged():
    spec = {"lr": 0.003, "model": "tiny", "forget": None, "layers": [128, 4], "bf16": False}
    before = hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:16]
    assert cache.stable_hash(spec) == before


def test_second_call_reuses_without_building(tmp_path):
    calls = []
    first = cache.cached("models", {"lr": 1}, counting(calls), verbose=False)
    new_process()
    second = cache.cached("models", {"lr": 1}, counting(calls), verbose=False)
    assert first == second and len(calls) == 1
    assert (first / "weights.bin").read_bytes() == b"trained weights"
    assert json.loads((first / "spec.json").read_text()) == {"lr": 1}
    manifest = json.loads((first / "manifest.json").read_text())["files"]
    assert set(manifest) == {"weights.bin", "sub/config.json"}
    assert manifest["weights.bin"]["sha256"] == hashlib.sha256(b"trained weights").hexdigest()
    assert first.parent.parent == tmp_path


def test_reuse_is_logged_relative_to_the_cache_root(tmp_path, caplog):
    cache.cached("models", {"lr": 1}, write_weights)
    with caplog.at_level(logging.INFO, logger="unlearnlab.cache"):
        cache.cached("models", {"lr": 1}, write_weights)
    key = cache.stable_hash({"lr": 1})
    assert f"reusing cached models/{key}" in caplog.text
    assert str(tmp_path) not in caplog.text


def test_different_spec_gets_its_own_entry():
    a = cache.cached("models", {"lr": 1}, lambda f: (f / "x").write_text("1"), verbose=False)
    b = cache.cached("models", {"lr": 2}, lambda f: (f / "x").write_text("2"), verbose=False)
    assert a != b and (a / "x").read_text() == "1" and (b / "x").read_text() == "2"


def test_failed_build_leaves_nothing_behind(tmp_path):
    def broken(folder):
        (folder / "half").write_text("partial")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        cache.cached("models", {"lr": 3}, broken, verbose=False)
    key = cache.stable_hash({"lr": 3})
    assert [p.name for p in (tmp_path / "models").iterdir()] == [f"{key}.lock"]


def damaged_entries(entry):
    return sorted(entry.parent.glob(f"{entry.name}.damaged-*"))


def test_same_size_corruption_is_rebuilt_and_the_damaged_entry_kept(caplog):
    calls = []
    entry = cache.cached("models", {"lr": 1}, counting(calls), verbose=False)
    (entry / "weights.bin").write_bytes(b"trained weightz")  # same size
    new_process()
    with caplog.at_level(logging.WARNING, logger="unlearnlab.cache"):
        again = cache.cached("models", {"lr": 1}, counting(calls), verbose=False)
    assert again == entry and len(calls) == 2
    assert (entry / "weights.bin").read_bytes() == b"trained weights"
    [aside] = damaged_entries(entry)
    assert (aside / "weights.bin").read_bytes() == b"trained weightz"
    assert f"models/{aside.name}" in caplog.text and "weights.bin" in caplog.text


def test_a_file_changed_after_verification_in_the_same_process_is_noticed():
    calls = []
    entry = cache.cached("models", {"lr": 1}, counting(calls), verbose=False)
    cache.cached("models", {"lr": 1}, counting(calls), verbose=False)  # verified and remembered
    weights = entry / "weights.bin"
    mtime = weights.stat().st_mtime_ns
    weights.write_bytes(b"trained weightz")
    os.utime(weights, ns=(mtime + 10**9, mtime + 10**9))  # a later write, whatever the clock resolution
    cache.cached("models", {"lr": 1}, counting(calls), verbose=False)
    assert len(calls) == 2 and weights.read_bytes() == b"trained weights"


def test_a_missing_file_is_rebuilt():
    calls = []
    entry = cache.cached("models", {"lr": 1}, counting(calls), verbose=False)
    (entry / "sub" / "config.json").unlink()
    cache.cached("models", {"lr": 1}, counting(calls), verbose=False)
    assert len(calls) == 2 and (entry / "sub" / "config.json").exists()
    assert len(damaged_entries(entry)) == 1


def test_a_damaged_entry_that_cannot_be_moved_names_the_folder_to_delete(monkeypatch):
    entry = cache.cached("models", {"lr": 1}, write_weights, verbose=False)
    (entry / "weights.bin").write_bytes(b"short")
    rename = os.rename

    def refuse_to_move_entry(src, dst):
        if os.fspath(src) == os.fspath(entry):
            raise PermissionError("read-only cache")
        rename(src, dst)

    monkeypatch.setattr(cache.os, "rename", refuse_to_move_entry)
    with pytest.raises(cache.CacheError, match=f"{entry}.*delete that folder"):
        cache.cached("models", {"lr": 1}, write_weights, verbose=False)


def test_a_folder_without_spec_is_set_aside_not_a_failure_on_every_run():
    entry = cache.entry_path("models", {"lr": 1})
    entry.mkdir(parents=True)
    (entry / "weights.bin").write_bytes(b"half")  # e.g. copied by hand, or a crash
    calls = []
    assert cache.cached("models", {"lr": 1}, counting(calls), verbose=False) == entry
    assert cache.cached("models", {"lr": 1}, counting(calls), verbose=False) == entry
    assert len(calls) == 1 and (entry / "spec.json").exists()
    [aside] = damaged_entries(entry)
    assert (aside / "weights.bin").read_bytes() == b"half"


def test_an_entry_from_before_manifests_is_reused_and_given_a_manifest():
    entry = cache.entry_path("models", {"lr": 1})
    entry.mkdir(parents=True)
    write_weights(entry)
    (entry / "spec.json").write_text(json.dumps({"lr": 1}))
    calls = []
    assert cache.cached("models", {"lr": 1}, counting(calls), verbose=False) == entry
    assert calls == [] and (entry / "manifest.json").exists()
    (entry / "weights.bin").write_bytes(b"corrupted")
    new_process()
    cache.cached("models", {"lr": 1}, counting(calls), verbose=False)
    assert len(calls) == 1


@posix_only
def test_orphaned_temporaries_are_removed_but_not_a_running_build(tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    orphan, running = models / ".aaaa-k1ll3d00", models / ".bbbb-w0rk1ng0"
    for folder in (orphan, running):
        folder.mkdir()
        (folder / "weights.bin").write_bytes(b"half")
    fd = cache._open_lock(models / "bbbb")  # another build of entry bbbb is in progress
    assert cache._try_lock(fd)
    try:
        cache.cached("models", {"lr": 1}, write_weights, verbose=False)
    finally:
        cache._unlock(fd)
    assert not orphan.exists() and running.exists()


def test_entries_have_the_permissions_of_the_umask():
    def build(folder):
        write_weights(folder)
        script = folder / "run.sh"
        script.write_text("#!/bin/sh\n")
        script.chmod(0o700)

    old = os.umask(0o027)
    try:
        entry = cache.cached("models", {"lr": 1}, build, verbose=False)
    finally:
        os.umask(old)

    def mode(path):
        return stat.S_IMODE(path.stat().st_mode)

    assert mode(entry) == mode(entry / "sub") == 0o750
    assert mode(entry / "weights.bin") == mode(entry / "spec.json") == mode(entry / "manifest.json") == 0o640
    assert mode(entry / "run.sh") == 0o750


def _build_slowly_and_count(cache_root, counter, barrier):
    os.environ["UNLEARNLAB_CACHE"] = cache_root

    def build(folder):
        with open(counter, "a") as handle:
            handle.write("built\n")
        time.sleep(0.5)
        (folder / "weights.bin").write_text("trained")

    barrier.wait()
    entry = cache.cached("models", {"lr": 1}, build, verbose=False)
    assert (entry / "weights.bin").read_text() == "trained"


@posix_only
def test_two_processes_build_an_entry_once(tmp_path):
    context = multiprocessing.get_context("fork")
    counter = tmp_path / "builds.txt"
    barrier = context.Barrier(2)
    workers = [context.Process(target=_build_slowly_and_count, args=(str(tmp_path), str(counter), barrier))
               for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)
    assert [worker.exitcode for worker in workers] == [0, 0]
    assert counter.read_text() == "built\n"


def test_write_new_refuses_to_overwrite(tmp_path):
    target = tmp_path / "results.json"
    cache.write_new(target, "first")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        cache.write_new(target, "second")
    assert target.read_text() == "first"
    cache.write_new(target, "second", overwrite=True)
    assert target.read_text() == "second"


def test_write_new_gives_the_permissions_of_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        written = cache.write_new(tmp_path / "results.json", "{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE(written.stat().st_mode) == 0o640


def test_write_new_leaves_no_temporary_file_when_writing_fails(tmp_path):
    with pytest.raises(TypeError):
        cache.write_new(tmp_path / "results.json", None)
    assert list(tmp_path.iterdir()) == []
