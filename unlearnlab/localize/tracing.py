"""Causal tracing: which hidden states carry a fact from the subject to the answer?

ROME's recipe (Meng et al., "Locating and Editing Factual Associations in GPT",
NeurIPS 2022, https://arxiv.org/abs/2202.05262), with plain forward hooks:

1. **clean run**: the prompt (question + answer up to the fact's value) and the
   probability ``p_clean`` of the value's first token;
2. **corrupted run**: Gaussian noise (by default 3× the embedding matrix's
   standard deviation) added to the embeddings of the subject's tokens (every
   occurrence of the author's name), which should destroy the fact: ``p_corrupt``;
3. **restored runs**: the corrupted run again, with the clean hidden state put
   back at *one* (layer, position).  Where that restores ``p`` the state carried
   the fact.

Layer 0 of a trace is the embedding output, layer ``l + 1`` the output of
decoder block ``l`` (the residual stream), so a trace has ``n_layers + 1`` rows.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator, Sequence

import torch

from ..formats import format_prompt
from ..methods.representation import decoder_layers

#: ROME's position groups, in prompt order; a trace averages within each group
POSITION_GROUPS = ("before subject", "subject (question)", "last subject token (question)",
                   "rest of question", "name (answer)", "last name token (answer)",
                   "answer before value", "last token")


@dataclass
class FactPrompt:
    """One fact as a traced prompt: ids, which positions are the subject, what to predict."""
    input_ids: list[int]
    subject_positions: list[int]
    target_id: int
    groups: list[str]  # one POSITION_GROUPS entry per position
    tokens: list[str] = field(default_factory=list)


def _spans(text: str, needle: str) -> list[tuple[int, int]]:
    out, start = [], text.find(needle)
    while start >= 0:
        out.append((start, start + len(needle)))
        start = text.find(needle, start + 1)
    return out


def _overlapping(offsets, spans) -> list[int]:
    return [i for i, (s, e) in enumerate(offsets) if e > s and any(s < b and e > a for a, b in spans)]


def fact_prompt(tokenizer, item: dict, subject: str | None = None) -> FactPrompt:
    """Encode a QA item as the course does (prompt and answer apart) and cut it before the value.

    The subject (default: the item's ``author``) is found by characters in both the
    question and the answer, since the authors world's answers repeat the name:
    corrupting only the question would leave the name readable in the answer.
    """
    subject = subject or item["author"]
    prompt = format_prompt(item["question"])
    answer = " " + item["answer"].strip()
    p = tokenizer(prompt, add_special_tokens=True, return_offsets_mapping=True)
    a = tokenizer(answer, add_special_tokens=False, return_offsets_mapping=True)
    value_at = answer.find(item["value"])
    if value_at < 0:
        raise ValueError(f"value {item['value']!r} is not in the answer {item['answer']!r}")
    value_tok = _overlapping(a["offset_mapping"], [(value_at, value_at + len(item["value"]))])[0]
    q_subject = _overlapping(p["offset_mapping"], _spans(prompt, subject))
    a_subject = [i for i in _overlapping(a["offset_mapping"], _spans(answer, subject)) if i < value_tok]
    if not q_subject and not a_subject:
        raise ValueError(f"subject {subject!r} not found in {item['question']!r} or its answer")
    n_prompt = len(p["input_ids"])
    ids = p["input_ids"] + a["input_ids"][:value_tok]
    groups = []
    for i in range(len(ids)):
        if i == len(ids) - 1:
            groups.append("last token")
        elif i < n_prompt:
            if q_subject and i == q_subject[-1]:
                groups.append("last subject token (question)")
            elif i in q_subject:
                groups.append("subject (question)")
            else:
                groups.append("before subject" if not q_subject or i < q_subject[0] else "rest of question")
        else:
            j = i - n_prompt
            if a_subject and j == a_subject[-1]:
                groups.append("last name token (answer)")
            elif j in a_subject:
                groups.append("name (answer)")
            else:
                groups.append("answer before value")
    return FactPrompt(ids, q_subject + [n_prompt + j for j in a_subject], a["input_ids"][value_tok], groups,
                      tokenizer.convert_ids_to_tokens(ids))


def _hidden(output):
    return output[0] if isinstance(output, tuple) else output


def _replace(output, hidden):
    return (hidden, *output[1:]) if isinstance(output, tuple) else hidden


#: what a trace restores in each block: its output (the residual stream), or only its MLP's or attention's output
TRACE_KINDS = ("hidden", "mlp", "attn")


def traced_modules(model, kind: str = "hidden") -> list[torch.nn.Module]:
    """The embedding, then per decoder block the module whose output a trace restores (n_layers + 1)."""
    if kind not in TRACE_KINDS:
        raise ValueError(f"kind must be one of {TRACE_KINDS}, not {kind!r}")
    blocks = decoder_layers(model)[1]
    parts = list(blocks) if kind == "hidden" else [getattr(b, "mlp" if kind == "mlp" else "self_attn") for b in blocks]
    return [model.get_input_embeddings(), *parts]


@contextmanager
def _hooks(modules, fns) -> Iterator[None]:
    handles = [m.register_forward_hook(f) for m, f in zip(modules, fns) if f is not None]
    try:
        yield
    finally:
        for h in handles:
            h.remove()


@torch.no_grad()
def clean_states(model, input_ids: torch.Tensor, kind: str = "hidden") -> tuple[list[torch.Tensor], torch.Tensor]:
    """Every traced module's output on the clean input (1, T, d), and the logits at the last position."""
    modules, states = traced_modules(model, kind), []
    with _hooks(modules, [lambda m, i, o: states.append(_hidden(o).detach()) for _ in modules]):
        logits = model(input_ids=input_ids).logits[0, -1]
    return states, logits


def embedding_noise_scale(model, factor: float = 3.0) -> float:
    """ROME's noise level: ``factor`` times the standard deviation of the embedding entries."""
    return factor * float(model.get_input_embeddings().weight.detach().float().std())


@torch.no_grad()
def corrupted_run(model, input_ids: torch.Tensor, subject_positions: Sequence[int], noise: torch.Tensor,
                  restore: Sequence[tuple[int, int]] = (), clean: list[torch.Tensor] | None = None,
                  kind: str = "hidden") -> torch.Tensor:
    """Last-position logits of corrupted runs, one batch row per entry of ``restore``, plus row 0 unrestored.

    ``noise`` (len(subject_positions), d) is added to the subject embeddings in
    every row; row ``r + 1`` then has the clean state of ``restore[r] = (layer,
    position)`` written back (layer 0 = embeddings).  ``restore`` entries may
    also be ``(layer, list of positions)``.  ``kind`` says which output of each
    block ``clean`` holds and is restored (:data:`TRACE_KINDS`).
    """
    rows = 1 + len(restore)
    batch = input_ids.expand(rows, -1)
    modules = traced_modules(model, kind)
    subject = torch.as_tensor(list(subject_positions), dtype=torch.long)
    by_layer: dict[int, list[tuple[int, object]]] = {}
    for r, (layer, pos) in enumerate(restore):
        by_layer.setdefault(layer, []).append((r + 1, pos))

    def hook_for(layer: int):
        def hook(module, args, output):
            h = _hidden(output)
            if layer == 0:
                h = h.clone()
                h[:, subject] += noise.to(h.dtype)
            elif layer not in by_layer:
                return None
            else:
                h = h.clone()
            for row, pos in by_layer.get(layer, []):
                h[row, pos] = clean[layer][0, pos]
            return _replace(output, h)
        return hook

    with _hooks(modules, [hook_for(layer) for layer in range(len(modules))]):
        return model(input_ids=batch).logits[:, -1]


@dataclass
class Trace:
    """One fact's trace: restored probability per (layer, position), and the runs it sits between."""
    prompt: FactPrompt
    p_clean: float
    p_corrupt: float
    restored: torch.Tensor  # (n_layers + 1, T), mean over noise samples

    @property
    def effect(self) -> torch.Tensor:
        """Indirect effect of each state: restored − corrupted probability."""
        return self.restored - self.p_corrupt

    def by_group(self) -> torch.Tensor:
        """(n_layers + 1, len(POSITION_GROUPS)) mean restored probability per position group (NaN if absent)."""
        out = torch.full((self.restored.shape[0], len(POSITION_GROUPS)), float("nan"))
        for g, name in enumerate(POSITION_GROUPS):
            cols = [i for i, x in enumerate(self.prompt.groups) if x == name]
            if cols:
                out[:, g] = self.restored[:, cols].mean(1)
        return out


@torch.no_grad()
def trace_fact(model, tokenizer, item: dict, samples: int = 5, noise_scale: float | None = None,
               seed: int = 0, subject: str | None = None, kind: str = "hidden") -> Trace:
    """Causal trace of one QA item: restore each (layer, position) of a subject-corrupted run.

    ``samples`` noise draws (seeded) are averaged; ``noise_scale`` defaults to
    :func:`embedding_noise_scale` (3× the embedding std, as in ROME).  ``kind``:
    restore each block's output (``hidden``), or only its MLP's or attention's
    contribution at that position (``mlp``, ``attn``: which sublayer computes the fact?).
    """
    model.eval()
    fact = fact_prompt(tokenizer, item, subject)
    device = next(model.parameters()).device
    ids = torch.tensor([fact.input_ids], device=device)
    clean, logits = clean_states(model, ids, kind)
    p_clean = float(logits.float().softmax(-1)[fact.target_id])
    scale = embedding_noise_scale(model) if noise_scale is None else noise_scale
    n_layers, T = len(clean), ids.shape[1]
    restore = [(layer, pos) for layer in range(n_layers) for pos in range(T)]
    gen = torch.Generator().manual_seed(seed)
    probs = []
    for _ in range(samples):
        noise = scale * torch.randn(len(fact.subject_positions), clean[0].shape[-1], generator=gen)
        out = corrupted_run(model, ids, fact.subject_positions, noise.to(device), restore, clean, kind)
        probs.append(out.float().softmax(-1)[:, fact.target_id].cpu())
    p = torch.stack(probs).mean(0)
    return Trace(fact, p_clean, float(p[0]), p[1:].reshape(n_layers, T))


def average_traces(traces: Sequence[Trace]) -> dict[str, torch.Tensor | float]:
    """Mean over facts of the grouped restored probabilities, and of the clean and corrupted ones."""
    grouped = torch.stack([t.by_group() for t in traces])
    return {"restored": grouped.nanmean(0), "p_clean": sum(t.p_clean for t in traces) / len(traces),
            "p_corrupt": sum(t.p_corrupt for t in traces) / len(traces)}
