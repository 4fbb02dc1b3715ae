"""The leaderboard's table and figure, read only from saved records (no model is loaded).

Each method's row is the mean over its test seeds with a 95 % **t-interval**
(mean ± t₀.₉₇₅,ₙ₋₁ · sd/√n: with three seeds t = 4.30, so the interval is wide,
as it should be).  The retrained seeds give each world's noise floor, as a
seed band (:func:`unlearnlab.eval.seed_bands`) for the metrics and as an attack
band (:func:`unlearnlab.eval.card.attack_band`) for the relearning gain: a
method is *authentic* on this attack when its mean gain is no larger than what
a model that never saw the data gains from the same fine-tune.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Iterable, Sequence

from ..eval.band import seed_bands
from ..eval.card import attack_band
from .tasks import TASKS, selection_score


def t_interval(values: Sequence[float], level: float = 0.95) -> tuple[float, float]:
    """(mean, half-width) of the Student-t interval over seeds; the half-width is NaN for one seed."""
    from scipy import stats

    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, math.nan
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    return mean, float(stats.t.ppf(0.5 + level / 2, n - 1)) * sd / math.sqrt(n)


def load_records(source: str | Path | Iterable[dict]) -> list[dict]:
    """Records from a results folder (every ``*.json`` below it, per-item logs excluded: older budgets and
    edited methods included, use :func:`~unlearnlab.leaderboard.saved` for one grid), an exported JSON
    table, or an iterable of records (returned as a list)."""
    if not isinstance(source, (str, Path)):
        return list(source)
    path = Path(source)
    if path.is_file():
        return json.loads(path.read_text())["records"]
    if not path.exists():
        raise FileNotFoundError(f"no leaderboard results at {path}: run `python -m unlearnlab.leaderboard run` first")
    return [json.loads(p.read_text()) for p in sorted(path.rglob("*.json")) if p.parent.name != "items"]


def export(records: Iterable[dict], path: str | Path, grid: str = "", overwrite: bool = True) -> Path:
    """Write the records as one small JSON table (summary numbers only), for committing and sharing."""
    from ..cache import write_new

    records = [_compact(r) for r in load_records(records)]
    records = sorted(records, key=lambda r: (r["world"], r["stage"], r["method"] or "", r["seed"] or 0,
                                                           json.dumps(r["hyperparameters"], sort_keys=True)))
    profiles = sorted({r["profile"] for r in records})
    head = json.dumps({"grid": grid, "profiles": profiles}, sort_keys=True)[:-1]
    lines = ",\n".join(json.dumps(r, sort_keys=True, separators=(",", ":")) for r in records)
    return write_new(path, f'{head}, "records": [\n{lines}\n]}}\n', overwrite=overwrite)  # one run per line


def _compact(record: dict) -> dict:
    """A record for sharing: numbers to 5 significant digits, and without what other records repeat (a test
    run's copy of its candidates and the attack's description: the validation and retrained records hold them)."""
    out = dict(record)
    if "selection" in out:
        out["selection"] = {k: v for k, v in out["selection"].items() if k != "candidates"}
    if out.get("stage") == "test" and "relearn" in out:
        out["relearn"] = {k: v for k, v in out["relearn"].items() if k != "attack"}
    out.pop("request", None) if out.get("stage") == "validation" else None
    return _rounded(out)


def _rounded(value):
    if isinstance(value, float) and math.isfinite(value):
        return float(f"{value:.5g}")
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def bands(records: Sequence[dict], world: str) -> dict:
    """The retrained seeds' band of every metric of ``world``, and their attack band under ``"relearn_gain"``."""
    refs = [r for r in records if r["world"] == world and r["stage"] == "retrained"]
    if not refs:
        raise ValueError(f"no retrained records for the {world} world: the band and every verdict need them; "
                         "run the grid (`python -m unlearnlab.leaderboard run`) or export it whole")
    out = {}
    for metric in TASKS[world].metrics:  # forget quality is measured against the first seed: the others give its band
        having = [r["metrics"] for r in refs if metric in r["metrics"]]
        if len(having) >= 2:
            out.update(seed_bands(having, [metric]))
    out["relearn_gain"] = attack_band([r["relearn"]["gain"] for r in refs])
    return out


