"""One call evaluates a model on a world: :func:`evaluate`.

The survey (section 5) asks for *multifaceted* evaluation: forgetting on the
forget set and on hard in-scope probes, utility on retained and out-of-scope
data (including hard neighbours), comparison with the retrained model, privacy
via membership inference, fluency, and cost.  :func:`evaluate` runs all of it in
four batched passes over the model:

1. teacher-forced scoring of every answer, paraphrase, perturbed answer and
   multiple-choice option (:mod:`~unlearnlab.eval.scoring`);
2. greedy generation of every answer (:mod:`~unlearnlab.eval.generation`);
3. GradNorm on the forget and holdout sets (one backward pass per item);
4. with ``reference_model``: the retain-only model's NLL on forget and holdout
   answers (the Reference attack) and on the forget-set generations (fluency).

Then every aggregate is computed from the per-item statistics
(:func:`~unlearnlab.eval.results.compute_aggregates`).
"""
from __future__ import annotations

import difflib
import time
from pathlib import Path
from typing import Any, Iterable, Mapping

from ..config import get_profile
from ..formats import encode_prompt, encode_qa, encode_text
from ..devices import peak_memory_mb, reset_peak_memory
from ..worlds import load as load_world
from ..worlds.base import World
from . import mcq, mia
from .generation import exact_match, greedy_generate, repetition_rate, rouge_scores
from .results import DEFAULT_SETTINGS, EvalResult, ItemResult, SplitResult, load_result, reference_log
from .scoring import score_features
from .tofu import TRUTH_RATIO_BASES
from ..numerics import pad_id

#: splits evaluated by default, when the world has them ("forget"/"retain" follow ``forget``)
DEFAULT_SPLITS = ("forget", "retain", "holdout", "world_facts", "real_authors", "real_world",
                  "hard_in_scope", "hard_out_of_scope")
#: splits whose items the membership-inference attacks compare (members, non-members)
MIA_SPLITS = ("forget", "holdout")


def evaluate(model, tokenizer, world: World | str, forget: str | None = "forget10",
             reference: EvalResult | str | Path | None = None, reference_model=None,
             splits: Iterable[str] | Mapping[str, str] | None = None, *, name: str | None = None,
             max_items: int | None = None, max_new_tokens: int | None = None, batch_size: int = 64,
             generate: bool = True, gradnorm: bool = True, max_length: int = 256,
             truth_ratio_base: str = "paraphrased", run_log: Mapping[str, Any] | None = None) -> EvalResult:
    """Evaluate ``model`` on ``world`` (a :class:`World` or a world name) and return an :class:`EvalResult`.

    forget
        the forget split (``forget01/05/10`` in the authors world); its retain
        complement is evaluated as ``retain``.
    reference
        the retain-only model's result (or the path of its saved JSON), needed
        for forget quality, PrivLeak and (without ``reference_model``) the
        Reference attack.
    reference_model
        the retain-only model itself, for the Reference attack and the
        perplexity of the forget-set answers under it.
    splits
        names to evaluate (``forget``, ``retain`` or any split of the world), or
        a mapping {name in the result: world split}; default :data:`DEFAULT_SPLITS`.
    max_items, max_new_tokens
        default to the active profile's ``eval_max_items`` and ``max_new_tokens``.
    truth_ratio_base
        ``paraphrased`` (TOFU, open-unlearning) or ``answer``: which answer the
        truth ratio treats as the truth (:data:`unlearnlab.eval.tofu.TRUTH_RATIO_BASES`);
        it can be changed later with :meth:`EvalResult.with_settings`.
    run_log
        the unlearning run's log (``wall_time_s``, ``peak_memory_mb``, ``flops``
        or ``n_params`` + ``tokens``), reported as ``unlearn_*`` aggregates.
    """
    if truth_ratio_base not in TRUTH_RATIO_BASES:
        raise ValueError(f"truth_ratio_base must be one of {TRUTH_RATIO_BASES}, not {truth_ratio_base!r}")
    started = time.perf_counter()
    reset_peak_memory()
    profile = get_profile()
    limit = max_items if max_items is not None else profile.eval_max_items
    new_tokens = max_new_tokens if max_new_tokens is not None else profile.max_new_tokens
    if isinstance(world, str):
        world = load_world(world)
    if isinstance(reference, (str, Path)):
        reference = load_result(reference)
    sources = resolve_splits(world, forget, splits)
    tables = _load_tables(world, sources, limit)
    results = {key: [ItemResult(id=str(row.get("id", n))) for n, row in enumerate(rows)]
               for key, rows in tables.items()}
    timings: dict[str, float] = {}
    pad = pad_id(tokenizer)

    with _timer(timings, "scoring"):
        _score(model, tokenizer, tables, results, batch_size, max_length, pad)
    if generate:
        with _timer(timings, "generation"):
            _generate(model, tokenizer, tables, results, new_tokens, batch_size)
    mia_keys = [k for k in MIA_SPLITS if k in tables and _kind(tables[k]) != "mcq"]
    if gradnorm and mia_keys:
        with _timer(timings, "gradnorm"):
            _gradnorm(model, tokenizer, tables, results, mia_keys, max_length, pad)
    if reference_model is not None:
        with _timer(timings, "reference_model"):
            _reference_scores(reference_model, tokenizer, tables, results, mia_keys, batch_size, max_length, pad)
    elif reference is not None:
        _copy_reference_nll(reference, results, mia_keys)

    result = EvalResult(
        name=name or getattr(getattr(model, "config", None), "name_or_path", "") or "model",
        splits={k: SplitResult(k, sources[k], v) for k, v in results.items()},
        settings=dict(DEFAULT_SETTINGS, truth_ratio_base=truth_ratio_base),
        reference_log=reference_log(reference) if reference is not None else None,
        run_log=_as_dict(run_log),
        meta={"world": world.name, "world_fingerprint": world.fingerprint, "profile": profile.name,
              "forget": forget, "max_items": limit, "max_new_tokens": new_tokens,
              "n_items": {k: len(v) for k, v in tables.items()}, "timings_s": timings,
              "eval_wall_time_s": time.perf_counter() - started, "eval_peak_memory_mb": peak_memory_mb()},
    )
    return result.refresh()


