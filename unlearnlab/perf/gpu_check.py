"""The GPU measurements of issue 16, in one command of at most eight minutes.

    python -m unlearnlab.perf.gpu_check                 # on a GPU machine: prints a table, writes gpu_check.json
    python -m unlearnlab.perf.gpu_check --dry-run       # every step at toy size on the CPU (seconds; the tests run it)

It measures, each step timed and allowed to fail without stopping the others:

``npo-step-small`` / ``npo-step-1b``
    the engine's tokens/s and model-FLOPs utilisation (MFU) of an NPO step, bf16
    where the GPU has it, on the small tier and on random weights in the shape of
    Llama-3.2-1B (the course's target: at least 45 % MFU at 1B on an H100/H200);
    each in a fresh process through :func:`unlearnlab.perf.engine.run_isolated`.
``memory-1b``
    peak CUDA memory of NPO against plain fine-tuning on the same batches
    (target: at most 1.15×).
``target-finetune``
    the time to fine-tune the gpu profile's target model on the authors world
    (SmolLM2-360M-Instruct; the small tier when the hub cannot be reached).
``chapter``
    one chapter notebook executed end to end on the gpu profile.
``fsdp``
    ``accelerate launch`` of ``examples/accelerate/unlearn.py`` with FSDP and one
    process: the smoke test of the multi-GPU path.

Without CUDA the script runs in dry mode by itself: the tiny model, a few steps,
and the chapter and FSDP steps skipped (they need a GPU to say anything).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import torch

from ..devices import cuda_available, describe, device, mixed_precision
from .engine import TARGETS, Measurement, run_isolated

ROOT = Path(__file__).resolve().parents[2]
#: peak dense TFLOP/s at bf16 (fp16 on a T4) by a part of the GPU's name, for MFU (datasheet figures, no sparsity)
PEAK_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "L4": 121.0, "A10G": 125.0,
               "T4": 65.0, "V100": 125.0}
MFU_TARGET_1B = 0.45
CHAPTER = "notebooks/03_gradient_ascent.ipynb"


@dataclass
class Step:
    """One measurement: its figures, or why it was skipped or failed."""

    name: str
    status: str = "ok"  # ok | skipped | failed
    seconds: float = 0.0
    figures: dict = field(default_factory=dict)
    note: str = ""


@dataclass
class Sizes:
    """How big each step runs: full size on a GPU, toy size in a dry run."""

    small_model: str = "smollm2-135m"
    steps: int = 30
    warmup: int = 5
    batch_size: int = 16
    small_batch_size: int = 16
    finetune_max_steps: int = 200  # timed steps; the whole recipe's time is extrapolated from them
    threads: int = 0


DRY = Sizes(small_model="tiny", steps=3, warmup=1, batch_size=2, small_batch_size=2, finetune_max_steps=2,
            threads=1)


def peak_tflops(name: str) -> float | None:
    """The datasheet peak for a GPU name (None when unknown: then MFU is not reported)."""
    return next((value for key, value in PEAK_TFLOPS.items() if key in name), None)


def timed(name: str, run: Callable[[], dict]) -> Step:
    """Run one step; a failure is recorded with its last message, and the next step still runs."""
    started = time.perf_counter()
    try:
        figures = run()
        status, note = "ok", figures.pop("note", "")
    except Exception as error:  # noqa: BLE001 - one failed measurement must not lose the others
        figures, status, note = {}, "failed", f"{type(error).__name__}: {str(error)[-800:]}"
    return Step(name, status, time.perf_counter() - started, figures, note)


def skipped(name: str, why: str) -> Step:
    return Step(name, "skipped", note=why)


# ----- the steps ---------------------------------------------------------------------------------------------
#: measurements of this run by (config, argv): a configuration is measured in one fresh process, once
_measured: dict[tuple[str, tuple[str, ...]], Measurement] = {}


def measure(config: str, argv: list[str]) -> Measurement:
    """:func:`run_isolated`, once per configuration and arguments within a run.

    Why: memory-1b's NPO side is the very process npo-step-1b measures (same
    arguments), and in a dry run npo-step-small and npo-step-1b are the same tiny
    configuration too; each fresh process costs its Python and torch start-up
    (about 15 s on a small shared CPU), so measuring it again would add time and no
    information.  :func:`run` clears the memo, so separate runs measure afresh.
    """
    key = (config, tuple(argv))
    if key not in _measured:
        _measured[key] = run_isolated(config, argv)
    return _measured[key]


def engine_argv(model: str | None, sizes: Sizes, batch_size: int) -> list[str]:
    argv = ["--method", "npo", "--steps", str(sizes.steps), "--warmup", str(sizes.warmup),
            "--batch-size", str(batch_size), "--threads", str(sizes.threads)]
    return argv + (["--model", model] if model else ["--random-llama-1b"])


def npo_step(model: str | None, sizes: Sizes, batch_size: int, peak: float | None) -> dict:
    """Tokens/s and MFU of the engine's NPO step (``model=None``: random Llama-1B weights)."""
    m = measure("engine", engine_argv(model, sizes, batch_size))
    return {"model": model or "random Llama-3.2-1B", **throughput(m, peak), "precision": mixed_precision(device())}


