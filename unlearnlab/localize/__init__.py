"""Where knowledge lives (chapter 07): causal tracing, saliency maps and a rank-one edit.

``tracing`` (ROME's causal tracing with forward hooks: which hidden states carry a
fact?), ``saliency`` (where SalUn's salient weights sit, per layer and module) and
``editing`` (a ROME-style rank-one update of one MLP down-projection, when present).
"""
from .tracing import (POSITION_GROUPS, TRACE_KINDS, FactPrompt, Trace, average_traces, clean_states, corrupted_run,
                      embedding_noise_scale, fact_prompt, trace_fact)

__all__ = ["POSITION_GROUPS", "TRACE_KINDS", "FactPrompt", "Trace", "average_traces", "clean_states", "corrupted_run",
           "embedding_noise_scale", "fact_prompt", "trace_fact"]
