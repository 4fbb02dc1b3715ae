"""Where a public benchmark's rows come from: the Hugging Face hub, or a local copy.

Every loader asks for rows by (config, split), as the hub organises them.  When
``local_dir`` is given, the rows are read from files in any of the layouts the
benchmarks are distributed in:

* the hub's parquet layout, ``<config>/<split>-00000-of-00001.parquet`` (MUSE, WMDP);
* the hub's JSON layout, ``<config>.json`` in JSON Lines (TOFU), also ``.jsonl``;
* the original repositories' JSON files, ``<config>/<split>.json`` holding a JSON
  array of objects or of strings (MUSE), or plain text ``<config>/<split>.txt``.

Without ``local_dir`` the rows come from ``datasets.load_dataset`` when the hub
answers, and otherwise the loader stops at once with a message naming the
local-directory option (``datasets`` itself would retry for about a minute).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import datasets

from ..hub import hub_reachable


class BenchmarkUnavailable(RuntimeError):
    """The benchmark can be read neither from the hub nor from the given folder."""


def read_rows(hub_id: str, config: str, split: str, local_dir: str | Path | None = None,
              stems: Sequence[str] = ()) -> list[dict]:
    """The rows of one config/split, from ``local_dir`` when given, else from the hub.

    ``stems`` are extra file names (without suffix) that hold the same rows in
    older releases, e.g. TOFU's ``forget10_dataset.json``.
    """
    if local_dir is not None:
        return read_local(Path(local_dir).expanduser(), config, split, stems)
    if not hub_reachable():
        raise BenchmarkUnavailable(offline_message(hub_id, config))
    return datasets.load_dataset(hub_id, config, split=split).to_list()


def read_first(hub_id: str, config: str, splits: Sequence[str], local_dir: str | Path | None = None) -> list[dict]:
    """The rows of the first of ``splits`` that exists (split names changed between releases)."""
    if local_dir is None and hub_reachable():
        names = datasets.get_dataset_split_names(hub_id, config)
        chosen = next((split for split in splits if split in names), None)
        if chosen is None:
            raise BenchmarkUnavailable(f"{hub_id} ({config}) has none of the splits {list(splits)}; it has {names}.")
        return read_rows(hub_id, config, chosen)
    for split in splits:
        if local_dir is None or local_files(Path(local_dir).expanduser(), config, split):
            return read_rows(hub_id, config, split, local_dir)
    raise BenchmarkUnavailable(
        f"{local_dir} holds none of the splits {list(splits)} of {hub_id} ({config}); expected files such as "
        f"{', '.join(patterns(config, splits[0]))}."
    )


def offline_message(hub_id: str, config: str) -> str:
    return (
        f"Cannot reach the Hugging Face hub to download {hub_id} (config {config!r}). Either connect to "
        f"the internet, or download the dataset once (for example `git clone "
        f"https://huggingface.co/datasets/{hub_id}`) and pass its folder as local_dir=..., "
        "e.g. unlearnlab.public.load(..., local_dir='path/to/folder')."
    )


def patterns(config: str, split: str, stems: Sequence[str] = ()) -> list[str]:
    """File patterns that may hold one config/split in a local copy, most specific first."""
    found = [f"{config}/{split}-*.parquet", f"{config}/{split}/*.parquet", f"{config}/{split}.json",
             f"{config}/{split}.jsonl", f"{config}/{split}.txt"]
    for stem in (config, *stems):
        found += [f"{stem}.json", f"{stem}.jsonl", f"{stem}.parquet"]
    return found


def local_files(root: Path, config: str, split: str, stems: Sequence[str] = ()) -> list[Path]:
    """The files of the first matching pattern, sorted (shards in order)."""
    for pattern in patterns(config, split, stems):
        files = sorted(root.glob(pattern))
        if files:
            return files
    return []


def read_local(root: Path, config: str, split: str, stems: Sequence[str] = ()) -> list[dict]:
    """Rows of one config/split from a local copy, or an error that lists the expected files."""
    if not root.is_dir():
        raise BenchmarkUnavailable(f"local_dir {root} is not a folder; pass the folder holding the dataset's files.")
    files = local_files(root, config, split, stems)
    if not files:
        raise BenchmarkUnavailable(
            f"{root} holds no file for config {config!r}, split {split!r}; expected one of "
            f"{', '.join(patterns(config, split, stems))}."
        )
    return [row for path in files for row in read_file(path)]


def read_file(path: Path) -> list[dict]:
    """Rows of one parquet, JSON (array or lines), JSONL or text file; bare strings become ``text``.

    Tables go through ``datasets.load_dataset`` (the same reader the hub path
    uses); a text file, or a JSON array of bare strings (MUSE's raw passages), is
    not a table, so it is read by hand.
    """
    if path.suffix == ".txt":
        return [{"text": path.read_text(encoding="utf-8")}]
    kind = "parquet" if path.suffix == ".parquet" else "json"
    try:
        return datasets.load_dataset(kind, data_files=str(path), split="train").to_list()
    except (datasets.exceptions.DatasetGenerationError, ValueError, TypeError):
        if kind == "parquet":
            raise
    return [row if isinstance(row, dict) else {"text": row} for row in _json_rows(path.read_text(encoding="utf-8"))]


def _json_rows(text: str) -> list:
    """A JSON array or object, else JSON Lines (as TOFU's ``.json`` files are)."""
    try:
        data = json.loads(text)
        return data if isinstance(data, list) else [data]
    except json.JSONDecodeError:
        return [json.loads(line) for line in text.splitlines() if line.strip()]