def table(records: Iterable[dict]):
    """One row per world and method (plus the target and the retrained seeds): mean ± 95 % t-interval.

    Columns: the world's metrics (``<metric>`` the mean, ``<metric> ±`` the
    half-width), the relearning gain, the chosen setting, the seeds, the mean
    FLOPs of a run, and three verdicts against the retrained band: forgets
    (headline forget metric not above the band), keeps (utility not below it)
    and authentic (relearning gain not above the attack band; None when the method did not forget, since
    then no gain can show hidden knowledge).  Rows are ranked
    within a world by ``utility − |forget − retrained mean|``, the selection
    rule applied to the test numbers.
    """
    import pandas as pd

    records = load_records(records)
    rows = []
    for world in dict.fromkeys(r["world"] for r in records):
        task, mine = TASKS[world], [r for r in records if r["world"] == world]
        band = bands(mine, world)
        refs = [r for r in mine if r["stage"] == "retrained"]
        ref_forget = sum(r["metrics"][task.forget_metric] for r in refs) / len(refs)
        groups = {"retrained": refs, "target": [r for r in mine if r["stage"] == "target"]}
        for r in mine:
            if r["stage"] == "test":
                groups.setdefault(r["method"], []).append(r)
        for name, runs in groups.items():
            if not runs:
                continue
            row = {"world": world, "method": name, "seeds": len(runs) if name != "target" else 0,
                   "setting": _setting(runs[0]) if name not in ("retrained", "target") else ""}
            for metric in task.metrics:
                values = [r["metrics"][metric] for r in runs if metric in r["metrics"]]
                row[metric], row[f"{metric} ±"] = t_interval(values) if values else (math.nan, math.nan)
            if name != "target":
                row["relearn_gain"], row["relearn_gain ±"] = t_interval([r["relearn"]["gain"] for r in runs])
                row["flops"] = sum(r.get("flops", math.nan) for r in runs) / len(runs)
            if name not in ("retrained", "target"):
                row["forgets"] = bool(row[task.forget_metric] <= band[task.forget_metric].high)
                row["keeps"] = bool(row[task.utility_metric] >= band[task.utility_metric].low)
                # a method that did not forget has nothing to hide: its relearning gain says nothing
                row["authentic"] = bool(row["relearn_gain"] <= band["relearn_gain"].high) if row["forgets"] else None
                row["rank_score"] = selection_score(row[task.forget_metric], row[task.utility_metric], ref_forget)
            rows.append(row)
    frame = pd.DataFrame(rows)
    order = frame.assign(_o=frame["method"].map({"target": 0, "retrained": 1}).fillna(2),
                         _s=-frame.get("rank_score", pd.Series(0.0, index=frame.index)).fillna(0))
    return frame.loc[order.sort_values(["world", "_o", "_s"], kind="stable").index].reset_index(drop=True)


def _setting(record: dict) -> str:
    hyper = record["hyperparameters"]
    return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in hyper.items()) or "tier defaults"


def figure(records: Iterable[dict]):
    """Per world: forget metric against utility (mean ± 95 % interval) over the retrained band, and the
    relearning gain per method over the retrained attack band.  Returns the figure."""
    from ..notebook.style import COLORS, color, figure as new_figure

    records = load_records(records)
    frame = table(records)
    worlds = list(dict.fromkeys(frame["world"]))
    fig, axes = new_figure(nrows=2, ncols=len(worlds), width=4.6 * len(worlds), height=6.4, squeeze=False)
    for col, world in enumerate(worlds):
        task, rows, band = TASKS[world], frame[frame["world"] == world], bands(records, world)
        top, bottom = axes[0][col], axes[1][col]
        fx, fy = band[task.forget_metric], band[task.utility_metric]
        top.add_patch(_rectangle(fx.low, fy.low, fx.high - fx.low, fy.high - fy.low, COLORS["retrained"]))
        for _, row in rows.iterrows():
            name = row["method"]
            top.errorbar(row[task.forget_metric], row[task.utility_metric],
                         xerr=_finite(row[f"{task.forget_metric} ±"]), yerr=_finite(row[f"{task.utility_metric} ±"]),
                         fmt="X" if name == "target" else "*" if name == "retrained" else "o", ms=8, capsize=3,
                         color=color(name), label=name)
        top.set_xlabel(f"{task.forget_metric.replace('_', ' ')} (lower = more forgotten)")
        top.set_ylabel(task.utility_metric.replace("_", " "))
        top.set_title(f"{world}: mean ± 95 % t-interval; green box: retrained band", fontsize=8)
        top.legend(fontsize=7, loc="best")
        methods = rows[~rows["method"].isin(["target", "retrained"])]
        gain = band["relearn_gain"]
        bottom.axhspan(gain.low, gain.high, color=COLORS["retrained"], alpha=0.2, label="retrained attack band")
        bottom.bar(range(len(methods)), methods["relearn_gain"], yerr=[_finite(v) for v in methods["relearn_gain ±"]],
                   capsize=3, color=[color(m) for m in methods["method"]])
        bottom.set_xticks(range(len(methods)), list(methods["method"]), rotation=20, ha="right")
        bottom.set_xlabel("method")
        bottom.set_ylabel("relearning gain on held-back forget data")
        bottom.legend(fontsize=7, loc="best")
    return fig


def _finite(value: float) -> float:
    return 0.0 if value is None or (isinstance(value, float) and math.isnan(value)) else value


def _rectangle(x, y, width, height, colour):
    import matplotlib.pyplot as plt

    return plt.Rectangle((x, y), width, height, color=colour, alpha=0.15, label="retrained band")