def throughput(m: Measurement, peak: float | None) -> dict:
    mfu = 6 * m.n_params * m.tokens_per_s / (peak * 1e12) if peak else None
    return {"params_M": round(m.n_params / 1e6, 1), "tokens_per_s": round(m.tokens_per_s),
            "steps_per_s": round(m.steps_per_s, 2), "mfu": round(mfu, 4) if mfu is not None else None,
            "peak_memory_mb": round(m.peak_memory_mb), "device": m.device}


def memory_ratio(model: str | None, sizes: Sizes, batch_size: int) -> dict:
    """Peak memory of NPO over plain fine-tuning on the same batches, each in its own process."""
    argv = engine_argv(model, sizes, batch_size)
    npo, plain = measure("engine", argv), measure("finetune", argv)
    ratio = npo.peak_memory_mb / plain.peak_memory_mb
    return {"npo_peak_mb": round(npo.peak_memory_mb), "finetune_peak_mb": round(plain.peak_memory_mb),
            "ratio": round(ratio, 3), "target": TARGETS["memory vs finetune"],
            "met": ratio <= TARGETS["memory vs finetune"]}


def target_finetune(sizes: Sizes, dry: bool) -> dict:
    """Fine-tune the gpu profile's target model on the authors world, timed (no cache: always trained).

    The first ``sizes.finetune_max_steps`` steps are timed and the profile's whole
    recipe (epochs × batches) extrapolated from them, so the check stays within minutes.
    """
    from .. import models, worlds
    from ..config import target_model
    from ..hub import hub_reachable
    from ..training import finetune

    name = "tiny" if dry else target_model("gpu")[0]
    note = ""
    if name.startswith("hf:") and not hub_reachable():
        name, note = "smollm2-135m", "the hub cannot be reached: the small tier stands in for the profile's model"
    world = worlds.load("authors")
    data = world.training_set(None)
    recipe = {**models.training_recipe(name, n_items=len(data)), **models.memory_settings(name)}
    if sizes.finetune_max_steps:
        recipe["max_steps"] = sizes.finetune_max_steps
    full_steps = math.ceil(len(data) / recipe["per_device_train_batch_size"]) * recipe["num_train_epochs"]
    steps = min(sizes.finetune_max_steps, full_steps)
    model, tokenizer = models.load(name, world)
    started = time.perf_counter()
    finetune(model, tokenizer, data, inplace=True, disable_tqdm=True, **{**recipe, "max_steps": steps})
    seconds = time.perf_counter() - started
    return {"model": name, "items": len(data), "timed_steps": steps, "seconds": round(seconds, 1),
            "recipe_steps": full_steps, "recipe_seconds_estimate": round(seconds * full_steps / steps),
            "lora": bool(recipe.get("lora")), "precision": mixed_precision(device()), "note": note}


