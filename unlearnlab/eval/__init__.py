"""The multifaceted evaluation suite (survey section 5).

``evaluate(model, tokenizer, world, forget="forget10", reference=ref_result)``
scores a model on every split of a world and returns an
:class:`~unlearnlab.eval.results.EvalResult`: per-item statistics plus
aggregates such as ``forget_quality``, ``model_utility``, ``forget_truth_ratio``,
``forget_rougeL_recall``, ``mia_auc_min_k`` and ``privleak`` (the full list is in
:mod:`unlearnlab.eval.results`).  Results save to JSON and every aggregate can be
recomputed from the saved statistics.  :func:`compare` puts several results
side by side (the plots are in :mod:`unlearnlab.notebook`).

Modules: ``scoring`` (teacher-forced statistics), ``generation`` (greedy answers,
ROUGE, fluency), ``tofu`` (probability, truth ratio, forget quality, model
utility), ``memorization``, ``mia`` (membership inference, PrivLeak), ``muse``,
``mcq``, ``efficiency``, ``results``, ``tofu_logs`` (TOFU's own logs), ``suite``,
``probes`` (cheap losses to watch during unlearning) and ``compare``.
"""
from .compare import compare, distance_to_retrain, pareto_front
from .results import EvalResult, load_result, reference_log
from .suite import evaluate
from .tofu_logs import from_tofu_logs

__all__ = ["evaluate", "EvalResult", "load_result", "reference_log", "from_tofu_logs", "compare",
           "distance_to_retrain", "pareto_front"]
