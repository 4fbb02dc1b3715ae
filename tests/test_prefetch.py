"""``unlearnlab prefetch``: the chapter table matches the notebooks, and a second run does nothing."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from unlearnlab import prefetch
from unlearnlab.prefetch import CHAPTER_NEEDS, RETRAINED_F10, RETRAINED_SEEDS, TARGET

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def code_of(notebook: Path) -> str:
    cells = json.loads(notebook.read_text())["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")


@pytest.mark.parametrize("notebook", sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")), ids=lambda p: p.stem)
def test_every_chapter_has_a_row_that_matches_what_it_loads(notebook):
    chapter = notebook.name[:2]
    assert chapter in CHAPTER_NEEDS, f"add chapter {chapter} to CHAPTER_NEEDS in unlearnlab/prefetch.py"
    needs, code = CHAPTER_NEEDS[chapter], code_of(notebook)
    assert any(m.role == "target" for m in needs.models) == bool(re.search(r"models\.target\(", code))
    assert any(m.role == "retrained" for m in needs.models) == bool(re.search(r"models\.(reference|retrained)\(", code))
    if re.search(r"seed=k\)", code):  # the chapter loads retrained seeds in a loop: all three are listed
        assert len({m.seed for m in needs.models if m.role == "retrained"}) >= 3
    assert needs.small_tier == ('models.load("smollm2-135m")' in code)
    for world in re.findall(r'worlds\.load\("(\w+)"', code):
        assert world in needs.worlds


def test_parse_chapters():
    assert prefetch.parse_chapters("0, 03") == ["00", "03"]
    assert prefetch.parse_chapters(None) == prefetch.parse_chapters("all") == sorted(CHAPTER_NEEDS)
    with pytest.raises(ValueError, match="no chapter 99"):
        prefetch.parse_chapters("99")


def test_human_bytes():
    assert [prefetch.human_bytes(n) for n in (512, 1536, 5 * 2**30)] == ["512 B", "1.5 KB", "5.0 GB"]


def test_needs_of_lists_each_model_once():
    needs = prefetch.needs_of(["00", "01", "03"])
    assert needs.models == (TARGET, *RETRAINED_SEEDS) and needs.worlds == ("authors",) and needs.small_tier
    assert RETRAINED_F10 == RETRAINED_SEEDS[0]


def test_prefetch_builds_once_then_reuses(tmp_path, monkeypatch):
    """The flow, with training faked: each model built once, reported as cached the second time."""
    from test_doctor import fake_entry

    monkeypatch.setenv("UNLEARNLAB_CACHE", str(tmp_path))
    built: list[str] = []

    def fake_build(need, profile):
        if prefetch.cached_model(need, profile) is None:
            built.append(need.label())
            fake_entry(need, profile)

    monkeypatch.setattr(prefetch, "build_world", lambda name, profile: None)
    monkeypatch.setattr(prefetch, "build_model", fake_build)
    monkeypatch.setattr(prefetch, "fetch_small_tier", lambda: "already installed")
    lines: list[str] = []
    first = prefetch.prefetch(["00", "03"], "ci", echo=lines.append)
    assert [s.status for s in first] == ["ok", "built", "built", "built", "built", "ok"]  # world, 4 models, small
    assert "done in" in lines[-1] and "holds" in lines[-1]
    second = prefetch.prefetch(["00", "03"], "ci", echo=lines.append)
    assert [s.status for s in second] == ["ok", "cached", "cached", "cached", "cached", "ok"] and len(built) == 4
    assert prefetch.missing_models(["03"], "ci") == {}


@pytest.mark.slow
def test_prefetch_for_real_then_doctor_finds_every_model(capsys):
    """Trains the ci target and three retrained seeds (reused from UNLEARNLAB_TEST_CACHE when set)."""
    from unlearnlab import doctor
    from unlearnlab.cli import main

    assert main(["prefetch", "--chapters", "01", "--no-small-tier"]) == 0
    assert main(["prefetch", "--chapters", "01", "--no-small-tier"]) == 0
    second = capsys.readouterr().out.split("prefetch for chapters")[-1]
    assert second.count(" cached ") == 4, second
    assert prefetch.missing_models(["01"], "ci") == {}
    check = doctor.check_models("ci")  # other chapters' models may or may not be cached by other tests
    assert check.status == doctor.OK or "01" not in check.found.split(":")[0], check.found
