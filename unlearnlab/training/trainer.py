"""The ``Trainer`` that runs a method's loss, and the callbacks that record what happens.

The Trainer does the optimisation (AdamW, schedules, bf16, accumulation,
checkpointing, several GPUs); :class:`UnlearnTrainer` only supplies the loss and
makes the loss *parts* (forget and retain terms, a method's diagnostics) visible:
after every optimiser step they are averaged over the step's micro-batches and
over all processes, checked for NaN, and kept for the run's :class:`UnlearnLog`;
at every logging step their mean since the last one joins the Trainer's own log
(``trainer.state.log_history``), which is what TensorBoard or W&B receive with
``report_to``.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import torch
from transformers import Trainer, TrainerCallback

from ..methods import Method
from ..methods.reference import FrozenOriginal
from ..numerics import estimate_flops
from .pairs import ForgetRetainPairs, real_tokens
from .sophia import Sophia, gnb_estimate

EvalFn = Callable[[Any], dict[str, float]]


@dataclass
class UnlearnLog:
    """What happened during one run; ``to_dict()`` gives plain JSON-able values."""

    method: str
    hyperparameters: dict
    n_forget: int
    n_retain: int
    device: str
    n_params: int
    steps: list[dict] = field(default_factory=list)  # step, epoch, loss, named parts, tokens, time_s
    evals: list[dict] = field(default_factory=list)  # step and the eval_fn results
    history: list[dict] = field(default_factory=list)  # the Trainer's log_history
    wall_time_s: float = 0.0
    peak_memory_mb: float = 0.0
    reference_tokens: int = 0  # tokens run through the frozen original model (precomputed or live)
    trainable_entries: int = 0  # weight entries allowed to change (after train_layers and saliency)

    @property
    def tokens(self) -> int:
        """Real (unpadded) tokens that went through the trained model's forward and backward passes, all ranks."""
        return sum(step["tokens"] for step in self.steps)

    @property
    def flops(self) -> float:
        """Estimated compute: a forward and backward pass per trained token, a forward per reference token.

        Not counted: Who's Harry Potter's reinforced model (its own descent run and forwards).
        """
        return estimate_flops(self.n_params, self.tokens + self.reference_tokens, self.tokens)

    def series(self, key: str = "loss") -> list[float]:
        """One logged quantity over the optimiser steps, e.g. ``log.series("forget")``."""
        return [step[key] for step in self.steps if key in step]

    def to_dict(self) -> dict:
        return {**asdict(self), "tokens": self.tokens, "flops": self.flops}


