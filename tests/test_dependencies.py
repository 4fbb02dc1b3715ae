"""pyproject.toml, environment.yml and the README must name the same dependencies."""
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Lines of environment.yml that are tools or the package itself, not dependencies.
NOT_DEPENDENCIES = {"python", "pip", "-e ."}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ]", requirement.strip(), maxsplit=1)[0].lower()


def _pyproject_names() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {_name(r) for r in project["dependencies"]}
    for extra in ("dev", "offline", "quant"):
        names |= {_name(r) for r in project["optional-dependencies"][extra]}
    return names


def _environment_names() -> set[str]:
    names = set()
    for line in (ROOT / "environment.yml").read_text().splitlines():
        match = re.match(r"^\s*-\s+([^#]+?)\s*(#.*)?$", line)
        if match and match.group(1) not in ("pip:",) and not match.group(1).startswith("conda-forge"):
            names.add(_name(match.group(1)))
    return names - {_name(n) for n in NOT_DEPENDENCIES}


def test_environment_matches_pyproject():
    pyproject = _pyproject_names()
    environment = _environment_names()
    assert environment == pyproject, (
        f"only in pyproject: {sorted(pyproject - environment)}; "
        f"only in environment.yml: {sorted(environment - pyproject)}"
    )


def test_readme_lists_every_core_dependency():
    readme = (ROOT / "README.md").read_text().lower()
    missing = [n for n in _pyproject_names() if n not in readme]
    assert not missing, f"README does not mention: {missing}"


def test_every_environment_dependency_has_a_comment():
    for line in (ROOT / "environment.yml").read_text().splitlines():
        stripped = line.strip()
        if stripped.startswith("- ") and stripped not in ("- pip", "- pip:", "- conda-forge") \
                and not stripped.startswith("- python="):
            assert "#" in stripped, f"environment.yml: no comment on {stripped!r}"
