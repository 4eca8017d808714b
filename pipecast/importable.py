"""The module name a Python file is importable as, however the user spelled the path to it.

A ``@dsl.component`` step runs in its image as ``python -m pipecast.runtime module:function``, so
the module name is part of the compiled document: it must not depend on how the pipeline was
named on the command line (``pkg/steps.py`` or ``pkg.steps:pipe``) or on the working directory.
The rule is the one pytest uses for test files: the file's stem, prefixed by every enclosing
folder that is a package (has an ``__init__.py``); the folder above the outermost package is the
one to put on ``sys.path``.
"""

from __future__ import annotations

import keyword
from pathlib import Path

__all__ = ["module_name_for"]


def module_name_for(path: str | Path) -> tuple[str, Path] | None:
    """``(dotted name, import root)`` for a ``.py`` file, or None when some part of the name is
    not a Python identifier (``my-steps.py``, ``2024/steps.py`` inside a package): such a file can
    be run as a script but never imported, so no image can run a component defined in it."""
    file = Path(path).resolve()
    parts = [] if file.name == "__init__.py" else [file.stem]
    root = file.parent
    while (root / "__init__.py").is_file():
        parts.insert(0, root.name)
        root = root.parent
    if not parts or not all(p.isidentifier() and not keyword.iskeyword(p) for p in parts):
        return None
    return ".".join(parts), root
