"""Speed and memory of the unlearning engine, printed (never asserted).

    python -m unlearnlab.perf.engine step --model tiny --method npo --steps 40 --batch-size 8
    python -m unlearnlab.perf.engine step --random-llama-1b --peak-tflops 989 --batch-size 16   # on a GPU
    python -m unlearnlab.perf.engine targets                                                     # the course's targets

``step`` measures three configurations on the same data (the authors world's
forget10 and retain90 splits), each in a fresh subprocess so that each peak
memory is its own (on CPU it is the process's peak RSS, which is coarse):

``engine``
    the method through :func:`unlearnlab.training.unlearn` (``inplace=True``): log π_ref precomputed
    once, forget and retain batches in one forward pass.
``naive``
    a hand-written loop over the same batches (same pairing, batch size and
    optimiser): a second, frozen copy of the model runs every step, and forget
    and retain batches go through the model separately.
``finetune``
    plain fine-tuning (``descent`` on the same forget and retain batches) through
    the engine: the memory baseline a method should stay close to.

Throughput is steps/s and real (unpadded) tokens/s over the steps after
``--warmup``, the best of ``--repeats`` interleaved runs (on a shared machine the
slower runs measure the neighbours); with ``--peak-tflops`` the model-FLOPs
utilisation MFU = 6·N·tokens/s / peak FLOP/s is printed too.
"""
from __future__ import annotations

import argparse
import copy
import itertools
import json
import subprocess
import sys
import time
from dataclasses import dataclass, replace

import torch
from transformers import LlamaConfig, LlamaForCausalLM

from .. import models, worlds
from ..devices import describe, device, dtype_for, peak_memory_mb, reset_peak_memory
from ..formats import encode_dataset
from ..numerics import count_parameters, pad_id
from ..training import unlearn
from ..training.pairs import ForgetRetainPairs, PairCollator
from ..methods import get_method
from ..methods.base import answer_logprob

CONFIGS = ("engine", "naive", "finetune")
TARGETS = {"throughput vs naive": 1.3, "memory vs finetune": 1.15}


@dataclass
class Measurement:
    config: str
    method: str
    steps_per_s: float
    tokens_per_s: float
    peak_memory_mb: float
    loaded_memory_mb: float  # peak after loading model and data, before training
    wall_s: float  # setup (reference copy or precomputation) and all steps
    n_params: int
    device: str


# ----- models and data -----------------------------------------------------------------------------
def llama_1b_config() -> LlamaConfig:
    """The shape of Llama-3.2-1B (1.24B parameters, tied embeddings)."""
    return LlamaConfig(vocab_size=128_256, hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
                       num_attention_heads=32, num_key_value_heads=8, max_position_embeddings=2048,
                       tie_word_embeddings=True, rope_theta=500_000.0)


def load_model(name: str, random_llama_1b: bool):
    """``(model, tokenizer)``: a zoo model, or random weights in the shape of Llama-3.2-1B."""
    if not random_llama_1b:
        return models.load(name)
    _, tokenizer = models.load("tiny")  # any tokenizer: only the ids' range matters for speed
    with torch.device(device()):
        return LlamaForCausalLM(llama_1b_config()), tokenizer


def load_data():
    world = worlds.load("authors")
    return world.split("forget10"), world.split(world.retain_split("forget10"))


# ----- one configuration, measured in this process --------------------------------------------------------
def measure(config: str, args) -> Measurement:
    """Load model and data, train ``args.steps`` steps in one configuration, and time them."""
    if args.threads:
        torch.set_num_threads(args.threads)
    model, tokenizer = load_model(args.model, args.random_llama_1b)
    forget, retain = load_data()
    dev = device()
    model.to(dev)
    loaded = peak_memory_mb(dev)
    reset_peak_memory(dev)
    started = time.perf_counter()
    method = "descent" if config == "finetune" else args.method
    settings = {"alpha": 1.0} if config == "finetune" else {}
    if config == "naive":
        times, tokens = naive_loop(model, tokenizer, get_method(method), forget, retain, args)
    else:
        _, log = unlearn(model, tokenizer, method, forget, retain, max_steps=args.steps,
                         per_device_train_batch_size=args.batch_size, learning_rate=args.learning_rate,
                         seed=args.seed, disable_tqdm=True, inplace=True, **settings)
        times, tokens = log.series("time_s"), log.series("tokens")
    wall, w = time.perf_counter() - started, args.warmup
    elapsed = times[-1] - times[w - 1]
    return Measurement(config, method, (len(times) - w) / elapsed, sum(tokens[w:]) / elapsed, peak_memory_mb(dev),
                       loaded, wall, count_parameters(model), describe(dev))


