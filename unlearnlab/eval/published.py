"""A method run from open-unlearning's published TOFU checkpoints, placed next to their published numbers.

The real-benchmark path of the gpu profile (issue 16)::

    from unlearnlab.eval.published import run_published
    result, table = run_published("npo", "forget10")   # the hub: TOFU, Llama-3.2-1B target and retain90
    print(table)

It loads real TOFU, the published target (``tofu_Llama-3.2-1B-Instruct_full``) and
retrained model (``..._retain90``), evaluates the retrained model as the
reference, unlearns the target with ``method`` on forget10 (retain90 as the
retain set) and evaluates the result; the table puts forget quality, model
utility and the forget truth ratio next to open-unlearning's reproducibility
numbers for the same method.  Offline, ``data_dir`` (TOFU's files) and
``models_dir`` (folders named like the hub repositories) take their place.

The numbers are comparable in kind, not to the digit: open-unlearning trains
10 epochs at an effective batch of 32 on two GPUs and evaluates with its own
code; the course's evaluation follows TOFU's definitions (``eval/tofu.py``).
"""
from __future__ import annotations

from pathlib import Path

from ..public import open_unlearning, tofu
from .results import EvalResult
from .suite import evaluate

#: TOFU splits a run reads: the forget split, its retain complement and the evaluation sets
EVAL_SPLITS = ("retain_perturbed", "real_authors", "world_facts")


def tofu_splits(forget: str) -> list[str]:
    """The TOFU world splits one run needs for ``forget`` (forget10 -> retain90, holdout10, ...)."""
    return [forget, tofu.FORGET_TO_RETAIN[forget], *EVAL_SPLITS, forget.replace("forget", "holdout")]


def eval_splits(forget: str) -> dict[str, str]:
    """Result split -> TOFU split, as TOFU evaluates: the retain set is scored on ``retain_perturbed``.

    TOFU's retain90 rows have no perturbed answers, so its evaluation (and model
    utility's truth ratio) uses the 400 items of ``retain_perturbed`` instead.
    """
    return {"forget": forget, "retain": "retain_perturbed", "real_authors": "real_authors",
            "world_facts": "world_facts", "holdout": forget.replace("forget", "holdout")}


def run_published(method: str = "npo", forget: str = "forget10", *, model: str = open_unlearning.DEFAULT_MODEL,
                  data_dir: str | Path | None = None, models_dir: str | Path | None = None,
                  max_items: int | None = None, eval_settings: dict | None = None, **settings):
    """Unlearn the published target with ``method``; returns ``(EvalResult, comparison table)``.

    ``settings`` go to :func:`unlearnlab.training.unlearn` (open-unlearning's
    reproducibility runs used ``learning_rate=1e-5, num_train_epochs=10``);
    ``eval_settings`` to :func:`unlearnlab.eval.evaluate` (e.g. ``generate=False``).
    """
    from .. import models
    from ..training import unlearn

    world = tofu.load(local_dir=data_dir, splits=tofu_splits(forget))
    eval_kwargs = {"max_items": max_items, "splits": eval_splits(forget), **(eval_settings or {})}
    retrained_name = open_unlearning.checkpoint("retrained", forget, model, models_dir)
    retrained_model, tokenizer = models.load(retrained_name)
    retrained = evaluate(retrained_model, tokenizer, world, forget, name="retrained (published)", **eval_kwargs)
    del retrained_model
    target_model, tokenizer = models.load(open_unlearning.checkpoint("target", forget, model, models_dir))
    unlearned, log = unlearn(target_model, tokenizer, method, world.split(forget),
                             world.split(tofu.FORGET_TO_RETAIN[forget]), inplace=True, **settings)
    result = evaluate(unlearned, tokenizer, world, forget, retrained=retrained, run_log=log,
                      name=f"{method} from the published target", **eval_kwargs)
    return result, next_to_published(result, method, forget, model)


def next_to_published(result: EvalResult, method: str, forget: str = "forget10",
                      model: str = open_unlearning.DEFAULT_MODEL):
    """A table (pandas) of this run's TOFU metrics beside open-unlearning's published ones for ``method``."""
    import pandas as pd

    published = open_unlearning.published(method, forget, model)
    ours = result.summary()
    rows = [{"metric": metric, "this run": ours.get(metric), "published": published[metric]}
            for metric in open_unlearning.METRICS]
    table = pd.DataFrame(rows).set_index("metric")
    table.attrs["source"] = (f"{open_unlearning.REPRO_SOURCE} at {open_unlearning.REPRO_COMMIT[:10]}: "
                             f"{open_unlearning.METHOD_NAMES.get(method.lower(), method)} on {model} {forget}")
    return table
