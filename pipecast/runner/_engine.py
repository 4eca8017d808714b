"""The local runner: executes a checked pipeline on this machine, like a target does in the cloud.

Steps run in parallel threads as soon as their predecessors finished AND their declared
Resources fit in what is free (CPU cores, memory, GPUs); a step larger than the machine runs alone
with a warning. Container steps run their command as a subprocess (no shell) or, given a container
engine, in their own image (``_container``); Python steps run in-process or through
``pipecast.runtime`` in a subprocess, never in an engine. A step can be replaced by a Python
fake (unit tests). Each run writes ``{workdir}/{pipeline}/{run_id}/{step}/{output}/``, logs in
``{step}/_logs/`` and ``run.json``; a failure stops only the steps that depend on it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pipecast.compilers.canonical import atomic_write, dumps_json
from pipecast.compilers.graph import CheckedPipeline
from pipecast.dsl.spec import (
    Constant,
    ImporterRef,
    OutputRef,
    ParameterRef,
    Placeholder,
    StepSpec,
    render_value,
)

from ._container import ContainerRun, Engine, Mount, container_name, container_paths, engine_argv
from ._inputs import materialise

__all__ = ["Capacity", "RunResult", "StepResult", "run_pipeline"]

Fake = Callable[..., Any]


@dataclass(frozen=True)
class Capacity:
    cpu: float
    memory: int
    gpu: int

    @classmethod
    def detect(cls) -> Capacity:
        cpu = float(os.cpu_count() or 1)
        try:
            memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError, AttributeError):
            memory = 8 * 1024**3
        gpu = 0
        try:
            out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=5)
            gpu = sum(1 for line in out.stdout.splitlines() if line.startswith("GPU "))
        except (OSError, subprocess.SubprocessError):
            pass
        return cls(cpu, memory, gpu)


@dataclass
class StepResult:
    """What one step did: status, attempts, timing, what it received and wrote."""

    step: str
    status: str = "pending"  # pending, running, succeeded, failed, skipped, cached
    attempts: int = 0
    started: float | None = None
    finished: float | None = None
    exit_code: int | None = None
    error: str | None = None
    inputs: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)
    log_dir: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}


@dataclass
class RunResult:
    pipeline: str
    run_id: str
    run_dir: Path
    steps: dict[str, StepResult]
    warnings: list[str] = field(default_factory=list)
    # control flow: condition group (``<group>/<loop index>...``) → whether its branch ran
    branches: dict[str, bool] = field(default_factory=dict)

    @property
    def succeeded(self) -> bool:
        """Every step succeeded (or was cached, or sat in a branch not taken)."""
        return all(
            s.status in ("succeeded", "cached") or (s.status == "skipped" and s.error is None)
            for s in self.steps.values()
        )

    def __getitem__(self, step: str) -> StepResult:
        return self.steps[step]

    def iterations(self, step: str) -> list[StepResult]:
        """The results of a step inside a loop, one per iteration (``<step>/<index>``), in
        iteration order."""
        found = [(k, r) for k, r in self.steps.items() if k.startswith(f"{step}/")]
        found.sort(key=lambda kr: [int(p) for p in kr[0].split("/")[1:]])
        return [r for _, r in found]


def new_run_id() -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{os.urandom(3).hex()}"


class _Scheduler:
    def __init__(self, capacity: Capacity) -> None:
        self.capacity = capacity
        self.free = [capacity.cpu, capacity.memory, capacity.gpu]
        self.lock = threading.Condition()

    def need(self, step: StepSpec) -> tuple[float, int, int]:
        r = step.resources
        want = (r.cpu, r.memory_bytes, r.gpu) if r else (1.0, 2 * 1024**3, 0)
        return (
            min(want[0], self.capacity.cpu),
            min(want[1], self.capacity.memory),
            min(want[2], self.capacity.gpu),
        )

    def oversized(self, step: StepSpec) -> bool:
        r = step.resources
        return r is not None and (
            r.cpu > self.capacity.cpu
            or r.memory_bytes > self.capacity.memory
            or r.gpu > self.capacity.gpu
        )

    def try_acquire(self, need: tuple[float, int, int]) -> bool:
        if all(self.free[i] >= need[i] for i in range(3)):
            for i in range(3):
                self.free[i] -= need[i]
            return True
        return False

    def release(self, need: tuple[float, int, int]) -> None:
        for i in range(3):
            self.free[i] += need[i]


class Runner:
    def __init__(
        self,
        checked: CheckedPipeline,
        params: Mapping[str, Any],
        run_dir: Path,
        *,
        fakes: Mapping[str, Fake] | None = None,
        capacity: Capacity | None = None,
        isolation: str = "inprocess",
        backoff_scale: float = 1.0,
        done: Mapping[str, StepResult] | None = None,
        on_event: Callable[[str, StepResult], None] | None = None,
        engine: Engine | None = None,
    ) -> None:
        self.checked, self.spec, self.params = checked, checked.spec, dict(params)
        # absolute: steps run with their own folder as cwd, so relative paths would miss
        self.run_dir, self.fakes = run_dir.absolute(), dict(fakes or {})
        self.scheduler = _Scheduler(capacity or Capacity.detect())
        self.isolation, self.backoff_scale = isolation, backoff_scale
        self.engine = engine
        self.results = {s: StepResult(s) for s in checked.order}
        for step_id, previous in (done or {}).items():
            if previous.status in ("succeeded", "cached") and step_id in self.results:
                self.results[step_id] = previous
                previous.status = "cached"
        self.on_event = on_event or (lambda kind, result: None)
        self.warnings: list[str] = []
        self.importer_dirs: dict[str, Path] = {}

    # ----- data -------------------------------------------------------------------------------

    def output_dir(self, step_id: str, output: str) -> Path:
        return self.run_dir / step_id / output

    def _importer_dir(self, importer_id: str) -> Path:
        if importer_id not in self.importer_dirs:
            imp = self.spec.importer(importer_id)
            assert imp is not None
            uri = imp.uri.value if isinstance(imp.uri, Constant) else self.params[imp.uri.name]
            dest = self.run_dir / "_inputs" / importer_id
            if not dest.exists():
                materialise(str(uri), dest, imp.manifest)
            self.importer_dirs[importer_id] = dest
        return self.importer_dirs[importer_id]

    def _values(self, step: StepSpec) -> tuple[dict[str, str], dict[str, str], dict[str, Any]]:
        """(paths/values as text by input/output name, URIs, typed parameter values)."""
        comp = self.spec.component(step.component)
        text: dict[str, str] = {}
        uris: dict[str, str] = {}
        typed: dict[str, Any] = {}
        for name, binding in step.arguments:
            if isinstance(binding, OutputRef):
                path = self.output_dir(binding.step, binding.output)
                text[name] = uris[name] = str(path)
            elif isinstance(binding, ImporterRef):
                text[name] = str(self._importer_dir(binding.importer))
                imp = self.spec.importer(binding.importer)
                assert imp is not None
                uris[name] = str(
                    imp.uri.value if isinstance(imp.uri, Constant) else self.params[imp.uri.name]
                )
            else:
                value = (
                    binding.value
                    if isinstance(binding, Constant)
                    else self.params[binding.name]
                    if isinstance(binding, ParameterRef)
                    else None
                )
                typed[name] = value
                text[name] = render_value(value)  # type: ignore[arg-type]
        for out in comp.outputs:
            path = self.output_dir(step.id, out.name)
            path.mkdir(parents=True, exist_ok=True)
            text[out.name] = uris[out.name] = str(path)
        return text, uris, typed

    def _argv(self, step: StepSpec, text: dict[str, str], uris: dict[str, str]) -> list[str]:
        comp = self.spec.component(step.component)
        return [*comp.command, *self._args(step, text, uris)]

    def _args(self, step: StepSpec, text: dict[str, str], uris: dict[str, str]) -> list[str]:
        """The component's arguments with placeholders filled from ``text`` and ``uris``."""
        comp = self.spec.component(step.component)
        argv: list[str] = []
        for arg in comp.args:
            rendered = ""
            for part in arg:
                if isinstance(part, str):
                    rendered += part
                elif isinstance(part, Placeholder):
                    rendered += uris[part.name] if part.kind == "inputUri" else text[part.name]
            argv.append(rendered)
        return argv

    # ----- execution --------------------------------------------------------------------------

    def _attempt(self, step: StepSpec, log_dir: Path) -> int:
        comp = self.spec.component(step.component)
        text, uris, typed = self._values(step)
        result = self.results[step.id]
        result.inputs = {k: v for k, v in text.items() if comp.input(k) and k not in typed}
        result.outputs = {o.name: text[o.name] for o in comp.outputs}
        result.parameters = typed
        fake = self.fakes.get(step.id)
        if fake is not None or (comp.python_function and self.isolation == "inprocess"):
            from pipecast.runtime import call_component, resolve_function

            func = fake or resolve_function(comp.python_function or "")
            try:
                call_component(func, text, uris, interface=comp)
                return 0
            except Exception:
                (log_dir / "stderr.txt").write_text(traceback.format_exc(), encoding="utf-8")
                return 1
        if self.engine is not None and not comp.python_function:
            return self._attempt_in_engine(self.engine, step, text, uris, log_dir)
        argv = self._argv(step, text, uris)
        # locally, "python" is this interpreter, seeing the same modules as the pipeline file
        path = os.pathsep.join(p for p in sys.path if p and os.path.isdir(p))
        env = {**os.environ, "PYTHONPATH": path, **dict(step.env)}
        if argv[0] in ("python", "python3"):
            argv[0] = sys.executable
        return self._spawn(step, argv, env, log_dir)

    def container_run(
        self, step: StepSpec, text: dict[str, str], uris: dict[str, str], attempt: int
    ) -> ContainerRun:
        """The step in container terms: run folders mounted where SageMaker puts them, argument
        paths (and local URIs of run folders) rewritten to those container paths."""
        comp = self.spec.component(step.component)
        paths = container_paths(comp, step)
        outputs = {o.name for o in comp.outputs}
        mounted = [name for name in paths if name in text]  # optional inputs may be unbound
        mounts = tuple(  # absolute: an engine reads a relative source as a volume name
            Mount(os.path.abspath(text[n]), paths[n], read_only=n not in outputs) for n in mounted
        )
        in_text = {**text, **{n: paths[n] for n in mounted}}
        in_uris = {k: paths[k] if k in mounted and v == text[k] else v for k, v in uris.items()}
        r = step.resources
        return ContainerRun(
            name=container_name(self.spec.name, self.run_dir.name, step.id, attempt),
            image=comp.image,
            command=comp.command,
            args=tuple(self._args(step, in_text, in_uris)),
            mounts=mounts,
            env=step.env,
            cpus=min(r.cpu, float(os.cpu_count() or 1)) if r else None,  # engines refuse more
            memory_bytes=r.memory_bytes if r else None,
            gpus=r.gpu if r else 0,
            user=(os.getuid(), os.getgid()) if sys.platform.startswith("linux") else None,
        )

    def _attempt_in_engine(
        self,
        engine: Engine,
        step: StepSpec,
        text: dict[str, str],
        uris: dict[str, str],
        log_dir: Path,
    ) -> int:
        run = self.container_run(step, text, uris, self.results[step.id].attempts)
        argv = engine_argv(engine.name, engine.binary, run)

        def remove() -> None:  # killing the client leaves the container running
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                subprocess.run(
                    [engine.binary, "rm", "-f", run.name], capture_output=True, timeout=60
                )

        return self._spawn(step, argv, dict(os.environ), log_dir, on_timeout=remove)

    def _spawn(
        self,
        step: StepSpec,
        argv: list[str],
        env: dict[str, str],
        log_dir: Path,
        on_timeout: Callable[[], None] | None = None,
    ) -> int:
        """Run ``argv`` with logs in ``log_dir``, killed after the step's timeout (exit 124)."""
        with open(log_dir / "stdout.txt", "wb") as out, open(log_dir / "stderr.txt", "wb") as err:
            try:
                proc = subprocess.Popen(
                    argv,
                    stdout=out,
                    stderr=err,
                    env=env,
                    cwd=self.run_dir / step.id,
                    start_new_session=True,
                )
            except OSError as exc:
                err.write(f"cannot start {argv[0]!r}: {exc.strerror}\n".encode())
                return 127
            try:
                return proc.wait(timeout=step.timeout_seconds)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                if on_timeout is not None:
                    on_timeout()
                err.write(f"\ntimed out after {step.timeout_seconds}s\n".encode())
                return 124

    def run_step(self, step: StepSpec) -> None:
        result = self.results[step.id]
        log_dir = self.run_dir / step.id / "_logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        result.log_dir = str(log_dir)
        attempts = step.retry.max_attempts if step.retry else 1
        result.status, result.started = "running", time.time()
        self.on_event("started", result)
        code = 1
        for attempt in range(attempts):
            result.attempts = attempt + 1
            try:
                code = self._attempt(step, log_dir)
            except Exception as exc:
                (log_dir / "stderr.txt").write_text(f"{exc}\n", encoding="utf-8")
                result.error = str(exc)
                code = 1
                break
            if code == 0:
                break
            if attempt + 1 < attempts and step.retry:
                time.sleep(
                    step.retry.backoff_seconds
                    * step.retry.backoff_rate**attempt
                    * self.backoff_scale
                )
        result.exit_code, result.finished = code, time.time()
        result.status = "succeeded" if code == 0 else "failed"
        if code != 0 and result.error is None:
            tail = _tail(log_dir / "stderr.txt")
            result.error = f"exit code {code}" + (f"; stderr ends with:\n{tail}" if tail else "")
        self.on_event(result.status, result)

    def run(self) -> None:
        pending = [s for s in self.checked.order if self.results[s].status == "pending"]
        running: dict[str, tuple[threading.Thread, tuple[float, int, int]]] = {}
        sched = self.scheduler
        with sched.lock:
            while pending or running:
                progressed = False
                for step_id in list(pending):
                    preds = list(self.checked.graph.predecessors(step_id))
                    states = [self.results[p].status for p in preds]
                    if any(s in ("failed", "skipped") for s in states):
                        self.results[step_id].status = "skipped"
                        self.results[step_id].error = "an upstream step failed"
                        pending.remove(step_id)
                        self.on_event("skipped", self.results[step_id])
                        progressed = True
                        continue
                    if not all(s in ("succeeded", "cached") for s in states):
                        continue
                    step = self.spec.step(step_id)
                    need = sched.need(step)
                    if sched.oversized(step):
                        if running:
                            continue  # runs alone
                        self.warnings.append(
                            f"step '{step_id}' asks for more than this machine "
                            "has; running it alone"
                        )
                    if not sched.try_acquire(need):
                        continue
                    thread = threading.Thread(
                        target=self._run_and_release, args=(step, need), daemon=True
                    )
                    running[step_id] = (thread, need)
                    pending.remove(step_id)
                    thread.start()
                    progressed = True
                for step_id in [s for s, (t, _) in running.items() if not t.is_alive()]:
                    running.pop(step_id)
                    progressed = True
                if not progressed:
                    sched.lock.wait(timeout=0.5)

    def _run_and_release(self, step: StepSpec, need: tuple[float, int, int]) -> None:
        try:
            self.run_step(step)
        finally:
            with self.scheduler.lock:
                self.scheduler.release(need)
                self.scheduler.lock.notify_all()


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def load_previous(run_dir: Path) -> dict[str, StepResult]:
    summary = run_dir / "run.json"
    if not summary.is_file():
        return {}
    data = json.loads(summary.read_text(encoding="utf-8"))
    return {k: StepResult(**v) for k, v in data["steps"].items()}


