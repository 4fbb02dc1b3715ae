"""The course's recurring figures: token heatmaps, forget-loss curves, forget-vs-utility plots.

Each takes data the package computed (a table, a list of results) and returns
its axes or figure, so a notebook cell stays one line and a learner can restyle
every chapter here.
"""
from __future__ import annotations

from typing import Mapping, Sequence

from matplotlib.patches import Rectangle

from ..eval.compare import named_results, pareto_front
from ..eval.results import EvalResult
from .style import COLORS, figure


def token_heatmap(table, ax=None, vmax: float | None = None):
    """Heatmap of per-token losses: one row per model, one column per answer token.

    ``table`` is :func:`unlearnlab.notebook.tables.token_losses` output.  Dark cells
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


def trace_heatmap(trace, ax=None, colorbar: bool = True):
    """One fact's causal trace: the restored probability per (restored state, token position).

    ``trace`` is :func:`unlearnlab.localize.trace_fact` output (its ``prompt`` holds
    the tokens and the subject's positions).  Row 0 is the embeddings, then one row
    per block; the subject's tokens are labelled in the forget colour, so a reader
    sees at once whether the bright cells sit on the subject or elsewhere.  The
    title gives the clean and corrupted probabilities every cell lies between.
    Returns the axes.
    """
    restored = trace.restored
    restored = restored.detach().cpu().numpy() if hasattr(restored, "detach") else restored  # a tensor: numpy for imshow
    n_rows, n_tokens = restored.shape
    if ax is None:
        _, ax = figure(width=max(5.0, 0.3 * n_tokens), height=1.2 + 0.45 * n_rows)
    image = ax.imshow(restored, cmap="Purples", vmin=0, vmax=1, aspect="auto")
    tokens = trace.prompt.tokens or [str(i) for i in range(n_tokens)]
    ax.set_xticks(range(n_tokens), [t.replace("Ġ", " ").replace("Ċ", "\\n") for t in tokens], rotation=90, fontsize=7)
    ax.set_yticks(range(n_rows), ["embeddings"] + [f"block {b}" for b in range(n_rows - 1)])
    for position in trace.prompt.subject_positions:
        ax.get_xticklabels()[position].set_color(COLORS["forget"])
    ax.set_xlabel("token position (subject tokens in the forget colour)")
    ax.set_ylabel("restored state")
    ax.set_title(f"p(value): clean {trace.p_clean:.2f}, subject corrupted {trace.p_corrupt:.2f}", fontsize=9)
    ax.grid(False)
    if colorbar:
        ax.figure.colorbar(image, ax=ax, label="restored p(value)", fraction=0.04, pad=0.02)
    return ax


def forget_loss_curves(betas=(0.1, 1.0), axes=None, span: float = 40.0):
    """Gradient ascent's and NPO's forget loss, and their gradient weights, against log π_θ/π_ref.

    Left: the losses (GA's is the log-ratio itself, a straight line down; NPO's
    flattens at 0).  Right: how hard each pushes, d loss / d log-ratio (GA: always 1;
    NPO: 2·σ(β·log-ratio), which fades as the answer becomes unlikely).  Returns the axes.
    """
    import torch

    from ..methods.preference import npo_gradient_weight, npo_loss

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


def plot_pareto(results: Mapping[str, EvalResult] | Sequence[EvalResult], x: str = "forget_quality",
                y: str = "model_utility", reference: str | None = None, target: str | None = None,
                log_x: bool | None = None, ax=None):
    """Forget-vs-utility scatter with the Pareto front; the reference and target are marked.

    Forget quality is a p-value spanning many orders of magnitude, so its axis is
    logarithmic by default.  Returns the figure.
    """
    named = {n: r for n, r in named_results(results).items() if x in r.aggregates and y in r.aggregates}
    if not named:
        raise ValueError(f"no result has both {x!r} and {y!r}; evaluate with a reference for forget_quality.")
    if ax is None:
        fig, ax = figure()
    else:
        fig = ax.figure
    names = list(named)
    xs = [named[n].aggregates[x] for n in names]
    ys = [named[n].aggregates[y] for n in names]
    front = pareto_front(xs, ys)
    ax.step([xs[i] for i in front], [ys[i] for i in front], where="post", color=COLORS["neutral"],
            lw=1, alpha=0.6, label="Pareto front")
    for name, px, py in zip(names, xs, ys):
        role = "reference" if name == reference else "target" if name == target else "method"
        marker, size, label = {"reference": ("*", 80, f"{name} (retain-only reference)"),
                               "target": ("X", 80, f"{name} (before unlearning)"),
                               "method": ("o", 40, None)}[role]
        ax.scatter(px, py, color=COLORS[role], marker=marker, s=size, zorder=3, label=label)
        ax.annotate(name, (px, py), textcoords="offset points", xytext=(4, 4), fontsize=7)
    if log_x if log_x is not None else x == "forget_quality":
        ax.set_xscale("log")
    ax.set_xlabel(x.replace("_", " ") + (" (higher = closer to retraining)" if x == "forget_quality" else ""))
    ax.set_ylabel(y.replace("_", " "))
    ax.legend(loc="best")
    return fig


def plot_against_retrained(results: Mapping[str, EvalResult], bands: Mapping[str, object],
                           x: str = "forget_rougeL_recall", y: str = "model_utility", ax=None):
    """Each model as a point, with the retrained models' seed band drawn as a box.

    Forgetting is judged against retraining, not against zero: a point left of
    the box forgets *more* than a model that never saw the data (over-forgetting:
    babbling, repetition), a point right of it still remembers.  ``bands`` maps a
    metric to a :class:`~unlearnlab.eval.band.Band` or to ``{"low": .., "high": ..}``.
    Returns the figure.
    """
    from .style import color

    if ax is None:
        fig, ax = figure(width=5.0, height=3.4)
    else:
        fig = ax.figure
    (x_low, x_high), (y_low, y_high) = (_band_range(bands[key]) for key in (x, y))
    ax.axvspan(x_low, x_high, ymin=0, ymax=1, color=COLORS["retrained"], alpha=0.08)
    ax.add_patch(Rectangle((x_low, y_low), x_high - x_low, y_high - y_low, fill=False, ls="--",
                           color=COLORS["retrained"], label="retrained seed band"))
    labelled = False
    for name, result in results.items():
        summary = result.summary()
        if x not in summary or y not in summary:
            continue
        if name.startswith("retrained"):  # the seeds are the band's corners: one legend entry, no labels
            ax.scatter(summary[x], summary[y], color=COLORS["retrained"], marker="*", s=70, zorder=3,
                       label=None if labelled else "retrained seeds")
            labelled = True
            continue
        ax.scatter(summary[x], summary[y], color=color(name), marker="X" if name == "target" else "o",
                   s=70 if name == "target" else 40, zorder=3)
        ax.annotate(name, (summary[x], summary[y]), textcoords="offset points", xytext=(4, 4), fontsize=7)
    ax.set_xlabel(f"{x.replace('_', ' ')} (← forgets more than retraining · remembers →)")
    ax.set_ylabel(y.replace("_", " "))
    ax.legend(loc="lower right")
    return fig


def _band_range(band) -> tuple[float, float]:
    return (band["low"], band["high"]) if isinstance(band, Mapping) else (band.low, band.high)


def plot_seeds(table, metric: str, retrained: str = "retrained", ax=None):
    """One bar per run: the mean over seeds with an error bar of one standard deviation.

    ``table`` is :func:`unlearnlab.eval.band.seed_table`'s frame.  The
    retrained row, when present, is drawn as a shaded band from its lowest to
    its highest seed: the noise floor every other bar is read against.  For
    ``forget_quality`` the p = 0.05 line is drawn too (below it, the forget
    set's truth ratios are distinguishable from the retrained model's).
    Returns the figure.
    """
    from .style import color

    if ax is None:
        fig, ax = figure(width=5.0, height=3.2)
    else:
        fig = ax.figure
    names = [name for name in table.index if name != retrained]
    if retrained in table.index:
        low, high = table.loc[retrained, (metric, "min")], table.loc[retrained, (metric, "max")]
        ax.axhspan(low, high, color=COLORS["retrained"], alpha=0.15, label="retrained seeds (min–max)")
    if metric == "forget_quality":
        ax.axhline(0.05, color=COLORS["neutral"], ls=":", lw=1, label="p = 0.05")
    means = [table.loc[name, (metric, "mean")] for name in names]
    stds = [table.loc[name, (metric, "std")] for name in names]
    ax.bar(range(len(names)), means, yerr=stds, capsize=3, color=[color(name) for name in names], alpha=0.8)
    ax.set_xticks(range(len(names)), names, rotation=20, ha="right")
    ax.set_ylabel(metric.replace("_", " "))
    n = int(table[(metric, "n")].max())
    ax.set_title(f"mean ± sd over {n} seeds", fontsize=9)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best", fontsize=7)
    return fig
