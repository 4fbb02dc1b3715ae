"""``make slides``: every chapter becomes a reveal.js deck that needs no network."""
from __future__ import annotations

import copy
import io
import re
import sys
import tarfile
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "book"))
import slides  # noqa: E402

CHAPTERS = slides.chapters()


@pytest.fixture(scope="module")
def decks(tmp_path_factory) -> dict[str, str]:
    """Every chapter's deck, built once (without fetching the libraries: no network in tests)."""
    out = tmp_path_factory.mktemp("slides")
    built = slides.build(CHAPTERS, out=out, libraries=False)
    return {deck.name.split(".")[0]: deck.read_text(encoding="utf-8") for deck in built}


def test_each_chapter_produces_a_deck(decks):
    assert CHAPTERS and set(decks) == {nb.stem for nb in CHAPTERS}


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda p: p.stem)
def test_deck_is_reveal_with_the_chapter_title(decks, notebook):
    html = decks[notebook.stem]
    title = slides.chapter_title(nbformat.read(notebook, as_version=4))
    assert f"<title>{title.replace('&', '&amp;')} slides</title>" in html
    assert 'class="reveal"' in html and "Reveal.initialize" in html
    assert html.count("<section") >= 4, "a deck has several slides"


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda p: p.stem)
def test_deck_loads_no_script_or_stylesheet_from_the_network(decks, notebook):
    html = decks[notebook.stem]
    tags = re.findall(r"<(?:script|link)\b[^>]*>", html)
    assert tags, "the deck loads reveal.js"
    online = [tag for tag in tags if re.search(r"(src|href)=[\"']?(https?:)?//", tag)]
    assert not online, online
    assert "require(" in html and '"lib/reveal.js/dist/reveal.js"' in html
    assert "unpkg.com" not in html and "cdnjs" not in html and "colab-badge.svg" not in html


def test_slide_types_follow_headings_and_leave_the_notebook_alone():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("<!-- colab-badge --><a href='x'>badge</a>\n# 07 · A chapter\n\nGoals."),
        nbformat.v4.new_code_cell("# colab-install: on Colab, install\nimport unlearnlab"),
        nbformat.v4.new_markdown_cell("## Part one\nText.\n### Detail\nMore.\n## Part two"),
        nbformat.v4.new_code_cell("x = 1"),
        nbformat.v4.new_code_cell("x", outputs=[nbformat.v4.new_output("execute_result", {"text/plain": "1"},
                                                                        execution_count=1)]),
        nbformat.v4.new_markdown_cell("## Checks"),
        nbformat.v4.new_code_cell("assert x == 1"),
    ]
    before = nbformat.writes(nb)
    deck = slides.as_slides(nb)
    kinds = [(c.cell_type, c.metadata["slideshow"]["slide_type"]) for c in deck.cells]
    assert kinds == [("markdown", "slide"), ("code", "skip"), ("markdown", "slide"), ("markdown", "subslide"),
                     ("markdown", "slide"), ("code", "-"), ("code", "fragment"), ("markdown", "skip"),
                     ("code", "skip")]
    assert "badge" not in deck.cells[0].source and deck.metadata["title"] == "07 · A chapter"
    assert nbformat.writes(nb) == before, "the notebook itself is not changed"


def test_libraries_are_fetched_once_with_only_the_parts_a_deck_uses(tmp_path, monkeypatch):
    """npm is faked: it 'packs' a small archive; a second build does not call it again."""
    calls = []

    def fake_npm(command, check, capture_output):
        calls.append(command[2])
        archive = Path(command[-1]) / "pkg.tgz"
        with tarfile.open(archive, "w:gz") as tar:
            for name in ("package/dist/reveal.js", "package/plugin/notes/notes.js", "package/test/big.js",
                         "package/require.js", "package/dist/jquery.min.js", "package/MathJax.js"):
                info = tarfile.TarInfo(name)
                info.size = 2
                tar.addfile(info, io.BytesIO(b"//"))

    monkeypatch.setattr(slides.shutil, "which", lambda name: "/usr/bin/npm")
    monkeypatch.setattr(slides.subprocess, "run", fake_npm)
    lib = slides.fetch_libraries(tmp_path)
    assert (lib / "reveal.js/dist/reveal.js").exists() and (lib / "reveal.js/plugin/notes/notes.js").exists()
    assert not (lib / "reveal.js/test").exists(), "only the listed parts are unpacked"
    assert (lib / "mathjax/MathJax.js").exists() and (lib / "requirejs/require.js").exists()
    slides.fetch_libraries(tmp_path)
    assert len(calls) == len(slides.LIBRARIES), "a second build fetches nothing"


def test_without_npm_the_error_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(slides.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="install Node.js"):
        slides.fetch_libraries(tmp_path)


def test_section_timings_come_from_the_stored_execution_records():
    nb = nbformat.v4.new_notebook()
    code = nbformat.v4.new_code_cell("x = 1")
    code.metadata["execution"] = {"iopub.execute_input": "2026-11-25T17:00:00.000Z",
                                  "shell.execute_reply": "2026-11-25T17:00:02.500Z"}
    nb.cells = [nbformat.v4.new_markdown_cell("# 09 · T"), nbformat.v4.new_code_cell("setup"),
                nbformat.v4.new_markdown_cell("## Part\n### Detail"), code, code]
    assert slides.section_timings(nb) == [("09 · T", 0.0), ("Part", 5.0)]


def test_timings_read_executed_copies_from_a_folder(tmp_path, capsys):
    nb = nbformat.v4.new_notebook()
    code = nbformat.v4.new_code_cell("x = 1")
    code.metadata["execution"] = {"iopub.execute_input": "2026-11-25T17:00:00.000Z",
                                  "shell.execute_reply": "2026-11-25T17:01:30.000Z"}
    nb.cells = [nbformat.v4.new_markdown_cell("# 03 · T\n## Sweep"), code]
    nbformat.write(nb, tmp_path / "03_t.ipynb")
    slides.print_timings(tmp_path)
    assert "| 03 | Sweep | 90.0 |" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="no chapter notebooks"):
        slides.print_timings(tmp_path / "empty")


def test_timings_of_two_folders_sit_side_by_side(tmp_path, capsys):
    """The instructor table's ci and laptop columns: a section one folder lacks shows a dash."""
    def executed(folder, seconds, extra_section=False):
        folder.mkdir()
        code = nbformat.v4.new_code_cell("x = 1")
        code.metadata["execution"] = {"iopub.execute_input": "2026-11-25T17:00:00.000Z",
                                      "shell.execute_reply": f"2026-11-25T17:00:{seconds:02d}.000Z"}
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_markdown_cell("# 03 · T\n## Sweep"), code]
        if extra_section:
            nb.cells += [nbformat.v4.new_markdown_cell("## New"), copy.deepcopy(code)]
            nb.cells[-1].id = "second-code-cell"
        nbformat.write(nb, folder / "03_t.ipynb")
    executed(tmp_path / "ci", 10)
    executed(tmp_path / "laptop", 40, extra_section=True)
    slides.print_timings(tmp_path / "ci", tmp_path / "laptop")
    out = capsys.readouterr().out
    assert "| chapter | section | ci (s) | laptop (s) |" in out
    assert "| 03 | Sweep | 10.0 | 40.0 |" in out and "| 03 | New | — | 40.0 |" in out
