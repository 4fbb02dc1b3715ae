"""What an unlearning run cost: wall time, peak memory and an estimate of its FLOPs.

The survey counts efficiency among the criteria of unlearning: a method is only
useful if it is much cheaper than retraining.  Wall time and peak memory come
from the engine's log; FLOPs are estimated with the usual transformer rule of
thumb (Kaplan et al., 2020): a forward pass costs about 2·N FLOPs per token for N
parameters, and a backward pass about twice that.
"""
from __future__ import annotations

from typing import Any, Mapping


def count_parameters(model, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def estimate_flops(n_params: int, tokens: int, forward: float = 1, backward: float = 1) -> float:
    """FLOPs of processing ``tokens`` tokens with ``forward`` forward and ``backward`` backward passes each.

    ``forward`` counts every model evaluation per token (2 for methods such as
    NPO or KL that also run the frozen original model); ``backward`` counts
    gradient computations (1 for ordinary training, 0 for evaluation).
    """
    return 2.0 * n_params * tokens * forward + 4.0 * n_params * tokens * backward


def efficiency_aggregates(run_log: Mapping[str, Any]) -> dict[str, float]:
    """``unlearn_wall_time_s``, ``unlearn_peak_memory_mb`` and ``unlearn_flops`` from a run log.

    The log may give ``flops`` directly, or ``n_params`` and ``tokens`` (with
    optional ``forward_passes``/``backward_passes``) for :func:`estimate_flops`.
    """
    out = {}
    for key in ("wall_time_s", "peak_memory_mb"):
        if run_log.get(key) is not None:
            out[f"unlearn_{key}"] = float(run_log[key])
    if run_log.get("flops") is not None:
        out["unlearn_flops"] = float(run_log["flops"])
    elif run_log.get("n_params") and run_log.get("tokens"):
        out["unlearn_flops"] = estimate_flops(run_log["n_params"], run_log["tokens"],
                                              run_log.get("forward_passes", 1), run_log.get("backward_passes", 1))
    return out