class CopiedReference:
    """The textbook frozen reference: a second full copy of the model, run without gradients."""

    def __init__(self, model):
        self.model = copy.deepcopy(model).eval().requires_grad_(False)

    def logits(self, batch):
        with torch.no_grad():
            return self.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits


def naive_loop(model, tokenizer, method, forget, retain, args) -> tuple[list[float], list[int]]:
    """Train like a first implementation would; return cumulative times and tokens per step."""
    torch.manual_seed(args.seed)
    dev = device()
    pairs = ForgetRetainPairs(encode_dataset(method.prepare_forget(forget, retain, args.seed), tokenizer),
                              encode_dataset(retain, tokenizer) if method.uses_retain else None, seed=args.seed)
    loader = torch.utils.data.DataLoader(pairs, batch_size=args.batch_size, shuffle=True,
                                         collate_fn=PairCollator(pad_id(tokenizer)),
                                         generator=torch.Generator().manual_seed(args.seed))
    reference = CopiedReference(model) if method.reference_logprobs or method.needs_live_reference else None
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.learning_rate, weight_decay=0.0, fused=True)
    model.train()
    bf16 = dtype_for(dev) == torch.bfloat16
    times, tokens, started = [], [], time.perf_counter()
    for batch in itertools.islice(itertools.cycle(loader), args.steps):
        batch = {key: _to(value, dev) for key, value in batch.items()}
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16):
            loss = naive_loss(model, method, batch, reference)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss.item()  # wait for the device, as the engine's per-step log does
        times.append(time.perf_counter() - started)
        tokens.append(sum(int(s["attention_mask"].sum()) for s in _streams(batch)))
    return times, tokens


def naive_loss(model, method, batch, reference):
    """The method's loss with one forward per stream and live reference log-probabilities."""
    forget, retain = batch["forget"], batch.get("retain")
    logits = {"forget": _logits(model, forget)}
    if "preferred" in forget:
        logits["preferred"] = _logits(model, forget["preferred"])
    if method.reference_logprobs:
        for stream in (forget, forget.get("preferred")):
            if stream is not None:
                stream["ref_logp"] = answer_logprob(reference.logits(stream), stream["labels"])[0]
    loss = method.gamma * method.forget_loss(logits, forget, reference)
    if method.uses_retain:
        loss = loss + method.alpha * method.retain_term(_logits(model, retain), retain, reference)
    return loss


def _logits(model, batch):
    return model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits


def _streams(batch) -> list[dict]:
    return [s for s in (batch["forget"], batch["forget"].get("preferred"), batch.get("retain")) if s is not None]


def _to(value, dev):
    return {k: _to(v, dev) for k, v in value.items()} if isinstance(value, dict) else value.to(dev)


# ----- the comparison, one subprocess per configuration ---------------------------------------------------
def run_isolated(config: str, argv: list[str]) -> Measurement:
    """Measure one configuration in a fresh Python process and read its JSON line."""
    command = [sys.executable, "-m", "unlearnlab.perf.engine", "measure", "--config", config, *argv]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"benchmark of {config} failed:\n{result.stderr[-3000:]}")
    return Measurement(**json.loads(result.stdout.strip().splitlines()[-1]))


def best_of(runs: list[Measurement]) -> Measurement:
    """The fastest run (others were slowed by whatever else shared the machine), with the largest peak memory."""
    fastest = max(runs, key=lambda m: m.tokens_per_s)
    return replace(fastest, peak_memory_mb=max(m.peak_memory_mb for m in runs))


