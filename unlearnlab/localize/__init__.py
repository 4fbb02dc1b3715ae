"""Where knowledge lives (chapter 07): causal tracing, saliency maps and a rank-one edit.

``tracing`` (ROME's causal tracing with forward hooks: which hidden states carry a
fact?), ``saliency`` (where SalUn's salient weights sit, per block and module) and
``editing`` (a ROME-style rank-one update of one MLP down-projection).
"""
from . import editing, saliency, tracing
from .editing import (Edit, apply_edit, fact_keys, key_second_moment, optimise_value, output_ceiling,
                      rank_one_update)
from .saliency import saliency_by_module
from .tracing import (POSITION_GROUPS, TRACE_KINDS, FactPrompt, Trace, average_traces, clean_states,
                      corrupted_run, embedding_noise_scale, fact_prompt, trace_fact)

__all__ = ["POSITION_GROUPS", "TRACE_KINDS", "Edit", "FactPrompt", "Trace", "apply_edit", "average_traces",
           "clean_states", "corrupted_run", "editing", "embedding_noise_scale", "fact_keys", "fact_prompt",
           "key_second_moment", "optimise_value", "output_ceiling", "rank_one_update", "saliency",
           "saliency_by_module", "trace_fact", "tracing"]
