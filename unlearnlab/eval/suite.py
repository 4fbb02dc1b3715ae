"""One call evaluates a model on a world: :func:`evaluate`.

The survey (section 5) asks for *multifaceted* evaluation: forgetting on the
forget set and on hard in-scope probes, utility on retained and out-of-scope
data (including hard neighbours), comparison with the retrained model, privacy
via membership inference, fluency, and cost.  :func:`evaluate` runs all of it,
on every world, in four batched passes over the model:

1. teacher-forced scoring of every answer, paraphrase, perturbed answer, passage
   and multiple-choice or preference option (:mod:`~unlearnlab.eval.scoring`);
2. greedy generation: answers to questions, continuations of prompts
   (:mod:`~unlearnlab.eval.generation`);
3. GradNorm on the forget and holdout sets (one backward pass per item);
4. with ``retrained_model``: the retrained model's NLL on forget and holdout
   answers (the Reference attack) and on the forget-set generations (fluency).

What a split contributes depends on its items:

=====================================  =====================================================
question + answer                      probabilities, truth ratio, ROUGE, exact match,
                                       fact recall (items with a ``value``), memorisation
text                                   likelihood and membership inference (passages)
prompt + continuation                  ROUGE-L F1 (MUSE VerbMem) and extraction of the
                                       planted continuation (records)
question + choices + answer            multiple-choice accuracy (WMDP)
question + choices + unwanted          unwanted rate (behaviour probes)
=====================================  =====================================================

Every aggregate is then computed from the per-item statistics by the registry
in :mod:`~unlearnlab.eval.aggregates`.
"""
from __future__ import annotations

import difflib
import logging
import time
import warnings
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from ..config import get_profile
from ..devices import peak_memory_mb, reset_peak_memory
from ..formats import encode_prompt, encode_qa, encode_text
from ..numerics import pad_id
from ..worlds import load as load_world
from ..worlds.base import World
from . import extraction, mcq, mia
from .generation import continuation_budget, exact_match, greedy_generate, repetition_rate, rouge_scores
from .results import DEFAULT_SETTINGS, EvalResult, ItemResult, SplitResult, check_comparable, load_result, \
    retrained_log_from
from .scoring import score_features
from .tofu import TRUTH_RATIO_BASES

logger = logging.getLogger(__name__)

#: splits evaluated by default when the world has them ("forget"/"retain" follow ``forget``);
#: one list serves every world: authors, books (MUSE probes), records (extraction probes),
#: behaviour (preference probes) and hazard (multiple choice)
DEFAULT_SPLITS = ("forget", "retain", "holdout", "world_facts", "real_authors", "real_world",
                  "hard_in_scope", "hard_out_of_scope",
                  "verbmem_forget", "verbmem_retain", "knowmem_forget", "knowmem_retain",
                  "extract_forget", "extract_retain", "extract_holdout",
                  "rude_probe", "polite_probe", "bias_probe", "forget_mcq", "retain_mcq")
#: splits whose items the membership-inference attacks compare (members, non-members)
MIA_SPLITS = ("forget", "holdout")
#: the world-split name recorded for a list of items passed directly
AD_HOC = "<items>"


