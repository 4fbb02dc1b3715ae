"""The plan for a profile's target model: which model, which precision, full fine-tuning or LoRA, and why.

On a GPU the course fine-tunes a pretrained instruction model on the world, and a
few choices depend on the GPU at hand.  :func:`plan` makes them in one place and
says why, so that a learner sees what will run before minutes of training start:

* **model**: the argument, else ``UNLEARNLAB_MODEL``, else the profile's ``target_model``;
* **precision**: :func:`unlearnlab.devices.mixed_precision` (bf16, fp16 with loss
  scaling on a T4, fp32 on CPU);
* **full fine-tuning or LoRA**: full fine-tuning with AdamW keeps about
  :data:`FULL_FINETUNE_BYTES_PER_PARAM` bytes per parameter on the GPU (fp32 weights,
  gradients and two Adam moments); when that exceeds :data:`MEMORY_SHARE` of the
  GPU's memory (the rest is for activations and evaluation), a LoRA adapter
  (:data:`LORA`) is trained instead, at :data:`LORA_LR_FACTOR` times the learning rate.
  SmolLM2-360M (5.8 GB) is fully fine-tuned on a 16 GB T4; Llama-3.2-1B (20 GB) gets LoRA there.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ..config import get_profile, target_model
from ..devices import describe, mixed_precision
from ..devices import device as default_device

#: fp32 weights (4) + gradients (4) + AdamW's two moments (8), per parameter
FULL_FINETUNE_BYTES_PER_PARAM = 16
#: the share of GPU memory the fine-tuning state may take; the rest holds activations and evaluation
MEMORY_SHARE = 0.6
#: the adapter trained when full fine-tuning does not fit (peft.LoraConfig keywords)
LORA = {"r": 16, "lora_alpha": 32, "lora_dropout": 0.0, "target_modules": "all-linear"}
#: LoRA trains few weights from zero, so it takes larger steps than full fine-tuning (common practice: ~10x)
LORA_LR_FACTOR = 10


@dataclass
class Plan:
    """What a target fine-tune will run with, and why; :meth:`describe` prints it."""

    model: str
    model_source: str
    device: str
    precision: str
    n_params: int | None
    gpu_memory_gb: float | None
    lora: dict | None
    finetune: dict = field(default_factory=dict)
    unlearn: dict = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)

    def describe(self) -> str:
        params = f"{self.n_params / 1e6:,.0f}M parameters" if self.n_params else "parameters not counted"
        lines = [f"target model  {self.model} ({self.model_source}; {params})",
                 f"device        {self.device}",
                 f"precision     {self.precision}",
                 f"fine-tuning   {'LoRA r=' + str(self.lora['r']) if self.lora else 'full'}: "
                 + ", ".join(f"{k}={v}" for k, v in self.finetune.items() if k != "lora"),
                 "unlearning    " + ", ".join(f"{k}={v}" for k, v in self.unlearn.items() if k != "lora")]
        return "\n".join(lines + [f"  why: {reason}" for reason in self.reasons])


def needs_lora(n_params: int | None, gpu_memory_bytes: int | None) -> bool:
    """True when full fine-tuning's state would not fit in :data:`MEMORY_SHARE` of the GPU's memory."""
    if not n_params or not gpu_memory_bytes:
        return False
    return n_params * FULL_FINETUNE_BYTES_PER_PARAM > MEMORY_SHARE * gpu_memory_bytes


def gpu_memory_bytes(dev: torch.device) -> int | None:
    """Total memory of a CUDA device (None elsewhere: the CPU fine-tunes in full, as before)."""
    if dev.type != "cuda":
        return None
    return torch.cuda.get_device_properties(dev.index or 0).total_memory


def memory_settings(name: str, dev: torch.device | None = None, n_params: int | None = None,
                    profile: str | None = None) -> dict:
    """``{"lora": LORA, "learning_rate": ...}`` when ``name`` must be LoRA-tuned on ``dev``, else ``{}``.

    Empty on CPU and for the tiny tier, so their recipes (and cache keys) are unchanged.
    """
    dev = dev or default_device()
    if name == "tiny" or dev.type != "cuda":
        return {}
    from .pretrained import estimate_parameters

    n_params = n_params if n_params is not None else estimate_parameters(name)
    if not needs_lora(n_params, gpu_memory_bytes(dev)):
        return {}
    return {"lora": dict(LORA), "learning_rate": get_profile(profile).pretrained_lr * LORA_LR_FACTOR}


def plan(name: str | None = None, profile: str | None = None, *, device: str | torch.device | None = None,
         n_params: int | None = None, verbose: bool = True) -> Plan:
    """Decide (and print, unless ``verbose=False``) how the target model will be built on this machine.

    ``n_params`` skips counting the model's parameters (which reads its config from the hub or a folder).
    """
    from . import training_recipe  # the package imports this module

    prof = get_profile(profile)
    source = "argument"
    if name is None:
        name, source = target_model(prof.name)
    dev = torch.device(device) if device is not None else default_device()
    precision = mixed_precision(dev)
    reasons = [precision_reason(precision, dev)]
    memory = gpu_memory_bytes(dev)
    if name != "tiny" and n_params is None and dev.type == "cuda":
        from .pretrained import estimate_parameters

        n_params = estimate_parameters(name)
    lora_settings = memory_settings(name, dev, n_params, prof.name)
    recipe = {**training_recipe(name, prof.name), **lora_settings}
    if name == "tiny":
        reasons.append("the tiny tier is trained from scratch in full: it has about a million parameters")
    elif memory is None:
        reasons.append("no GPU: full fine-tuning in fp32 (slow for pretrained models; the gpu profile is meant "
                       "for a CUDA GPU)")
    else:
        need = (n_params or 0) * FULL_FINETUNE_BYTES_PER_PARAM / 1e9
        verdict = "LoRA instead" if lora_settings else "full fine-tuning fits"
        reasons.append(f"full fine-tuning needs ~{need:.1f} GB ({FULL_FINETUNE_BYTES_PER_PARAM} B/parameter), "
                       f"{MEMORY_SHARE:.0%} of {memory / 1e9:.1f} GB is {MEMORY_SHARE * memory / 1e9:.1f} GB: "
                       f"{verdict}")
    unlearn = {"learning_rate": 3e-4 if name == "tiny" else prof.pretrained_unlearn_lr,
               "num_train_epochs": prof.unlearn_epochs, "per_device_train_batch_size": prof.unlearn_batch_size,
               **({"lora": dict(LORA)} if lora_settings else {})}
    result = Plan(model=name, model_source=source, device=describe(dev), precision=precision, n_params=n_params,
                  gpu_memory_gb=memory / 1e9 if memory else None, lora=lora_settings.get("lora"),
                  finetune={k: recipe[k] for k in ("num_train_epochs", "learning_rate", "per_device_train_batch_size")},
                  unlearn=unlearn, reasons=reasons)
    if verbose:
        print(result.describe())
    return result


def precision_reason(precision: str, dev: torch.device) -> str:
    return {"bf16": "bf16: this GPU computes it natively (fp32's range, no loss scaling needed)",
            "fp16": "fp16 mixed precision with loss scaling: this GPU has no native bf16 (e.g. a T4)",
            "fp32": f"fp32: {dev.type} gains nothing from half precision here"}[precision]
