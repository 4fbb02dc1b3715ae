"""Presenter view: every chapter as a reveal.js slide deck, built from its own cells, viewable offline.

A speaker shows a chapter's stored outputs while the room runs the notebook; the
slides are that notebook, cut at its headings.  Nothing in ``notebooks/`` changes:
slide types are assigned here, on an in-memory copy, by a few rules:

* a Markdown heading ``#`` or ``##`` starts a slide, ``###`` a sub-slide (a cell
  holding several headings is split at each of them);
* other Markdown continues the current slide; a code cell continues it too, and
  appears as a fragment (on the next click) when it has outputs;
* the Colab badge, the Colab install cell and the ``Checks`` section (assertions
  for the test suite, not for a room) are skipped; interactive widgets become a
  one-line note, since their state is not stored.

nbconvert's slides template loads reveal.js, require.js, jQuery and MathJax from
CDNs.  To work on conference Wi-Fi (or none), the first build fetches them once
from the npm registry (``npm pack``) into ``book/_build/slides/lib/``, which is
ignored by git, and every deck points there.  Run with ``make slides``; open
``book/_build/slides/<chapter>.slides.html`` in a browser.

``python book/slides.py --timings`` prints how long each section took when its
stored outputs were made: the measured timings of the instructor track.
``--timings DIR [DIR ...]`` reads executed copies in each ``DIR`` instead, one column
each (for instance the chapters run in the ``laptop`` profile with
``jupyter nbconvert --output-dir DIR``); the word ``committed`` stands for the
committed notebooks, so ``--timings committed DIR`` puts the two side by side.
"""
from __future__ import annotations

import copy
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import nbformat

BOOK = Path(__file__).resolve().parent
ROOT = BOOK.parent
OUT = BOOK / "_build" / "slides"
LIB = "lib"  # relative to the decks, so the folder can be copied to a USB stick as it is

# folder under lib/ -> (npm package spec, the parts of it a deck uses; None = all of it).
# MathJax 2 (what nbconvert's template configures) is 21 MB packed; a deck needs only the
# TeX input, the CommonHTML output and its web fonts.
LIBRARIES: dict[str, tuple[str, tuple[str, ...] | None]] = {
    "reveal.js": ("reveal.js@4.6.1", ("dist/", "plugin/notes/")),
    "requirejs": ("requirejs@2.3.7", ("require.js",)),
    "jquery": ("jquery@3.7.1", ("dist/jquery.min.js",)),
    "mathjax": ("mathjax@2.7.9", ("MathJax.js", "config/", "extensions/", "jax/input/TeX/",
                                  "jax/output/CommonHTML/", "jax/element/", "localization/en/",
                                  "fonts/HTML-CSS/TeX/woff/", "fonts/HTML-CSS/TeX/otf/")),
}

# nbconvert's template, minus what cannot work offline: mermaid (no chapter draws a
# mermaid diagram) and the widget renderer (no widget state is stored).
TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{% block jupyter_widgets %}{% endblock jupyter_widgets %}
"""

WIDGET = "application/vnd.jupyter.widget-view+json"
SKIPPED_SECTIONS = {"Checks"}
BADGE = re.compile(r"^<!-- colab-badge -->.*$\n?", re.MULTILINE)


# ---------------------------------------------------------------- slide types


def split_at_headings(text: str) -> list[str]:
    """Cut Markdown before each heading line, so that every heading can start its own slide."""
    parts, current = [], []
    for line in text.splitlines():
        if re.match(r"#{1,3} ", line) and any(part.strip() for part in current):
            parts.append("\n".join(current).strip("\n"))
            current = []
        current.append(line)
    if any(line.strip() for line in current):
        parts.append("\n".join(current).strip("\n"))
    return parts


def heading_level(text: str) -> int:
    """1-3 for a chunk starting with ``#``-``###``, 0 otherwise."""
    match = re.match(r"(#{1,3}) ", text)
    return len(match.group(1)) if match else 0