def evaluate(model, tokenizer, world: World | str | None, forget: str | None = None,
             retrained: EvalResult | str | Path | None = None, retrained_model=None,
             splits: Iterable[str] | Mapping[str, str | Sequence[dict]] | None = None, *,
             name: str | None = None, max_items: int | None = None, max_new_tokens: int | None = None,
             batch_size: int = 64, generate: bool = True, gradnorm: bool = True, max_length: int = 256,
             truth_ratio_base: str = "paraphrased", run_log: Mapping[str, Any] | None = None,
             progress: bool | None = None, reference: EvalResult | str | Path | None = None,
             reference_model=None) -> EvalResult:
    """Evaluate ``model`` on ``world`` (a :class:`World` or a world name) and return an :class:`EvalResult`.

    forget
        the forget split; None takes the world's own (:attr:`World.default_forget`:
        ``forget10`` for authors, ``forget_qa`` for hazard, ``rude`` for behaviour...).
        Its retain complement is evaluated as ``retain``.
    retrained
        the retrained model's result (or the path of its saved JSON), needed for
        forget quality, PrivLeak and (without ``retrained_model``) the Reference
        attack.  It must come from the same world, profile and forget split.
    retrained_model
        the retrained model itself, for the Reference attack and the perplexity
        of the forget-set answers under it.
    splits
        names to evaluate (``forget``, ``retain`` or any split of the world), or
        a mapping {name in the result: world split name, or a list of items};
        default: the :data:`DEFAULT_SPLITS` the world has.  With item lists
        only, ``world`` may be None.
    max_items, max_new_tokens
        default to the active profile's ``eval_max_items`` and ``max_new_tokens``
        (a warning names the splits that ``max_items`` cuts).  Continuations of
        prompts get as many tokens as the split's longest continuation, as in MUSE.
    truth_ratio_base
        ``paraphrased`` (TOFU, open-unlearning) or ``answer``: which answer the
        truth ratio treats as the truth (:data:`unlearnlab.eval.tofu.TRUTH_RATIO_BASES`);
        it can be changed later with :meth:`EvalResult.with_settings`.
    run_log
        the unlearning run's log (``wall_time_s``, ``peak_memory_mb``, ``flops``
        or ``n_params`` + ``tokens``), reported as ``unlearn_*`` aggregates.
    progress
        progress bars (tqdm, on stderr, removed when done) for the passes; None
        shows them only when stderr is a terminal, so notebooks and logs stay clean.
    reference, reference_model
        deprecated names of ``retrained`` and ``retrained_model``.

    Memory: on CUDA, the allocator's peak statistics are reset when evaluation
    starts, so ``meta["eval_peak_memory_mb"]`` is the peak of this evaluation;
    read any earlier peak of your own before calling.
    """
    retrained = _renamed("reference", reference, "retrained", retrained)
    retrained_model = _renamed("reference_model", reference_model, "retrained_model", retrained_model)
    if truth_ratio_base not in TRUTH_RATIO_BASES:
        raise ValueError(f"truth_ratio_base must be one of {TRUTH_RATIO_BASES}, not {truth_ratio_base!r}")
    check_vocabulary(model, tokenizer)
    if retrained_model is not None:
        check_vocabulary(retrained_model, tokenizer, "retrained_model")
    started = time.perf_counter()
    reset_peak_memory()
    profile = get_profile()
    limit = max_items if max_items is not None else profile.eval_max_items
    new_tokens = max_new_tokens if max_new_tokens is not None else profile.max_new_tokens
    if isinstance(world, str):
        world = load_world(world)
    if forget is None and world is not None:
        forget = world.default_forget
    if isinstance(retrained, (str, Path)):
        retrained = load_result(retrained)
    sources, tables = load_splits(world, forget, splits, limit)
    meta = {"world": getattr(world, "name", None), "world_fingerprint": getattr(world, "fingerprint", None),
            "profile": profile.name, "forget": sources.get("forget"), "max_items": limit,
            "max_new_tokens": new_tokens, "n_items": {k: len(v) for k, v in tables.items()}}
    log = None
    if retrained is not None:
        log = retrained_log_from(retrained)
        check_comparable(meta, log, name or "this evaluation")
    results = {key: [ItemResult(id=str(row.get("id", n))) for n, row in enumerate(rows)]
               for key, rows in tables.items()}
    timings: dict[str, float] = {}
    pad = pad_id(tokenizer)

    with _timer(timings, "scoring"):
        _score(model, tokenizer, tables, results, batch_size, max_length, pad, progress)
    if generate:
        with _timer(timings, "generation"):
            _generate(model, tokenizer, tables, results, new_tokens, batch_size, progress)
    mia_keys = [k for k in MIA_SPLITS if k in tables and _kind(tables[k]) in ("qa", "text")]
    if gradnorm and mia_keys:
        with _timer(timings, "gradnorm"):
            _gradnorm(model, tokenizer, tables, results, mia_keys, max_length, pad, progress)
    if retrained_model is not None:
        with _timer(timings, "retrained_model"):
            _retrained_scores(retrained_model, tokenizer, tables, results, mia_keys, batch_size, max_length, pad,
                              progress)
    elif retrained is not None:
        _copy_retrained_nll(retrained, results, mia_keys)

    meta.update(timings_s=timings, eval_wall_time_s=time.perf_counter() - started,
                eval_peak_memory_mb=peak_memory_mb())
    result = EvalResult(
        name=name or getattr(getattr(model, "config", None), "name_or_path", "") or "model",
        splits={k: SplitResult(k, sources[k], v) for k, v in results.items()},
        settings=dict(DEFAULT_SETTINGS, truth_ratio_base=truth_ratio_base),
        retrained_log=log, run_log=_as_dict(run_log), meta=meta,
    )
    return result.refresh()


def check_vocabulary(model, tokenizer, role: str = "model") -> None:
    """Refuse a tokenizer whose ids the model has no embedding for (it would fail later with an index error)."""
    embeddings = model.get_input_embeddings()
    rows = getattr(embeddings, "num_embeddings", None)
    if rows is not None and len(tokenizer) > rows:
        raise ValueError(f"the tokenizer has {len(tokenizer)} tokens but the {role} has embeddings for {rows}: "
                         "they do not belong together (use the tokenizer returned with the model).")