def chapter(path: str, timeout_s: int) -> dict:
    """Execute one chapter notebook on the gpu profile and time it."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(ROOT / path, as_version=4)
    before = os.environ.get("UNLEARNLAB_PROFILE")
    os.environ["UNLEARNLAB_PROFILE"] = "gpu"  # the kernel inherits this process's environment
    started = time.perf_counter()
    try:
        NotebookClient(notebook, timeout=timeout_s, kernel_name="python3",
                       resources={"metadata": {"path": str(ROOT / "notebooks")}}).execute()
    finally:
        if before is None:
            os.environ.pop("UNLEARNLAB_PROFILE")
        else:
            os.environ["UNLEARNLAB_PROFILE"] = before
    return {"notebook": path, "seconds": round(time.perf_counter() - started, 1)}


def fsdp_smoke(timeout_s: int) -> dict:
    """``accelerate launch`` with the FSDP config and one process: a few NPO steps of the tiny model."""
    with tempfile.TemporaryDirectory() as out:
        command = [sys.executable, "-m", "accelerate.commands.launch", "--config_file",
                   str(ROOT / "examples/accelerate/fsdp.yaml"), "--num_processes", "1",
                   str(ROOT / "examples/accelerate/unlearn.py"), "--model", "tiny", "--method", "npo",
                   "--max_steps", "5", "--per_device_train_batch_size", "4", "--save_dir", f"{out}/npo"]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
        if result.returncode != 0:
            raise RuntimeError(result.stderr[-1500:])
        return {"processes": 1, "saved": (Path(out) / "npo" / "unlearn_log.json").exists()}


# ----- the whole check ----------------------------------------------------------------------------------------
def run(dry: bool, peak: float | None = None) -> dict:
    """Every measurement in order; returns the JSON-ready report."""
    sizes = DRY if dry else Sizes()
    _measured.clear()
    dev = device()
    gpu = describe(dev)
    peak = peak or (peak_tflops(torch.cuda.get_device_name(dev)) if dev.type == "cuda" else None)
    steps = [timed("npo-step-small", lambda: npo_step(sizes.small_model, sizes, sizes.small_batch_size, peak))]
    one_b = None if not dry else "tiny"  # a dry run measures the tiny model in place of random Llama-1B
    steps.append(timed("npo-step-1b", lambda: npo_step(one_b, sizes, sizes.batch_size, peak)))
    steps.append(timed("memory-1b", lambda: memory_ratio(one_b, sizes, sizes.batch_size)))
    steps.append(timed("target-finetune", lambda: target_finetune(sizes, dry)))
    if dry:
        steps.append(skipped("chapter", "dry run: a chapter on the gpu profile needs a GPU"))
        steps.append(skipped("fsdp", "dry run: the FSDP config is for CUDA"))
    else:
        steps.append(timed("chapter", lambda: chapter(CHAPTER, timeout_s=180)))
        steps.append(timed("fsdp", lambda: fsdp_smoke(timeout_s=120)))
    return {"device": gpu, "dry_run": dry, "precision": mixed_precision(dev), "peak_tflops": peak,
            "mfu_target_1b": MFU_TARGET_1B, "steps": [asdict(step) for step in steps]}


def table(report: dict) -> str:
    """The report as lines of text: one per step, its main figures, and the notes."""
    lines = [f"GPU check on {report['device']} ({report['precision']}"
             + (", DRY RUN at toy size" if report["dry_run"] else "") + ")",
             f"{'step':<17}{'status':<9}{'seconds':>8}  figures"]
    for step in report["steps"]:
        figures = ", ".join(f"{k}={v}" for k, v in step["figures"].items() if k != "device")
        lines.append(f"{step['name']:<17}{step['status']:<9}{step['seconds']:>8.1f}  {figures}")
        if step["note"]:
            lines.append(f"{'':<17}note: {step['note']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    cli = argparse.ArgumentParser(prog="python -m unlearnlab.perf.gpu_check", description=__doc__.split("\n")[0])
    cli.add_argument("--dry-run", action="store_true", help="toy sizes on the CPU (automatic without CUDA)")
    cli.add_argument("--out", default="gpu_check.json", help="where the JSON report is written")
    cli.add_argument("--peak-tflops", type=float, default=None,
                     help="the GPU's peak dense TFLOP/s at the training dtype (default: from its name)")
    args = cli.parse_args(argv)
    dry = args.dry_run or not cuda_available()
    if dry and not args.dry_run:
        print("no CUDA device: running the dry run (toy sizes on the CPU)")
    report = run(dry, args.peak_tflops)
    print(table(report))
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"written {args.out}")
    return report


if __name__ == "__main__":
    main()
