"""A learner's method on the leaderboard: what ``check_method`` refuses, and what re-submitting a name does.

Nothing here trains a model: the stages of a run (target, retrained seeds,
validation, test) are replaced by functions that return fixed numbers at once,
so what is tested is the bookkeeping of ``submit``: which runs it makes, which
files it writes and which it leaves alone.
"""
from __future__ import annotations

import importlib
import json
import logging
import sys

import pytest
import torch

from unlearnlab import leaderboard
from unlearnlab.leaderboard.runner import Runner, _World
from unlearnlab.methods import Method
from unlearnlab.methods.template import MyMethod
from unlearnlab.methods.base import _REGISTRY
from unlearnlab.numerics import mean_nll


# ----- check_method: a loss must run on the batch training gives it --------------------------------
class ReadsAKeyNobodyWrites(Method):
    """A loss that weights tokens by a batch key the engine never builds."""

    name = "_reads_weights"

    def forget_loss(self, logits, forget, reference):
        return -(mean_nll(logits["forget"], forget["labels"]) * forget["weights"]).mean()


class ReadsRefLogpWithoutAskingForIt(Method):
    """NPO's ``ref_logp`` read without ``reference_logprobs = True``: training never computes it."""

    name = "_reads_ref_logp"

    def forget_loss(self, logits, forget, reference):
        return -(mean_nll(logits["forget"], forget["labels"]) - forget["ref_logp"]).mean()


class AsksForRefLogp(ReadsRefLogpWithoutAskingForIt):
    """The same loss, declaring what it needs: accepted."""

    name = "_asks_ref_logp"
    reference_logprobs = True


def test_a_loss_that_reads_a_key_training_does_not_provide_is_refused_with_the_key_and_the_fix():
    with pytest.raises(ValueError, match=r"forget_loss reads forget\['weights'\], a key training does not provide"
                                         r".*forget batch holds \['attention_mask', 'input_ids', 'labels', "
                                         r"'logits_start'\].*compute what you need"):
        leaderboard.check_method(ReadsAKeyNobodyWrites)
    with pytest.raises(ValueError, match=r"reads forget\['ref_logp'\].*set the class attribute "
                                         r"`reference_logprobs = True`"):
        leaderboard.check_method(ReadsRefLogpWithoutAskingForIt)
    leaderboard.check_method(AsksForRefLogp)  # passes: the engine adds ref_logp for it, and so does the probe


def test_a_key_error_from_the_learners_own_code_is_refused_too():
    class OwnLookup(Method):
        name = "_own_lookup"

        def forget_loss(self, logits, forget, reference):
            return {"nll": mean_nll(logits["forget"], forget["labels"])}["NLL"]

    with pytest.raises(ValueError, match=r"raised KeyError\('NLL'\), a key training does not provide"):
        leaderboard.check_method(OwnLookup)


def test_a_value_error_is_passed_only_for_a_method_that_needs_the_frozen_original_model():
    class Broken(Method):
        name = "_broken"

        def forget_loss(self, logits, forget, reference):
            raise ValueError("shapes do not match")

    with pytest.raises(ValueError, match="failed on a batch shaped like training's.*shapes do not match"):
        leaderboard.check_method(Broken)

    class NeedsOriginal(Broken):  # training builds the frozen original model for it; the probe does not
        name = "_needs_original"
        live_reference = True

    leaderboard.check_method(NeedsOriginal)


@pytest.mark.parametrize("name", ["dpo", "npo", "simnpo", "idk", "wga", "undial", "whp", "me", "graddiff"])
def test_every_registered_method_with_its_own_forget_loss_passes_the_check(name):
    """The probe gives each built-in what training gives it (ref_logp to NPO and DPO, DPO's preferred batch)."""
    leaderboard.check_method(_REGISTRY[name])


