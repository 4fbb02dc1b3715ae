"""The leaderboard: grids as data, the method check, resuming runs, and the table/figure from saved records.

Nothing here trains a model: records are written by hand (the shape the runner
writes), so these tests check the bookkeeping and the statistics, fast.
"""
from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import pytest

from unlearnlab import leaderboard
from unlearnlab.leaderboard.__main__ import main
from unlearnlab.leaderboard.runner import Runner, _World
from unlearnlab.methods import Method
from unlearnlab.methods.entropy import MaxEntropy
from unlearnlab.methods.template import MyMethod


def test_grids_are_data_and_names_are_checked():
    ci, full = leaderboard.get_grid("ci"), leaderboard.get_grid("full")
    assert ci.worlds == ("authors",) and set(ci.methods) == {"graddiff", "npo", "me"} and len(ci.seeds) == 3
    assert set(full.worlds) == {"authors", "hazard", "books"} and "descent" not in full.methods
    assert {"ga", "npo", "rmu", "whp", "me"} <= set(full.methods)
    assert "validation runs" in ci.describe()
    assert leaderboard.get_grid("full", methods=["NPO"], worlds=["hazard"]).methods == ("npo",)
    with pytest.raises(ValueError, match=r"unknown grid 'ful' \(did you mean 'full'\?\)"):
        leaderboard.get_grid("ful")
    with pytest.raises(ValueError, match=r"unknown method 'npoo'.*known: .*npo"):
        leaderboard.get_grid("ci", methods=["npoo"])
    with pytest.raises(ValueError, match="unknown world 'moon'"):
        leaderboard.get_grid("ci", worlds=["moon"])


def test_selection_score_penalises_under_and_over_forgetting():
    assert leaderboard.selection_score(0.05, 0.9, 0.05) == pytest.approx(0.9)
    assert leaderboard.selection_score(0.5, 0.9, 0.05) == pytest.approx(0.45)   # remembers
    assert leaderboard.selection_score(0.0, 0.9, 0.05) == pytest.approx(0.85)   # over-forgets a little


def test_submit_refuses_the_unfilled_template_and_accepts_a_solution():
    with pytest.raises(ValueError, match="its own class attribute `name`"):
        leaderboard.check_method(MyMethod)

    class Unfilled(MyMethod):
        name = "_unfilled"

    with pytest.raises(NotImplementedError, match="forget_loss is not implemented"):
        leaderboard.check_method(Unfilled)

    class CopiedTemplate(Method):  # a copy of the template pasted into a notebook: its own, still raising, loss
        name = "_copied"

        def forget_loss(self, logits, forget, reference):
            raise NotImplementedError("TODO")

    with pytest.raises(NotImplementedError, match="not implemented yet"):
        leaderboard.check_method(CopiedTemplate)

    class Constant(Method):
        name = "_constant"

        def forget_loss(self, logits, forget, reference):
            import torch
            return torch.tensor(1.0)

    with pytest.raises(ValueError, match="scalar tensor that depends on the logits"):
        leaderboard.check_method(Constant)
    with pytest.raises(TypeError, match="Method subclass"):
        leaderboard.check_method(MaxEntropy())
    leaderboard.check_method(MaxEntropy)  # passes


def test_a_run_whose_file_exists_is_not_run_again(tmp_path):
    runner = Runner(leaderboard.get_grid("ci"), tmp_path, log=None)
    calls = []

    def build():
        calls.append(1)
        return {"metrics": {"x": 1.0}}

    w = _World(leaderboard.TASKS["authors"])
    spec = runner._spec(w, "test", "npo", {"learning_rate": 1e-3}, 0)
    first = runner._record(spec, build)
    again = Runner(leaderboard.get_grid("ci"), tmp_path, log=None)._record(spec, build)
    assert len(calls) == 1 and first == again and first["metrics"] == {"x": 1.0}
    other = runner._spec(w, "test", "npo", {"learning_rate": 3e-4}, 0)
    assert runner._path(other) != runner._path(spec)  # a changed setting is a different run


