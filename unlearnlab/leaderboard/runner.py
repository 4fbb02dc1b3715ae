"""Run a leaderboard grid: one JSON file per run, skipped when it exists, so a grid resumes and is reused.

For each world of the grid, in this order:

1. the **target** is scored once, with the validation request's never-seen level;
2. each **retrained** seed is scored, and attacked twice (chapter 12): its
   relearning gain and its 4-bit quantization gain are the noise floors of the
   authenticity columns (a model that never saw the data also learns the shown
   items, and may generalise from them; rounding also moves its answers a little);
3. each method runs every **candidate** setting on the validation request
   (first seed only); the candidate with the best ``utility − |forget −
   never-seen|`` is chosen (:func:`~unlearnlab.leaderboard.tasks.selection_score`);
4. the chosen setting runs on the **test** request with every seed, is
   evaluated and attacked in the same two ways.

A run's file name carries a hash of everything that determines it (profile,
world, stage, method and its code, hyperparameters, seed, budget, attack), so a
changed setting never picks up a stale result.  Files hold summary numbers only;
each test run's per-item log is saved beside them under ``items/`` (large, not
meant to be committed).
"""
from __future__ import annotations

import hashlib
import inspect
import json
import logging
import math
import sys
import time
from pathlib import Path
from typing import Callable, Iterable

from ..attacks.quantization import GROUP_SIZE
from ..cache import cache_dir, stable_hash, write_new
from ..config import get_profile
from ..methods import Method, get_method, list_methods, register
from ..methods.base import _REGISTRY
from .spec import Grid, get_grid
from .tasks import TASKS, Task, selection_score

#: bump when the meaning of a record changes, so old files are not mixed with new ones
PROTOCOL = 1
#: learning rate and batch size of the relearning attack (chapter 12)
RELEARN_LR, RELEARN_BATCH = 1e-3, 4
#: the quantization attack (chapter 12): 4-bit round-to-nearest in the attack's default groups, on the package's
#: own grid (equal to optimum-quanto's qint4, so the records do not depend on an optional install)
QUANTIZE = {"bits": 4, "group_size": GROUP_SIZE, "library": "rtn"}


def results_dir(profile: str | None = None) -> Path:
    """Where the runs of a profile live: ``<cache>/leaderboard/<profile>/``."""
    return cache_dir() / "leaderboard" / get_profile(profile).name


def method_fingerprint(name: str) -> str:
    """A short hash of a method's code: editing its loss, or a helper the loss calls, re-runs the method.

    For a method defined in a file, the whole module's source is hashed (so a
    helper such as ``entropy.uniform_kl`` counts).  A class defined in a
    notebook cell has no source file ``inspect`` can always find; then the
    bytecode of ``forget_loss`` (nested code included) and of the functions it
    names is hashed.
    """
    cls = _REGISTRY[name]
    try:
        code: object = inspect.getsource(sys.modules[cls.__module__])
    except (OSError, TypeError, KeyError):
        loss = cls.forget_loss
        helpers = [loss.__globals__.get(n) for n in loss.__code__.co_names]
        code = [_code_parts(loss.__code__)] + [_code_parts(h.__code__) for h in helpers if hasattr(h, "__code__")]
    blob = repr((cls.__qualname__, code, sorted(get_method(name).hyperparameters().items())))
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def _code_parts(code) -> list:
    """Bytecode, names and constants of a code object, nested code objects (comprehensions, lambdas) included."""
    return [code.co_code, code.co_names,
            [_code_parts(c) if hasattr(c, "co_code") else repr(c) for c in code.co_consts]]


