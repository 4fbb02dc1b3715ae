"""Unlearn on several GPUs: the notebook's ``unlearn()`` call, started by ``accelerate launch``.

    accelerate launch --config_file examples/accelerate/fsdp.yaml examples/accelerate/unlearn.py \\
        --model path/to/fine-tuned-target --method npo --forget forget10 --save-dir outputs/npo

Every process runs this same file; the Trainer inside ``unlearn()`` reads the
launcher's settings (FSDP, bf16, number of GPUs) and splits the batches among
them.  ``--batch-size`` is per GPU.  Only the first process writes the log.
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from unlearnlab import models, worlds
from unlearnlab.engine import unlearn


def parse_args() -> argparse.Namespace:
    cli = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    cli.add_argument("--model", default="smollm2-135m", help="tiny | smollm2-135m | hf:<id> | a local folder")
    cli.add_argument("--method", default="npo")
    cli.add_argument("--world", default="authors")
    cli.add_argument("--forget", default="forget10")
    cli.add_argument("--epochs", type=float, default=5)
    cli.add_argument("--max-steps", type=int, default=None)
    cli.add_argument("--batch-size", type=int, default=4, help="per GPU")
    cli.add_argument("--gradient-accumulation", type=int, default=1)
    cli.add_argument("--learning-rate", type=float, default=1e-5)
    cli.add_argument("--lora-r", type=int, default=0, help="LoRA rank; 0 trains every weight")
    cli.add_argument("--gradient-checkpointing", action="store_true")
    cli.add_argument("--save-dir", default=None, help="where the unlearned model is saved")
    return cli.parse_args()


def main() -> None:
    args = parse_args()
    world = worlds.load(args.world)
    model, tokenizer = models.load(args.model)
    forget, retain = world.split(args.forget), world.split(world.retain_split(args.forget))
    _, log = unlearn(
        model, tokenizer, args.method, forget, retain,
        epochs=args.epochs, max_steps=args.max_steps, batch_size=args.batch_size,
        gradient_accumulation=args.gradient_accumulation, learning_rate=args.learning_rate,
        lora={"r": args.lora_r, "lora_alpha": 2 * args.lora_r, "target_modules": "all-linear"} if args.lora_r else None,
        gradient_checkpointing=args.gradient_checkpointing, save_dir=args.save_dir,
    )
    if int(os.environ.get("RANK", "0")) == 0:
        summary = {key: log.to_dict()[key] for key in ("method", "wall_time_s", "peak_memory_mb", "tokens", "flops")}
        print(json.dumps(summary, indent=2))
        if args.save_dir:
            Path(args.save_dir, "unlearn_log.json").write_text(json.dumps(log.to_dict(), indent=2))


if __name__ == "__main__":
    main()