def test_the_budget_is_epochs_of_the_forget_set_in_every_profile():
    """Numbers worked by hand: ci's forget10 has 76 items, 3 passes in batches of 4 = 57 steps; the relearning
    attack shows 11 of them, 7 passes in batches of 4 = 77/4 = 19.25, rounded up to chapter 12's 20 steps."""
    from types import SimpleNamespace

    w = _World(leaderboard.TASKS["authors"])
    grid = leaderboard.get_grid("ci")
    assert w.budget(grid) == {"max_steps": 57, "batch_size": 4, "epochs": 3.0}
    assert w.relearn_steps(grid) == 20
    # a world of 10 forget items (any profile's size): 3 · 10 / 4 = 7.5 steps, rounded up to 8; 1.5 passes
    # in batches of 6 = 2.5, up to 3
    w._world = SimpleNamespace(items=lambda split: [{}] * 10)
    assert w.budget(grid)["max_steps"] == 8
    assert w.budget(replace(grid, epochs=1.5, batch_size=6)) == {"max_steps": 3, "batch_size": 6, "epochs": 1.5}


def _records() -> list[dict]:
    """A hand-made world: 3 retrained seeds, a target, two methods with 3 seeds each."""
    out = []

    def rec(stage, method, seed, recall, utility, gain, hyper=None):
        out.append({"world": "authors", "stage": stage, "method": method, "seed": seed, "profile": "ci",
                    "hyperparameters": hyper or {}, "budget": {"max_steps": 57, "batch_size": 4, "epochs": 3}, "protocol": 1,
                    "metrics": {"forget_fact_recall": recall, "forget_quality": 0.5, "forget_rougeL_recall": recall,
                                "forget_repetition": 0.1, "retain_fact_recall": utility, "model_utility": utility},
                    **({"relearn": {"before": 0.0, "after": gain, "gain": gain},
                        "quantize": {"before": 0.0, "after": seed / 100, "gain": seed / 100}} if stage != "target" else {}),
                    **({"flops": 1e9} if stage == "test" else {})})

    rec("target", None, None, 1.0, 0.7, None)
    for seed, (r, g) in enumerate([(0.03, 0.0), (0.05, 0.02), (0.07, 0.01)]):
        rec("retrained", None, seed, r, 0.68 + 0.01 * seed, g)
    for seed, (r, u, g) in enumerate([(0.0, 0.60, 0.40), (0.02, 0.62, 0.50), (0.01, 0.58, 0.45)]):
        rec("test", "npo", seed, r, u, g, {"learning_rate": 1e-3})
    for seed, (r, u, g) in enumerate([(0.05, 0.67, 0.02), (0.04, 0.69, 0.0), (0.06, 0.68, 0.01)]):
        rec("test", "me", seed, r, u, g)
    return out


def test_t_interval_against_numbers_worked_by_hand():
    """0.40, 0.50, 0.45: mean 0.45, sd = sqrt((0.05² + 0.05² + 0) / 2) = 0.05, t(0.975, 2 df) = 4.3027 (a t
    table), half-width 4.3027 · 0.05 / √3 = 0.12421.  Two seeds 0 and 1: sd = √0.5, t(0.975, 1) = 12.706,
    half-width 12.706 · 0.7071 / √2 = 6.3531."""
    mean, half = leaderboard.t_interval([0.40, 0.50, 0.45])
    assert mean == pytest.approx(0.45) and half == pytest.approx(0.12421, abs=1e-5)
    mean, half = leaderboard.t_interval([0.0, 1.0])
    assert mean == pytest.approx(0.5) and half == pytest.approx(6.3531, abs=1e-4)
    assert leaderboard.t_interval([0.3])[0] == 0.3 and math.isnan(leaderboard.t_interval([0.3])[1])  # one seed: no interval