class _World:
    """A world's data and models, loaded on first use (a fully cached grid loads nothing)."""

    def __init__(self, task: Task):
        self.task = task
        self._world = self._target = self._tokenizer = None
        self._retrained: dict[int, object] = {}

    @property
    def world(self):
        if self._world is None:
            from ..worlds import load

            self._world = load(self.task.world)
        return self._world

    def target(self):
        if self._target is None:
            from ..models import target

            self._target, self._tokenizer = target("tiny", self.world)
        return self._target, self._tokenizer

    def budget(self, grid: Grid) -> dict:
        """The step budget of every run on this world: ``epochs`` passes over the test forget set."""
        batch = grid.batch_size or get_profile().unlearn_batch_size
        n_forget = len(self.world.items(self.task.forget))
        return {"max_steps": math.ceil(grid.epochs * n_forget / batch), "batch_size": batch, "epochs": grid.epochs}

    def relearn_steps(self, grid: Grid) -> int:
        """Steps of the relearning attack: ``relearn_epochs`` passes over its fine-tuning items."""
        n_shown = len(self.task.relearning(self.world, None).shown)
        return math.ceil(grid.relearn_epochs * n_shown / RELEARN_BATCH)

    def retrained(self, seed: int):
        if seed not in self._retrained:
            from ..models import retrained

            self._retrained[seed] = retrained("tiny", self.world, forget=self.task.forget, seed=seed)[0]
        return self._retrained[seed]


