"""``dsl.Collected`` of an artifact on Kubeflow (DESIGN §12): one folder, ``0/``, ``1/``, …

The contract (the local runner is the reference): a step reading ``dsl.Collected(
task.outputs["x"])`` of an artifact output gets one folder with a subfolder per loop iteration,
in iteration order. KFP's own ``dsl.Collected`` feeds the step a *list* of artifacts (the
component input is ``Input[List[Dataset]]``, ``isArtifactList``), and KFP's launcher downloads
every artifact of the list to its local path (``launcher_v2.go``, ``downloadArtifacts``:
``s3://b/k`` → ``/s3/b/k``, ``gs://`` → ``/gcs/``, ``minio://`` → ``/minio/``,
``LocalPathForURI``). But it gives a container no placeholder for the list: its
``{{$.inputs.artifacts['x'].path}}`` is the *first* artifact only (``getPlaceholders``). What
it does give is the whole executor input as JSON (``{{$}}``), whose
``inputs.artifacts.<x>.artifacts`` lists the URIs in the driver's order.

So the reader's own image runs a small POSIX-shell prelude in front of its command
(``sh -c PRELUDE pipecast-collect {{$}} <k> <input> <view> … -- <command>``), as
:mod:`._kfp_shards` does for a shard: for each collected input, ``awk`` reads that input's URIs
out of the executor input (a JSON tokenizer, not a pattern match: only
``inputs.artifacts.<input>.artifacts[i].uri`` counts, whatever the other inputs or the metadata
hold), maps each to the launcher's local path, and builds ``/tmp/pipecast-collected/<input>/<i>/``:
real folders, with each file a symbolic link to the downloaded one (no copy, no disk; the
launcher's downloads are this pod's own, so the reader cannot change what the loop wrote). An
iteration that wrote nothing is an empty ``<i>/``, as locally. Then it ``exec``\\ s the user's
command, which follows ``--`` as separate arguments (never read by the shell: literals stay
literal) and whose path for that input now names the folder.

Order: KFP's driver builds the list by a breadth-first walk over the loop's iteration DAGs
``0 … n-1`` (``backend/src/v2/driver/resolve.go``, ``CollectInputs``), so the list is in
iteration order; the artifacts carry no iteration index to sort by (their URIs hold random
ids), so the prelude keeps the list's order.

What the image needs: a POSIX ``sh`` with ``awk``, ``find``, ``mkdir`` and ``ln`` (busybox or
coreutils + any awk; a distroless image cannot read collected artifacts on Kubeflow). Limits: a
file name holding a line break; an artifact URI of another scheme (``oci://``, a KFP workspace
artifact: pipecast's steps write neither) fails the task with a message; the executor input is
one argument, and Linux caps one argument at 128 KiB, a few hundred artifacts (kfp's own Python
components, which read ``{{$}}`` the same way, share the cap). ``PIPECAST_MOUNT_ROOT`` moves
the launcher's mount points, for tests that run the prelude on real files.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from pipecast.dsl.spec import CollectedRef, Placeholder
from pipecast.errors import Diagnostic

if TYPE_CHECKING:
    from pipecast.dsl.spec import ComponentSpec, PipelineSpec, StepSpec

__all__ = [
    "EXECUTOR_INPUT",
    "JSON_STRING_AWK",
    "PRELUDE",
    "VIEW_ROOT",
    "collected_command",
    "collected_inputs",
    "collected_note",
    "diagnostics",
    "view",
]

VIEW_ROOT = "/tmp/pipecast-collected"
EXECUTOR_INPUT = "{{$}}"  # kfp's ExecutorInputPlaceholder: the launcher writes the JSON there

# awk functions: ``unescape(r)`` is the text of a JSON string's inside ``r`` as bytes (UTF-8 for
# ``\uXXXX``, surrogate pairs too); it sets ``ctl`` when the text holds a control character,
# ``nul`` for U+0000 (no awk string holds it) and ``bad`` for an escape JSON does not have.
JSON_STRING_AWK = r"""
function hex4(h,   c, j) {
  h = tolower(h); c = 0
  for (j = 1; j <= 4; j++) c = c * 16 + index("0123456789abcdef", substr(h, j, 1)) - 1
  return c
}
function utf8(c) {
  if (c < 128) return byte[c]
  if (c < 2048) return byte[192 + int(c / 64)] byte[128 + c % 64]
  if (c < 65536) return byte[224 + int(c / 4096)] byte[128 + int(c / 64) % 64] byte[128 + c % 64]
  return byte[240 + int(c / 262144)] byte[128 + int(c / 4096) % 64] \
    byte[128 + int(c / 64) % 64] byte[128 + c % 64]
}
function unescape(r,   out, b, e, c, lo) {
  out = ""
  while ((b = index(r, "\\")) > 0) {
    out = out substr(r, 1, b - 1); e = substr(r, b + 1, 1)
    if (e == "u") {
      c = hex4(substr(r, b + 2, 4)); r = substr(r, b + 6)
      if (c >= 55296 && c < 56320 && substr(r, 1, 2) == "\\u") {
        lo = hex4(substr(r, 3, 4))
        if (lo >= 56320 && lo < 57344) {
          c = 65536 + (c - 55296) * 1024 + lo - 56320; r = substr(r, 7)
        }
      }
      if (c == 0) nul = 1; else out = out utf8(c)
      if (c < 32) ctl = 1
    } else {
      c = index("btnfr", e)
      if (e == "\"" || e == "\\" || e == "/") out = out e
      else if (e != "" && c > 0) { out = out byte[substr("0809101213", 2 * c - 1, 2) + 0]; ctl = 1 }
      else bad = 1
      r = substr(r, b + 2)
    }
  }
  return out r
}
BEGIN { for (i = 1; i < 256; i++) byte[i] = sprintf("%c", i) }
"""

# awk: the URIs of input `want`'s artifact list, one a line, in the list's order. The JSON is
# split at its quotes; the pieces outside strings are structure ({ } [ ] , :), whose characters
# keep a stack of (container kind, current key, array index); a piece ending in an odd run of
# backslashes continues the same string. Exit 3: a URI with a control character (a line break
# would split it) or a broken escape.
_AWK = (
    JSON_STRING_AWK
    + r"""{ s = s $0 " " }
