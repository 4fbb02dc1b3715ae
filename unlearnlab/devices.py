"""Pick the best device and the matching dtype, and say which was picked.

Like d2l's ``try_gpu``: code asks for ``device()`` and runs wherever it lands.
bf16 is used only on GPUs that compute it natively; CPUs and MPS train in fp32,
where bf16 would be slower or less precise for no memory benefit that matters here.
"""
from __future__ import annotations

import logging
import os

import torch



def cuda_available() -> bool:
    return torch.cuda.is_available()


def mps_available() -> bool:
    return bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())


def device(verbose: bool = False) -> torch.device:
    """Return cuda, mps or cpu, in that order of preference.

    ``UNLEARNLAB_DEVICE`` forces a choice (for example ``cpu`` on a GPU machine).
    """
    forced = os.environ.get("UNLEARNLAB_DEVICE")
    if forced:
        chosen = forced_device(forced)
    elif cuda_available():
        chosen = torch.device("cuda")
    elif mps_available():
        chosen = torch.device("mps")
    else:
        chosen = torch.device("cpu")
    if verbose:
        logging.getLogger(__name__).info("device: %s", describe(chosen))
    return chosen


def forced_device(name: str) -> torch.device:
    """The device ``UNLEARNLAB_DEVICE`` names, or a clear error if it is not a device this machine has.

    Without this check a typo or a missing GPU fails much later, deep inside
    torch, or worse, some code silently falls back to the CPU.
    """
    try:
        chosen = torch.device(name)
    except RuntimeError as error:
        raise ValueError(f"UNLEARNLAB_DEVICE={name!r} is not a device name ({error}); use cpu, cuda, cuda:1 "
                         "or mps, or unset UNLEARNLAB_DEVICE to choose automatically.") from None
    available = {"cpu": True, "meta": True, "cuda": cuda_available(), "mps": mps_available()}
    if not available.get(chosen.type, False):
        raise ValueError(f"UNLEARNLAB_DEVICE={name!r} but this machine has no {chosen.type} device; "
                         "unset UNLEARNLAB_DEVICE to choose automatically, or set it to cpu.")
    if chosen.type == "cuda" and chosen.index is not None and chosen.index >= torch.cuda.device_count():
        raise ValueError(f"UNLEARNLAB_DEVICE={name!r} but this machine has {torch.cuda.device_count()} CUDA "
                         "device(s), numbered from 0.")
    return chosen


def describe(dev: torch.device | None = None) -> str:
    """A one-line human description of a device, e.g. for notebook headers."""
    dev = dev or device()
    if dev.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(dev)})"
    if dev.type == "cpu":
        threads = torch.get_num_threads()
        return f"cpu ({threads} thread{'s' if threads != 1 else ''})"
    return dev.type


def dtype_for(dev: torch.device | None = None) -> torch.dtype:
    """bf16 on GPUs that support it natively, fp32 everywhere else."""
    dev = dev or device()
    if dev.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


def mixed_precision(dev: torch.device | None = None) -> str:
    """The training precision for a device: ``"bf16"``, ``"fp16"`` or ``"fp32"``.

    bf16 where the GPU computes it natively (Ampere and later): same range as fp32,
    so no loss scaling is needed.  A CUDA GPU without bf16 (the T4 of Colab's free
    tier) trains in fp16 mixed precision, which needs the Trainer's loss scaling
    because small gradients underflow in fp16's narrow range.  CPU and MPS train in
    fp32: there half precision is slower or less precise for no memory gain that matters here.
    """
    dev = dev or device()
    if dev.type != "cuda":
        return "fp32"
    return "bf16" if torch.cuda.is_bf16_supported() else "fp16"


def peak_memory_mb(dev: torch.device | None = None) -> float:
    """Peak memory of this process: the CUDA allocator's peak on GPU, max RSS on CPU."""
    dev = dev or device()
    if dev.type == "cuda":
        return torch.cuda.max_memory_allocated(dev) / 2**20
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def reset_peak_memory(dev: torch.device | None = None) -> None:
    dev = dev or device()
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