class Runner:
    """Runs (or reuses) every record of a grid; ``records`` collects them in order."""

    def __init__(self, grid: Grid, folder: Path | None = None, log: Callable[[str], None] | None = print,
                 read_only: bool = False):
        self.grid, self.folder = grid, Path(folder) if folder else results_dir()
        self.read_only, self.missing = read_only, 0
        self.log = log or (lambda message: None)
        self.records: list[dict] = []
        self.profile = get_profile().name

    # ----- storage -----------------------------------------------------------------------
    def _spec(self, w: "_World", stage: str, method: str | None, hyper: dict, seed: int | None) -> dict:
        world = w.task.world
        spec = {"protocol": PROTOCOL, "profile": self.profile, "world": world, "stage": stage, "method": method,
                "hyperparameters": hyper, "seed": seed, "budget": w.budget(self.grid)}
        if method:
            spec["code"] = method_fingerprint(method)
        if stage in ("retrained", "test"):
            spec["relearn"] = {"steps": w.relearn_steps(self.grid), "learning_rate": RELEARN_LR}
            spec["quantize"] = QUANTIZE
        return spec

    def _path(self, spec: dict) -> Path:
        label = "-".join(str(x) for x in (spec["stage"], spec["method"], spec["seed"]) if x is not None)
        return self.folder / spec["world"] / f"{label}-{stable_hash(spec)}.json"

    def _record(self, spec: dict, build: Callable[[], dict]) -> dict | None:
        path = self._path(spec)
        if path.exists():
            record = json.loads(path.read_text())
        elif self.read_only:
            self.missing += 1
            return None
        else:
            started = time.perf_counter()
            record = {**{k: spec[k] for k in ("world", "stage", "method", "seed", "hyperparameters", "budget")},
                      "profile": self.profile, "protocol": PROTOCOL, "key": stable_hash(spec), **build()}
            record.setdefault("timings_s", {})["total"] = round(time.perf_counter() - started, 2)
            write_new(path, json.dumps(record, indent=1, sort_keys=True), overwrite=True)
            self.log(f"ran {path.stem} in {record['timings_s']['total']:.1f} s")
        self.records.append(record)
        return record

    def _items_path(self, spec: dict) -> Path:
        path = self._path(spec)
        return path.parent / "items" / path.name

    # ----- the stages --------------------------------------------------------------------
    def run(self) -> list[dict]:
        for name in self.grid.worlds:
            self.run_world(_World(TASKS[name]))
        return self.records

    def run_world(self, w: _World) -> None:
        task = w.task
        target = self._record(self._spec(w, "target", None, {}, None), lambda: self._target(w))
        never_seen = target["never_seen"] if target else None
        retrained_result = None  # (spec, world) of the first retrained seed: its result is loaded only if needed
        for seed in self.grid.retrained_seeds:
            spec = self._spec(w, "retrained", None, {}, seed)
            self._record(spec, lambda: self._scored(w, w.retrained(seed), spec, retrained_result))
            if retrained_result is None and task.needs_retrained_result:
                retrained_result = (spec, w)  # the other seeds' forget quality is measured against this one
        for method in self.grid.methods:
            if not applicable(method, w.world.split(task.forget), w.world.split(task.retain)):
                self.log(f"skipped {method} on {task.world}: it needs QA items (question/answer), this world's are text")
                continue
            candidates = []
            for hyper in self.grid.candidates_for(method):
                spec = self._spec(w, "validation", method, hyper, self.grid.seeds[0])
                record = self._record(spec, lambda: self._validation(w, method, hyper, never_seen))
                candidates += [record] if record else []
            if len(candidates) < len(self.grid.candidates_for(method)):
                continue  # read-only, and not every candidate was run: nothing was chosen yet
            best = max(candidates, key=lambda r: r["validation"]["score"])
            chosen = {"hyperparameters": best["hyperparameters"],
                      "candidates": [{"hyperparameters": c["hyperparameters"], **c["validation"]} for c in candidates]}
            for seed in self.grid.seeds:
                spec = self._spec(w, "test", method, best["hyperparameters"], seed)
                self._record(spec, lambda: {**self._test(w, method, best["hyperparameters"], seed, spec,
                                                         retrained_result), "selection": chosen})

    def _target(self, w: _World) -> dict:
        model, tok = w.target()
        started = time.perf_counter()
        metrics = self._metrics(w.task.evaluate(model, tok, w.world, None))
        val = w.task.validation(w.world)
        return {"metrics": metrics, "never_seen": w.task.never_seen(model, tok, w.world, val),
                "validation_request": val.description, "timings_s": {"eval": round(time.perf_counter() - started, 2)}}

    def _metrics(self, result) -> dict:
        summary = result.summary()
        return {m: summary[m] for m in self._task_metrics(result) if m in summary}

    def _task_metrics(self, result) -> tuple[str, ...]:
        return TASKS[result.meta["world"]].metrics

    def _retrained_result(self, ref):
        """The first retrained seed's per-item result (for forget quality, PrivLeak), saved or recomputed."""
        from ..eval import load_result

        spec, w = ref
        path = self._items_path(spec)
        if path.exists():
            return load_result(path)
        model, tok = w.target()
        result = w.task.evaluate(w.retrained(spec["seed"]), tok, w.world, None)
        result.save(path, overwrite=True)
        return result

    def _scored(self, w: _World, model, spec: dict, retrained_ref) -> dict:
        """Evaluate and attack one model; save its per-item log under ``items/``."""
        _, tok = w.target()
        started = time.perf_counter()
        reference = self._retrained_result(retrained_ref) if retrained_ref else None
        result = w.task.evaluate(model, tok, w.world, reference)
        result.save(self._items_path(spec), overwrite=True)
        evaluated = time.perf_counter()
        attack = w.task.relearning(w.world, tok)
        from ..attacks import quantize, relearn_curve

        steps = w.relearn_steps(self.grid)
        curve = relearn_curve(model, tok, attack.shown, [{}], steps=steps, eval_every=steps,
                              learning_rate=RELEARN_LR, batch_size=RELEARN_BATCH, score=attack.score)
        before, after = float(curve["held_back"].iloc[0]), float(curve["held_back"].iloc[-1])
        relearned = time.perf_counter()
        rounded = float(attack.score(quantize(model, **QUANTIZE)))  # same held-back items as the relearning score
        return {"metrics": self._metrics(result),
                "relearn": {"before": before, "after": after, "gain": after - before, "attack": attack.description},
                "quantize": {"before": before, "after": rounded, "gain": rounded - before},
                "timings_s": {"eval": round(evaluated - started, 2), "attack": round(relearned - evaluated, 2),
                              "quantize": round(time.perf_counter() - relearned, 2)}}

    def _unlearn(self, w: _World, method: str, hyper: dict, seed: int, forget, retain):
        from ..training import unlearn

        model, tok = w.target()
        budget = w.budget(self.grid)
        return unlearn(model, tok, method, forget=forget, retain=retain, seed=seed, max_steps=budget["max_steps"],
                       per_device_train_batch_size=budget["batch_size"], disable_tqdm=True, **hyper)

    def _validation(self, w: _World, method: str, hyper: dict, never_seen: float) -> dict:
        val = w.task.validation(w.world)
        started = time.perf_counter()
        model, log = self._unlearn(w, method, hyper, self.grid.seeds[0], val.forget, val.retain)
        trained = time.perf_counter()
        scores = w.task.validation_scores(model, w.target()[1], val)
        scores.update(never_seen=never_seen, score=selection_score(scores["forget"], scores["utility"], never_seen))
        return {"validation": scores, "hyperparameters_used": _used(log), "request": val.description,
                "timings_s": {"unlearn": round(trained - started, 2), "eval": round(time.perf_counter() - trained, 2)}}

    def _test(self, w: _World, method: str, hyper: dict, seed: int, spec: dict, retrained_ref) -> dict:
        world = w.world
        started = time.perf_counter()
        model, log = self._unlearn(w, method, hyper, seed, world.split(w.task.forget), world.split(w.task.retain))
        unlearn_s = time.perf_counter() - started
        scored = self._scored(w, model, spec, retrained_ref)
        scored["timings_s"]["unlearn"] = round(unlearn_s, 2)
        scored.update(hyperparameters_used=_used(log), steps=len(log.steps), flops=log.flops,
                      tokens=log.tokens, reference_tokens=log.reference_tokens, n_params=log.n_params)
        return scored