END {
  n = split(s, p, "\""); d = 0; k = 1
  while (k <= n) {
    t = p[k]; m = length(t)
    for (j = 1; j <= m; j++) {
      c = substr(t, j, 1)
      if (c == "{" || c == "[") { d++; kind[d] = c; key[d] = ""; idx[d] = 0; iskey[d] = (c == "{") }
      else if (c == "}" || c == "]") d--
      else if (c == ",") { if (kind[d] == "[") idx[d]++; else iskey[d] = 1 }
      else if (c == ":") iskey[d] = 0
    }
    if (++k > n) break
    raw = p[k]
    while (match(raw, /\\+$/) && RLENGTH % 2 == 1 && k < n) raw = raw "\"" p[++k]
    k++; ctl = 0; bad = 0; str = unescape(raw)
    if (kind[d] == "{" && iskey[d]) { key[d] = str; continue }
    if (d == 6 && key[6] == "uri" && kind[5] == "[" && key[4] == "artifacts" && key[3] == want \
        && key[2] == "artifacts" && key[1] == "inputs") {
      if (ctl || bad) exit 3
      print str
    }
  }
}
"""
)

# $1 the executor input (JSON), $2 the number of collected inputs, then (input, view) pairs,
# "--", the user's command and arguments
PRELUDE = (
    """set -eu
json=$1; k=$2; shift 2; root=${PIPECAST_MOUNT_ROOT:-}
while [ "$k" -gt 0 ]; do
  name=$1; view=$2; shift 2; k=$((k - 1))
  rm -rf "$view"; mkdir -p "$view"
  printf '%s\\n' "$json" | LC_ALL=C awk -v want="$name" '"""
    + _AWK
    + """' > "$view.uris" || {
    echo "pipecast: cannot read the artifacts of input '$name' from KFP's executor input" >&2
    exit 1
  }
  c=0
  while IFS= read -r uri; do
    case $uri in
      s3://*) src=$root/s3/${uri#s3://} ;;
      gs://*) src=$root/gcs/${uri#gs://} ;;
      minio://*) src=$root/minio/${uri#minio://} ;;
      *) echo "pipecast: cannot open collected artifact $uri of input '$name'" >&2; exit 1 ;;
    esac
    dst=$view/$c
    mkdir -p "$dst"
    if [ -d "$src" ]; then
      (cd "$src" && find . -type d) | while IFS= read -r f; do mkdir -p "$dst/$f"; done
      (cd "$src" && find . ! -type d) | while IFS= read -r f; do
        f=${f#./}; ln -s "$src/$f" "$dst/$f"
      done
    elif [ -e "$src" ]; then
      ln -s "$src" "$dst/${src##*/}"
    fi
    c=$((c + 1))
  done < "$view.uris"
done
shift
exec "$@"
"""
)


