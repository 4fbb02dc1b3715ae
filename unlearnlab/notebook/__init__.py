"""Everything a chapter displays: set-up, house style, figures, tables and widgets.

A chapter imports from here and from the package itself, nothing else::

    import unlearnlab as ul
    from unlearnlab.notebook import setup, figure, COLORS, answers_table, answer_explorer

Widgets need ipywidgets (a dependency); each has a static figure or table
beside it in the chapters, so the book shows the content too.
"""
from .figures import forget_loss_curves, plot_against_retrained, plot_pareto, plot_seeds, token_heatmap, trace_heatmap
from .setup import setup, show_messages
from .style import COLORS, METHOD_COLORS, PALETTE, color, figure, use_style
from .tables import (answers_during_unlearning, answers_table, author_card, author_ids, author_splits,
                     log_ratios, memorisation_frame, token_losses)
from .widgets import (answer_explorer, author_explorer, figure_explorer, npo_beta_explorer, run_explorer,
                      step_explorer, token_loss_explorer, trace_explorer)

__all__ = ["setup", "show_messages", "COLORS", "METHOD_COLORS", "PALETTE", "color", "figure", "use_style",
           "forget_loss_curves", "plot_against_retrained", "plot_pareto", "plot_seeds", "token_heatmap", "trace_heatmap", "answers_table", "answers_during_unlearning",
           "author_card", "author_ids", "author_splits", "log_ratios", "memorisation_frame", "token_losses",
           "answer_explorer", "author_explorer", "figure_explorer", "npo_beta_explorer", "run_explorer", "step_explorer",
           "token_loss_explorer", "trace_explorer"]