def applicable(method: str, forget, retain) -> bool:
    """Whether ``method`` can prepare this forget set (datasets or lists of items): relabeling methods need
    QA items, and the books world has text.  Runs the method's own ``prepare_forget``, as training would."""
    import datasets

    as_data = [d if isinstance(d, datasets.Dataset) else datasets.Dataset.from_list(list(d)) for d in (forget, retain)]
    try:
        get_method(method).prepare_forget(*as_data, 0)
    except ValueError:
        return False
    return True


def _used(log) -> dict:
    """The values a run used that a reader compares: the learning rate and the method's own hyperparameters."""
    method = get_method(log.method).hyperparameters()
    return {k: v for k, v in log.hyperparameters.items() if k == "learning_rate" or k in method}


def run(grid: str | Grid = "ci", methods: Iterable[str] | None = None, worlds: Iterable[str] | None = None, *,
        folder: str | Path | None = None, log: Callable[[str], None] | None = print) -> list[dict]:
    """Run (or reuse) every run of ``grid`` and return the records, target and retrained first per world.

    ``methods`` and ``worlds`` cut the grid (unknown names fail with the list of
    known ones); ``folder`` defaults to :func:`results_dir`.  ``log=None`` runs
    quietly: no line per run, and the package's informational messages (the
    settings of each run, the evaluation's item caps, which the records keep)
    are held back until it returns; errors still show.
    """
    chosen = get_grid(grid, list(methods) if methods else None, list(worlds) if worlds else None)
    if log is not None:
        return Runner(chosen, folder, log).run()
    package_logger = logging.getLogger("unlearnlab")
    level = package_logger.level
    package_logger.setLevel(logging.ERROR)
    try:
        return Runner(chosen, folder, None).run()
    finally:
        package_logger.setLevel(level)


def saved(grid: str | Grid = "ci", methods: Iterable[str] | None = None, worlds: Iterable[str] | None = None, *,
          folder: str | Path | None = None) -> list[dict]:
    """The saved records of ``grid`` as it is defined now, running nothing.

    Only files whose keys match the current grid, code and profile are read, so
    results of an older budget or of an edited method never mix into a table.
    """
    chosen = get_grid(grid, list(methods) if methods else None, list(worlds) if worlds else None)
    runner = Runner(chosen, folder, log=None, read_only=True)
    records = runner.run()
    if runner.missing:
        print(f"{runner.missing} runs of grid {chosen.name!r} are not saved yet (`python -m unlearnlab.leaderboard "
              f"run --grid {chosen.name}` makes them)")
    return records


