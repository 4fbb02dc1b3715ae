"""The main job: unlearn the forget10 authors three ways and judge each against retraining.

Steps: build the authors world; train (or load from the cache) the tiny target and
the retrained model (exact unlearning, the reference); run gradient ascent, GradDiff and NPO on forget10;
evaluate every model (forget and retain ROUGE-L, truth ratio, forget quality
against the reference, model utility); print a table; write ``results.json`` and
a forget-vs-utility plot into a fresh output folder.
"""
from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path

from . import models, worlds
from .cache import write_new
from .config import get_profile
from .devices import describe
from .training import unlearn
from .eval import evaluate
from .eval.compare import compare
from .notebook.figures import plot_pareto

METHODS = ("ga", "graddiff", "npo")
COLUMNS = {
    "forget_rougeL_recall": "forget ROUGE-L",
    "retain_rougeL_recall": "retain ROUGE-L",
    "forget_truth_ratio": "forget truth ratio",
    "forget_quality": "forget quality",
    "model_utility": "model utility",
}


def run(out: str | Path | None = None, forget: str = "forget10", methods=METHODS, model: str = "tiny",
        overwrite: bool = False, seed: int = 0) -> dict:
    """Run the quickstart and return its results (also written to ``out``)."""
    started = time.perf_counter()
    out = _output_folder(out, overwrite)
    profile = get_profile()
    print(f"unlearnlab quickstart · profile {profile.name} · device {describe()} · output {out}")
    world = worlds.load("authors")
    forget_set, retain_set = world.split(forget), world.split(world.retain_split(forget))
    print(f"world: {len(forget_set)} forget items, {len(retain_set)} retain items")

    retrained, tokenizer = models.retrained(model, world, forget=forget)
    ref_result = evaluate(retrained, tokenizer, world, forget=forget, name="reference")
    results = {"reference": ref_result.against(ref_result)}  # judged against itself: forget quality 1
    target, _ = models.target(model, world)
    results["target"] = evaluate(target, tokenizer, world, forget=forget, retrained=ref_result, name="target")

    logs = {}
    for method in methods:  # unlearn() trains a copy: the target stays as it is
        unlearned, log = unlearn(target, tokenizer, method=method, forget=forget_set, retain=retain_set,
                                 seed=seed)
        results[method] = evaluate(unlearned, tokenizer, world, forget=forget, retrained=ref_result,
                                   name=method, run_log=log)
        logs[method] = log.to_dict()

    table = compare(results)
    shown = table[[c for c in COLUMNS if c in table.columns]].rename(columns=COLUMNS)
    print("\n" + shown.to_string(float_format=lambda v: f"{v:.3g}"))
    summary = {
        "profile": profile.name, "model": model, "forget": forget, "seed": seed,
        "wall_time_s": round(time.perf_counter() - started, 1),
        "summary": {name: r.summary() for name, r in results.items()},
        "unlearning_logs": logs,
    }
    write_new(out / "results.json", json.dumps(summary, indent=2, default=float), overwrite)
    fig = plot_pareto(results, reference="reference", target="target")
    fig.savefig(out / "forget_vs_utility.png")
    print(f"\nwrote {out / 'results.json'} and {out / 'forget_vs_utility.png'} "
          f"in {summary['wall_time_s']} s")
    return summary


def _output_folder(out: str | Path | None, overwrite: bool) -> Path:
    """A new timestamped folder by default; an existing one only with ``overwrite``."""
    if out is None:
        out = Path("outputs") / f"quickstart-{datetime.now():%Y%m%d-%H%M%S}"
    out = Path(out)
    if (out / "results.json").exists() and not overwrite:
        raise FileExistsError(f"{out} already holds results; pass --overwrite or choose another --out.")
    out.mkdir(parents=True, exist_ok=True)
    return out