def test_table_ranks_against_the_retrained_band_and_reads_an_export(tmp_path):
    records = _records()
    frame = leaderboard.table(records)
    assert list(frame["method"]) == ["target", "retrained", "me", "npo"]
    me, npo = frame.set_index("method").loc["me"], frame.set_index("method").loc["npo"]
    assert me["forgets"] and me["keeps"] and me["authentic"]
    assert npo["forgets"] and not npo["keeps"] and not npo["authentic"]
    assert npo["relearn_gain"] == pytest.approx(0.45) and npo["setting"] == "learning_rate=0.001"
    assert me["setting"] == "tier defaults" and me["seeds"] == 3
    # by hand: NPO's utility seeds 0.60, 0.62, 0.58 have sd 0.02, so ± 4.3027 · 0.02 / √3 = 0.04968; its gains
    # 0.40, 0.50, 0.45 have sd 0.05, so ± 0.12421
    assert npo["model_utility"] == pytest.approx(0.60) and npo["model_utility ±"] == pytest.approx(0.04968, abs=1e-5)
    assert npo["relearn_gain ±"] == pytest.approx(0.12421, abs=1e-5)
    # rank score = utility − |forget recall − retrained mean recall (0.03, 0.05, 0.07 → 0.05)|:
    # ME 0.68 − |0.05 − 0.05| = 0.68, NPO 0.60 − |0.01 − 0.05| = 0.56
    assert me["rank_score"] == pytest.approx(0.68) and npo["rank_score"] == pytest.approx(0.56)
    # the bands: [min − m, max + m], m = the seeds' spread or 0.05 if larger.  Recall 0.03-0.07 (spread 0.04)
    # → [-0.02, 0.12]; utility 0.68-0.70 → [0.63, 0.75]; relearning gain 0-0.02 → [-0.05, 0.07].  So NPO's
    # 0.60 is below the utility band (not "keeps") and its gain 0.45 above the attack band (not "authentic")
    band = leaderboard.bands(records, "authors")
    assert (band["forget_fact_recall"].low, band["forget_fact_recall"].high) == (pytest.approx(-0.02), pytest.approx(0.12))
    assert (band["model_utility"].low, band["model_utility"].high) == (pytest.approx(0.63), pytest.approx(0.75))
    assert (band["relearn_gain"].low, band["relearn_gain"].high) == (pytest.approx(-0.05), pytest.approx(0.07))
    path = leaderboard.export(records, tmp_path / "board.json", grid="test")
    assert json.loads(path.read_text())["profiles"] == ["ci"]
    import pandas as pd  # the export rounds to 5 significant digits: the same table, to that precision

    pd.testing.assert_frame_equal(leaderboard.table(leaderboard.load_records(path)), frame, rtol=1e-4)
    fig = leaderboard.figure(path)
    assert all(ax.get_xlabel() and ax.get_ylabel() for ax in fig.axes)


def test_authentic_needs_both_attacks_within_their_retrained_bands():
    """The retrained seeds' 4-bit gains 0, 0.01, 0.02 give the band [-0.05, 0.07] (the 0.05 minimum margin).  ME
    is authentic with gains 0-0.02; give its seeds a 4-bit gain of 0.3 and relearning alone no longer saves it."""
    records = _records()
    assert leaderboard.table(records).set_index("method").loc["me", "authentic"]
    band = leaderboard.bands(records, "authors")["quant_gain"]
    assert (band.low, band.high) == (pytest.approx(-0.05), pytest.approx(0.07))
    for r in records:
        if r["method"] == "me":
            r["quantize"] = {"before": 0.0, "after": 0.3, "gain": 0.3}
    me = leaderboard.table(records).set_index("method").loc["me"]
    assert me["quant_gain"] == pytest.approx(0.3) and me["relearn_gain"] <= 0.07 and not me["authentic"]


def test_a_record_from_before_the_quantization_attack_is_refused_with_what_to_do():
    records = _records()
    del records[1]["quantize"]
    with pytest.raises(ValueError, match="predates that attack; rerun the grid"):
        leaderboard.table(records)


def test_results_folder_reading_skips_per_item_logs(tmp_path):
    for n, record in enumerate(_records()):
        (tmp_path / "authors").mkdir(exist_ok=True)
        (tmp_path / "authors" / f"r{n}.json").write_text(json.dumps(record))
    (tmp_path / "authors" / "items").mkdir()
    (tmp_path / "authors" / "items" / "r0.json").write_text("{\"not\": \"a record\"}")
    assert len(leaderboard.load_records(tmp_path)) == len(_records())
    with pytest.raises(FileNotFoundError, match="run `python -m unlearnlab.leaderboard run` first"):
        leaderboard.load_records(tmp_path / "missing")


def test_cli_shows_an_export_and_rejects_unknown_names(tmp_path, capsys):
    path = leaderboard.export(_records(), tmp_path / "board.json")
    assert main(["show", "--from", str(path)]) == 0
    assert "npo" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["run", "--methods", "nope"])
    assert "unknown method 'nope'" in capsys.readouterr().err


def test_me_is_on_the_leaderboard_with_its_own_colour():
    from unlearnlab.notebook import color

    assert "me" in leaderboard.get_grid("ci").methods and color("me") != color("unknown")


