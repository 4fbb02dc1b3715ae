"""Thin ipywidgets wrappers over package functions, for exploring in the notebooks.

Each explorer only wires controls to a function that the notebooks also call
directly, so the logic is tested and runs in CI; nothing here computes.  One
module per topic; all share :func:`~unlearnlab.notebook.widgets.base.explorer`.
"""
from .answers import answer_explorer
from .figures import figure_explorer, trace_explorer
from .memorisation import token_loss_explorer
from .training import npo_beta_explorer, run_explorer, step_explorer
from .world import author_explorer

__all__ = ["answer_explorer", "author_explorer", "figure_explorer", "npo_beta_explorer", "run_explorer", "step_explorer",
           "token_loss_explorer", "trace_explorer"]
