"""Scale-out of one step on Kubeflow (DESIGN §13): a ``ParallelFor`` over shard indices.

KFP has no sharded input, so pipecast builds one from what it has, without touching the user's
container:

- **The shards.** A scaled-out step becomes a ``ParallelFor`` over ``[0, …, count-1]`` with
  ``parallelism`` = count. Each iteration runs the step's own image with a small POSIX-shell
  prelude in front of its command (``sh -c PRELUDE … -- <command>``): for every sharded input
  it lists the input folder's files, sorts their keys by bytes (``LC_ALL=C sort``), and links
  key ``i`` into a folder of its own when ``i mod count`` is the iteration's index, the split
  rule of the local runner; then it ``exec``\\ s the user's command, whose input path for that
  input now names the shard's folder (``/tmp/pipecast-shard/<input>``). The user's command and
  arguments follow ``--`` as separate arguments, so the shell never reads them: they stay
  literal. Symlinks rather than copies: a shard costs no disk and no time.
- **The merge.** Each iteration writes its own output artifacts. One more task per output,
  ``<step>-merged-<output>``, collects them (``dsl.Collected``) and copies every shard's files
  into one output artifact, failing when two shards wrote the same file (the clash check the
  local runner has too). KFP gives a container no path for a list of artifacts, so the merge
  reads the parts' URIs from its executor input (``{{$}}``) and opens them where KFP's launcher
  puts artifacts (``s3://`` under ``/s3/``, ``gs://`` under ``/gcs/``, ``minio://`` under
  ``/minio/``: the kfp SDK's own mapping). Downstream steps read the merged outputs.

Why a prelude and not an init step: a separate step could not hand a folder view to another
pod without copying every object; the prelude runs in the pod that reads the shard. The cost:
the image needs a POSIX ``sh`` with ``find``, ``sort``, ``ln`` and ``cp`` (any image with
busybox or coreutils; a distroless image cannot be scaled out on Kubeflow). File names holding a
line break are not supported by the prelude.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pipecast.dsl.spec import ImporterRef
from pipecast.errors import Diagnostic

if TYPE_CHECKING:
    from pipecast.dsl.spec import PipelineSpec

__all__ = [
    "MERGE",
    "PRELUDE",
    "SHARD_INDEX",
    "VIEW_ROOT",
    "manifest_diagnostics",
    "merged_tasks",
    "shard_command",
    "view",
]

# the loop item: which shard an iteration is (a parameter input of the shard's component)
SHARD_INDEX = "pipecast_shard"
VIEW_ROOT = "/tmp/pipecast-shard"

# $1 shard index, $2 count, $3 number of sharded inputs, then (source, view) pairs, "--", the
# user's command and arguments
PRELUDE = """set -eu
i=$1; n=$2; k=$3; shift 3
while [ "$k" -gt 0 ]; do
  src=$1; view=$2; shift 2; k=$((k - 1))
  rm -rf "$view"; mkdir -p "$view"
  (cd "$src" && find . -type f | LC_ALL=C sort) > "$view.keys"
  c=0
  while IFS= read -r f; do
    if [ $((c % n)) -eq "$i" ]; then
      f=${f#./}
      case $f in */*) mkdir -p "$view/${f%/*}" ;; esac
      ln -s "$src/$f" "$view/$f"
    fi
    c=$((c + 1))
  done < "$view.keys"
done
shift
exec "$@"
"""

# $1 the executor input (JSON), $2 this task's output URI, $3 its output path; the launcher's
# mounts are at / (PIPECAST_MOUNT_ROOT moves them, for tests of the script on real files)
MERGE = """set -eu
own=$2; out=$3; root=${PIPECAST_MOUNT_ROOT:-}
mkdir -p "$out"
printf '%s' "$1" | tr ',{}[]' '\\n\\n\\n\\n\\n' \\
  | sed -n 's/^ *"uri" *: *"\\(.*\\)" *$/\\1/p' > /tmp/pipecast-parts
n=0
while IFS= read -r uri; do
  [ "$uri" = "$own" ] && continue
  case $uri in
    s3://*) part=$root/s3/${uri#s3://} ;;
    gs://*) part=$root/gcs/${uri#gs://} ;;
    minio://*) part=$root/minio/${uri#minio://} ;;
    *) echo "pipecast: cannot open shard output $uri" >&2; exit 1 ;;
  esac
  (cd "$part" && find . -type f) | while IFS= read -r f; do
    f=${f#./}
    if [ -e "$out/$f" ]; then
      echo "pipecast: shard $n and an earlier shard both wrote '$f'" >&2; exit 1
    fi
    case $f in */*) mkdir -p "$out/${f%/*}" ;; esac
    cp "$part/$f" "$out/$f"
  done
  n=$((n + 1))
