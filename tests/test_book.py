"""The course website builds offline, shows every notebook with its figures, and has no broken links."""
import json
import re
import shutil
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book"))
import build as book  # noqa: E402

pytestmark = pytest.mark.skipif(shutil.which("jupyter-book") is None and not
                                (Path(sys.executable).parent / "jupyter-book").exists(),
                                reason="jupyter-book is not installed (pip install -e '.[dev]')")


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[str] = []
        self.images: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        if tag == "img" and attrs.get("src"):
            self.images.append(attrs["src"])


def _parse(page: Path) -> _Links:
    parser = _Links()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser


@pytest.fixture(scope="module")
def site() -> Path:
    return book.build()


def _image_outputs(notebook: Path) -> int:
    cells = json.loads(notebook.read_text())["cells"]
    return sum("image/png" in o.get("data", {}) for c in cells if c["cell_type"] == "code"
               for o in c.get("outputs", []))


def test_every_notebook_is_a_page_with_its_figures(site):
    notebooks = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert notebooks
    for nb in notebooks:
        page = site / "notebooks" / f"{nb.stem}.html"
        assert page.exists(), f"{nb.name} has no page"
        images = [src for src in _parse(page).images if "colab-badge" not in src]
        assert len(images) >= _image_outputs(nb), f"{nb.name}: figures missing from its page"
        for src in images:
            if not src.startswith("data:"):
                assert (page.parent / unquote(src)).resolve().exists(), f"{page.name}: missing image {src}"


def test_no_broken_internal_links(site):
    broken = []
    for page in site.rglob("*.html"):
        for href in _parse(page).links:
            parts = urlparse(href)
            if parts.scheme or parts.netloc or href.startswith(("#", "mailto:")) or not parts.path:
                continue
            if not (page.parent / unquote(parts.path)).resolve().exists():
                broken.append(f"{page.relative_to(site)} -> {href}")
    assert not broken, "broken links:\n" + "\n".join(broken[:20])


def test_references_start_with_the_survey(site):
    text = (site / "references.html").read_text()
    bibliography = text[text.index('id="bibliography"'):]
    first = re.search(r'<div class="citation"[^>]*>(.*?)</div>', bibliography, re.S).group(1)
    first = re.sub(r"<[^>]+>", "", " ".join(first.split()))
    assert "Rethinking machine unlearning for large language models" in first
    assert "https://arxiv.org/abs/2402.08787" in first and "10.1038/s42256-025-00985-0" in first


# Papers the chapters rely on (issue 11): each must be in references.bib with a link.
REQUIRED_PAPERS = {
    "liu2025rethinking": "2402.08787", "maini2024tofu": "2401.06121", "zhang2024npo": "2404.05868",
    "fan2024simnpo": "2410.07163", "rafailov2023dpo": "2305.18290", "liu2022continual": "2203.12817",
    "zhang2023counterfactual": "2112.12938", "carlini2021extracting": "2012.07805",
    "carlini2023quantifying": "2202.07646", "tirumala2022memorization": "2205.10770",
    "shi2024muse": "2407.06460", "li2024wmdp": "2403.03218", "dorna2025openunlearning": "2506.12618",
    "eldan2023harry": "2310.02238", "ilharco2023task": "2212.04089", "shi2024detecting": "2310.16789",
    "zhang2024minkpp": "2404.02936", "bourtoule2021sisa": "1912.03817", "lin2004rouge": "W04-1013",
}


def _bib_entries() -> dict[str, str]:
    text = (ROOT / "book" / "references.bib").read_text()
    return {m.group(1): m.group(2) for m in re.finditer(r"^@\w+\{([^,]+),(.*?)^\}", text, re.S | re.M)}


def test_every_reference_has_a_link_and_the_required_papers_are_there():
    entries = _bib_entries()
    missing = {key for key in REQUIRED_PAPERS if key not in entries}
    assert not missing, f"references.bib lacks {sorted(missing)}"
    wrong = [key for key, ident in REQUIRED_PAPERS.items() if ident not in entries[key]]
    assert not wrong, f"identifier not in the entry: {wrong}"
    unlinked = [key for key, body in entries.items() if not re.search(r"^\s*(url|doi)\s*=", body, re.M)]
    assert not unlinked, f"entries without url or doi: {unlinked}"


def test_every_reference_is_listed_with_its_link(site):
    text = (site / "references.html").read_text()
    for key, ident in REQUIRED_PAPERS.items():
        assert ident in text, f"{key} ({ident}) is not on the References page"


# Terms the chapters use (issue 11); a notebook links to one with {term}`truth ratio`.
GLOSSARY_TERMS = [
    "ROUGE-L recall", "ROUGE-L F1", "Truth ratio", "KS test", "p-value", "Teacher forcing",
    "Exact memorisation", "Extraction strength", "Log-ratio", "pi_ref", "DPO", "NPO", "SimNPO",
    "Pareto front", "Holdout set", "Over-forgetting", "Forget quality", "Model utility",
    "Forget set", "Retain set", "GradDiff", "Membership inference attack",
]


