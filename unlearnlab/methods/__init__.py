"""The method library: every unlearning objective of the course, registered by name.

>>> from unlearnlab.methods import get_method, list_methods
>>> list_methods()  # doctest: +NORMALIZE_WHITESPACE
['descent', 'dpo', 'ga', 'graddiff', 'idk', 'kl', 'me', 'npo', 'random_label', 'rmu', 'simnpo',
 'task_vector', 'undial', 'wga', 'whp']
>>> get_method("npo", beta=0.2)
NPO(gamma=1.0, alpha=1.0, retain_loss='nll', beta=0.2)

Families (one module each): ``gradient`` (descent, GA, GradDiff, KL), ``relabel``
(refusal and random answers), ``preference`` (NPO, SimNPO, DPO with a refusal),
``weighted`` (WGA, UNDIAL), ``representation`` (RMU), ``arithmetic`` (task
vectors, Who's Harry Potter), ``entropy`` (maximum entropy, ME: chapter 14's
write-your-own-method solution).  To add your own, copy the template
(``template.MyMethod``: subclass :class:`Method`, give it a ``name`` and a
``forget_loss``) and decorate it with :func:`register`.

Input-based methods (``input_based``: in-context unlearning and guardrail prompts)
train nothing and are not in the registry: :func:`icul` and :func:`guardrail`
return a :class:`PromptedModel` that reads a fixed context before every query.
"""
from . import arithmetic, entropy, gradient, preference, relabel, representation, weighted  # noqa: F401  (registers)
from .base import Method, get_method, list_methods, register
from .input_based import PromptedModel, guardrail, icul
from .reference import FrozenOriginal, FrozenReference, add_reference_logprobs

__all__ = ["Method", "register", "get_method", "list_methods", "FrozenOriginal", "FrozenReference",
           "add_reference_logprobs", "PromptedModel", "icul", "guardrail"]