def test_a_method_that_owns_its_whole_loss_passes_and_the_unfilled_template_still_does_not():
    """RMU overrides compute_loss (its loss reads activations, not logits): the logits probe cannot apply."""
    leaderboard.check_method(_REGISTRY["rmu"])

    class Steering(MyMethod):  # the template, unfilled, but with a compute_loss of its own
        name = "_steering"

        def compute_loss(self, model, forget, retain, reference=None):
            return model(**forget).loss

    leaderboard.check_method(Steering)
    with pytest.raises(NotImplementedError, match="fill in the template"):
        leaderboard.check_method(type("Unfilled", (MyMethod,), {"name": "_unfilled"}))


# ----- submit: one name, two versions -----------------------------------------------------------------
@pytest.fixture
def instant_stages(monkeypatch):
    """Every stage of a run returns fixed numbers at once; the list records which stages ran, for which method."""
    calls: list[tuple[str, str | None]] = []
    metrics = {"forget_fact_recall": 0.05, "model_utility": 0.6}
    relearn = {"before": 0.0, "after": 0.1, "gain": 0.1}

    def target(self, w):
        calls.append(("target", None))
        return {"metrics": {"forget_fact_recall": 1.0, "model_utility": 0.7}, "never_seen": 0.01}

    def scored(self, w, model, spec, reference):
        calls.append(("retrained", None))
        return {"metrics": metrics, "relearn": relearn, "quantize": relearn}

    def validation(self, w, method, hyper, never_seen):
        calls.append(("validation", method))
        return {"validation": {"forget": 0.0, "utility": 0.5, "never_seen": never_seen, "score": 0.49}}

    def test(self, w, method, hyper, seed, spec, reference):
        calls.append(("test", method))
        return {"metrics": metrics, "relearn": relearn, "quantize": relearn}

    for name, stage in {"_target": target, "_scored": scored, "_validation": validation, "_test": test}.items():
        monkeypatch.setattr(Runner, name, stage)
    monkeypatch.setattr(_World, "retrained", lambda self, seed: None)
    return calls


def _method_version(tmp_path, monkeypatch, factor: str):
    """Import class ``Mine`` (name ``mine``) from a file, as a notebook cell edited and run again defines it.

    Each version's ``factor`` has its own length: the import system and ``inspect`` notice an edited file by
    its size and time, and two edits within one second differ only in size.
    """
    source = f'''
from dataclasses import dataclass
from unlearnlab.methods import Method
from unlearnlab.methods.template import MyMethod
from unlearnlab.numerics import mean_nll


@dataclass
class Mine(Method):
    name = "mine"

    def forget_loss(self, logits, forget, reference):
        return -{factor} * mean_nll(logits["forget"], forget["labels"])
'''
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "mine_method.py").write_text(source)
    sys.modules.pop("mine_method", None)
    importlib.invalidate_caches()
    return importlib.import_module("mine_method").Mine


def _files(folder, pattern="*.json") -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted((folder / "authors").glob(pattern))}