def run_pipeline(
    checked: CheckedPipeline,
    params: Mapping[str, Any],
    workdir: Path,
    *,
    run_id: str | None = None,
    resume: bool = False,
    **options: Any,
) -> RunResult:
    """Run ``checked`` with ``params``; returns the per-step results (also in run.json)."""
    run_id = run_id or new_run_id()
    run_dir = workdir / checked.spec.name / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    done = load_previous(run_dir) if resume else {}
    from ._flow import FlowRunner, needs_flow_runner

    flow = needs_flow_runner(checked)
    runner = (FlowRunner if flow else Runner)(checked, params, run_dir, done=done, **options)
    runner.run()
    extra = runner.summary() if isinstance(runner, FlowRunner) else {}
    result = RunResult(
        checked.spec.name,
        run_id,
        run_dir,
        runner.results,
        runner.warnings,
        dict(extra.get("branches", {})),
    )
    atomic_write(
        run_dir / "run.json",
        dumps_json(
            {
                "pipeline": checked.spec.name,
                "run_id": run_id,
                "parameters": dict(params),
                "succeeded": result.succeeded,
                "warnings": runner.warnings,
                "engine": runner.engine.name if runner.engine else "process",
                "steps": {k: v.to_dict() for k, v in runner.results.items()},
                **extra,
            }
        ),
    )
    return result
