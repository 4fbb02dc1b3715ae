"""The capstone leaderboard (chapter 14): every method, one budget, hyperparameters chosen on validation data.

>>> from unlearnlab import leaderboard
>>> records = leaderboard.run("ci")            # runs what is missing, reuses what is saved   # doctest: +SKIP
>>> leaderboard.table(records)                   # mean ± 95 % t-interval per method          # doctest: +SKIP
>>> leaderboard.figure(leaderboard.saved("ci"))     # from the saved files alone, nothing run   # doctest: +SKIP

The grid is data (:mod:`.spec`: ``ci`` and ``full``), each world knows its
test request, validation request and attack (:mod:`.tasks`), the runner saves
one small JSON file per run under ``<cache>/leaderboard/<profile>/`` and skips
files that exist (:mod:`.runner`), and the table and figure read only those
files (:mod:`.board`).  A learner's own method enters with :func:`submit`.

Command line: ``python -m unlearnlab.leaderboard run|show [--grid ci|full]
[--methods ...] [--worlds ...] [--out file.json]``.
"""
from .board import bands, export, figure, load_records, t_interval, table
from .runner import PROTOCOL, check_method, results_dir, run, saved, submit
from .spec import GRIDS, Grid, get_grid
from .tasks import TASKS, selection_score

__all__ = ["run", "saved", "submit", "check_method", "results_dir", "table", "figure", "export", "load_records", "bands",
           "t_interval", "Grid", "GRIDS", "get_grid", "TASKS", "selection_score", "PROTOCOL"]
