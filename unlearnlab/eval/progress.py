"""Progress bars for the evaluation passes that can take minutes (scoring, generation, GradNorm).

Plain ``tqdm`` on stderr, removed when done (``leave=False``), and by default
shown only when stderr is a terminal: a notebook or a CI log gets no bar and no
leftover widget in its saved output.  ``progress=True`` forces a bar,
``progress=False`` hides it.
"""
from __future__ import annotations

import sys

from tqdm import tqdm


def bar(total: int, description: str, progress: bool | None = None) -> tqdm:
    """A bar over ``total`` steps; ``progress=None`` shows it only on a terminal."""
    return tqdm(total=total, desc=description, leave=False, file=sys.stderr,
                disable=None if progress is None else not progress)
