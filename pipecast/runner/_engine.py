"""The local runner: executes a checked pipeline on this machine, like a target does in the cloud.

Steps run in parallel threads as soon as their predecessors finished AND their declared
Resources fit in what is free (CPU cores, memory, GPUs); a step larger than the machine runs alone,
with a warning given before anything starts. Container steps run their command as a subprocess
(no shell) or, given a container engine, in their own image (``_container``); Python steps run
in-process, or through ``pipecast.runtime`` in a subprocess (always when they have a timeout, so
that it can be enforced); never in an engine. A step can be replaced by a Python fake (unit tests).
Each run writes ``{workdir}/{pipeline}/{run_id}/{step}/{output}/``, logs in ``{step}/_logs/``,
earlier failed attempts in ``{step}/_attempts/<n>/``, and the ``run.json`` journal (rewritten
after every step); a failure stops only the steps that depend on it.

Trust (DESIGN §15): names and run ids are checked to stay inside the run folder (``_paths``);
SIGINT/SIGTERM stop every step's process group and leave an ``interrupted`` journal; a step is
reused on resume only when its cache key (``_journal``) is unchanged and its outputs are intact.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

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

from ._container import (
    ContainerRun,
    Engine,
    Mount,
    client_env,
    container_name,
    container_paths,
    engine_argv,
    write_env_file,
)
from ._inprocess import call_in_process, failure_text
from ._inputs import materialise
from ._journal import Journal, cache_key, digest_folder
from ._paths import safe_id
from ._process import DEFAULT_GRACE, Processes
from ._results import DONE, RunResult, StepResult
from ._schedule import Capacity, Need, Scheduler, capacity_warnings, check_numbers
from ._workers import run_workers

__all__ = ["Capacity", "RunResult", "Runner", "StepResult"]

Fake = Callable[..., Any]


def _grace() -> float:
    try:
        return float(os.environ.get("PIPECAST_STOP_GRACE", DEFAULT_GRACE))
    except ValueError:
        return DEFAULT_GRACE


def _fake_name(fake: Fake) -> str:
    return f"{getattr(fake, '__module__', '')}.{getattr(fake, '__qualname__', repr(fake))}"


def _source_digest(target: str) -> str | None:
    """Digest of a Python component's source, so an edited function is not reused."""
    from pipecast.runtime import resolve_function

    try:
        return cache_key({"source": inspect.getsource(resolve_function(target))})
    except (ImportError, AttributeError, OSError, TypeError, ValueError):
        return None


