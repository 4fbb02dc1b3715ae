"""Attacks on unlearned models: can what was "forgotten" still be read out or brought back?

``probing`` (linear probes on hidden states: is the knowledge still readable
inside the model, even when the output no longer shows it?).
"""
from .probing import choice_states, probe_auc

__all__ = ["choice_states", "probe_auc"]
