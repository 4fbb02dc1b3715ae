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
    article = text[text.index('id="references"'):]
    first = re.search(r"<li>(.*?)</li>", article, re.S).group(1)
    assert "Rethinking Machine Unlearning for Large Language Models" in " ".join(first.split())
