"""A small executor of SageMaker pipeline definitions, for tests: what a definition *means*.

It runs a compiled definition the way SageMaker Pipelines documents its behaviour, on this
machine, with real processes: steps start when every step they reference (``Get``,
``Std:JsonGet``, ``DependsOn``) has run; a ``Condition`` step evaluates its ``Conditions`` (all
must hold) and runs its ``IfSteps``, else its ``ElseSteps``; a Processing or Training step is its
job request executed as a subprocess (``ContainerEntrypoint`` + ``ContainerArguments``, with
``/opt/ml/`` mapped to a folder per job) against a folder standing in for S3.

What it models, and the assumptions it makes (stated, so a test failure can be read):

- Processing: each ``ProcessingInput`` prefix is copied to its ``LocalPath``; each output's
  ``LocalPath`` exists before the container starts (as the service documents) and is uploaded to
  its ``S3Uri`` at the end (``EndOfJob``).
- Training (spot, uncompressed): channels under ``/opt/ml/input/data/<channel>``; ``/opt/ml/model``
  is uploaded to ``<S3OutputPath><job name>/output/model``, which is ``S3ModelArtifacts``.
- ``Std:JsonGet`` reads the JSON file of a step's ``PropertyFile`` (``OutputName`` +
  ``FilePath``) or at an ``S3Uri``; only the root path ``$`` is modelled (all pipecast writes).
- ``Std:Join`` turns a JSON value into text as JSON (``3``, ``true``); strings stay as they are.
  This is an assumption about the service for non-string values, the one place where the model
  is ours rather than the documentation's.
- Referencing a step that did not run (an untaken branch) is an error here: pipecast must never
  emit it.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_OUTPUT = re.compile(
    r"^Steps\.([^.]+)\.ProcessingOutputConfig\.Outputs\['([^']+)'\]\.S3Output\.S3Uri$"
)
_MODEL = re.compile(r"^Steps\.([^.]+)\.ModelArtifacts\.S3ModelArtifacts$")
_FILE = re.compile(r"^Steps\.([^.]+)\.PropertyFiles\.(.+)$")
_OPS = {
    "Equals": lambda a, b: a == b,
    "NotEquals": lambda a, b: a != b,
    "GreaterThan": lambda a, b: a > b,
    "GreaterThanOrEqualTo": lambda a, b: a >= b,
    "LessThan": lambda a, b: a < b,
    "LessThanOrEqualTo": lambda a, b: a <= b,
}


class NotRun(Exception):
    """A reference to a step that has not run (yet, or ever)."""


@dataclass
class Execution:
    """The outcome: jobs that ran (name → resolved container arguments), conditions decided,
    the S3 folder, and the failure if one stopped the execution."""

    s3: Path
    jobs: dict[str, list[str]] = field(default_factory=dict)
    conditions: dict[str, bool] = field(default_factory=dict)
    failed: str | None = None

    def read(self, uri: str) -> Path:
        assert uri.startswith("s3://"), uri
        return self.s3 / uri.removeprefix("s3://").rstrip("/")


class Interpreter:
    def __init__(self, definition: dict[str, Any], params: dict[str, Any], work: Path) -> None:
        self.steps = {s["Name"]: s for s in _flat(definition["Steps"])}
        self.params = {p["Name"]: p.get("DefaultValue") for p in definition["Parameters"]}
        self.params.update(params)
        self.work = work
        self.run = Execution(work / "s3")
        self.outputs: dict[str, dict[str, str]] = {}
        self.models: dict[str, str] = {}
        self.done: set[str] = set()

    # ----- values --------------------------------------------------------------------------------

    def value(self, v: Any) -> Any:
        if isinstance(v, dict) and "Get" in v:
            return self.get(v["Get"])
        if isinstance(v, dict) and "Std:Join" in v:
            join = v["Std:Join"]
            return join["On"].join(_text(self.value(x)) for x in join["Values"])
        if isinstance(v, dict) and "Std:JsonGet" in v:
            get = v["Std:JsonGet"]
            assert get["Path"] == "$", get
            if "S3Uri" in get:
                return json.loads(self.run.read(self.value(get["S3Uri"])).read_text())
            ref = _FILE.match(get["PropertyFile"]["Get"])
            assert ref, get
            step, name = ref.groups()
            self.need(step)
            (pf,) = [f for f in self.steps[step]["PropertyFiles"] if f["PropertyFileName"] == name]
            uri = self.outputs[step][pf["OutputName"]].rstrip("/") + "/" + pf["FilePath"]
            return json.loads(self.run.read(uri).read_text())
        if isinstance(v, dict):
            return {k: self.value(x) for k, x in v.items()}
        if isinstance(v, list):
            return [self.value(x) for x in v]
        return v

    def get(self, ref: str) -> Any:
        if ref == "Execution.PipelineExecutionId":
            return "execution-1"
        if ref.startswith("Parameters."):
            return self.params[ref.removeprefix("Parameters.")]
        if m := _OUTPUT.match(ref):
            self.need(m.group(1))
            return self.outputs[m.group(1)][m.group(2)]
        if m := _MODEL.match(ref):
            self.need(m.group(1))
            return self.models[m.group(1)]
        raise AssertionError(f"unmodelled reference {ref}")

    def need(self, step: str) -> None:
        if step not in self.done:
            raise NotRun(step)

    # ----- running -------------------------------------------------------------------------------

    def execute(self) -> Execution:
        pending = [s for s in self.steps.values() if s.get("_top")]
        while pending and self.run.failed is None:
            progressed = False
            for step in list(pending):
                try:
                    for dep in step.get("DependsOn", []):
                        self.need(dep)
                    chosen = self.start(step)
                except NotRun:
                    continue
                pending.remove(step)
                pending += chosen
                self.done.add(step["Name"])
                progressed = True
            if not progressed:
                waiting = [s["Name"] for s in pending]
                raise AssertionError(f"steps wait for steps that never run: {waiting}")
        return self.run

    def start(self, step: dict[str, Any]) -> list[dict[str, Any]]:
        """Run one step; a Condition step returns the steps of the branch it takes."""
        args = step["Arguments"]
        if step["Type"] == "Condition":
            holds = all(
                _OPS[c["Type"]](self.value(c["LeftValue"]), self.value(c["RightValue"]))
                for c in args["Conditions"]
            )
            self.run.conditions[step["Name"]] = holds
            return list(args["IfSteps"] if holds else args["ElseSteps"])
        resolved = self.value(args)  # every reference resolved before the job starts
        root = self.work / "jobs" / step["Name"]
        if step["Type"] == "Processing":
            app = resolved["AppSpecification"]
            for inp in resolved.get("ProcessingInputs", []):
                _copy(
                    self.run.read(inp["S3Input"]["S3Uri"]),
                    _local(root, inp["S3Input"]["LocalPath"]),
                )
            outs = resolved.get("ProcessingOutputConfig", {}).get("Outputs", [])
            for out in outs:
                _local(root, out["S3Output"]["LocalPath"]).mkdir(parents=True, exist_ok=True)
            command = app["ContainerEntrypoint"] + app.get("ContainerArguments", [])
        else:
            alg = resolved["AlgorithmSpecification"]
            for ch in resolved.get("InputDataConfig", []):
                uri = ch["DataSource"]["S3DataSource"]["S3Uri"]
                _copy(self.run.read(uri), root / "opt/ml/input/data" / ch["ChannelName"])
            (root / "opt/ml/model").mkdir(parents=True, exist_ok=True)
            command = alg["ContainerEntrypoint"] + alg.get("ContainerArguments", [])
        command = [
            sys.executable if c == "python" else c.replace("/opt/ml/", f"{root}/opt/ml/")
            for c in command
        ]
        self.run.jobs[step["Name"]] = [
            c.replace(f"{root}/opt/ml/", "/opt/ml/") for c in command[3:]
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            self.run.failed = f"{step['Name']}: {done.stderr[-500:]}"
            return []
        if step["Type"] == "Processing":
            self.outputs[step["Name"]] = {}
            for out in outs:
                uri = out["S3Output"]["S3Uri"]
                _copy(_local(root, out["S3Output"]["LocalPath"]), self.run.read(uri))
                self.outputs[step["Name"]][out["OutputName"]] = uri
        else:
            model = (
                resolved["OutputDataConfig"]["S3OutputPath"] + f"{step['Name']}-job/output/model"
            )
            _copy(root / "opt/ml/model", self.run.read(model))
            self.models[step["Name"]] = model
        return []


def _flat(steps: list[dict[str, Any]], top: bool = True) -> list[dict[str, Any]]:
    found = []
    for step in steps:
        found.append({**step, "_top": top})
        if step["Type"] == "Condition":
            branches = step["Arguments"]["IfSteps"] + step["Arguments"]["ElseSteps"]
            found += _flat(branches, top=False)
    return found


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _local(root: Path, path: str) -> Path:
    return root / path.lstrip("/")


def _copy(source: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, dest, dirs_exist_ok=True)
    elif source.is_file():
        shutil.copyfile(source, dest)
    else:
        dest.mkdir(parents=True, exist_ok=True)  # an empty prefix


def execute(definition: dict[str, Any], params: dict[str, Any], work: Path) -> Execution:
    """Run ``definition`` with ``params`` under ``work`` (see the module docstring)."""
    return Interpreter(definition, params, work).execute()
