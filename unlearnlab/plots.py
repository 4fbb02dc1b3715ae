"""One plotting helper with the course's house style (small, book-friendly figures).

Every figure in the course goes through :func:`figure`, so the notebooks, the
book and the quickstart PNG look alike, and a learner can restyle everything in
one place.
"""
from __future__ import annotations

import matplotlib

if matplotlib.get_backend().lower() not in {"module://matplotlib_inline.backend_inline", "inline"}:
    import os

    if not os.environ.get("DISPLAY") and not os.environ.get("MPLBACKEND"):
        matplotlib.use("Agg")  # headless: CI, scripts, the quickstart

import matplotlib.pyplot as plt

# A colour-blind-safe palette (Okabe–Ito), one colour per role.
COLORS = {
    "target": "#D55E00",
    "reference": "#009E73",
    "forget": "#E69F00",
    "retain": "#0072B2",
    "method": "#CC79A7",
    "neutral": "#555555",
}
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#F0E442", "#000000"]

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


def token_heatmap(table, ax=None, vmax: float | None = None):
    """Heatmap of per-token losses: one row per model, one column per answer token.

    ``table`` is :func:`unlearnlab.per_example.token_losses` output.  Dark cells
    are tokens a model finds surprising (high NLL).
    """
    models = [c for c in table.columns if c != "token"]
    if ax is None:
        _, ax = figure(width=max(4.0, 0.45 * len(table)), height=0.5 + 0.45 * len(models))
    values = table[models].to_numpy().T
    image = ax.imshow(values, aspect="auto", cmap="magma_r", vmin=0, vmax=vmax or max(float(values.max()), 1.0))
    ax.set_xticks(range(len(table)), [t.strip() or "␣" for t in table["token"]], rotation=60, ha="right")
    ax.set_yticks(range(len(models)), models)
    ax.grid(False)
    ax.figure.colorbar(image, ax=ax, label="NLL (nats)", fraction=0.04, pad=0.02)
    return ax


def forget_loss_curves(betas=(0.1, 1.0), axes=None, span: float = 40.0):
    """Gradient ascent's and NPO's forget loss, and their gradient weights, against log π_θ/π_ref.

    Left: the losses (GA's is the log-ratio itself, a straight line down; NPO's
    flattens at 0).  Right: how hard each pushes, d loss / d log-ratio (GA: always 1;
    NPO: 2·σ(β·log-ratio), which fades as the answer becomes unlikely).  Returns the axes.
    """
    import torch

    from .methods.preference import npo_gradient_weight, npo_loss

    if axes is None:
        _, axes = figure(ncols=2, width=8.0)
    log_ratio = torch.linspace(-span, span / 4, 400)
    x = log_ratio.numpy()
    axes[0].plot(x, x, color=COLORS["target"], label="gradient ascent")
    axes[1].plot(x, [1.0] * len(x), color=COLORS["target"], label="gradient ascent")
    for beta, color in zip(betas, [COLORS["method"], COLORS["retain"], COLORS["reference"], COLORS["neutral"]]):
        axes[0].plot(x, npo_loss(log_ratio, beta).numpy(), color=color, label=f"NPO β={beta:g}")
        axes[1].plot(x, npo_gradient_weight(log_ratio, beta).numpy(), color=color, label=f"NPO β={beta:g}")
    axes[0].set_ylabel("forget loss")
    axes[1].set_ylabel("gradient weight")
    for ax in axes:
        ax.set_xlabel("log π_θ(y|x) − log π_ref(y|x)  (← forgotten)")
        ax.axvline(0, color=COLORS["neutral"], lw=0.8, ls=":")
    axes[1].legend()
    return axes
