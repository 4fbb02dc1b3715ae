"""What an unlearning run cost: wall time, peak memory and an estimate of its FLOPs.

The survey counts efficiency among the criteria of unlearning: a method is only
useful if it is much cheaper than retraining.  Wall time and peak memory come
from the engine's log; FLOPs are estimated with the usual transformer rule of
thumb (:func:`unlearnlab.numerics.estimate_flops`).
"""
from __future__ import annotations

from typing import Any, Mapping

from ..numerics import estimate_flops


def efficiency_aggregates(run_log: Mapping[str, Any]) -> dict[str, float]:
    """``unlearn_wall_time_s``, ``unlearn_peak_memory_mb`` and ``unlearn_flops`` from a run log.

    The log may give ``flops`` directly, or ``n_params`` and ``tokens`` (with
    optional ``forward_passes``/``backward_passes`` per token) for :func:`estimate_flops`.
    """
    out = {}
    for key in ("wall_time_s", "peak_memory_mb"):
        if run_log.get(key) is not None:
            out[f"unlearn_{key}"] = float(run_log[key])
    if run_log.get("flops") is not None:
        out["unlearn_flops"] = float(run_log["flops"])
    elif run_log.get("n_params") and run_log.get("tokens"):
        tokens = run_log["tokens"]
        out["unlearn_flops"] = estimate_flops(run_log["n_params"], tokens * run_log.get("forward_passes", 1),
                                              tokens * run_log.get("backward_passes", 1))
    return out