def compare(args, argv: list[str]) -> dict[str, float]:
    """Print the three configurations and the ratios the course targets; return the ratios."""
    runs = {config: [] for config in CONFIGS}
    for _ in range(args.repeats):  # interleaved, so that a busy spell slows every configuration alike
        for config in CONFIGS:
            runs[config].append(run_isolated(config, argv))
    results = {config: best_of(measured) for config, measured in runs.items()}
    engine = results["engine"]
    print(f"{engine.method} on {args.model if not args.random_llama_1b else 'random Llama-1B'} "
          f"({engine.n_params / 1e6:.1f}M parameters), {engine.device}, {args.steps} steps of "
          f"batch {args.batch_size} ({args.warmup} warm-up steps not timed), best of {args.repeats} runs")
    print(f"{'config':<10}{'steps/s':>10}{'tokens/s':>12}{'peak MB':>10}{'loaded MB':>11}{'wall s':>9}"
          + (f"{'MFU':>8}" if args.peak_tflops else ""))
    for m in results.values():
        mfu = 6 * m.n_params * m.tokens_per_s / (args.peak_tflops * 1e12) if args.peak_tflops else None
        print(f"{m.config:<10}{m.steps_per_s:>10.2f}{m.tokens_per_s:>12.0f}{m.peak_memory_mb:>10.0f}"
              f"{m.loaded_memory_mb:>11.0f}{m.wall_s:>9.1f}" + (f"{mfu:>8.1%}" if mfu is not None else ""))
    ratios = {"throughput vs naive": engine.tokens_per_s / results["naive"].tokens_per_s,
              "memory vs finetune": engine.peak_memory_mb / results["finetune"].peak_memory_mb}
    for name, value in ratios.items():
        print(f"{engine.method} {name}: {value:.2f}x")
    return ratios


def report_targets(ratios: dict[str, float]) -> None:
    for name, value in ratios.items():
        goal = TARGETS[name]
        met = value >= goal if name.startswith("throughput") else value <= goal
        sign = ">=" if name.startswith("throughput") else "<="
        print(f"target {name} {sign} {goal}x: {'met' if met else 'NOT met'} ({value:.2f}x)")


# ----- command line ------------------------------------------------------------------------------------------
def parser() -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(prog="python -m unlearnlab.perf.engine", description=__doc__.split("\n")[0])
    sub = cli.add_subparsers(dest="command", required=True)
    for name, text in [("step", "throughput and memory: engine vs naive loop vs fine-tuning"),
                       ("targets", "NPO on the tiny tier against the course's targets"),
                       ("measure", "one configuration (used internally by `step`)")]:
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("--model", default="tiny", help="tiny | smollm2-135m | hf:<id> | a local folder")
        cmd.add_argument("--method", default="npo")
        cmd.add_argument("--steps", type=int, default=40)
        cmd.add_argument("--warmup", type=int, default=5, help="first steps left out of the timing")
        cmd.add_argument("--batch-size", type=int, default=8)
        cmd.add_argument("--learning-rate", type=float, default=1e-5)
        cmd.add_argument("--seed", type=int, default=0)
        cmd.add_argument("--repeats", type=int, default=3, help="runs per configuration; the fastest counts")
        cmd.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
        cmd.add_argument("--random-llama-1b", action="store_true",
                         help="random weights in the shape of Llama-3.2-1B (for GPUs)")
        cmd.add_argument("--peak-tflops", type=float, default=0.0,
                         help="the device's peak dense TFLOP/s at the training dtype, to print MFU "
                              "(e.g. 989 for an H100 SXM in bf16)")
        if name == "measure":
            cmd.add_argument("--config", choices=CONFIGS, required=True)
    return cli


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = parser().parse_args(argv)
    if not 0 < args.warmup < args.steps:
        raise SystemExit(f"--warmup ({args.warmup}) must be at least 1 and below --steps ({args.steps})")
    if get_method(args.method).name == "rmu":
        raise SystemExit("the naive loop covers methods of the form γ·L_forget + α·L_retain, not rmu")
    if args.command == "measure":
        print(json.dumps(measure(args.config, args).__dict__))
    elif args.command == "step":
        compare(args, argv[1:])
    else:
        report_targets(compare(args, argv[1:]))


if __name__ == "__main__":
    main()
