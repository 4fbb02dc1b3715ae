"""``python -m unlearnlab.leaderboard run|show``: run a grid (resuming), or show its table from saved files.

Examples::

    python -m unlearnlab.leaderboard run --grid ci
    python -m unlearnlab.leaderboard run --grid full --worlds authors --methods npo simnpo
    UNLEARNLAB_PROFILE=laptop python -m unlearnlab.leaderboard run --grid full --out leaderboard-laptop.json
    python -m unlearnlab.leaderboard show --from leaderboard-laptop.json
"""
from __future__ import annotations

import argparse
import sys

from .spec import GRIDS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m unlearnlab.leaderboard", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["run", "show"], help="run the grid, or show the table of saved runs")
    parser.add_argument("--grid", choices=sorted(GRIDS),
                        help="ci: 3 methods on authors; full: all (default: ci; with --from, the whole file)")
    parser.add_argument("--methods", nargs="+", help="only these methods (registered names)")
    parser.add_argument("--worlds", nargs="+", help="only these worlds (authors, hazard, books)")
    parser.add_argument("--out", help="also write the records as one small JSON table here")
    parser.add_argument("--from", dest="source", help="show: read this exported JSON table instead of the cache")
    args = parser.parse_args(argv)

    from . import board, runner
    from .spec import get_grid

    whole_file = args.source and not (args.grid or args.methods or args.worlds)  # show --from: no filter
    try:
        grid = get_grid(args.grid or "ci", args.methods, args.worlds)
    except ValueError as err:
        parser.error(str(err))
    if args.command == "run":
        print(grid.describe(), flush=True)
        records = runner.run(grid, log=lambda line: print(line, flush=True))
    else:
        if whole_file:
            records = board.load_records(args.source)
        elif args.source:
            records = [r for r in board.load_records(args.source) if r["world"] in grid.worlds
                       and (r["stage"] in ("target", "retrained") or r["method"] in grid.methods)]
        else:
            records = runner.saved(grid)
        if not records:
            print("no saved runs for this grid: run `python -m unlearnlab.leaderboard run` first", file=sys.stderr)
            return 1
    if args.out:
        print(f"wrote {board.export(records, args.out, grid='' if whole_file else grid.describe())}")
    import pandas as pd

    with pd.option_context("display.width", 200, "display.max_columns", 40):
        print(board.table(records).round(3).to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
