"""Text output parameters (``Output[str]``, a Python component returning ``str``) on Kubeflow.

The contract (DESIGN §12): the process writes every output parameter as JSON, so a text value
``hello`` is the file ``"hello"``. KFP's launcher reads a ``STRING`` output parameter's file as
raw text (``backend/src/v2/metadata/converter.go``, ``TextToPbValue``: the whole file is the
value; numbers, booleans, lists and dicts are parsed), so the quotes and escapes would become
part of the value. KFP runs nothing of ours between the process and that read, so the step's
own container does it: its command becomes ``sh -c WRAPPER pipecast-text <k> <file> … --
<command>``. The wrapper runs the command (not ``exec``: it has work after it), stops with the
command's status if it failed, then rewrites each of the ``k`` files from the JSON string into
its text (``awk``, sharing :data:`._kfp_collected.JSON_STRING_AWK`'s decoder). A file that does
not hold a JSON string fails the task with a message naming it (locally, a value of the wrong
type fails the step too); a file the command did not write is left to KFP's own error. The
user's command follows ``--`` as separate arguments: the shell never reads it.

What the image needs: a POSIX ``sh`` with ``awk`` and ``mv``. A text value cannot hold U+0000
(neither can KFP's). The command runs as a child of the wrapper's shell, which passes on its
exit status but not signals sent to the shell itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._kfp_collected import JSON_STRING_AWK

if TYPE_CHECKING:
    from pipecast.dsl.spec import ComponentSpec

__all__ = ["WRAPPER", "text_command", "text_note", "text_outputs"]

# awk: the file's JSON string (surrounding whitespace allowed) as its text, no newline added.
# Exit 3: not exactly one JSON string (a quote or line break left unescaped inside, a broken
# escape, U+0000).
_AWK = (
    JSON_STRING_AWK
    + r"""{ s = s (NR > 1 ? "\n" : "") $0 }
END {
  sub(/^[ \t\r\n]+/, "", s); sub(/[ \t\r\n]+$/, "", s); n = length(s)
  if (n < 2 || substr(s, 1, 1) != "\"" || substr(s, n, 1) != "\"") exit 3
  body = substr(s, 2, n - 2); rest = body
  while ((b = index(rest, "\\")) > 0) {
    if (index(substr(rest, 1, b - 1), "\"") || index(substr(rest, 1, b - 1), "\n")) exit 3
    rest = substr(rest, b + 2)
  }
  if (index(rest, "\"") || index(rest, "\n")) exit 3
  nul = 0; bad = 0; out = unescape(body)
  if (nul || bad) exit 3
  printf "%s", out
}
"""
)

# $1 the number of text output files, then the files, "--", the user's command and arguments
WRAPPER = (
    """set -eu
k=$1; shift; files=
while [ "$k" -gt 0 ]; do
  files="$files$1
"; shift; k=$((k - 1))
done
shift
"$@"
printf '%s' "$files" | while IFS= read -r f; do
  [ -f "$f" ] || continue
  LC_ALL=C awk '"""
    + _AWK
    + """' "$f" > "$f.pipecast-text" || {
    echo "pipecast: output parameter file $f does not hold one JSON string (a str output" \\
      "is written as JSON, e.g. \\"hello\\")" >&2
    exit 1
  }
  mv "$f.pipecast-text" "$f"
done
"""
)


def text_outputs(comp: ComponentSpec) -> list[str]:
    """The component's text output parameters, in its order."""
    return [o.name for o in comp.outputs if o.kind == "parameter" and o.type == "str"]


def text_command(
    files: list[Any], command: list[Any], escape: Callable[[str], str]
) -> list[Any]:
    """The step's command: the wrapper, the output files (KFP's ``output_file`` placeholders),
    ``--``, then ``command``. ``escape`` spells text for Kubernetes' ``$(VAR)`` expansion."""
    return ["sh", "-c", escape(WRAPPER), "pipecast-text", str(len(files)), *files, "--", *command]


def text_note(step: str, names: list[str]) -> str:
    """The compile note for a step with text output parameters: what its image needs."""
    outputs = ", ".join(f"'{n}'" for n in names)
    return (
        f"note: step '{step}' writes text output parameters ({outputs}): on Kubeflow a "
        "POSIX-shell wrapper in its container turns the JSON string it writes into the raw text "
        "KFP reads, so its image needs sh, awk and mv"
    )
