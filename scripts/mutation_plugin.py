"""pytest plugin for mutation runs only (``scripts/mutation.sh`` loads it with ``-p``).

mutmut calls every mutated function through a trampoline defined in mutmut's own package. The
DSL reports errors at the user's ``file:line`` by walking the stack past pipecast's own frames
(``pipecast.dsl._location``); a trampoline frame is neither, so without this plugin every
location test fails under mutmut. Treating mutmut's frames as pipecast's own restores exactly the
behaviour a user sees.
"""

from __future__ import annotations

import os
from typing import Any


def pytest_configure(config: Any) -> None:
    import mutmut

    from pipecast.dsl import _location

    mutmut_dir = os.path.dirname(os.path.abspath(mutmut.__file__)) + os.sep
    if mutmut_dir not in _location._OWN_DIRS:
        _location._OWN_DIRS = (*_location._OWN_DIRS, mutmut_dir)


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    """``MUTATION_DESELECT`` (test ids or prefixes, space-separated) leaves tests out, in every
    mode: e.g. new tests that need a fix the staged code of a --survivors re-run predates. Here
    rather than in the stage's selection, because mutmut resets a stage whose selection changes
    (this file is no part of what it compares)."""
    dropped = tuple(os.environ.get("MUTATION_DESELECT", "").split())
    if not dropped:
        return
    kept = [item for item in items if not item.nodeid.startswith(dropped)]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[item for item in items if item not in kept])
        items[:] = kept