def test_glossary_defines_every_term_with_a_stable_anchor(site):
    text = (site / "glossary.html").read_text()
    anchors = set(re.findall(r'<dt id="(term-[^"]+)"', text))
    missing = [t for t in GLOSSARY_TERMS if "term-" + t.replace(" ", "-") not in anchors]
    assert not missing, f"glossary lacks {missing}"
    assert not [a for a in anchors if re.fullmatch(r"term-\d+", a)], "a term has a numbered, unstable anchor"


def test_glossary_terms_link_to_each_other(site):
    text = (site / "glossary.html").read_text()
    targets = set(re.findall(r'href="#(term-[^"]+)"', text))
    assert {"term-Teacher-forcing", "term-Log-ratio", "term-KS-test", "term-p-value"} <= targets


def test_landing_page_has_syllabus_times_and_citation(site):
    source = (ROOT / "book" / "intro.md").read_text()
    rows = re.findall(r"^\| (\d\d) \| ", source, re.M)
    assert rows[:15] == [f"{n:02d}" for n in range(15)], "the syllabus must list chapters 00-14 in order"
    html = (site / "intro.html").read_text()
    links = set(_parse(site / "intro.html").links)
    for nb in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        assert f"notebooks/{nb.stem}.html" in links, f"the syllabus does not link {nb.name}"
    for heading in ("Prerequisites", "How to run", "Time per chapter", "How to cite"):
        assert f">{heading}<" in html, f"landing page lacks the section {heading!r}"
    assert "arXiv:2402.08787" in html and "Nature Machine Intelligence" in html
    assert "`make lab`" in source and "colab-badge.svg" in html and "`UNLEARNLAB_PROFILE`" in source


def test_landing_page_times_are_the_measured_ones():
    """The per-chapter times repeat the README's measured runtimes, not new numbers."""
    readme = (ROOT / "README.md").read_text()
    ci = re.search(r"notebooks 00.\d\d under nbval \|[^|]*\| ([^|]*)\|", readme).group(1)
    ci_seconds = re.findall(r"\d+", ci)
    source = (ROOT / "book" / "intro.md").read_text()
    table = re.findall(r"^\| (\d\d) \| (\d+) s \| (\S+ min|not measured) \| not measured \|$", source, re.M)
    assert [row[1] for row in table] == ci_seconds
    laptop_rows = [row[2].replace(" min", "") for row in table if row[2] != "not measured"]
    if laptop_rows:  # laptop times, where the table gives them, are the README's too
        laptop = re.search(r"notebooks 00.\d\d, laptop profile \|[^|]*\| ([^|(]*)", readme).group(1)
        laptop_minutes = [m.strip().replace(" min", "") for m in re.split(r",| and ", laptop) if m.strip()]
        assert laptop_rows == laptop_minutes
    written = sorted(p.name[:2] for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert [row[0] for row in table] == written, "every written chapter has a row with its measured time"


def test_mathjax_fetch_is_idempotent_and_explains_a_missing_npm(tmp_path, monkeypatch):
    book.fetch_mathjax()          # present after the build; must not need npm again
    monkeypatch.setattr(book.shutil, "which", lambda name: None)
    assert (book.fetch_mathjax() / "tex-mml-chtml.js").exists()
    monkeypatch.setattr(book, "MATHJAX_DIR", tmp_path / "mathjax")
    with pytest.raises(SystemExit, match="npm is needed"):
        book.fetch_mathjax()


def test_badge_points_at_the_local_image_and_keeps_its_link(site):
    page = (site / "notebooks" / "00_setup_and_tour.html").read_text()
    assert "colab.research.google.com/assets" not in page
    assert 'src="../_static/colab-badge.svg"' in page
    assert "https://colab.research.google.com/github/unlearnlab/unlearnlab/blob/main/notebooks/00_setup_and_tour.ipynb" in page
    assert (site / "_static" / "colab-badge.svg").exists()


def test_glossary_anchors_computed_by_the_build_match_the_page(site):
    ids = set(re.findall(r'<dt id="(term-[^"]+)"', (site / "glossary.html").read_text()))
    assert set(book.glossary_terms()) == ids


def test_notebook_links_to_the_glossary_become_term_roles(tmp_path):
    cell = {"cell_type": "markdown", "metadata": {},
            "source": ["The [truth ratio](../book/glossary.md#term-Truth-ratio) and the\n",
                       "[log-ratio](../book/glossary.md#term-Log-ratio); [other](../README.md)."]}
    notebook = tmp_path / "99_example.ipynb"
    notebook.write_text(json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    book.link_glossary(notebook)
    source = "".join(json.loads(notebook.read_text())["cells"][0]["source"])
    assert source == ("The {term}`truth ratio <Truth ratio>` and the\n"
                      "{term}`log-ratio <Log-ratio>`; [other](../README.md).")
    cell["source"] = ["[x](../book/glossary.md#term-No-such-term)"]
    notebook.write_text(json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    with pytest.raises(SystemExit, match="term-No-such-term"):
        book.link_glossary(notebook)