def test_resubmitting_an_edited_method_runs_only_its_new_version_and_keeps_the_old_files(
        tmp_path, monkeypatch, instant_stages):
    monkeypatch.setitem(_REGISTRY, "mine", None)  # removed again after the test
    del _REGISTRY["mine"]
    monkeypatch.setitem(sys.modules, "mine_method", None)  # the imported versions leave with the test
    folder = tmp_path / "results"
    leaderboard.run("ci", methods=["npo"], folder=folder, log=None)
    before = _files(folder)
    assert len(before) == 1 + 3 + 2 + 3  # target, 3 retrained seeds, 2 validation candidates, 3 test seeds

    lines: list[str] = []
    first = _method_version(tmp_path, monkeypatch, "1.0")
    instant_stages.clear()
    leaderboard.submit(first, folder=folder, log=lines.append)
    assert _REGISTRY["mine"] is first
    assert sorted(set(instant_stages)) == [("test", "mine"), ("validation", "mine")]  # target, retrained reused
    assert len(instant_stages) == 2 + 3 and not any("earlier runs" in line for line in lines)
    first_files = _files(folder, "*-mine-*.json")
    assert len(first_files) == 5

    lines.clear()
    instant_stages.clear()
    leaderboard.submit(first, folder=folder, log=lines.append)  # unchanged: everything is read, nothing runs
    assert instant_stages == [] and lines == []

    edited = _method_version(tmp_path, monkeypatch, "2.50")
    assert edited is not first and edited.__qualname__ == first.__qualname__
    records = leaderboard.submit(edited, folder=folder, log=lines.append)
    assert _REGISTRY["mine"] is edited  # the edited cell replaces the registered class
    assert len(instant_stages) == 5  # its 2 + 3 runs are new: its code changed
    after = _files(folder)
    assert len(after) == len(before) + 5 + 5
    assert all(after[name] == text for name, text in {**before, **first_files}.items())  # nothing overwritten
    expected = (f"5 earlier runs of 'mine' (other code, settings or budget) stay saved, not deleted, in "
                f"{folder / 'authors'}; the table of this grid shows only the current version")
    assert [line for line in lines if "earlier runs" in line] == [expected]

    shown = leaderboard.saved("ci", methods=["npo", "mine"], folder=folder)
    mine_keys = {r["key"] for r in shown if r["method"] == "mine"}
    assert mine_keys == {r["key"] for r in records if r["method"] == "mine"}  # only the edited version's
    assert not mine_keys & {json.loads(text)["key"] for text in first_files.values()}
    assert {r["key"] for r in shown if r["method"] == "npo"} == {
        json.loads(text)["key"] for name, text in before.items() if "-npo-" in name}  # npo's rows untouched


def test_a_quiet_resubmission_still_says_that_earlier_runs_are_kept(tmp_path, monkeypatch, instant_stages, caplog):
    monkeypatch.setitem(_REGISTRY, "mine", None)
    del _REGISTRY["mine"]
    monkeypatch.setitem(sys.modules, "mine_method", None)
    folder = tmp_path / "results"
    leaderboard.submit(_method_version(tmp_path, monkeypatch, "1.0"), folder=folder, log=None)
    with caplog.at_level(logging.WARNING, logger="unlearnlab.leaderboard.runner"):
        leaderboard.submit(_method_version(tmp_path, monkeypatch, "3.000"), folder=folder, log=None)
    assert "5 earlier runs of 'mine'" in caplog.text and "not deleted" in caplog.text


def test_another_class_under_a_registered_name_is_refused_before_anything_runs(tmp_path, instant_stages):
    class Impostor(Method):
        name = "npo"

        def forget_loss(self, logits, forget, reference):
            return logits["forget"].mean()

    npo = _REGISTRY["npo"]
    with pytest.raises(ValueError, match="a method named 'npo' is already registered .*choose another name"):
        leaderboard.submit(Impostor, folder=tmp_path / "results", log=None)
    assert _REGISTRY["npo"] is npo and instant_stages == [] and not (tmp_path / "results").exists()


def test_check_method_probe_is_what_the_loss_sees():
    """The probe's labels mask the prompt like training's: GradDiff's forget loss on zero logits is −log 8."""
    from unlearnlab.leaderboard.runner import _probe_inputs

    logits, forget = _probe_inputs(_REGISTRY["graddiff"]())
    assert sorted(logits) == ["forget", "retain"] and "ref_logp" not in forget
    loss = _REGISTRY["graddiff"]().forget_loss(logits, forget, None)
    assert loss.item() == pytest.approx(-2.0794415, abs=1e-6)  # uniform over 8 tokens: NLL = log 8 = 2.0794415
    logits, forget = _probe_inputs(_REGISTRY["dpo"]())
    assert sorted(logits) == ["forget", "preferred", "retain"] and torch.equal(forget["ref_logp"],
                                                                             torch.tensor([-3.0, -2.0]))
