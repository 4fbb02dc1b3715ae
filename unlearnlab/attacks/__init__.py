"""Attacks on unlearned models: can what was "forgotten" still be read out or brought back?

Each attack takes a model (and what it needs), leaves it unchanged, and returns
a score, a table or a curve, so that every method (and the retrained
reference) can be run against all of them:

``recall`` (fact recall of greedy answers, the score the attacks report, and
whether the value is still the top next token under teacher forcing);
``relearning`` (fine-tune on a few forget items, watch the held-back ones come
back, against the retrained model's curve); ``quantization`` (round the
weights to 8 or 4 bits; how many quantization codes did unlearning change?);
``prompts`` (paraphrases, indirect questions, jailbreak-style prefixes and
role play); ``probing`` (linear probes on hidden states, the logit lens).
"""
from .probing import choice_states, logit_lens, mcq_from_qa, probe_auc, probe_layers
from .prompts import TEMPLATES, prompt_attack
from .quantization import code_change_fraction, quantize, update_to_step_ratio
from .recall import fact_recall, value_is_top
from .relearning import relearn_curve, split_by_group, split_by_share

__all__ = ["choice_states", "probe_auc", "probe_layers", "mcq_from_qa", "logit_lens", "TEMPLATES", "prompt_attack",
           "quantize", "code_change_fraction", "update_to_step_ratio", "fact_recall", "value_is_top", "relearn_curve",
           "split_by_group", "split_by_share"]
