"""How each world is scored on the leaderboard: the test request, a validation request, the attack.

Every world gives four things:

* the **test request** (forget and retain splits) and the metrics the table
  shows, computed by the course's own evaluation calls (chapters 05, 06, 11);
* a **validation request**: other data, forgotten with the same budget, on which
  hyperparameters are chosen, so the test metrics never choose them.  It is
  scored by two numbers: how much of the validation request is still known
  (``forget``) and how much of the rest of the retain data (``utility``);
* the **never-seen level** of the validation ``forget`` score: what a model that
  never saw the validation data scores, read without training any new model
  (the target on data it never saw, or chance);
* a **relearning attack** (chapter 12): fine-tune on part of the forget data,
  score the held-back part.  Its gain is the authenticity column.

The selection rule is the same everywhere: the candidate with the highest
``utility − |forget − never-seen level|``: forget as much as a model that never
saw the data, keep the rest.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from ..attacks import fact_recall, split_by_share
from ..eval import mcq
from ..eval.muse import MUSE_SPLITS, knowmem, verbmem


@dataclass
class Validation:
    """A validation request: what to forget and keep in training, and what to score afterwards."""

    forget: list[dict]
    retain: list[dict]
    check_forget: list[dict]
    check_retain: list[dict]
    description: str


@dataclass
class Relearning:
    """The relearning attack's data: fine-tune on ``shown``; ``score(model)`` reads the held-back part."""

    shown: list[dict]
    score: Callable[[object], float]
    description: str


def selection_score(forget: float, utility: float, never_seen: float) -> float:
    """``utility − |forget − never_seen|``: the validation criterion (higher is better).

    Forgetting *less* than a model that never saw the data is penalised, and so
    is forgetting *more* (over-forgetting: a model that answers nothing right,
    not even by the guesses a never-trained model makes, has been damaged).
    """
    return utility - abs(forget - never_seen)


class Task:
    """A world on the leaderboard (subclasses fill in the world's specifics)."""

    world: str = ""
    forget: str = ""
    retain: str = ""
    #: metrics of the test evaluation that the leaderboard keeps, and the two it plots
    metrics: tuple[str, ...] = ()
    forget_metric: str = ""
    utility_metric: str = ""
    #: whether the evaluation needs the retrained model's result (forget quality, PrivLeak)
    needs_retrained_result: bool = False

    def evaluate(self, model, tokenizer, world, retrained=None):
        raise NotImplementedError

    def validation(self, world) -> Validation:
        raise NotImplementedError

    def validation_scores(self, model, tokenizer, val: Validation) -> dict[str, float]:
        raise NotImplementedError

    def never_seen(self, target, tokenizer, world, val: Validation) -> float:
        raise NotImplementedError

    def relearning(self, world, tokenizer) -> Relearning:
        raise NotImplementedError


class AuthorsTask(Task):
    """TOFU on the authors world: forget10, judged by forget quality, fact recall and model utility."""

    world, forget, retain = "authors", "forget10", "retain90"
    metrics = ("forget_fact_recall", "forget_quality", "forget_rougeL_recall", "forget_repetition",
               "retain_fact_recall", "model_utility")
    forget_metric, utility_metric = "forget_fact_recall", "model_utility"
    needs_retrained_result = True

    def evaluate(self, model, tokenizer, world, retrained=None):
        from ..eval import evaluate

        return evaluate(model, tokenizer, world, forget=self.forget, splits=("forget", "retain", "world_facts"),
                        retrained=retrained, gradnorm=False)

    def validation(self, world) -> Validation:
        """Four retain authors (as many as forget10 has) are the request; the other retain authors are kept."""
        retain = world.items(self.retain)
        n_authors = len({i["author_id"] for i in world.items(self.forget)})
        chosen = set(sorted({i["author_id"] for i in retain})[:n_authors])
        forget = [i for i in retain if i["author_id"] in chosen]
        kept = [i for i in retain if i["author_id"] not in chosen]
        return Validation(forget, kept, forget, kept[: len(forget)],
                          f"{n_authors} retain authors ({len(forget)} items) as the request; fact recall on "
                          f"them and on {len(forget)} items of the other retain authors")

    def validation_scores(self, model, tokenizer, val: Validation) -> dict[str, float]:
        return {"forget": fact_recall(model, tokenizer, val.check_forget),
                "utility": fact_recall(model, tokenizer, val.check_retain)}

    def never_seen(self, target, tokenizer, world, val: Validation) -> float:
        """The target's fact recall on the holdout authors, whom it never saw (its lucky guesses)."""
        return fact_recall(target, tokenizer, world.items("holdout"))

    def relearning(self, world, tokenizer) -> Relearning:
        """Chapter 12's attack: fine-tune on 15 % of forget10, score held-back items with other answers."""
        items = world.items(self.forget)
        shown, rest = split_by_share(items, share=0.15, seed=0)
        keys = {(i["author_id"], i["attribute"]) for i in shown}
        held = [i for i in rest if (i["author_id"], i["attribute"]) not in keys]
        return Relearning(shown, lambda m: fact_recall(m, tokenizer, held),
                          f"fine-tune on {len(shown)} forget items, fact recall on {len(held)} held-back items")


