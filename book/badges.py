"""Write the "Open in Colab" badge and the Colab install line into every notebook.

The repository URL lives in one place, ``[project.urls]`` of pyproject.toml; run
``python book/badges.py`` (or ``make badges``) after changing it.  With
``--check`` the script only reports notebooks whose header is out of date
(the test suite runs it that way).
"""
from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BADGE_MARK = "<!-- colab-badge -->"
INSTALL_MARK = "# colab-install"


def urls() -> tuple[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return project["urls"]["Repository"], project["urls"]["Colab"]


def badge_line(notebook: Path) -> str:
    _, colab = urls()
    link = f"{colab}/notebooks/{notebook.name}"
    return (f'{BADGE_MARK}<a href="{link}" target="_parent"><img '
            'src="https://colab.research.google.com/assets/colab-badge.svg" alt="Open In Colab"/></a>')


def install_lines() -> list[str]:
    repo, _ = urls()
    return [
        f"{INSTALL_MARK}: on Colab, install unlearnlab (and its offline worlds) from the repository\n",
        "import sys\n",
        'if "google.colab" in sys.modules:\n',
        f'    !pip -q install "unlearnlab @ git+{repo}"\n',
    ]


def update(notebook: Path, check: bool = False) -> bool:
    """Refresh one notebook's header; return True when it was (or, with check, would be) changed."""
    nb = json.loads(notebook.read_text())
    cells = nb["cells"]
    changed = False
    first = cells[0]["source"] if isinstance(cells[0]["source"], list) else cells[0]["source"].splitlines(True)
    new_first = [badge_line(notebook) + "\n"] + [line for line in first if BADGE_MARK not in line]
    if new_first != first:
        cells[0]["source"], changed = new_first, True
    code = next(c for c in cells if c["cell_type"] == "code")
    source = code["source"] if isinstance(code["source"], list) else code["source"].splitlines(True)
    if source[: len(install_lines())] != install_lines():
        rest = source[len(install_lines()):] if source and source[0].startswith(INSTALL_MARK) else source
        code["source"], changed = install_lines() + rest, True
    if changed and not check:
        notebook.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    return changed


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = [p.name for p in sorted((ROOT / "notebooks").glob("*.ipynb")) if update(p, check)]
    if check and stale:
        print("out-of-date Colab headers (run `python book/badges.py`):", ", ".join(stale))
        return 1
    print(("would update: " if check else "updated: ") + (", ".join(stale) or "nothing"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
