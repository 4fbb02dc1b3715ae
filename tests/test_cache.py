"""The artefact cache: content keys, reuse, atomic writes, no silent overwrite."""
import hashlib
import json
import os
import stat

import pytest

from unlearnlab import cache


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


def test_second_call_reuses_without_building(tmp_path, monkeypatch):
    monkeypatch.setenv("UNLEARNLAB_CACHE", str(tmp_path))
    calls = []

    def build(folder):
        calls.append(folder)
        (folder / "weights.txt").write_text("trained")

    first = cache.cached("models", {"lr": 1}, build, verbose=False)
    second = cache.cached("models", {"lr": 1}, build, verbose=False)
    assert first == second and len(calls) == 1
    assert (first / "weights.txt").read_text() == "trained"
    assert json.loads((first / "spec.json").read_text()) == {"lr": 1}
    assert first.parent.parent == tmp_path


def test_different_spec_gets_its_own_entry(tmp_path, monkeypatch):
    monkeypatch.setenv("UNLEARNLAB_CACHE", str(tmp_path))
    a = cache.cached("models", {"lr": 1}, lambda f: (f / "x").write_text("1"), verbose=False)
    b = cache.cached("models", {"lr": 2}, lambda f: (f / "x").write_text("2"), verbose=False)
    assert a != b and (a / "x").read_text() == "1" and (b / "x").read_text() == "2"


def test_failed_build_leaves_nothing_behind(tmp_path, monkeypatch):
    monkeypatch.setenv("UNLEARNLAB_CACHE", str(tmp_path))

    def broken(folder):
        (folder / "half").write_text("partial")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        cache.cached("models", {"lr": 3}, broken, verbose=False)
    assert not cache.entry_path("models", {"lr": 3}).exists()
    assert list((tmp_path / "models").iterdir()) == []


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
