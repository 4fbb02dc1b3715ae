"""The package's layers: data flows one way, and ``import unlearnlab`` is light.

Each module belongs to a layer (lowest first); a module may import its own
layer and the layers below it, never one above.  This is what lets a learner
read the package bottom-up, chapter by chapter, and what keeps a lower layer
(say, the metrics) from pulling in a higher one (say, plotting).
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "unlearnlab"

# layer number -> top-level modules or sub-packages of unlearnlab in it
LAYERS: dict[int, tuple[str, ...]] = {
    0: ("_version", "hub", "numerics", "devices", "config", "cache"),
    1: ("formats", "worlds", "public"),
    2: ("methods",),
    3: ("training",),
    4: ("models",),
    5: ("eval",),
    6: ("attacks", "localize"),
    7: ("notebook",),
    8: ("quickstart", "cli", "__main__", "perf", "doctor", "prefetch", "leaderboard"),
}
LAYER_OF = {name: level for level, names in LAYERS.items() for name in names}


def _top(module_path: Path) -> str:
    """The top-level unit of a file: ``eval/suite.py`` -> ``eval``, ``cache.py`` -> ``cache``."""
    parts = module_path.relative_to(PACKAGE).with_suffix("").parts
    return parts[0]


def _imported_units(path: Path) -> set[str]:
    """Top-level units of unlearnlab that a file imports (at module level or inside functions)."""
    tree = ast.parse(path.read_text())
    package_parts = path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1]
    units = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(package_parts[: len(package_parts) - node.level + 1])
                target = base + (node.module.split(".") if node.module else [])
            else:
                target = (node.module or "").split(".")
            if target[:1] != ["unlearnlab"]:
                continue
            if len(target) > 1:
                units.add(target[1])
            else:  # from unlearnlab import x / from . import x
                units.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "unlearnlab" and len(parts) > 1:
                    units.add(parts[1])
    return units


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" or p.parent != PACKAGE)


def test_every_module_has_a_layer():
    unknown = sorted({_top(p) for p in _modules()} - set(LAYER_OF))
    assert not unknown, f"add these modules to LAYERS in tests/test_layers.py: {unknown}"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_imports_a_higher_layer(path):
    own = LAYER_OF[_top(path)]
    upward = {unit: LAYER_OF.get(unit) for unit in _imported_units(path)
              if unit in LAYER_OF and LAYER_OF[unit] > own}
    assert not upward, f"{path.relative_to(PACKAGE)} (layer {own}) imports higher layers: {upward}"


def test_import_unlearnlab_is_light_and_has_no_side_effects():
    code = ("import sys, random; state = random.getstate(); import unlearnlab as ul; "
            "heavy = [m for m in ('torch', 'transformers', 'matplotlib', 'datasets') if m in sys.modules]; "
            "assert not heavy, heavy; assert random.getstate() == state")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=PACKAGE.parent)
    # the lazy attributes resolve; checked here rather than in the fresh process, where resolving them
    # imports torch and transformers (several seconds) to learn nothing the light import did not already show
    import unlearnlab as ul

    assert callable(ul.unlearn) and callable(ul.evaluate)
    assert ul.worlds.load and ul.models.load and ul.methods.get_method


def test_import_quiets_only_the_optional_backends_loggers():
    """torchao's import-time "Failed to load" lines would otherwise open every chapter's output."""
    import logging

    import unlearnlab  # noqa: F401

    assert logging.getLogger("torchao").level == logging.ERROR
    assert logging.getLogger("torch.utils._pytree").level == logging.ERROR
    assert logging.getLogger("unlearnlab").level != logging.ERROR