def markdown_slides(cell) -> list:
    """One Markdown cell -> one cell per heading, each with its slide type."""
    cells = []
    for chunk in split_at_headings(BADGE.sub("", cell.source)):
        level = heading_level(chunk)
        kind = "slide" if level in (1, 2) else "subslide" if level == 3 else "-"
        cells.append(nbformat.v4.new_markdown_cell(chunk, metadata={"slideshow": {"slide_type": kind}}))
    return cells


def code_slide(cell):
    """A code cell on the current slide; a fragment when it has outputs; the install cell skipped."""
    cell = copy.deepcopy(cell)
    if cell.source.lstrip().startswith("# colab-install"):
        kind = "skip"
    else:
        kind = "fragment" if cell.outputs else "-"
    cell.metadata["slideshow"] = {"slide_type": kind}
    for output in cell.outputs:
        if WIDGET in output.get("data", {}):
            output["data"] = {"text/plain": "[an interactive widget: open the notebook to use it]"}
    return cell


def as_slides(nb):
    """A copy of ``nb`` with a slide type on every cell (the rules in the module docstring)."""
    deck = copy.deepcopy(nb)
    deck.metadata.pop("widgets", None)
    cells, skipping = [], False
    for cell in nb.cells:
        new = markdown_slides(cell) if cell.cell_type == "markdown" else [code_slide(cell)]
        for item in new:
            if item.cell_type == "markdown" and heading_level(item.source) in (1, 2):
                title = item.source.splitlines()[0].lstrip("#").strip()
                skipping = title in SKIPPED_SECTIONS
            if skipping:
                item.metadata["slideshow"] = {"slide_type": "skip"}
            cells.append(item)
    deck.cells = cells
    deck.metadata["title"] = chapter_title(nb)
    return deck


def chapter_title(nb) -> str:
    """The notebook's first ``# `` heading, e.g. ``03 · Gradient ascent from scratch``."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return "unlearnlab"


# ---------------------------------------------------------------- offline libraries


def fetch_libraries(out: Path = OUT) -> Path:
    """Fetch reveal.js and the other scripts once into ``out/lib`` (skipped when already there)."""
    lib = out / LIB
    for name, (package, parts) in LIBRARIES.items():
        if (lib / name).is_dir():
            continue
        if shutil.which("npm") is None:
            raise RuntimeError(f"the slides need {package} once, from the npm registry, and npm is not "
                               "installed: install Node.js (https://nodejs.org) or copy book/_build/slides/lib "
                               "from a machine that built the slides.")
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(["npm", "pack", package, "--silent", "--pack-destination", tmp],
                           check=True, capture_output=True)
            (archive,) = Path(tmp).glob("*.tgz")
            _unpack(archive, parts, Path(tmp) / "unpacked")
            lib.mkdir(parents=True, exist_ok=True)
            shutil.move(str(Path(tmp) / "unpacked" / "package"), lib / name)
    return lib


def _unpack(archive: Path, parts: tuple[str, ...] | None, target: Path) -> None:
    """Extract the archive's ``package/<part>`` members (all when ``parts`` is None)."""
    with tarfile.open(archive) as tar:
        members = [m for m in tar.getmembers()
                   if parts is None or any(m.name.removeprefix("package/").startswith(p) for p in parts)]
        if hasattr(tarfile, "data_filter"):  # refuse absolute paths and links out of the folder
            tar.extractall(target, members=members, filter="data")
        else:
            tar.extractall(target, members=members)


# ---------------------------------------------------------------- building


def exporter():
    """nbconvert's reveal.js exporter, pointed at the local libraries."""
    from jinja2 import DictLoader
    from nbconvert import SlidesExporter
    from traitlets.config import Config

    config = Config()
    config.SlidesExporter.reveal_url_prefix = f"{LIB}/reveal.js"
    config.SlidesExporter.reveal_scroll = True  # long cells scroll instead of running off the slide
    config.SlidesExporter.require_js_url = f"{LIB}/requirejs/require.js"
    config.SlidesExporter.jquery_url = f"{LIB}/jquery/dist/jquery.min.js"
    config.SlidesExporter.mathjax_url = f"{LIB}/mathjax/MathJax.js?config=TeX-AMS_CHTML-full,Safe"
    return SlidesExporter(config=config, extra_loaders=[DictLoader({"offline.html.j2": TEMPLATE})],
                          template_file="offline.html.j2")


