"""Build the course website: the notebooks (with their stored outputs) plus a few chapters.

Sphinx only reads sources inside the book folder, so the notebooks are copied to
``book/notebooks/`` (ignored by git) and ``_toc.yml`` is written from the list of
notebooks, so a new chapter appears in the book without editing anything here.
Run with ``make book``; the site lands in ``book/_build/html``.

The site must work without internet (a workshop room, a firewall), so nothing is loaded
from a CDN: MathJax is fetched once from the npm registry into ``book/_vendor/`` (ignored
by git; Sphinx copies it to ``_static/mathjax/`` through ``html_extra_path``), and the
Colab badge of each copied notebook points at ``_static/colab-badge.svg`` instead of
colab.research.google.com.  Markdown links from a notebook to a glossary entry
(``[truth ratio](../book/glossary.md#term-Truth-ratio)``) become ``{term}`` roles.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

BOOK = Path(__file__).resolve().parent
ROOT = BOOK.parent
CHAPTERS_BEFORE = ["intro"]
CHAPTERS_AFTER = ["instructor", "glossary", "references"]

MATHJAX_VERSION = "3.2.2"
# Sphinx's `mathjax_path: mathjax/tex-mml-chtml.js` becomes `_static/mathjax/tex-mml-chtml.js`.
# The files live outside book/_static because Jupyter Book adds every .js file found there as
# a <script> on every page, which would load all of MathJax's components at once.
MATHJAX_DIR = BOOK / "_vendor" / "_static" / "mathjax"
# The combined TeX/MathML-to-HTML component, the extensions it loads on demand (\boldsymbol,
# \cancel, ...), its fonts, and the menu and accessibility parts; not the 15 MB speech engine.
MATHJAX_PARTS = ("tex-mml-chtml.js", "input/", "output/chtml", "ui/", "a11y/", "adaptors/")
COLAB_BADGE_URL = "https://colab.research.google.com/assets/colab-badge.svg"
LOCAL_BADGE = "../_static/colab-badge.svg"   # relative to the pages in notebooks/


def fetch_mathjax(version: str = MATHJAX_VERSION) -> Path:
    """Unpack MathJax from the npm registry into MATHJAX_DIR, unless that version is there."""
    stamp = MATHJAX_DIR / "VERSION"
    if stamp.exists() and stamp.read_text().strip() == version \
            and (MATHJAX_DIR / "tex-mml-chtml.js").exists():
        return MATHJAX_DIR
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit(
            "book: npm is needed once to fetch MathJax for offline formulas "
            f"(npm pack mathjax@{version}); install Node.js and npm "
            "(Debian: apt-get install npm), then run `make book` again.")
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run([npm, "pack", f"mathjax@{version}", "--silent", "--pack-destination", tmp],
                              capture_output=True, text=True)
        tarballs = list(Path(tmp).glob("mathjax-*.tgz"))
        if done.returncode != 0 or not tarballs:
            raise SystemExit(f"book: `npm pack mathjax@{version}` failed:\n{done.stderr.strip()}")
        shutil.rmtree(MATHJAX_DIR, ignore_errors=True)
        MATHJAX_DIR.mkdir(parents=True)
        prefix = "package/es5/"
        with tarfile.open(tarballs[0]) as tar:
            for member in tar.getmembers():
                name = member.name[len(prefix):] if member.name.startswith(prefix) else None
                if member.isfile() and (name and name.startswith(MATHJAX_PARTS)
                                        or member.name == "package/LICENSE"):
                    target = MATHJAX_DIR / (name or "LICENSE")
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(tar.extractfile(member).read())
    stamp.write_text(version + "\n")
    return MATHJAX_DIR


# A notebook links to the glossary with an ordinary Markdown link, which also works in
# JupyterLab and on GitHub: [truth ratio](../book/glossary.md#term-Truth-ratio).  In the book
# it becomes the role {term}`truth ratio <Truth ratio>`, so Sphinx checks that the term exists.
GLOSSARY_LINK = re.compile(r"\[([^\]]+)\]\(\.\./book/glossary\.md#(term-[^)\s]*)\)")


def glossary_terms() -> dict[str, str]:
    """{anchor: term} for every term of book/glossary.md, anchors as Sphinx makes them."""
    from sphinx.util.nodes import _make_id

    text = (BOOK / "glossary.md").read_text()
    block = text.split("```{glossary}", 1)[1].split("\n```", 1)[0]
    terms = [line.strip() for line in block.splitlines() if line.strip() and not line[0].isspace()]
    return {_make_id(f"term-{term}"): term for term in terms}


def link_glossary(notebook: Path) -> None:
    """Turn the copied notebook's links to glossary entries into {term} roles."""
    nb = json.loads(notebook.read_text())
    terms = None
    changed = False
    for cell in nb["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] != "markdown" or not GLOSSARY_LINK.search(source):
            continue
        terms = terms or glossary_terms()

        def role(match: re.Match) -> str:
            text, anchor = match.groups()
            if anchor not in terms:
                raise SystemExit(f"book: {notebook.name} links to glossary.md#{anchor}, which is no "
                                 f"glossary term; anchors are: {', '.join(sorted(terms))}")
            return f"{{term}}`{text} <{terms[anchor]}>`"

        cell["source"], changed = GLOSSARY_LINK.sub(role, source), True
    if changed:
        notebook.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")


def localise_badge(notebook: Path) -> None:
    """Point the copied notebook's Colab badge image at the local SVG; the link stays."""
    nb = json.loads(notebook.read_text())
    changed = False
    for cell in nb["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        source = "".join(cell["source"])
        if COLAB_BADGE_URL in source:
            cell["source"], changed = source.replace(COLAB_BADGE_URL, LOCAL_BADGE), True
    if changed:
        notebook.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")


def notebook_title(path: Path) -> str:
    """The first Markdown heading of a notebook, without its '#'."""
    for cell in json.loads(path.read_text())["cells"]:
        if cell["cell_type"] == "markdown":
            for line in "".join(cell["source"]).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return path.stem


def copy_notebooks() -> list[Path]:
    target = BOOK / "notebooks"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir()
    notebooks = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    for nb in notebooks:
        shutil.copy2(nb, target / nb.name)
        localise_badge(target / nb.name)
        link_glossary(target / nb.name)
    return notebooks


def write_toc(notebooks: list[Path]) -> None:
    lines = ["# Generated by book/build.py from notebooks/*.ipynb; do not edit.", "format: jb-book",
             f"root: {CHAPTERS_BEFORE[0]}", "parts:", "  - caption: Course", "    chapters:"]
    lines += [f"      - file: notebooks/{nb.stem}" for nb in notebooks]
    lines += ["  - caption: Reference", "    chapters:"]
    lines += [f"      - file: {name}" for name in CHAPTERS_AFTER]
    (BOOK / "_toc.yml").write_text("\n".join(lines) + "\n")


def build(strict: bool = False) -> Path:
    """Build the HTML site and return its folder."""
    fetch_mathjax()
    write_toc(copy_notebooks())
    command = [str(Path(sys.executable).parent / "jupyter-book"), "build", str(BOOK), "--quiet"]
    if strict:
        command += ["--warningiserror", "--keep-going"]
    subprocess.run(command, check=True)
    return BOOK / "_build" / "html"


if __name__ == "__main__":
    print("book built in", build(strict="--strict" in sys.argv))