def resolve_splits(world: World, forget: str | None,
                   splits: Iterable[str] | Mapping[str, str] | None) -> dict[str, str]:
    """Map result split names to world split names, with a clear error for unknown names."""
    if isinstance(splits, Mapping):
        wanted = dict(splits)
    else:
        names = list(splits) if splits is not None else [
            s for s in DEFAULT_SPLITS if s in ("forget", "retain") or s in world.tables]
        wanted = {}
        for key in names:
            if key in ("forget", "retain") and forget is None:
                if splits is not None:
                    raise ValueError(f"split {key!r} needs a forget split; pass forget=<one of "
                                     f"{', '.join(world.forget_to_retain)}>.")
                continue
            wanted[key] = forget if key == "forget" else world.retain_split(forget) if key == "retain" else key
    for key, source in wanted.items():
        if source not in world.tables:
            close = difflib.get_close_matches(source, list(world.tables), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise KeyError(f"world {world.name!r} has no split {source!r} (asked for {key!r}); "
                           f"known: {', '.join(world.tables)}.{hint}")
    return wanted


def _load_tables(world: World, sources: Mapping[str, str], limit: int | None) -> dict[str, list[dict]]:
    """The first ``limit`` items of each split (all when None), refusing empty splits."""
    tables = {key: world.items(source)[:limit] for key, source in sources.items()}
    for key, rows in tables.items():
        if not rows:
            raise ValueError(f"split {key!r} ({sources[key]!r}) of world {world.name!r} is empty; "
                             "nothing to evaluate.")
    return tables


# ----- the four passes --------------------------------------------------------------------
def _kind(rows: list[dict]) -> str:
    """``mcq`` (question + choices), ``qa`` (question + answer) or ``text`` (a passage)."""
    first = rows[0]
    if "choices" in first:
        return "mcq"
    if "question" in first and "answer" in first:
        return "qa"
    if "text" in first:
        return "text"
    raise ValueError(f"cannot evaluate items with keys {sorted(first)}: expected question/answer, "
                     "question/choices/answer or text (use unlearnlab.eval.muse for prompt/continuation).")


def _score(model, tokenizer, tables, results, batch_size, max_length, pad) -> None:
    """Teacher-force every answer variant of every item in one batched pass."""
    features, slots = [], []
    for key, rows in tables.items():
        kind = _kind(rows)
        for n, row in enumerate(rows):
            item = results[key][n]
            if kind == "mcq":
                item.answer_index = int(row["answer"])
                choices = mcq.choice_features(tokenizer, row, max_length)
                features += choices
                slots += [(item, "choice")] * len(choices)
                continue
            text = row["text"] if kind == "text" else row["answer"]
            features.append(encode_text(tokenizer, text, max_length) if kind == "text"
                            else encode_qa(tokenizer, row["question"], text, max_length))
            slots.append((item, "answer"))
            item.zlib_bytes = mia.zlib_bytes(text.strip())
            if row.get("paraphrased_answer"):
                features.append(encode_qa(tokenizer, row["question"], row["paraphrased_answer"], max_length))
                slots.append((item, "paraphrased"))
            for wrong in row.get("perturbed_answers", []):
                features.append(encode_qa(tokenizer, row["question"], wrong, max_length))
                slots.append((item, "perturbed"))
    stats = score_features(model, features, tokenizer.eos_token_id, pad, batch_size)
    for (item, slot), s in zip(slots, stats):
        if slot == "choice":
            item.choice_logliks.append(s.content_loglik)
        elif slot == "perturbed":
            item.perturbed.append(s)
        else:
            setattr(item, slot, s)


def _generate(model, tokenizer, tables, results, max_new_tokens, batch_size) -> None:
    """Greedy answers to every question of the question–answer splits, with their text scores."""
    items, prompts, references = [], [], []
    for key, rows in tables.items():
        if _kind(rows) != "qa":
            continue
        for n, row in enumerate(rows):
            items.append(results[key][n])
            prompts.append(encode_prompt(tokenizer, row["question"]))
            references.append(row["answer"])
    texts = greedy_generate(model, tokenizer, prompts, max_new_tokens, batch_size)
    for item, text, answer in zip(items, texts, references):
        item.generation = text
        item.rouge = rouge_scores(text, answer)
        item.exact_match = exact_match(text, answer)
        item.repetition = repetition_rate(text)


def _answer_features(tokenizer, rows, max_length) -> list[dict]:
    return [encode_text(tokenizer, r["text"], max_length) if "question" not in r
            else encode_qa(tokenizer, r["question"], r["answer"], max_length) for r in rows]


def _gradnorm(model, tokenizer, tables, results, keys, max_length, pad) -> None:
    for key in keys:
        scores = mia.gradnorm_scores(model, _answer_features(tokenizer, tables[key], max_length),
                                     tokenizer.eos_token_id, pad)
        for item, score in zip(results[key], scores):
            item.gradnorm = score


def _reference_scores(reference_model, tokenizer, tables, results, keys, batch_size, max_length, pad) -> None:
    """The retain-only model's NLL on forget/holdout answers and on the forget-set generations."""
    for key in keys:
        stats = score_features(reference_model, _answer_features(tokenizer, tables[key], max_length),
                               tokenizer.eos_token_id, pad, batch_size)
        for item, s in zip(results[key], stats):
            item.ref_nll_mean = s.nll_mean
    generated = [(row, item) for row, item in zip(tables.get("forget", []), results.get("forget", []))
                 if item.generation is not None]
    if generated:
        features = [encode_qa(tokenizer, row["question"], item.generation, max_length) for row, item in generated]
        stats = score_features(reference_model, features, tokenizer.eos_token_id, pad, batch_size)
        for (_, item), s in zip(generated, stats):
            item.generation_ref_nll = s.nll_mean


def _copy_reference_nll(reference: EvalResult, results, keys) -> None:
    """Without the reference model, take its answer NLLs from its saved result (matched by item id)."""
    for key in keys:
        if key not in reference.splits:
            continue
        saved = {i.id: i.answer.nll_mean for i in reference.splits[key].items if i.answer is not None}
        for item in results[key]:
            item.ref_nll_mean = saved.get(item.id)


class _timer:
    """Context manager adding the elapsed seconds of a phase to ``timings[name]``."""

    def __init__(self, timings: dict[str, float], name: str):
        self.timings, self.name = timings, name

    def __enter__(self):
        self.start = time.perf_counter()

    def __exit__(self, *exc):
        self.timings[self.name] = self.timings.get(self.name, 0.0) + time.perf_counter() - self.start


def _as_dict(run_log) -> dict | None:
    if run_log is None:
        return None
    return dict(run_log.to_dict() if hasattr(run_log, "to_dict") else run_log)