def view(name: str) -> str:
    """Where the step finds collected input ``name`` (an identifier: nothing to escape)."""
    return f"{VIEW_ROOT}/{name}"


def collected_inputs(comp: ComponentSpec, step: StepSpec) -> list[str]:
    """The step's artifact inputs bound to ``dsl.Collected``, in the component's order."""
    bound = dict(step.arguments)
    return [
        i.name
        for i in comp.inputs
        if i.kind == "artifact" and isinstance(bound.get(i.name), CollectedRef)
    ]


def collected_command(
    names: list[str], command: list[Any], escape: Callable[[str], str]
) -> list[Any]:
    """The step's command: the prelude, its arguments, ``--``, then ``command``. ``escape``
    spells text for Kubernetes' ``$(VAR)`` expansion (the prelude holds ``$((``)."""
    pairs = [part for name in names for part in (name, view(name))]
    return [
        "sh",
        "-c",
        escape(PRELUDE),
        "pipecast-collect",
        EXECUTOR_INPUT,
        str(len(names)),
        *pairs,
        "--",
        *command,
    ]


def collected_note(step: str, names: list[str]) -> str:
    """The compile note for a step reading collected artifacts: what its image needs."""
    inputs = ", ".join(f"'{n}'" for n in names)
    return (
        f"note: step '{step}' reads dsl.Collected artifacts ({inputs}): on Kubeflow a POSIX-shell "
        "prelude in its container builds each folder (0/, 1/, … linked to the downloaded "
        "artifacts, in the order KFP lists the iterations), so its image needs sh, awk, find, "
        "mkdir and ln"
    )


def diagnostics(spec: PipelineSpec) -> Iterator[Diagnostic]:
    """PC008 for what KFP cannot do with a list of artifacts: hand it into a group the loop is
    not in (a ``dsl.If``, another ``ParallelFor``, an ``ExitHandler``, the ``ParallelFor`` of a
    scaled-out step's shards: kfp's compiler fails on it), and give it one URI."""
    for step in spec.steps:
        comp = spec.component(step.component)
        names = collected_inputs(comp, step)
        if names:
            yield from _group_problems(spec, step, names)
            yield from _uri_problems(step, comp, names)


def _group_problems(spec: PipelineSpec, step: StepSpec, names: list[str]) -> Iterator[Diagnostic]:
    around = [g.id for g in spec.groups_of(step)]
    for name in names:
        ref = step.argument(name)
        assert isinstance(ref, CollectedRef)
        try:
            producer = [g.id for g in spec.groups_of(spec.step(ref.step))]
        except KeyError:  # an unknown step: reported by the reference checks
            continue
        inner = [g for g in around if g not in producer]
        if not inner and step.instances == 1:
            continue
        where = (
            f"inside '{inner[0]}', a group the loop of '{ref.step}' is not in"
            if inner
            else "in a scaled-out step (the ParallelFor of its shards)"
        )
        yield Diagnostic(
            "PC008",
            f"step '{step.id}': input '{name}' collects artifacts {where}: not expressible on "
            "kubeflow (kfp cannot pass a list of artifacts into a group)",
            step.location,
            "read the collected folder in a step next to the loop (outside any dsl.If, "
            "ParallelFor or ExitHandler the loop is not in, and not scaled out), e.g. one that "
            "copies it into one artifact, or compile for a target that supports it "
            "(`pipecast run --local` does)",
            step=step.id,
        )


def _uri_problems(step: StepSpec, comp: ComponentSpec, names: list[str]) -> Iterator[Diagnostic]:
    """The URI of a collected artifact: KFP hands the step a list of artifacts, which has no
    one URI (the prelude gives it a local folder, read by path)."""
    used = sorted(
        {
            part.name
            for arg in comp.args
            for part in arg
            if isinstance(part, Placeholder) and part.kind == "inputUri" and part.name in names
        }
    )
    for name in used:
        yield Diagnostic(
            "PC008",
            f"step '{step.id}': the URI of collected artifact input '{name}' is not "
            "expressible on kubeflow: KFP hands the step a list of artifacts, with no one "
            "URI for all of them",
            step.location,
            "read the folder by its path (dsl.InputPath / Input[...]) instead, or compile "
            "for a target that supports it (`pipecast run --local` does)",
            step=step.id,
        )
