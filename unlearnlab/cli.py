"""Command line: ``unlearnlab <command>`` (or ``python -m unlearnlab <command>``).

``quickstart`` runs the main job; ``profile`` prints the active profile; ``doctor``
checks that this machine is ready for the course; ``prefetch`` builds everything
the chapters load, so that a workshop room works offline.
"""
from __future__ import annotations

import argparse

from .config import get_profile


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="unlearnlab", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    quick = commands.add_parser("quickstart", help="unlearn forget10 several ways and judge each against retraining")
    quick.add_argument("--out", help="output folder (default: outputs/quickstart-<time>)")
    quick.add_argument("--forget", default="forget10", choices=["forget01", "forget05", "forget10"])
    quick.add_argument("--methods", default="ga,graddiff,npo,random_label", help="comma-separated method names")
    quick.add_argument("--profile", choices=["ci", "laptop", "gpu"],
                       help="world and model sizes (default: UNLEARNLAB_PROFILE, else ci, which runs in minutes)")
    quick.add_argument("--model", default="tiny", help="tiny, smollm2-135m, hf:<id> or a folder")
    quick.add_argument("--seed", type=int, default=0)
    quick.add_argument("--overwrite", action="store_true", help="replace results already in --out")
    commands.add_parser("profile", help="print the active profile and what each size replaced")
    commands.add_parser("doctor", help="check Python, packages, torch, profile, cache, disk, memory and models")
    fetch = commands.add_parser("prefetch", help="build or download what the chapters need, to work offline")
    from .prefetch import add_arguments

    add_arguments(fetch)
    args = parser.parse_args(argv)

    if args.command == "profile":
        print(get_profile().describe())
        return 0
    if args.command == "doctor":
        from .doctor import main as doctor

        return doctor()
    if args.command == "prefetch":
        from .prefetch import run as run_prefetch

        return run_prefetch(args)
    from .quickstart import run

    run(out=args.out, forget=args.forget, methods=tuple(args.methods.split(",")), model=args.model,
        overwrite=args.overwrite, seed=args.seed, profile=args.profile)
    return 0