done < /tmp/pipecast-parts
"""


def manifest_diagnostics(spec: PipelineSpec) -> list[Diagnostic]:
    """PC008 for a sharded manifest input: on Kubeflow a step receives the manifest file itself,
    not the objects it lists, so there would be one object (the manifest) to split."""
    found = []
    for step in spec.steps:
        for name in step.shard:
            binding = step.argument(name)
            imp = spec.importer(binding.importer) if isinstance(binding, ImporterRef) else None
            if imp is not None and imp.manifest:
                found.append(
                    Diagnostic(
                        "PC008",
                        f"step '{step.id}': sharding the manifest input '{name}' is not "
                        "expressible on kubeflow (the step receives the manifest file itself)",
                        step.location,
                        "import the objects' S3 prefix instead of a manifest for kubeflow; "
                        "sagemaker, stepfunctions and the local runner shard a manifest",
                        step=step.id,
                    )
                )
    return found


def view(name: str) -> str:
    """Where a shard sees its part of input ``name`` (an identifier: nothing to escape)."""
    return f"{VIEW_ROOT}/{name}"


def shard_command(
    index: Any,
    count: int,
    sources: list[tuple[str, Any]],
    command: list[str],
    escape: Callable[[str], str],
) -> list[Any]:
    """The shard's command: the prelude, its arguments, ``--``, then the user's command.
    ``sources`` pairs each sharded input's name with KFP's path placeholder for it; ``escape``
    spells text for Kubernetes' ``$(VAR)`` expansion (the prelude holds ``$((``)."""
    pairs = [part for name, path in sources for part in (path, view(name))]
    return [
        "sh",
        "-c",
        escape(PRELUDE),
        "pipecast-shard",
        index,
        str(count),
        str(len(sources)),
        *pairs,
        "--",
        *command,
    ]


def merged_tasks(
    kfp: Any,
    step_id: str,
    outputs: list[tuple[str, Any]],
    image: str,
    shard_task: Any,
    escape: Callable[[str], str],
    caching: bool,
) -> dict[str, Any]:
    """One ``<step>-merged-<output>`` task per output: its shards' files in one artifact.

    ``outputs`` pairs each output's name with its kfp artifact class; the result maps each
    output's name to the merged artifact that downstream steps read. One task per output, so
    that every URI in a merge task's executor input is one of its parts or its own output."""
    merged = {}
    for name, cls in outputs:
        component = _merge_component(kfp, f"{step_id}-merged-{name}", cls, image, escape)
        task = component(shards=kfp.dsl.Collected(shard_task.outputs[name]))
        task.set_caching_options(caching)
        merged[name] = task.outputs["merged"]
    return merged


def _merge_component(
    kfp: Any, name: str, cls: Any, image: str, escape: Callable[[str], str]
) -> Any:
    import inspect

    dsl = kfp.dsl

    def body(shards: Any, merged: Any) -> Any:
        command = ["sh", "-c", escape(MERGE), "pipecast-merge", "{{$}}"]
        return dsl.ContainerSpec(image=image, command=command, args=[merged.uri, merged.path])

    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    body.__name__ = body.__qualname__ = name
    body.__doc__ = "The files every shard wrote, in one artifact."
    body.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter("shards", kind, annotation=dsl.Input[list[cls]]),  # type: ignore[valid-type]
            inspect.Parameter("merged", kind, annotation=dsl.Output[cls]),
        ]
    )
    return dsl.container_component(body)
