"""The course's house style: one colour per role and per method, and one figure helper.

Every figure in the course goes through :func:`figure`, so the notebooks, the
book and the quickstart PNG look alike, and a learner can restyle everything in
one place.  A colour means the same thing in every figure: orange is the target
(before unlearning), green the retrained model (exact unlearning), and each
method keeps its own colour (:func:`color`).  This module knows no method's
mathematics, only names.
"""
from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt

# A colour-blind-safe palette (Okabe–Ito), one colour per role.
COLORS = {
    "target": "#D55E00",
    "retrained": "#009E73",
    "reference": "#009E73",  # deprecated name of "retrained"
    "forget": "#E69F00",
    "retain": "#0072B2",
    "method": "#CC79A7",
    "neutral": "#555555",
}
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#F0E442", "#000000"]
# Methods get colours that no role uses (not the target's orange, not the retrained model's green).
METHOD_COLORS = {
    "ga": "#000000", "graddiff": "#0072B2", "kl": "#56B4E9", "idk": "#882255", "random_label": "#AA4499",
    "dpo": "#999933", "npo": "#CC79A7", "simnpo": "#332288", "rmu": "#44AA99", "wga": "#117733",
    "undial": "#88CCEE", "task_vector": "#DDCC77", "whp": "#661100", "descent": "#888888",
    "icul": "#EE3377", "guardrail": "#33BBEE", "me": "#225555",
}


def color(name: str) -> str:
    """The colour of a role (``target``, ``retrained``, ``forget``, ...) or a method, by name.

    Names such as ``"NPO (no retain)"`` or ``"graddiff λ=4"`` take their method's
    colour; an unknown name gets the neutral grey.
    """
    key = name.strip().lower()
    if key in COLORS:
        return COLORS[key]
    head = key.replace("-", "_").split()[0] if key.split() else key
    return METHOD_COLORS.get(head, METHOD_COLORS.get(key, COLORS["neutral"]))

STYLE = {
    "figure.figsize": (4.5, 3.0),
    "figure.dpi": 110,
    "savefig.dpi": 130,
    "savefig.bbox": "tight",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "axes.prop_cycle": matplotlib.cycler(color=PALETTE),
}


def use_style() -> None:
    """Apply the house style to every later figure."""
    plt.rcParams.update(STYLE)


def figure(ncols: int = 1, nrows: int = 1, width: float | None = None, height: float | None = None,
           **kwargs):
    """A new figure in house style; returns ``(fig, ax)`` or ``(fig, axes)``."""
    use_style()
    w, h = STYLE["figure.figsize"]
    size = (width or w * ncols, height or h * nrows)
    return plt.subplots(nrows, ncols, figsize=size, **kwargs)