def check_method(cls: type) -> None:
    """Refuse a method class that cannot take part, with a message that says what to fix.

    The loss is called once on a small probe batch holding exactly the keys
    training would give this class (:func:`_probe_inputs`), so a loss that reads
    a key the engine never provides fails here, in a second, with the key named,
    not after the first validation run has trained for a minute.  A loss that
    raises ``ValueError`` is refused too, unless the method needs the frozen
    original model (``reference``), which the probe does not build: then
    training is where it is checked.  So is a method that overrides
    ``compute_loss`` itself (RMU), whose loss reads the live model's activations
    rather than logits.
    """
    import torch

    from ..methods.template import MyMethod

    if not (isinstance(cls, type) and issubclass(cls, Method)):
        raise TypeError(f"submit() takes a Method subclass (the class, not an instance); got {cls!r}")
    if not getattr(cls, "name", "") or cls.name == MyMethod.name:
        raise ValueError(f"{cls.__name__} needs its own class attribute `name` (not the template's 'my_method')")
    if cls.compute_loss is not Method.compute_loss:
        return  # owns its whole loss on the live model (RMU steers activations): only training can check it
    if cls.forget_loss in (Method.forget_loss, MyMethod.forget_loss):
        raise NotImplementedError(f"{cls.__name__}.forget_loss is not implemented: fill in the template's TODO")
    method = cls()
    logits, forget = _probe_inputs(method)
    try:
        loss = method.forget_loss(logits, forget, None)
    except NotImplementedError as err:
        raise NotImplementedError(f"{cls.__name__}.forget_loss is not implemented yet ({err})") from None
    except KeyError as err:
        raise ValueError(_missing_key_message(cls, err, logits, forget)) from None
    except ValueError as err:
        if method.needs_live_reference:  # needs the frozen original model, which the probe does not build
            return
        raise ValueError(f"{cls.__name__}.forget_loss failed on a batch shaped like training's "
                         f"(forget keys {sorted(forget)}, logits keys {sorted(logits)}): {err}") from None
    if not (isinstance(loss, torch.Tensor) and loss.dim() == 0 and loss.requires_grad):
        raise ValueError(f"{cls.__name__}.forget_loss must return a scalar tensor that depends on the logits; "
                         f"got {type(loss).__name__} {tuple(getattr(loss, 'shape', ()))}")


class _MissingKey(KeyError):
    """A key a loss read from a probe dict that training would not fill (``where``: ``forget``, ``logits``...)."""

    def __init__(self, where: str, key: object):
        super().__init__(key)
        self.where, self.key = where, key