def chapters(root: Path = ROOT) -> list[Path]:
    return sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def build(notebooks: list[Path] | None = None, out: Path = OUT, libraries: bool = True) -> list[Path]:
    """Write ``<out>/<chapter>.slides.html`` for each notebook; return the decks' paths."""
    if libraries:
        fetch_libraries(out)
    out.mkdir(parents=True, exist_ok=True)
    slides = exporter()
    decks = []
    for path in notebooks or chapters():
        nb = nbformat.read(path, as_version=4)
        html, _ = slides.from_notebook_node(as_slides(nb), resources={"metadata": {"name": path.stem}})
        deck = out / f"{path.stem}.slides.html"
        deck.write_text(html, encoding="utf-8")
        decks.append(deck)
    return decks


# ---------------------------------------------------------------- timings for the instructor track


def section_timings(nb) -> list[tuple[str, float]]:
    """Seconds each ``#``/``##`` section's code took when the stored outputs were made.

    Jupyter records when each cell started and finished (``metadata.execution``), so the
    outputs committed with a notebook carry a measurement of every section, on the
    machine and profile its setup cell printed.  Cells without a record count as 0.
    """
    times: dict[str, float] = {}
    section = chapter_title(nb)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if heading_level(line) in (1, 2):
                    section = line.lstrip("#").strip()
            continue
        record = cell.metadata.get("execution", {})
        start, end = record.get("iopub.execute_input"), record.get("shell.execute_reply")
        seconds = (_instant(end) - _instant(start)) if start and end else 0.0
        times[section] = times.get(section, 0.0) + seconds
    return list(times.items())


def _instant(stamp: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def print_timings(*folders: Path | None) -> None:
    """A Markdown table of every chapter's sections, one column of stored timings per folder.

    Each folder holds executed copies of the chapters (another profile or machine);
    ``None`` (the default) reads the committed notebooks.  Several folders side by side
    give the instructor track's table, for instance the ``ci`` and ``laptop`` columns;
    a section a folder lacks (a chapter not run there) shows as a dash.
    """
    folders = folders or (None,)
    columns = [_timings_of(folder) for folder in folders]
    rows = list(dict.fromkeys(key for column in columns for key in column))
    names = [folder.name if folder else "committed" for folder in folders]
    print("| chapter | section | " + " | ".join(f"{name} (s)" for name in names) + " |")
    print("|---|---|" + "---:|" * len(columns))
    for chapter, section in rows:
        cells = [f"{column[chapter, section]:.1f}" if (chapter, section) in column else "—" for column in columns]
        print(f"| {chapter} | {section} | " + " | ".join(cells) + " |")


def _timings_of(folder: Path | None) -> dict[tuple[str, str], float]:
    """``{(chapter number, section): seconds}`` for the executed chapters in ``folder``."""
    paths = sorted(folder.glob("[0-9][0-9]_*.ipynb")) if folder else chapters()
    if not paths:
        raise SystemExit(f"no chapter notebooks (NN_*.ipynb) in {folder}: pass the folder the executed copies are in")
    return {(path.stem[:2], section): seconds for path in paths
            for section, seconds in section_timings(nbformat.read(path, as_version=4))}


if __name__ == "__main__":
    if "--timings" in sys.argv:
        rest = sys.argv[sys.argv.index("--timings") + 1:]
        print_timings(*[None if arg == "committed" else Path(arg) for arg in rest])
    else:
        for deck in build(libraries="--no-libraries" not in sys.argv):
            print("slides:", deck.relative_to(ROOT))
