"""The multifaceted evaluation suite (survey section 5).

``evaluate(model, tokenizer, world, retrained=retrained_result)`` scores a model
on every split of a world (its own forget split unless ``forget=`` names
another) and returns an :class:`~unlearnlab.eval.results.EvalResult`: per-item
statistics plus aggregates such as ``forget_quality``, ``model_utility``,
``forget_truth_ratio``, ``forget_rougeL_recall``, ``mia_auc_min_k``, ``privleak``,
MUSE's ``verbmem_forget``, ``extract_forget_extracted`` or ``rude_probe_unwanted_rate``
(the full list is in :mod:`unlearnlab.eval.aggregates`).  Results save to JSON
and every aggregate is recomputed from the saved statistics when loaded.
:func:`compare` puts several results side by side (the plots are in
:mod:`unlearnlab.notebook`).

Modules: ``scoring`` (teacher-forced statistics), ``generation`` (greedy answers,
ROUGE, fluency), ``tofu`` (probability, truth ratio, forget quality, model
utility), ``memorization``, ``mia`` (membership inference, PrivLeak), ``muse``,
``mcq`` (accuracy, unwanted rate), ``extraction`` (planted values and facts),
``efficiency``, ``results`` (data and JSON), ``aggregates`` (the registry of
named aggregates), ``tofu_logs`` (TOFU's own logs), ``suite`` (``evaluate``),
``progress``, ``probes`` (cheap losses to watch during unlearning), ``compare`` and
``band`` (verdicts against the seed band of several retrained models), ``card`` (the
survey's generality, authenticity and precision as a scorecard, and an unlearning card
written from saved results).
"""
from .aggregates import aggregate, split_aggregate
from .band import seed_bands, seed_table, verdict
from .card import scorecard, unlearning_card
from .compare import compare, distance_to_retrain, pareto_front
from .probes import activation_probe, loss_probe, mean_activation_norm, mean_answer_loss
from .results import EvalResult, load_result, reference_log, retrained_log_from
from .suite import evaluate
from .tofu_logs import from_tofu_logs

__all__ = ["evaluate", "EvalResult", "load_result", "retrained_log_from", "reference_log", "aggregate",
           "split_aggregate", "from_tofu_logs", "compare", "distance_to_retrain", "pareto_front", "loss_probe",
           "mean_answer_loss", "activation_probe", "mean_activation_norm", "seed_bands", "seed_table", "verdict",
           "scorecard", "unlearning_card"]