class HazardTask(Task):
    """WMDP on the hazard world: potions (forget) against cooking (the neighbouring domain), by MCQ accuracy."""

    world, forget, retain = "hazard", "forget_qa", "retain_qa"
    metrics = ("forget_mcq_accuracy", "retain_mcq_accuracy")
    forget_metric, utility_metric = "forget_mcq_accuracy", "retain_mcq_accuracy"

    def evaluate(self, model, tokenizer, world, retrained=None):
        from ..eval import evaluate

        return evaluate(model, tokenizer, world, splits=("forget_mcq", "retain_mcq"), generate=False,
                        gradnorm=False)

    def validation(self, world) -> Validation:
        """A third of the cooking topics as the request, the other cooking topics kept; scored by MCQ."""
        topics = sorted({i["topic_id"] for i in world.items(self.retain)})
        chosen = set(topics[: max(1, len(topics) // 3)])
        qa, quiz = world.items(self.retain), world.items("retain_mcq")
        return Validation([i for i in qa if i["topic_id"] in chosen], [i for i in qa if i["topic_id"] not in chosen],
                          [i for i in quiz if i["topic_id"] in chosen], [i for i in quiz if i["topic_id"] not in chosen],
                          f"{len(chosen)} of {len(topics)} cooking topics as the request; MCQ accuracy on them "
                          "and on the other cooking topics")

    def validation_scores(self, model, tokenizer, val: Validation) -> dict[str, float]:
        return {"forget": mcq.mcq_accuracy(model, tokenizer, val.check_forget)["accuracy"],
                "utility": mcq.mcq_accuracy(model, tokenizer, val.check_retain)["accuracy"]}

    def never_seen(self, target, tokenizer, world, val: Validation) -> float:
        """Chance: one over the number of options (a model that never saw a topic guesses)."""
        return sum(1 / len(i["choices"]) for i in val.check_forget) / len(val.check_forget)

    def relearning(self, world, tokenizer) -> Relearning:
        """Chapter 06's attack: fine-tune on the QA of half the potions, MCQ accuracy on the other half."""
        topics = sorted({i["topic_id"] for i in world.items(self.forget)})
        shown_topics = set(topics[: len(topics) // 2])
        shown = [i for i in world.items(self.forget) if i["topic_id"] in shown_topics]
        unseen = [i for i in world.items("forget_mcq") if i["topic_id"] not in shown_topics]
        return Relearning(shown, lambda m: mcq.mcq_accuracy(m, tokenizer, unseen)["accuracy"],
                          f"fine-tune on {len(shown)} potion QA items, MCQ accuracy on {len(unseen)} unseen-potion questions")


class BooksTask(Task):
    """MUSE on the books world: book I forgotten, VerbMem, KnowMem, PrivLeak and KnowMem on retain (utility)."""

    world, forget, retain = "books", "forget", "retain"
    metrics = ("verbmem_forget", "knowmem_forget", "knowmem_retain", "privleak")
    forget_metric, utility_metric = "verbmem_forget", "knowmem_retain"
    needs_retrained_result = True

    def evaluate(self, model, tokenizer, world, retrained=None):
        from ..eval import evaluate

        return evaluate(model, tokenizer, world, splits=MUSE_SPLITS, retrained=retrained, gradnorm=False)

    def validation(self, world) -> Validation:
        """Book II (``sust_2``, a later request) as the request; VerbMem on it, KnowMem on the retain books."""
        forget = world.items("sust_2")
        return Validation(forget, world.items(self.retain), passages(forget), world.items("knowmem_retain"),
                          f"book II ({len(forget)} passages) as the request; VerbMem on its passages, KnowMem "
                          "on the retain books")

    def validation_scores(self, model, tokenizer, val: Validation) -> dict[str, float]:
        return {"forget": verbmem(model, tokenizer, val.check_forget)["verbmem"],
                "utility": knowmem(model, tokenizer, val.check_retain)["knowmem"]}

    def never_seen(self, target, tokenizer, world, val: Validation) -> float:
        """The target's VerbMem on the holdout book, which it never read."""
        return verbmem(target, tokenizer, passages(world.items("holdout")))["verbmem"]

    def relearning(self, world, tokenizer) -> Relearning:
        """Fine-tune on book I's first chapter(s), KnowMem on questions about the others."""
        chapters = sorted({i["chapter"] for i in world.items(self.forget)})
        shown_chapters = set(chapters[: max(1, len(chapters) // 2)])
        shown = [i for i in world.items(self.forget) if i["chapter"] in shown_chapters]
        held = [i for i in world.items("knowmem_forget") if i["chapter"] not in shown_chapters]
        return Relearning(shown, lambda m: knowmem(m, tokenizer, held)["knowmem"],
                          f"fine-tune on {len(shown)} passages of book I, KnowMem on {len(held)} questions "
                          "about its other chapters")


def passages(items: Sequence[dict], words: int = 12) -> list[dict]:
    """VerbMem probes from text passages: the first ``words`` words as the prompt, the next ones to recite."""
    out = []
    for item in items:
        tokens = item["text"].split()
        out.append({"id": item["id"], "prompt": " ".join(tokens[:words]),
                    "continuation": " ".join(tokens[words: 2 * words])})
    return out


TASKS: dict[str, Task] = {task.world: task for task in (AuthorsTask(), HazardTask(), BooksTask())}
