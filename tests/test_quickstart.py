"""The main job: checks before any work (fast), and the whole run end to end (slow, ci profile)."""
import json
import os

import pytest

from unlearnlab import quickstart


@pytest.fixture
def no_training(monkeypatch):
    """Fail loudly if anything starts training: the checks must come first."""
    import unlearnlab.models as models

    def refuse(*args, **kwargs):
        raise AssertionError("training started before the inputs were checked")

    monkeypatch.setattr(models, "target", refuse)
    monkeypatch.setattr(models, "retrained", refuse)


def test_an_unknown_method_fails_before_any_training(no_training, tmp_path):
    with pytest.raises(ValueError, match="did you mean 'graddiff'"):
        quickstart.run(out=tmp_path / "run", methods=("ga", "gradiff"))
    assert not (tmp_path / "run").exists(), "nothing is created for a run that cannot start"


def test_an_unknown_model_fails_before_any_training(no_training, tmp_path):
    with pytest.raises(ValueError, match="unknown model 'tinyy'"):
        quickstart.run(out=tmp_path / "run", model="tinyy")


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_an_unwritable_output_folder_fails_before_any_training(no_training, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    with pytest.raises(PermissionError, match="cannot write"):
        quickstart.run(out=locked / "run")


def test_an_output_folder_that_is_a_file_fails_before_any_training(no_training, tmp_path):
    (tmp_path / "taken").write_text("not a folder")
    with pytest.raises(OSError):
        quickstart.output_folder(tmp_path / "taken" / "run", overwrite=False)


def test_default_output_folders_are_never_shared(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first, second = quickstart.output_folder(None, False), quickstart.output_folder(None, False)
    assert first != second and first.is_dir() and second.is_dir()


def test_results_are_not_replaced_but_a_half_written_folder_is_reused(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "partial.log").write_text("interrupted")
    assert quickstart.output_folder(out, overwrite=False) == out  # no results.json: reuse it
    (out / "results.json").write_text("{}")
    with pytest.raises(FileExistsError, match="--overwrite"):
        quickstart.output_folder(out, overwrite=False)
    assert quickstart.output_folder(out, overwrite=True) == out


def test_the_default_profile_is_the_small_world_unless_one_is_chosen(monkeypatch):
    monkeypatch.delenv("UNLEARNLAB_PROFILE", raising=False)
    assert quickstart.choose_profile(None)[0] == "ci"
    monkeypatch.setenv("UNLEARNLAB_PROFILE", "laptop")
    assert quickstart.choose_profile(None) == ("laptop", "UNLEARNLAB_PROFILE")
    assert quickstart.choose_profile("gpu") == ("gpu", "--profile")
    with pytest.raises(ValueError, match="unknown profile"):
        quickstart.choose_profile("huge")


@pytest.mark.slow
def test_quickstart_judges_each_method_against_the_retrained_band(tmp_path):
    out = tmp_path / "run"
    summary = quickstart.run(out=out)
    assert (out / "results.json").exists() and (out / "against_retrained.png").stat().st_size > 10_000
    saved = json.loads((out / "results.json").read_text())
    assert set(saved["summary"]) == {"retrained (seed 0)", "retrained (seed 1)", "retrained (seed 2)", "target",
                                     *quickstart.METHODS}

    verdicts, s = summary["verdicts"], summary["summary"]
    assert verdicts["target"] == "still remembers"
    assert verdicts["ga"] == "collapsed", "unbounded gradient ascent destroys the retain answers too"
    assert "like retrained" in verdicts.values(), f"no method lands in the retrained band: {verdicts}"
    assert s["target"]["forget_fact_recall"] > 0.9 > s["retrained (seed 1)"]["forget_fact_recall"] + 0.5
    with pytest.raises(FileExistsError, match="--overwrite"):
        quickstart.run(out=out)


def test_the_plan_lists_every_step_with_a_time_estimate(capsys, tmp_path):
    quickstart.print_plan("ci", "the quickstart's default", ("npo", "ga"), "tiny", tmp_path)
    plan = capsys.readouterr().out
    for step in ("retrained model, seed 0", "retrained model, seed 1", "the target", "unlearn with npo",
                 "unlearn with ga", "evaluate every model", "in all"):
        assert step in plan
    total = float(plan.split("min  in all")[0].split("~")[-1])
    assert 1.0 < total <= 5.0, "the default first run is planned within five minutes"
