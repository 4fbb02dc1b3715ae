"""The leaderboard's table and figure, read only from saved records (no model is loaded).

Each method's row is the mean over its test seeds with a 95 % **t-interval**
(mean ± t₀.₉₇₅,ₙ₋₁ · sd/√n: with three seeds t = 4.30, so the interval is wide,
as it should be).  The retrained seeds give each world's noise floor, as a
seed band (:func:`unlearnlab.eval.seed_bands`) for the metrics and as an attack
band (:func:`unlearnlab.eval.card.attack_band`) for each attack's gain (the
relearning fine-tune and 4-bit quantization, chapter 12): a method is
*authentic* when, under both attacks, its mean gain is no larger than what a
model that never saw the data gains from the same attack.
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
    if "quantize" in out:  # its "before" is the relearning attack's
        out["quantize"] = {k: v for k, v in out["quantize"].items() if k != "before"}
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


#: the attacks of the authenticity verdict: column name -> the record's field (chapter 12)
ATTACKS = {"relearn_gain": "relearn", "quant_gain": "quantize"}


def attack_gain(record: dict, column: str) -> float:
    """A run's gain under one attack (a column of :data:`ATTACKS`), with a clear error for records made
    before the quantization attack was part of every run."""
    field = ATTACKS[column]
    if field not in record:
        raise ValueError(f"the {record['world']} {record['stage']} record of {record.get('method') or 'the model'} "
                         f"(seed {record.get('seed')}) has no {field!r} attack: it predates that attack; rerun the "
                         "grid (`python -m unlearnlab.leaderboard run`), which reuses every validation run")
    return record[field]["gain"]


def bands(records: Sequence[dict], world: str) -> dict:
    """The retrained seeds' band of every metric of ``world``, and their attack band under each column of
    :data:`ATTACKS` (``"relearn_gain"``, ``"quant_gain"``)."""
    refs = [r for r in records if r["world"] == world and r["stage"] == "retrained"]
    if not refs:
        raise ValueError(f"no retrained records for the {world} world: the band and every verdict need them; "
                         "run the grid (`python -m unlearnlab.leaderboard run`) or export it whole")
    out = {}
    for metric in TASKS[world].metrics:  # forget quality is measured against the first seed: the others give its band
        having = [r["metrics"] for r in refs if metric in r["metrics"]]
        if len(having) >= 2:
            out.update(seed_bands(having, [metric]))
    for column in ATTACKS:
        out[column] = attack_band([attack_gain(r, column) for r in refs])
    return out


def table(records: Iterable[dict]):
    """One row per world and method (plus the target and the retrained seeds): mean ± 95 % t-interval.

    Columns: the world's metrics (``<metric>`` the mean, ``<metric> ±`` the
    half-width), the relearning and quantization gains, the chosen setting, the
    seeds, the mean FLOPs of a run, and three verdicts against the retrained
    band: forgets (headline forget metric not above the band), keeps (utility
    not below it) and authentic (neither attack's gain above its attack band;
    None when the method did not forget, since then no gain can show hidden
    knowledge).  Rows are ranked
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
                for column in ATTACKS:
                    row[column], row[f"{column} ±"] = t_interval([attack_gain(r, column) for r in runs])
                row["flops"] = sum(r.get("flops", math.nan) for r in runs) / len(runs)
            if name not in ("retrained", "target"):
                row["forgets"] = bool(row[task.forget_metric] <= band[task.forget_metric].high)
                row["keeps"] = bool(row[task.utility_metric] >= band[task.utility_metric].low)
                # a method that did not forget has nothing to hide: its attack gains say nothing
                held = all(row[column] <= band[column].high for column in ATTACKS)
                row["authentic"] = bool(held) if row["forgets"] else None
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
    """Per world: forget metric against utility (mean ± 95 % interval) over the retrained band, and each
    method's relearning and quantization gains over the retrained attack bands.  Returns the figure."""
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
        _attack_bars(bottom, methods, band)
    return fig


def _attack_bars(ax, methods, band) -> None:
    """Each method's gain under the two attacks side by side (relearning solid, quantization hatched), over
    the retrained attack bands (relearning shaded, quantization outlined)."""
    from ..notebook.style import COLORS, color

    x = range(len(methods))
    relearn, quant = band["relearn_gain"], band["quant_gain"]
    ax.axhspan(relearn.low, relearn.high, color=COLORS["retrained"], alpha=0.2, label="retrained band, relearning")
    ax.axhspan(quant.low, quant.high, fill=False, hatch="//", edgecolor=COLORS["retrained"],
               label="retrained band, 4-bit")
    colours = [color(m) for m in methods["method"]]
    ax.bar([i - 0.2 for i in x], methods["relearn_gain"], width=0.4, capsize=3, color=colours,
           yerr=[_finite(v) for v in methods["relearn_gain ±"]], label="relearning")
    ax.bar([i + 0.2 for i in x], methods["quant_gain"], width=0.4, capsize=3, color="white", edgecolor=colours,
           hatch="//", yerr=[_finite(v) for v in methods["quant_gain ±"]], label="4-bit quantization")
    ax.axhline(0, color="black", linewidth=0.5)
    ax.set_xticks(list(x), list(methods["method"]), rotation=20, ha="right")
    ax.set_xlabel("method")
    ax.set_ylabel("gain on held-back forget data")
    ax.legend(fontsize=7, loc="best")


def _finite(value: float) -> float:
    return 0.0 if value is None or (isinstance(value, float) and math.isnan(value)) else value


def _rectangle(x, y, width, height, colour):
    import matplotlib.pyplot as plt

    return plt.Rectangle((x, y), width, height, color=colour, alpha=0.15, label="retrained band")
