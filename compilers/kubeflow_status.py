"""``dsl.RUN_STATUS`` on Kubeflow: KFP's final status, handed to the exit task in pipecast's
shape where the task's own Python can do it.

KFP gives an exit task its ``PipelineTaskFinalStatus`` as JSON: ``{"state": "SUCCEEDED" |
"FAILED" | "CANCELLED", "error": {"code", "message"}, "pipelineJobResourceName",
"pipelineTaskName"}``. pipecast's contract (DESIGN §12) is ``{"state": "SUCCEEDED" | "FAILED",
"failed_step", "error"}``. KFP runs no code of ours between the two, so the conversion runs in
the exit task's container, before its program: when the component's command starts a Python
interpreter on a module, a script or ``-c`` code (``python -m pkg.mod``, ``python3 run.py``,
every ``@dsl.component``), the command becomes ``python -c <ADAPTER> <KFP status> <the original
command after the interpreter>``. The adapter rewrites every occurrence of KFP's status text in
the arguments into pipecast's JSON (the same keys, sorted, as the local runner writes) and runs
the original program in the same interpreter, so the program sees the contract's value.

What still differs from the local runner: ``failed_step`` is always ``null`` (KFP does not say
which task failed), ``error`` is KFP's error message, and a cancelled run is ``FAILED``. Where
the command is not a Python interpreter the task gets KFP's own JSON; both cases are said in a
compile note.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

__all__ = ["ADAPTER", "adapted_command", "status_note"]

_PYTHON = re.compile(r"python(\d+(\.\d+)*)?")

# runs as `python -c ADAPTER <kfp-status> <-m module | -c code | script.py> [args...]`; standard
# library only (the image is the user's)
ADAPTER = (
    "import json, runpy, sys\n"
    "raw, rest = sys.argv[1], sys.argv[2:]\n"
    "try:\n"
    "    kfp = json.loads(raw)\n"
    "    ok = kfp.get('state') == 'SUCCEEDED'\n"
    "    error = (kfp.get('error') or {}).get('message') or kfp.get('state')\n"
    "    ours = json.dumps({'error': None if ok else error, 'failed_step': None,\n"
    "                       'state': 'SUCCEEDED' if ok else 'FAILED'}, sort_keys=True)\n"
    "except (ValueError, AttributeError):\n"
    "    ours = raw\n"
    "if raw:\n"
    "    rest = [arg.replace(raw, ours) for arg in rest]\n"
    "if rest[0] == '-m':\n"
    "    sys.argv = rest[1:]\n"
    "    runpy.run_module(rest[1], run_name='__main__', alter_sys=True)\n"
    "elif rest[0] == '-c':\n"
    "    sys.argv = ['-c', *rest[2:]]\n"
    "    exec(compile(rest[1], '<string>', 'exec'), {'__name__': '__main__'})\n"
    "else:\n"
    "    sys.argv = rest\n"
    "    runpy.run_path(rest[0], run_name='__main__')\n"
)


def adapted_command(command: Sequence[str], status_placeholder: str) -> list[str] | None:
    """The exit task's command with the adapter in front, or None when the command does not
    start a Python interpreter on ``-m module``, ``-c code`` or a ``.py`` script."""
    if len(command) < 2 or not _PYTHON.fullmatch(os.path.basename(command[0])):
        return None
    mode = command[1]
    if mode in ("-m", "-c"):
        if len(command) < 3:
            return None
    elif not mode.endswith(".py"):
        return None
    return [command[0], "-c", ADAPTER, status_placeholder, *command[1:]]


def status_note(step: str, adapted: bool) -> str:
    """The compile note for an exit task reading ``dsl.RUN_STATUS``."""
    if adapted:
        return (
            f"note: step '{step}' reads dsl.RUN_STATUS: on Kubeflow a small adapter in its "
            'container turns KFP\'s final status into {"state", "failed_step", "error"}; '
            "failed_step is always null there (KFP does not name the failed task), error is "
            "KFP's message, and a cancelled run is FAILED"
        )
    return (
        f"note: step '{step}' reads dsl.RUN_STATUS, and its command is not a Python "
        "interpreter that an adapter could run in front of: on Kubeflow it receives KFP's final "
        'status as JSON, {"state", "error": {"code", "message"}, "pipelineJobResourceName", '
        '"pipelineTaskName"}, not {"state", "failed_step", "error"} (state may be CANCELLED)'
    )