class _ProbeDict(dict):
    """A dict that names itself when a loss reads a key it lacks (``forget["ref_logp"]``, not just ``'ref_logp'``)."""

    def __init__(self, where: str, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.where = where

    def __missing__(self, key):
        raise _MissingKey(self.where, key)


def _probe_inputs(method: Method) -> tuple[dict, dict]:
    """``(logits, forget)`` as training hands them to ``forget_loss``, for 2 rows of 4 tokens and a vocabulary of 8.

    The forget batch holds ``input_ids``, ``attention_mask``, ``labels`` (−100 on
    the prompt) and ``logits_start``; ``ref_logp`` only when the class sets
    ``reference_logprobs = True``; a nested ``preferred`` batch only when its
    ``prepare_forget`` adds a ``preferred_answer`` (DPO).  ``logits`` has one
    entry per stream the method feeds through the model, plus ``retain`` when
    α > 0.  The same rules decide what the engine builds, so a key missing
    here is missing in training.
    """
    import torch

    def stream(where: str) -> _ProbeDict:
        batch = _ProbeDict(where, input_ids=torch.tensor([[1, 2, 3, 4], [1, 5, 6, 7]]),
                           attention_mask=torch.ones(2, 4, dtype=torch.long),
                           labels=torch.tensor([[-100, 2, 3, 4], [-100, -100, 6, 7]]), logits_start=0)
        if method.reference_logprobs:
            batch["ref_logp"] = torch.tensor([-3.0, -2.0])
        return batch

    forget = stream("forget")
    if "preferred_answer" in _prepared_columns(method):
        forget["preferred"] = stream('forget["preferred"]')
    names = list(method.streams(forget)) + (["retain"] if method.uses_retain else [])
    logits = _ProbeDict("logits", {name: torch.zeros(2, 4, 8, requires_grad=True) for name in names})
    return logits, forget


def _prepared_columns(method: Method) -> list[str]:
    """The columns the method's ``prepare_forget`` leaves on two QA items (the engine encodes from them)."""
    import datasets

    items = datasets.Dataset.from_list([{"question": "Where was Ada born?", "answer": "Ada was born in Lisbon."},
                                        {"question": "What does Ben write?", "answer": "Ben writes mysteries."}])
    try:
        return list(method.prepare_forget(items, items, 0).column_names)
    except (ValueError, KeyError):  # needs other data (attributes, text): no preferred answers either way
        return list(items.column_names)


def _missing_key_message(cls: type, err: KeyError, logits: dict, forget: dict) -> str:
    """Which key a loss read that training does not provide, what training does provide, and what to do."""
    key = err.args[0] if err.args else None
    read = f"reads {err.where}[{key!r}]" if isinstance(err, _MissingKey) else f"raised KeyError({key!r})"
    hint = {"ref_logp": "set the class attribute `reference_logprobs = True`: the engine then computes "
                        "log π_ref(y|x) of every forget answer once, before training",
            "retain": "logits['retain'] exists only when alpha > 0; read retain data in the retain term, not in "
                      "forget_loss",
            "preferred": "the engine builds forget['preferred'] only from a 'preferred_answer' column that the "
                         "method's prepare_forget adds, as DPORefusal does"}.get(key, "compute what you need from "
                                                                                "these keys inside forget_loss")
    return (f"{cls.__name__}.forget_loss {read}, a key training does not provide for this method: "
            f"the forget batch holds {sorted(forget)} and logits holds {sorted(logits)}.  To fix it, {hint}.")


def submit(cls: type[Method], grid: str | Grid = "ci", worlds: Iterable[str] | None = None, *,
           folder: str | Path | None = None, log: Callable[[str], None] | None = print) -> list[dict]:
    """Check a learner's method, register it if needed, and run it through the grid like any other method.

    Submitting again under a name that already has results:

    * **the same class, edited** (same module and class name: a notebook cell
      changed and run again) replaces the registered class.  Runs are keyed by
      a hash of the method's code and settings, so the edited method gets new
      runs, while the target, the retrained seeds and every other method's runs
      are reused, not run again.  The earlier version's files are neither
      overwritten nor deleted: they stay in the results folder, and submit says
      how many (through ``log``, or the package logger when ``log`` is None).
      :func:`saved` and the table of this grid show only the current version.
    * **the same class, unchanged**: every run is read from its file; nothing runs.
    * **a different class under a registered name** (a built-in method's, or
      another class of yours) is refused before anything runs, with a
      ``ValueError`` that asks for another name; the registered method stays.
    """
    check_method(cls)
    if cls.name not in list_methods() or _REGISTRY[cls.name] is not cls:
        register(cls)
    records = run(grid, methods=[cls.name], worlds=worlds, folder=folder, log=log)
    earlier = earlier_runs(cls.name, records, folder)
    if earlier:
        message = (f"{len(earlier)} earlier runs of {cls.name!r} (other code, settings or budget) stay saved, "
                   f"not deleted, in {earlier[0].parent}; the table of this grid shows only the current version")
        if log is not None:
            log(message)
        else:
            logging.getLogger(__name__).warning(message)
    return records


def earlier_runs(name: str, records: Iterable[dict], folder: str | Path | None = None) -> list[Path]:
    """Saved run files of method ``name``, in the worlds of ``records``, that none of ``records`` is: an earlier
    version's runs (other code, settings or budget), which a new submission leaves in place."""
    records = list(records)
    current = {r["key"] for r in records if "key" in r}
    base = Path(folder) if folder else results_dir()
    out = []
    for world in dict.fromkeys(r["world"] for r in records):
        for path in sorted((base / world).glob(f"*-{name}-*.json")):
            record = json.loads(path.read_text())
            if record.get("method") == name and record.get("key") not in current:
                out.append(path)
    return out