def _key(step: StepSpec, worker: int | None) -> str:
    """The step's process key (and container name part): ``<step>.w<i>`` for a worker."""
    return step.id if worker is None else f"{step.id}.w{worker}"


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
        previous: Mapping[str, StepResult] | None = None,
        on_event: Callable[[str, StepResult], None] | None = None,
        on_warning: Callable[[str], None] | None = None,
        engine: Engine | None = None,
        journal: Journal | None = None,
        stop: threading.Event | None = None,
        grace: float | None = None,
    ) -> None:
        self.checked, self.spec, self.params = checked, checked.spec, dict(params)
        # absolute: steps run with their own folder as cwd, so relative paths would miss
        self.run_dir, self.fakes = run_dir.absolute(), dict(fakes or {})
        for step_id in checked.order:
            safe_id(step_id, what="step id")
        self.scheduler = Scheduler(capacity or Capacity.detect())
        self.isolation, self.backoff_scale = isolation, backoff_scale
        self.engine = engine
        self.results = {s: StepResult(s) for s in checked.order}
        self.previous = dict(previous or {})
        self.on_event = on_event or (lambda kind, result: None)
        self.on_warning = on_warning or (lambda text: None)
        self.journal = journal
        self.stop = stop or threading.Event()
        self.stop_signal: int | None = None
        self.processes = Processes(_grace() if grace is None else grace)
        self.started = False  # True once inputs are in and steps may start
        self.warnings: list[str] = []
        self.importer_dirs: dict[str, Path] = {}
        self.input_digests: dict[str, str] = {}
        self.keys: dict[str, str] = {}

    # ----- data -------------------------------------------------------------------------------

    def output_dir(self, step_id: str, output: str) -> Path:
        return self.run_dir / step_id / output

    def _importer_dir(self, importer_id: str) -> Path:
        if importer_id not in self.importer_dirs:
            imp = self.spec.importer(importer_id)
            assert imp is not None
            dest = self.run_dir / "_inputs" / safe_id(importer_id, what="importer id")
            materialise(self._importer_uri(importer_id), dest, imp.manifest)
            self.importer_dirs[importer_id] = dest
            self.input_digests[importer_id] = digest_folder(dest)
        return self.importer_dirs[importer_id]

    def _importer_uri(self, importer_id: str) -> str:
        imp = self.spec.importer(importer_id)
        assert imp is not None
        return str(imp.uri.value if isinstance(imp.uri, Constant) else self.params[imp.uri.name])

    def _typed(self, step: StepSpec) -> dict[str, Any]:
        """The step's parameter inputs with their resolved values."""
        typed: dict[str, Any] = {}
        for name, binding in step.arguments:
            if isinstance(binding, Constant):
                typed[name] = binding.value
            elif isinstance(binding, ParameterRef):
                typed[name] = self.params[binding.name]
            elif not isinstance(binding, (OutputRef, ImporterRef)):
                typed[name] = None
        return typed

    def _values(self, step: StepSpec) -> tuple[dict[str, str], dict[str, str], dict[str, Any]]:
        """(paths/values as text by input/output name, URIs, typed parameter values); creates
        the step's (empty) output folders."""
        comp = self.spec.component(step.component)
        text: dict[str, str] = {}
        uris: dict[str, str] = {}
        typed = self._typed(step)
        for name, binding in step.arguments:
            if isinstance(binding, OutputRef):
                path = self.output_dir(binding.step, binding.output)
                text[name] = uris[name] = str(path)
            elif isinstance(binding, ImporterRef):
                text[name] = str(self._importer_dir(binding.importer))
                uris[name] = self._importer_uri(binding.importer)
            else:
                text[name] = render_value(typed[name])
        for out in comp.outputs:
            path = self.output_dir(step.id, out.name)
            path.mkdir(parents=True, exist_ok=True)
            text[out.name] = uris[out.name] = str(path)
        return text, uris, typed

    def key(self, step: StepSpec) -> str:
        """The step's cache key now: component, settings, parameter values, input digests and
        the keys of the steps before it (so everything downstream of a rerun step reruns)."""
        comp = self.spec.component(step.component)
        inputs: dict[str, str] = {}
        for name, binding in step.arguments:
            if isinstance(binding, OutputRef):
                upstream = self.results[binding.step].digests
                inputs[name] = upstream.get(binding.output, "missing")
            elif isinstance(binding, ImporterRef):
                inputs[name] = self.input_digests.get(binding.importer, "missing")
        fake = self.fakes.get(step.id)
        return cache_key(
            {
                "component": comp.to_dict(),
                "source": _source_digest(comp.python_function) if comp.python_function else None,
                "fake": _fake_name(fake) if fake is not None else None,
                "arguments": {n: b.to_dict() for n, b in step.arguments},
                "env": dict(step.env),
                "timeout": step.timeout_seconds,
                # only when scaled out: the keys of earlier runs stay valid
                **({"scale": [step.instances, list(step.shard)]} if step.instances > 1 else {}),
                "parameters": self._typed(step),
                "inputs": inputs,
                "upstream": {
                    p: self.keys.get(p) for p in sorted(self.checked.graph.predecessors(step.id))
                },
            }
        )

    def _reusable(self, step: StepSpec, key: str) -> StepResult | None:
        """The recorded result of ``step`` if its key matches and its outputs are intact."""
        prev = self.previous.get(step.id)
        if prev is None or prev.status not in DONE or prev.cache_key != key:
            return None
        comp = self.spec.component(step.component)
        for out in comp.outputs:
            if prev.digests.get(out.name) != digest_folder(self.output_dir(step.id, out.name)):
                return None
        return prev

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

    # ----- one attempt ------------------------------------------------------------------------

    def _attempt(self, step: StepSpec, log_dir: Path) -> int:
        comp = self.spec.component(step.component)
        text, uris, typed = self._values(step)
        result = self.results[step.id]
        result.inputs = {k: v for k, v in text.items() if comp.input(k) and k not in typed}
        result.outputs = {o.name: text[o.name] for o in comp.outputs}
        result.parameters = typed
        if step.instances > 1:
            return run_workers(self, step, text, uris, log_dir)
        return self.run_process(step, text, uris, log_dir)

    def run_process(
        self,
        step: StepSpec,
        text: dict[str, str],
        uris: dict[str, str],
        log_dir: Path,
        worker: int | None = None,
    ) -> int:
        """Run the step's code once with these paths and values (one worker of a scaled-out
        step, ``worker`` its index); its exit code."""
        comp = self.spec.component(step.component)
        fake = self.fakes.get(step.id)
        in_process = comp.python_function and self.isolation == "inprocess"
        if fake is not None or (in_process and step.timeout_seconds is None):
            from pipecast.runtime import resolve_function

            func = fake or resolve_function(comp.python_function or "")
            return call_in_process(func, text, uris, comp, log_dir, step.timeout_seconds)
        if self.engine is not None and not comp.python_function:
            return self._attempt_in_engine(self.engine, step, text, uris, log_dir, worker)
        argv = self._argv(step, text, uris)
        # locally, "python" is this interpreter, seeing the same modules as the pipeline file
        path = os.pathsep.join(p for p in sys.path if p and os.path.isdir(p))
        env = {**os.environ, "PYTHONPATH": path, **dict(step.env)}
        if argv[0] in ("python", "python3"):
            argv[0] = sys.executable
        return self._spawn(step, argv, env, log_dir, worker=worker)

    def container_run(
        self,
        step: StepSpec,
        text: dict[str, str],
        uris: dict[str, str],
        attempt: int,
        worker: int | None = None,
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
            name=container_name(self.spec.name, self.run_dir.name, _key(step, worker), attempt),
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
        worker: int | None = None,
    ) -> int:
        run = self.container_run(step, text, uris, self.results[step.id].attempts, worker)
        for mount in run.mounts:  # an output parameter is a file the step writes: an engine
            if not mount.read_only and not os.path.exists(mount.source):  # binds only what is
                Path(mount.source).touch()  # there, so it starts empty (empty = not written)
        env = dict(os.environ)
        if run.env:  # values through a private file, never on the command line
            env_file = log_dir / "container.env"
            run = dataclasses.replace(run, env_file=str(env_file.resolve()))
            write_env_file(str(env_file), run.env)
            env.update(client_env(run.env))
        argv = engine_argv(engine.name, engine.binary, run)

        def remove() -> None:  # killing the client leaves the container running
            import subprocess

            with contextlib.suppress(OSError, subprocess.SubprocessError):
                subprocess.run(
                    [engine.binary, "rm", "-f", run.name], capture_output=True, timeout=60
                )

        try:
            return self._spawn(step, argv, env, log_dir, on_stop=remove, worker=worker)
        finally:
            if run.env_file is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(run.env_file)

    def _spawn(
        self,
        step: StepSpec,
        argv: list[str],
        env: dict[str, str],
        log_dir: Path,
        on_stop: Callable[[], None] | None = None,
        worker: int | None = None,
    ) -> int:
        """Run ``argv`` with logs in ``log_dir``, killed after the step's timeout (exit 124)
        or, with its whole process group, when the run is interrupted."""
        key = _key(step, worker)
        import subprocess

        with open(log_dir / "stdout.txt", "wb") as out, open(log_dir / "stderr.txt", "wb") as err:
            try:
                proc = self.processes.start(
                    key,
                    argv,
                    stdout=out,
                    stderr=err,
                    env=env,
                    cwd=self.run_dir / step.id,
                    on_stop=on_stop,
                )
            except OSError as exc:
                err.write(f"cannot start {argv[0]!r}: {exc.strerror}\n".encode())
                return 127
            if proc is None:
                return 130  # the run is stopping
            try:
                return proc.wait(timeout=step.timeout_seconds)
            except subprocess.TimeoutExpired:
                self.processes.kill(proc)
                if on_stop is not None:
                    on_stop()
                err.write(f"\ntimed out after {step.timeout_seconds}s\n".encode())
                return 124
            finally:
                self.processes.finished(key)

    # ----- one step ---------------------------------------------------------------------------

    def _set_aside(self, step: StepSpec, attempt: int) -> None:
        """Move attempt ``attempt``'s outputs and logs to ``{step}/_attempts/<attempt>/``."""
        step_dir = self.run_dir / step.id
        kept = step_dir / "_attempts" / str(attempt)
        kept.mkdir(parents=True, exist_ok=True)
        comp = self.spec.component(step.component)
        for name in [o.name for o in comp.outputs] + ["_logs"]:
            if (step_dir / name).exists():
                os.replace(step_dir / name, kept / name)

    def run_step(self, step: StepSpec) -> None:
        result = self.results[step.id]
        step_dir = self.run_dir / step.id
        if step_dir.exists():  # an earlier run's or an interrupted attempt's leftovers
            shutil.rmtree(step_dir)
        log_dir = step_dir / "_logs"
        result.log_dir = str(log_dir)
        attempts = step.retry.max_attempts if step.retry else 1
        result.max_attempts = attempts
        result.status, result.started = "running", time.time()
        self.on_event("started", result)
        code = 1
        for attempt in range(1, attempts + 1):
            if attempt > 1:
                self._set_aside(step, attempt - 1)
            log_dir.mkdir(parents=True, exist_ok=True)
            result.attempts, result.error = attempt, None
            try:
                code = self._attempt(step, log_dir)
            except Exception as exc:
                (log_dir / "stderr.txt").write_text(f"{exc}\n", encoding="utf-8")
                result.error = str(exc)
                code = 1
                break
            if code == 0 or self.stop.is_set() or attempt == attempts:
                break
            assert step.retry is not None
            delay = step.retry.backoff_seconds * step.retry.backoff_rate ** (attempt - 1)
            delay *= self.backoff_scale
            result.note = f"attempt {attempt + 1}/{attempts} after {delay:g} s"
            result.error = failure_text(code, log_dir)
            self.on_event("retrying", result)
            if self.stop.wait(delay):
                break
        result.exit_code, result.finished, result.note = code, time.time(), None
        problem = self.output_problem(step) if code == 0 else None
        digests = {}
        if code == 0 and problem is None:  # digests first: read once the step "succeeded"
            digests = {name: digest_folder(Path(f)) for name, f in result.outputs.items()}
        # The final status and the journal that records it change together, under the
        # scheduler's lock: the scheduler starts dependents only when it sees a parent done, and
        # they may read run.json, which must then already say so.
        with self.scheduler.lock:
            if problem is not None:
                result.status, result.error = "failed", problem
            elif code == 0:
                result.cache_key, result.digests = self.keys.get(step.id), digests
                result.status, result.error = "succeeded", None
            elif self.stop.is_set():
                result.status, result.error = "interrupted", "stopped by an interrupt"
            else:
                result.status = "failed"
                result.error = result.error or failure_text(code, log_dir)
            self.record()
        self.on_event(result.status, result)

    def output_problem(self, step: StepSpec) -> str | None:
        """What is wrong with the outputs of a step that exited 0 (None: nothing); a problem
        fails the step. Artifacts are folders the step may leave empty, so nothing here."""
        return None

    # ----- the run ----------------------------------------------------------------------------

    def record(self) -> None:
        """Rewrite the journal with every step's state now (atomic)."""
        if self.journal is not None:
            self.journal.write(self.state(final=False), self.results, **self._extra())

    def _extra(self) -> dict[str, Any]:
        name = signal.Signals(self.stop_signal).name if self.stop_signal else None
        return {"warnings": list(self.warnings), "signal": name}

    def state(self, *, final: bool = True) -> str:
        statuses = [r.status for r in self.results.values()]
        if self.stop.is_set() and any(s not in (*DONE, "failed", "skipped") for s in statuses):
            return "interrupted"
        if not final:
            return "running"
        # a step in a branch not taken is skipped without an error: that is success
        fine = (
            r.status in DONE or (r.status == "skipped" and r.error is None)
            for r in self.results.values()
        )
        return "succeeded" if all(fine) else "failed"

    def _warn(self, text: str) -> None:
        self.warnings.append(text)
        self.on_warning(text)

    def run(self) -> None:
        """Check, warn, bring the inputs in, then run every step that can run."""
        check_numbers(self.scheduler.capacity, self.spec.steps)
        for text in capacity_warnings(self.scheduler, self.spec.steps):
            self._warn(text)
        self.record()
        try:
            for importer in self.spec.importers:
                if self.stop.is_set():
                    break
                self._importer_dir(importer.id)
        except KeyboardInterrupt:
            self.stop.set()
        self.started = True
        if not self.stop.is_set():
            self._schedule()
        self.record()

    def _schedule(self) -> None:
        pending = list(self.checked.order)
        running: dict[str, tuple[threading.Thread, Need]] = {}
        sched = self.scheduler
        with sched.lock:
            while (pending or running) and not self.stop.is_set():
                progressed = self._start_ready(pending, running)
                for step_id in [s for s, (t, _) in running.items() if not t.is_alive()]:
                    running.pop(step_id)
                    progressed = True
                if not progressed:
                    sched.lock.wait(timeout=0.2)
        if self.stop.is_set():
            self.stop_running({k: t for k, (t, _) in running.items()})

    def stop_running(self, running: Mapping[str, threading.Thread]) -> None:
        """After an interrupt: stop every process, give threads a moment, mark the rest."""
        self.processes.stop_all()
        deadline = time.monotonic() + 5.0  # in-process code cannot be stopped: do not hang
        for thread in running.values():
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        for step_id in running:
            if self.results[step_id].status == "running":
                self.results[step_id].status = "interrupted"
                self.results[step_id].error = "stopped by an interrupt (in-process code)"

    def _start_ready(
        self, pending: list[str], running: dict[str, tuple[threading.Thread, Need]]
    ) -> bool:
        """Start (or reuse, or skip) every pending step whose turn it is; True if any was."""
        sched, progressed, changed = self.scheduler, False, False
        for step_id in list(pending):
            preds = list(self.checked.graph.predecessors(step_id))
            states = [self.results[p].status for p in preds]
            if any(s in ("failed", "skipped") for s in states):
                self.results[step_id].status = "skipped"
                self.results[step_id].error = "an upstream step failed"
                pending.remove(step_id)
                self.on_event("skipped", self.results[step_id])
                progressed = changed = True
                continue
            if not all(s in DONE for s in states):
                continue
            step = self.spec.step(step_id)
            if step_id not in self.keys:
                self.keys[step_id] = self.key(step)
                reused = self._reusable(step, self.keys[step_id])
                if reused is not None:
                    reused.status = "cached"
                    self.results[step_id] = reused
                    pending.remove(step_id)
                    self.on_event("cached", reused)
                    progressed = changed = True
                    continue
            need = sched.need(step)
            if sched.oversized(step) and running:
                continue  # runs alone
            if not sched.try_acquire(need):
                continue
            thread = threading.Thread(target=self._run_and_release, args=(step, need), daemon=True)
            running[step_id] = (thread, need)
            pending.remove(step_id)
            thread.start()
            progressed = True
        if changed:
            self.record()
        return progressed

    def _run_and_release(self, step: StepSpec, need: Need) -> None:
        try:
            self.run_step(step)
        except Exception as exc:  # never leave a step "running": its dependents would wait forever
            result = self.results[step.id]
            with self.scheduler.lock:
                result.status, result.error = "failed", f"{type(exc).__name__}: {exc}"
                result.finished = time.time()
                self.record()
            self.on_event("failed", result)
        finally:
            with self.scheduler.lock:
                self.scheduler.release(need)
                self.scheduler.lock.notify_all()