def load_splits(world: World | None, forget: str | None, splits: Iterable[str] | Mapping | None,
                limit: int | None) -> tuple[dict[str, str], dict[str, list[dict]]]:
    """The world split behind each result split, and the first ``limit`` items of each."""
    wanted = resolve_splits(world, forget, splits)
    tables = {key: list(source) if not isinstance(source, str) else world.items(source)
              for key, source in wanted.items()}
    cut = {key: len(rows) for key, rows in tables.items() if limit is not None and len(rows) > limit}
    if cut:
        logger.warning("evaluating the first %d items of %s (max_items, or the profile's eval_max_items)",
                       limit, ", ".join(f"{key} ({n})" for key, n in cut.items()))
    tables = {key: rows[:limit] for key, rows in tables.items()}
    for key, rows in tables.items():
        if not rows:
            raise ValueError(f"split {key!r} ({_source_name(wanted[key])!r}) is empty; nothing to evaluate.")
        _kind(rows)  # unknown item shapes fail before any model pass
    return {key: _source_name(source) for key, source in wanted.items()}, tables


def resolve_splits(world: World | None, forget: str | None,
                   splits: Iterable[str] | Mapping[str, str | Sequence[dict]] | None) -> dict[str, Any]:
    """Map result split names to world split names (or item lists), with a clear error for unknown names."""
    if isinstance(splits, Mapping):
        wanted = dict(splits)
    else:
        if world is None:
            raise ValueError("without a world, pass splits={name: [items]}.")
        names = list(splits) if splits is not None else [
            s for s in DEFAULT_SPLITS if s in ("forget", "retain") or s in world.tables]
        wanted = {}
        for key in names:
            if key in ("forget", "retain") and forget is None:
                if splits is not None:
                    raise ValueError(f"split {key!r} needs a forget split, and world {world.name!r} has none.")
                continue
            wanted[key] = forget if key == "forget" else world.retain_split(forget) if key == "retain" else key
    for key, source in wanted.items():
        if not isinstance(source, str):
            continue
        if world is None:
            raise ValueError(f"split {key!r} names world split {source!r}, but no world was given.")
        if source not in world.tables:
            close = difflib.get_close_matches(source, list(world.tables), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise KeyError(f"world {world.name!r} has no split {source!r} (asked for {key!r}); "
                           f"known: {', '.join(world.tables)}.{hint}")
    return wanted


def _source_name(source) -> str:
    return source if isinstance(source, str) else AD_HOC


# ----- the four passes --------------------------------------------------------------------
def _kind(rows: list[dict]) -> str:
    """What a split's items are: ``mcq``, ``preference``, ``continuation``, ``qa`` or ``text``."""
    first = rows[0]
    if "choices" in first:
        return "preference" if "unwanted" in first else "mcq"
    if "prompt" in first and "continuation" in first:
        return "continuation"
    if "question" in first and "answer" in first:
        return "qa"
    if "text" in first:
        return "text"
    raise ValueError(f"cannot evaluate items with keys {sorted(first)}: expected question/answer, text, "
                     "prompt/continuation, or question/choices with answer (quiz) or unwanted (probe).")


def _score(model, tokenizer, tables, results, batch_size, max_length, pad, progress) -> None:
    """Teacher-force every answer variant and option of every item in one batched pass."""
    features, slots = [], []

    def add(feature: dict, item: ItemResult, slot: str) -> None:
        features.append(feature)
        slots.append((item, slot))

    for key, rows in tables.items():
        kind = _kind(rows)
        if kind == "continuation":
            continue  # judged on what the model generates
        for row, item in zip(rows, results[key]):
            if kind in ("mcq", "preference"):
                _add_choices(add, tokenizer, row, item, kind, max_length)
                continue
            text = row["text"] if kind == "text" else row["answer"]
            add(encode_text(tokenizer, text, max_length) if kind == "text"
                else encode_qa(tokenizer, row["question"], text, max_length), item, "answer")
            item.zlib_bytes = mia.zlib_bytes(text.strip())
            if row.get("paraphrased_answer"):
                add(encode_qa(tokenizer, row["question"], row["paraphrased_answer"], max_length), item, "paraphrased")
            for wrong in row.get("perturbed_answers", []):
                add(encode_qa(tokenizer, row["question"], wrong, max_length), item, "perturbed")
    stats = score_features(model, features, tokenizer.eos_token_id, pad, batch_size, progress=progress)
    for (item, slot), s in zip(slots, stats):
        if slot == "choice":
            item.choice_logliks.append(s.content_loglik)
        elif slot == "opening":
            item.opening_logliks.append(s.content_loglik)
        elif slot == "perturbed":
            item.perturbed.append(s)
        else:
            setattr(item, slot, s)


def _add_choices(add, tokenizer, row: dict, item: ItemResult, kind: str, max_length: int) -> None:
    """Every option of a quiz item; of a probe, also each option's first sentence (its tone)."""
    for feature in mcq.choice_features(tokenizer, row, max_length):
        add(feature, item, "choice")
    if kind == "mcq":
        item.answer_index = int(row["answer"])
        return
    item.unwanted_index = row["unwanted"]
    for feature in mcq.choice_features(tokenizer, mcq.opening_choices(row), max_length):
        add(feature, item, "opening")


def _generate(model, tokenizer, tables, results, max_new_tokens, batch_size, progress) -> None:
    """Greedy answers to every question and continuations of every prompt, with their text scores."""
    questions = [(row, item) for key, rows in tables.items() if _kind(rows) == "qa"
                 for row, item in zip(rows, results[key])]
    prompts = [encode_prompt(tokenizer, row["question"]) for row, _ in questions]
    texts = greedy_generate(model, tokenizer, prompts, max_new_tokens, batch_size, progress=progress)
    for (row, item), text in zip(questions, texts):
        item.generation = text
        item.rouge = rouge_scores(text, row["answer"])
        item.exact_match = exact_match(text, row["answer"])
        item.repetition = repetition_rate(text)
        if row.get("value"):
            item.fact_recalled = extraction.recalls_fact(text, row["value"])
    for key, rows in tables.items():
        if _kind(rows) != "continuation":
            continue
        budget = continuation_budget(tokenizer, [row["prompt"] for row in rows], [row["continuation"] for row in rows])
        prompts = [tokenizer(row["prompt"], add_special_tokens=True)["input_ids"] for row in rows]
        texts = greedy_generate(model, tokenizer, prompts, budget, batch_size, progress=progress)
        for row, item, text in zip(rows, results[key], texts):
            item.generation = text
            item.rouge = rouge_scores(text, row["continuation"])
            item.extracted = extraction.is_extracted(text, row["continuation"])


def _answer_features(tokenizer, rows, max_length) -> list[dict]:
    return [encode_text(tokenizer, r["text"], max_length) if "question" not in r
            else encode_qa(tokenizer, r["question"], r["answer"], max_length) for r in rows]


def _gradnorm(model, tokenizer, tables, results, keys, max_length, pad, progress) -> None:
    for key in keys:
        scores = mia.gradnorm_scores(model, _answer_features(tokenizer, tables[key], max_length),
                                     tokenizer.eos_token_id, pad, progress=progress)
        for item, score in zip(results[key], scores):
            item.gradnorm = score


def _retrained_scores(retrained_model, tokenizer, tables, results, keys, batch_size, max_length, pad,
                      progress) -> None:
    """The retrained model's NLL on forget/holdout answers and on the forget-set generations."""
    for key in keys:
        stats = score_features(retrained_model, _answer_features(tokenizer, tables[key], max_length),
                               tokenizer.eos_token_id, pad, batch_size, progress=progress)
        for item, s in zip(results[key], stats):
            item.retrained_nll_mean = s.nll_mean
    generated = [(row, item) for row, item in zip(tables.get("forget", []), results.get("forget", []))
                 if item.generation is not None]
    if generated:
        features = [encode_qa(tokenizer, row["question"], item.generation, max_length) for row, item in generated]
        stats = score_features(retrained_model, features, tokenizer.eos_token_id, pad, batch_size, progress=progress)
        for (_, item), s in zip(generated, stats):
            item.generation_retrained_nll = s.nll_mean


def _copy_retrained_nll(retrained: EvalResult, results, keys) -> None:
    """Without the retrained model, take its answer NLLs from its saved result (matched by item id)."""
    for key in keys:
        if key not in retrained.splits:
            continue
        saved = {i.id: i.answer.nll_mean for i in retrained.splits[key].items if i.answer is not None}
        for item in results[key]:
            item.retrained_nll_mean = saved.get(item.id)


def _renamed(old: str, old_value, new: str, new_value):
    """The value of a renamed argument: the new name's, or the old one's with a DeprecationWarning."""
    if old_value is None:
        return new_value
    if new_value is not None:
        raise TypeError(f"evaluate() got both {old}= and {new}=; {old} is the deprecated name of {new}: "
                        f"pass only {new}.")
    warnings.warn(f"evaluate({old}=...) is now evaluate({new}=...); the old name goes in the next release",
                  DeprecationWarning, stacklevel=3)
    return old_value


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
