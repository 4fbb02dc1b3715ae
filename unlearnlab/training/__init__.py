"""Training, in one stack: unlearning with any method, and fine-tuning as the ``descent`` method.

Modules, in the order a run uses them:

``config``   :class:`UnlearnConfig`, a ``TrainingArguments`` with LoRA, eval cadence and token limit added
``checks``   inputs, tokenizer and sharding checked before anything trains
``pairs``    forget items paired with retain items (a pure function of seed, epoch, index), padded
``trainer``  the ``Trainer`` subclass that runs a method's loss, its callbacks and :class:`UnlearnLog`
``api``      :func:`unlearn` and :func:`finetune`
"""
from .api import finetune, unlearn
from .config import UnlearnConfig
from .trainer import UnlearnLog

__all__ = ["unlearn", "finetune", "UnlearnConfig", "UnlearnLog"]