def test_show_from_an_export_shows_the_whole_file_unless_asked_to_filter(tmp_path, capsys):
    """An exported full grid holds methods the default ci grid does not; nothing is dropped silently."""
    extra = [dict(r, method="simnpo") for r in _records() if r["stage"] == "test"]
    assert extra and "simnpo" not in leaderboard.get_grid("ci").methods
    path = leaderboard.export(_records() + extra, tmp_path / "board.json")
    assert main(["show", "--from", str(path)]) == 0
    assert "simnpo" in capsys.readouterr().out
    assert main(["show", "--from", str(path), "--grid", "ci"]) == 0
    assert "simnpo" not in capsys.readouterr().out


def test_editing_a_helper_the_loss_calls_changes_the_method_fingerprint(tmp_path, monkeypatch):
    import importlib
    import sys

    from unlearnlab.leaderboard.runner import method_fingerprint
    from unlearnlab.methods.base import _REGISTRY

    source = """
from dataclasses import dataclass
from unlearnlab.methods import Method, register


def helper(x):
    return {body}


@register
@dataclass
class Probe(Method):
    name = "fingerprint_probe"

    def forget_loss(self, logits, forget, reference):
        return helper(logits)
"""
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(_REGISTRY, "fingerprint_probe", None)  # removed again after the test
    keys = []
    for body in ("x", "-x"):
        (tmp_path / "probe_method.py").write_text(source.format(body=body))
        sys.modules.pop("probe_method", None)
        importlib.invalidate_caches()
        importlib.import_module("probe_method")
        keys.append(method_fingerprint("fingerprint_probe"))
    sys.modules.pop("probe_method", None)
    assert keys[0] != keys[1]


def test_saved_reads_only_the_current_grid_and_runs_nothing(tmp_path, capsys):
    stale = tmp_path / "authors" / "test-npo-0-0000000000000000.json"  # an older budget's file
    stale.parent.mkdir(parents=True)
    stale.write_text(json.dumps(_records()[-1]))
    assert leaderboard.saved("ci", folder=tmp_path) == []
    assert "runs of grid 'ci' are not saved yet" in capsys.readouterr().out


def test_relabeling_methods_are_skipped_on_text_worlds():
    from unlearnlab.leaderboard.runner import applicable

    from unlearnlab import worlds

    qa = [{"question": "Where was Ada born?", "answer": "Ada was born in Lisbon."}] * 2
    text = [{"text": "Chapter one. The lantern road began at the river."}] * 2
    assert applicable("idk", qa, qa) and not applicable("idk", text, text) and not applicable("dpo", text, text)
    assert applicable("npo", text, text) and applicable("me", text, text)
    authors = worlds.load("authors")  # random answers are drawn per attribute from the retain set: it applies
    assert applicable("random_label", authors.split("forget10"), authors.split("retain90"))


def test_authenticity_is_not_claimed_for_a_method_that_did_not_forget():
    records = _records()
    for r in records:
        if r["method"] == "me":
            r["metrics"]["forget_fact_recall"] = 0.9  # remembers: far above the retrained band
    row = leaderboard.table(records).set_index("method").loc["me"]
    assert not row["forgets"] and row["authentic"] is None


def test_a_table_without_retrained_runs_says_what_is_missing():
    tests_only = [r for r in _records() if r["stage"] != "retrained"]
    with pytest.raises(ValueError, match="no retrained records for the authors world"):
        leaderboard.table(tests_only)


@pytest.mark.parametrize("name", ["ci", "laptop"])
def test_each_committed_full_grid_reads_whole_with_both_attacks(name):
    """The tables chapter 14 shows: every world, every scored run attacked both ways, a verdict per method."""
    path = Path(__file__).parents[1] / "results" / f"leaderboard-{name}.json"
    if not path.exists():
        pytest.skip(f"{path.name} is not committed")
    records = leaderboard.load_records(path)
    scored = [r for r in records if r["stage"] in ("retrained", "test")]
    assert scored and all("relearn" in r and "quantize" in r for r in scored)
    frame = leaderboard.table(records)
    assert set(frame["world"]) == {"authors", "hazard", "books"}
    methods = frame[~frame["method"].isin(["target", "retrained"])]
    assert methods["forgets"].notna().all() and methods["quant_gain"].notna().all()