class UnlearnTrainer(Trainer):
    """A ``Trainer`` whose loss is an unlearning method's ``compute_loss``."""

    def __init__(self, *args, method: Method, reference: FrozenOriginal | None, **kwargs):
        super().__init__(*args, **kwargs)
        self.method = method
        self.reference = reference
        # A method's loss is already a mean over its micro-batch.  Telling the Trainer so makes it
        # divide each micro-batch's loss by the accumulation steps (as TRL does), instead of looking
        # for a token count (``num_items_in_batch``) that our nested batches do not provide.
        self.model_accepts_loss_kwargs = False
        self.micro_parts: list[dict[str, torch.Tensor]] = []  # one entry per micro-batch of this step
        self.since_log: list[dict[str, float]] = []  # step means since the last log line

    def create_optimizer(self, model=None):
        """AdamW as the Trainer makes it, or :class:`~.sophia.Sophia` when ``args.optimizer == "sophia"`` (SOUL)."""
        if self.args.optimizer != "sophia" or self.optimizer is not None:
            return super().create_optimizer(model) if model is not None else super().create_optimizer()
        opt_model = self.model if model is None else model
        params = [p for p in opt_model.parameters() if p.requires_grad]
        self.optimizer = Sophia(params, lr=self.args.learning_rate, gamma=self.args.sophia_gamma,
                                weight_decay=self.args.weight_decay)
        return self.optimizer

    def training_step(self, model, inputs, num_items_in_batch=None):
        """Before the first micro-batch of every k-th step, refresh Sophia's Hessian estimate on this batch."""
        if (self.args.optimizer == "sophia" and not self.micro_parts
                and self.state.global_step % int(self.args.sophia_hessian_every) == 0):
            self.refresh_hessian(model, inputs)
        return super().training_step(model, inputs, num_items_in_batch)

    def refresh_hessian(self, model, inputs) -> None:
        """One Gauss–Newton–Bartlett estimate on the forget batch (and the retain batch, when there is one)."""
        sophia = self.optimizer
        while not isinstance(sophia, Sophia):  # the Trainer wraps it (accelerate)
            sophia = sophia.optimizer
        params = [p for group in sophia.param_groups for p in group["params"]]
        estimates = None
        streams = [inputs[key] for key in ("forget", "retain") if inputs.get(key) is not None]
        for stream in streams:
            part = gnb_estimate(model, stream, params)
            estimates = part if estimates is None else [
                a if b is None else b if a is None else a + b for a, b in zip(estimates, part)]
        sophia.update_hessian([None if e is None else e / len(streams) for e in estimates])

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        loss, parts = self.method.compute_loss(model, inputs["forget"], inputs.get("retain"), self.reference)
        self.micro_parts.append({"loss": loss.detach(), **parts, "tokens": real_tokens(inputs)})
        return (loss, None) if return_outputs else loss

    def end_step(self) -> dict[str, float]:
        """This optimiser step's mean of every part over micro-batches and processes; tokens summed over all."""
        parts, self.micro_parts = self.micro_parts, []
        keys = [key for key in parts[0] if key != "tokens"]
        local = torch.stack([torch.stack([p[key].float() for p in parts]).mean() for key in keys]
                            + [torch.stack([p["tokens"].float() for p in parts]).sum()])
        gathered = self.accelerator.gather(local.to(self.args.device)).view(-1, len(keys) + 1)
        means = dict(zip(keys, gathered[:, :-1].mean(0).tolist()))
        step = {**means, "tokens": int(gathered[:, -1].sum())}
        self.since_log.append(means)
        return step

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        """Add the mean loss parts since the last log line to the Trainer's log (and to ``report_to``)."""
        if "loss" in logs and self.since_log:
            for key in self.since_log[0]:
                if key != "loss":  # the Trainer logs its own loss
                    logs[key] = sum(entry[key] for entry in self.since_log) / len(self.since_log)
            self.since_log = []
        super().log(logs, start_time)

    def sum_over_processes(self, value: int) -> int:
        """``value`` summed over every process of the run."""
        return int(self.accelerator.gather(torch.tensor([value], device=self.args.device)).sum())


class StepRecorder(TrainerCallback):
    """Append each optimiser step's losses to the log, and stop every process on NaN or inf."""

    def __init__(self, trainer: UnlearnTrainer, log: UnlearnLog):
        self.trainer, self.log = trainer, log
        self.started = time.perf_counter()

    def on_train_begin(self, args, state, control, **kwargs):
        self.started = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        step = self.trainer.end_step()  # the same values on every process
        check_finite(step, state.global_step, self.trainer.method.name, args.learning_rate)
        self.log.steps.append({"step": state.global_step, "epoch": state.epoch, **step,
                               "time_s": time.perf_counter() - self.started})


def check_finite(step: dict[str, float], global_step: int, method: str, learning_rate: float) -> None:
    """Stop with advice once a loss part is NaN or infinite: the weights are no longer usable."""
    if all(math.isfinite(value) for value in step.values()):
        return
    raise FloatingPointError(
        f"{method}: the loss became non-finite at step {global_step} ({step}); the weights are no longer "
        f"usable, reload the model. Lower the learning rate (it was {learning_rate}), train in fp32 instead "
        "of bf16, or, for unbounded methods such as ga, add a retain term or switch to a bounded method "
        "(npo, simnpo).")


class EpochPairs(TrainerCallback):
    """Tell the forget/retain pairs which epoch starts, before the dataloader draws from them."""

    def __init__(self, pairs: ForgetRetainPairs):
        self.pairs = pairs

    def on_epoch_begin(self, args, state, control, **kwargs):
        self.pairs.set_epoch(math.floor((state.epoch or 0) + 1e-6))


class EvalRecorder(TrainerCallback):
    """Run ``fn(model) -> {name: float}`` before training, every ``every`` steps and at the end."""

    def __init__(self, fn: EvalFn, every: int, log: UnlearnLog):
        self.fn, self.every, self.log = fn, max(1, every), log

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        self._run(model, 0)

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if state.global_step % self.every == 0:
            self._run(model, state.global_step)

    def on_train_end(self, args, state, control, model=None, **kwargs):
        if self.log.evals[-1]["step"] != state.global_step:
            self._run(model, state.global_step)

    def _run(self, model, step: int) -> None:
        was_training = model.training
        model.eval()
        results = self.fn(model)
        model.train(was_training)
        self.log.evals.append({"step": step, **{name: float(value) for name, value in results.items()}})
