"""The local runner for pipelines with values between steps and control flow: the reference
semantics of DESIGN §12 that the targets are compared with.

A step inside loops runs once per iteration; each run is an *instance* keyed
``<step>/<index>[/<index>...]`` (the run layout: ``{run}/<step>/<index>/<output>/``, the same
key in ``run.json``); a step outside loops keeps its plain id. Loops expand when their items are
known (a literal, a parameter, or an upstream output once it is written), so a step waits for
everything its iterations read. Instances run through the classic runner's machinery (threads,
declared resources, retries, timeouts, fakes), with these rules on top:

- a condition is evaluated per iteration, once its operands exist; the steps of an untaken
  branch are ``skipped`` without an error, and the decision is recorded (``branches``);
- at most ``parallelism`` iterations of a loop are in flight at once;
- an output parameter is the JSON file the step wrote (checked against its declared type);
  ``Collected`` is the list of every iteration's value, or a folder ``0/``, ``1/``, ... of
  their artifacts; ``OneOf`` is the output of the branch that ran;
- an exit task waits for every step of its handler to end, whatever the outcome, and receives
  ``RUN_STATUS``: ``{"state", "failed_step", "error"}``.

``--resume`` is exact per instance, as in the classic runner: an instance is reused when its
cache key (component, settings, the values it would be given, including loop items, output
parameters, ``Collected`` lists and ``RUN_STATUS``, the digests of its input artifacts and the
keys of the upstream instances it waits for) matches the recorded one and its outputs are
intact. A rerun upstream instance changes its readers' keys, so exactly what it reaches reruns;
branch decisions and loop items are computed again from the (reused or new) values.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from pipecast.compilers.graph import CheckedPipeline
from pipecast.dsl.spec import (
    Binding,
    CollectedRef,
    Comparison,
    Constant,
    GroupSpec,
    ImporterRef,
    LoopItemRef,
    OneOfRef,
    OutputRef,
    ParameterRef,
    RunStatusRef,
    StepSpec,
    render_value,
    value_matches,
)

from ._engine import Runner, StepResult, _fake_name, _source_digest
from ._journal import cache_key, digest_folder
from ._results import DONE

__all__ = ["FlowRunner", "needs_flow_runner"]

Index = tuple[int, ...]
_TERMINAL = ("succeeded", "failed", "skipped", "cached")
_MISSING = object()


def needs_flow_runner(checked: CheckedPipeline) -> bool:
    """Whether the pipeline uses groups or output parameters (else the classic runner runs it)."""
    spec = checked.spec
    return bool(spec.groups) or any(
        o.kind == "parameter" for c in spec.components for o in c.outputs
    )


def instance_key(step_id: str, index: Index) -> str:
    return "/".join([step_id, *(str(i) for i in index)])


class _Fakes(dict[str, Any]):
    """Fakes by step id (every iteration) or by instance key (``"detect/1"``: one iteration)."""

    def get(self, key: str, default: Any = None) -> Any:
        if key in self:
            return self[key]
        return super().get(key.split("/", 1)[0], default)


class FlowRunner(Runner):
    """Runs step instances (one per loop iteration) under the rules in the module docstring."""

    def __init__(self, checked: CheckedPipeline, params: Any, run_dir: Path, **options: Any):
        super().__init__(checked, params, run_dir, **options)
        spec = self.spec
        self.fakes = _Fakes(self.fakes)
        self.results = {}
        self.loops = {s.id: [g for g in spec.groups_of(s) if g.kind == "loop"] for s in spec.steps}
        self.items: dict[tuple[str, Index], list[Any]] = {}
        self.instances: dict[str, list[Index]] = {}
        self.info: dict[str, tuple[StepSpec, Index]] = {}
        self.branches: dict[str, bool] = {}
        self.exit_of = {g.exit_step: g for g in spec.groups if g.kind == "exit_handler"}
        self.begun: dict[tuple[str, Index], set[int]] = {}  # iterations started, per loop
        self.members: dict[str, list[str]] = {}
        for step in spec.steps:
            for group in spec.groups_of(step):
                self.members.setdefault(group.id, []).append(step.id)

    # ----- loops -----------------------------------------------------------------------------

    def _group_loops(self, group: GroupSpec) -> list[GroupSpec]:
        """The loops around ``group`` (outermost first), not counting itself."""
        chain: list[GroupSpec] = []
        parent = self.spec.group(group.parent) if group.parent else None
        while parent is not None:
            if parent.kind == "loop":
                chain.append(parent)
            parent = self.spec.group(parent.parent) if parent.parent else None
        return chain[::-1]

    def _loop_items(self, loop: GroupSpec, outer: Index) -> list[Any] | None:
        """The items of ``loop`` in the iteration ``outer`` of its enclosing loops; None while
        they depend on an output not written yet."""
        cached = self.items.get((loop.id, outer))
        if cached is not None:
            return cached
        assert loop.items is not None
        value = self._value(loop.items, self._group_loops(loop), outer)
        if value is _MISSING:
            return None
        items = value if isinstance(value, list) else []
        self.items[(loop.id, outer)] = items
        return items

    def _expand(self, step_id: str, prefix: Index = ()) -> list[Index] | None:
        """The instances of ``step_id`` in the iteration ``prefix`` of its outer loops; None
        while the items of a loop they are in are not known yet."""
        indices, complete = self._expand_known(step_id, prefix)
        return indices if complete else None

    def _expand_known(self, step_id: str, prefix: Index = ()) -> tuple[list[Index], bool]:
        """The instances of ``step_id`` in the iteration ``prefix`` known now, and whether that
        is all of them: an iteration of an outer loop whose nested loop's items it wrote itself
        can go on before the other iterations have written theirs."""
        indices: list[Index] = [prefix]
        complete = True
        for loop in self.loops[step_id][len(prefix) :]:
            grown: list[Index] = []
            for index in indices:
                items = self._loop_items(loop, index)
                if items is None:
                    complete = False
                    continue
                grown += [(*index, i) for i in range(len(items))]
            indices = grown
        return indices, complete

    def _all_created(self, step_id: str, prefix: Index) -> bool:
        """Whether every instance of ``step_id`` in the iteration ``prefix`` exists."""
        wanted = self._expand(step_id, prefix)
        return wanted is not None and set(wanted) <= set(self.instances.get(step_id, ()))

    # ----- values ----------------------------------------------------------------------------

    def _producer(self, step_id: str, index: Index) -> str:
        """The instance of ``step_id`` a reader at ``index`` sees (its shared loops' indices)."""
        return instance_key(step_id, index[: len(self.loops.get(step_id, []))])

    def _read_parameter(self, key: str, output: str) -> Any:
        path = self.run_dir / key / output
        return json.loads(path.read_text(encoding="utf-8"))

    def _value(self, binding: Binding, loops: list[GroupSpec], index: Index) -> Any:
        """A parameter-like binding's value at ``index`` (the iteration of ``loops``), or
        _MISSING while an upstream output is not written yet."""
        if isinstance(binding, Constant):
            return binding.value
        if isinstance(binding, ParameterRef):
            return self.params[binding.name]
        if isinstance(binding, LoopItemRef):
            position = next(i for i, g in enumerate(loops) if g.id == binding.loop)
            loop = loops[position]
            items = self._loop_items(loop, index[:position])
            if items is None:
                return _MISSING
            item = items[index[position]]
            return item if binding.key is None else item[binding.key]
        if isinstance(binding, OutputRef):
            key = self._producer(binding.step, index)
            result = self.results.get(key)
            if result is None or result.status not in _TERMINAL:
                return _MISSING
            if result.status not in DONE:
                return None
            return self._read_parameter(key, binding.output)
        return None

    def _step_value(self, step: StepSpec, index: Index, binding: Binding) -> Any:
        return self._value(binding, self.loops[step.id], index)

    def _status(self, exit_step: str) -> str:
        """RUN_STATUS for ``exit_step``: the first failure among its handler's steps."""
        group = self.exit_of[exit_step]
        for step_id in self.checked.order:
            if step_id not in self.members.get(group.id, ()):
                continue
            for index in self.instances.get(step_id, []):
                key = instance_key(step_id, index)
                result = self.results[key]
                if result.status == "failed":
                    return json.dumps(
                        {
                            "state": "FAILED",
                            "failed_step": step_id,
                            "error": f"{key}: {result.error}",
                        },
                        sort_keys=True,
                    )
        return json.dumps(
            {"state": "SUCCEEDED", "failed_step": None, "error": None}, sort_keys=True
        )

    def _values(self, step: StepSpec) -> tuple[dict[str, str], dict[str, str], dict[str, Any]]:
        orig, index = self.info[step.id]
        comp = self.spec.component(orig.component)
        text: dict[str, str] = {}
        uris: dict[str, str] = {}
        typed: dict[str, Any] = {}
        for name, binding in orig.arguments:
            inp = comp.input(name)
            artifact = inp is not None and inp.kind == "artifact"
            if isinstance(binding, OneOfRef):
                options = binding
                binding = self._chosen(options, index)
                if self.results[self._producer(binding.step, index)].status not in DONE:
                    ran = ", ".join(f"'{o.step}'" for o in options.options)
                    raise RuntimeError(
                        f"input '{name}': dsl.OneOf({ran}) has no value: none of those steps "
                        "ran (no branch of its condition was taken); add a dsl.Else() branch "
                        "that produces it"
                    )
            if isinstance(binding, ImporterRef):
                text[name] = str(self._importer_dir(binding.importer))
                imp = self.spec.importer(binding.importer)
                assert imp is not None
                uri = imp.uri.value if isinstance(imp.uri, Constant) else self.params[imp.uri.name]
                uris[name] = str(uri)
            elif isinstance(binding, OutputRef) and artifact:
                path = self.run_dir / self._producer(binding.step, index) / binding.output
                text[name] = uris[name] = str(path)
            elif isinstance(binding, CollectedRef) and artifact:
                text[name] = uris[name] = str(self._collect_folder(step.id, name, binding, index))
            else:
                if isinstance(binding, RunStatusRef):
                    value: Any = self._status(orig.id)
                elif isinstance(binding, CollectedRef):
                    value = [
                        self._read_parameter(k, binding.output)
                        for k in self._iterations(binding.step, orig.id, index)
                    ]
                else:
                    value = self._step_value(orig, index, binding)
                typed[name] = value
                text[name] = render_value(value)
        for out in comp.outputs:
            path = self.run_dir / step.id / out.name
            if out.kind == "parameter":
                path.parent.mkdir(parents=True, exist_ok=True)
                path.unlink(missing_ok=True)  # a retry starts without the last attempt's value
            else:
                path.mkdir(parents=True, exist_ok=True)
            text[out.name] = uris[out.name] = str(path)
        return text, uris, typed

    def _chosen(self, binding: OneOfRef, index: Index) -> OutputRef:
        """The option of a ``OneOf`` whose branch ran (reused counts), else the first."""
        return next(
            (
                o
                for o in binding.options
                if self.results[self._producer(o.step, index)].status in DONE
            ),
            binding.options[0],
        )

    # ----- resume ----------------------------------------------------------------------------

    def instance_cache_key(self, key: str) -> str:
        """The cache key of instance ``key`` now (its upstream instances have ended): what
        :meth:`Runner.key` hashes, with the values this iteration is given (no side effects:
        output folders are made only when the instance runs)."""
        orig, index = self.info[key]
        comp = self.spec.component(orig.component)
        values: dict[str, Any] = {}
        inputs: dict[str, Any] = {}
        for name, binding in orig.arguments:
            inp = comp.input(name)
            artifact = inp is not None and inp.kind == "artifact"
            if isinstance(binding, OneOfRef):
                binding = self._chosen(binding, index)
            if isinstance(binding, ImporterRef):
                inputs[name] = self.input_digests.get(binding.importer, "missing")
            elif isinstance(binding, OutputRef) and artifact:
                producer = self.results[self._producer(binding.step, index)]
                inputs[name] = producer.digests.get(binding.output, "missing")
            elif isinstance(binding, CollectedRef) and artifact:
                inputs[name] = [
                    self.results[k].digests.get(binding.output, "missing")
                    for k in self._iterations(binding.step, orig.id, index)
                ]
            elif isinstance(binding, RunStatusRef):
                values[name] = self._status(orig.id)
            elif isinstance(binding, CollectedRef):
                values[name] = [
                    self._recorded(k, binding.output)
                    for k in self._iterations(binding.step, orig.id, index)
                ]
            else:
                values[name] = self._step_value(orig, index, binding)
        fake = self.fakes.get(key)
        return cache_key(
            {
                "component": comp.to_dict(),
                "source": _source_digest(comp.python_function) if comp.python_function else None,
                "fake": _fake_name(fake) if fake is not None else None,
                "arguments": {n: b.to_dict() for n, b in orig.arguments},
                "env": dict(orig.env),
                "timeout": orig.timeout_seconds,
                "parameters": values,
                "inputs": inputs,
                "upstream": {
                    p: [self.keys.get(k) for k in self._iterations(p, orig.id, index)]
                    for p in sorted(self.checked.graph.predecessors(orig.id))
                },
            }
        )

    def _recorded(self, key: str, output: str) -> Any:
        """An output parameter's value for a cache key ("missing" if the instance wrote none)."""
        try:
            return self._read_parameter(key, output)
        except (OSError, ValueError):
            return "missing"

    def _reuse(self, key: str) -> bool:
        """Reuse the recorded result of instance ``key`` if its cache key matches and every
        output (folder or parameter file) is as recorded; True if it was."""
        if not self.previous:
            return False
        if key not in self.keys:
            self.keys[key] = self.instance_cache_key(key)
        prev = self.previous.get(key)
        if prev is None or prev.status not in DONE or prev.cache_key != self.keys[key]:
            return False
        orig, _ = self.info[key]
        for out in self.spec.component(orig.component).outputs:
            if prev.digests.get(out.name) != digest_folder(self.run_dir / key / out.name):
                return False
        prev.status = "cached"
        self.results[key] = prev
        self.record()
        self.on_event("cached", prev)
        return True

    def _iterations(self, step_id: str, reader: str, index: Index) -> list[str]:
        """Every instance of ``step_id`` that the instance ``index`` of ``reader`` sees: those
        in the iterations of the loops both are in, in order."""
        shared = self._shared(step_id, reader)
        return [
            instance_key(step_id, i)
            for i in self.instances.get(step_id, [])
            if i[:shared] == index[:shared]
        ]

    def _shared(self, step_id: str, reader: str) -> int:
        """How many loops (outermost first) ``step_id`` and ``reader`` are both in."""
        shared = 0
        for mine, theirs in zip(self.loops[step_id], self.loops[reader], strict=False):
            if mine.id != theirs.id:
                break
            shared += 1
        return shared

    def _collect_folder(self, key: str, name: str, ref: CollectedRef, index: Index) -> Path:
        """A folder with one subfolder per iteration (``0/``, ``1/``, ...): copies of the
        iterations' artifacts, so the reader cannot change what the loop wrote."""
        dest = self.run_dir / key / "_collected" / name
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True)
        reader = self.info[key][0].id
        for i, producer in enumerate(self._iterations(ref.step, reader, index)):
            source = self.run_dir / producer / ref.output
            if source.is_dir():
                shutil.copytree(source, dest / str(i))
            else:
                (dest / str(i)).mkdir()
        return dest

    # ----- conditions ------------------------------------------------------------------------

    def _holds(self, c: Comparison, loops: list[GroupSpec], index: Index) -> bool:
        left = self._value(c.left, loops, index)
        right = self._value(c.right, loops, index)
        if left is None or right is None:
            return False
        if c.op == "==":
            return bool(left == right)
        if c.op == "!=":
            return bool(left != right)
        try:
            return bool(
                {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[
                    c.op
                ]
            )
        except TypeError:
            return False

    def _untaken(self, step: StepSpec, index: Index) -> str | None:
        """The first condition around the instance that does not hold (recorded), or None."""
        for group in self.spec.groups_of(step):
            if group.kind != "condition":
                continue
            loops = self._group_loops(group)
            outer = index[: len(loops)]
            key = instance_key(group.id, outer)
            if key not in self.branches:
                self.branches[key] = all(
                    self._holds(c, loops, outer) for c in group.when
                ) and not any(self._holds(c, loops, outer) for c in group.unless)
            if not self.branches[key]:
                return key
        return None

    # ----- scheduling ------------------------------------------------------------------------

    def _readiness(self, step: StepSpec, index: Index) -> str:
        """ "wait", "run" or "upstream-failed" for one instance."""
        graph = self.checked.graph
        failed = False
        for pred in graph.predecessors(step.id):
            if not self._all_created(pred, index[: self._shared(pred, step.id)]):
                return "wait"
            keys = self._iterations(pred, step.id, index)
            states = [self.results[k] for k in keys]
            if any(r.status not in _TERMINAL for r in states):
                return "wait"
            edge = graph.edges[pred, step.id]
            only_exit = edge.get("exit") and not edge.get("data") and not edge.get("explicit")
            if only_exit:
                continue
            if any(r.status == "failed" or (r.status == "skipped" and r.error) for r in states):
                failed = True
        return "upstream-failed" if failed else "run"

    def _iteration_done(self, loop: GroupSpec, prefix: Index) -> bool:
        for member in self.members.get(loop.id, ()):
            if not self._all_created(member, prefix):
                return False
            for i in self.instances[member]:
                key = instance_key(member, i)
                if i[: len(prefix)] == prefix and self.results[key].status not in _TERMINAL:
                    return False
        return True

    def _slot(self, step: StepSpec, index: Index) -> bool:
        """Whether every loop around the instance has room for its iteration (parallelism)."""
        for position, loop in enumerate(self.loops[step.id]):
            if loop.parallelism is None:
                continue
            outer, i = index[:position], index[position]
            started = self.begun.get((loop.id, outer), set())
            if i in started:
                continue
            busy = sum(1 for j in started if not self._iteration_done(loop, (*outer, j)))
            if busy >= loop.parallelism:
                return False
        return True

    def _mark_started(self, step: StepSpec, index: Index) -> None:
        for position, loop in enumerate(self.loops[step.id]):
            self.begun.setdefault((loop.id, index[:position]), set()).add(index[position])

    def _finish_without_running(self, key: str, error: str | None) -> None:
        result = self.results[key]
        result.status, result.error = "skipped", error
        result.finished = time.time()
        self.record()
        self.on_event("skipped", result)

    def _schedule(self) -> None:
        """The classic runner's loop, over instances that appear as loops expand."""
        unexpanded = list(self.checked.order)
        waiting: list[str] = []
        running: dict[str, threading.Thread] = {}
        sched = self.scheduler
        with sched.lock:
            while (unexpanded or waiting or running) and not self.stop.is_set():
                progressed = False
                for step_id in list(unexpanded):
                    indices, complete = self._expand_known(step_id)
                    have = self.instances.setdefault(step_id, [])
                    known = set(have)
                    new = [i for i in indices if i not in known]
                    have.extend(new)
                    have.sort()  # iteration order, whatever order they became known in
                    for index in new:
                        key = instance_key(step_id, index)
                        self.results[key] = StepResult(key)
                        self.info[key] = (self.spec.step(step_id), index)
                        waiting.append(key)
                    if complete:
                        unexpanded.remove(step_id)
                    progressed = progressed or bool(new) or complete
                for key in list(waiting):
                    step, index = self.info[key]
                    state = self._readiness(step, index)
                    if state == "wait":
                        continue
                    if state == "upstream-failed":
                        waiting.remove(key)
                        self._finish_without_running(key, "an upstream step failed")
                        progressed = True
                        continue
                    untaken = self._untaken(step, index)
                    if untaken is not None:
                        waiting.remove(key)
                        self._finish_without_running(key, None)
                        progressed = True
                        continue
                    if key not in self.keys:  # its upstream instances have all ended
                        self.keys[key] = self.instance_cache_key(key)
                        if self._reuse(key):
                            waiting.remove(key)
                            progressed = True
                            continue
                    if not self._slot(step, index):
                        continue
                    instance = replace(step, id=key)
                    need = sched.need(instance)
                    if sched.oversized(instance) and running:
                        continue  # runs alone (warned about before the run started)
                    if not sched.try_acquire(need):
                        continue
                    self._mark_started(step, index)
                    waiting.remove(key)
                    thread = threading.Thread(
                        target=self._run_and_release, args=(instance, need), daemon=True
                    )
                    running[key] = thread
                    thread.start()
                    progressed = True
                for key in [k for k, t in running.items() if not t.is_alive()]:
                    running.pop(key)
                    progressed = True
                if not progressed:
                    if (
                        not running
                        and waiting
                        and not any(self._readiness(*self.info[k]) != "wait" for k in waiting)
                        and not unexpanded
                    ):
                        break  # nothing can ever become ready (should not happen)
                    sched.lock.wait(timeout=0.2)
        if self.stop.is_set():
            self.stop_running(running)

    def output_problem(self, step: StepSpec) -> str | None:
        """Every output parameter of the instance was written, as JSON of its declared type
        (checked before the instance counts as succeeded, so no reader sees a missing value)."""
        orig, _ = self.info[step.id]
        for out in self.spec.component(orig.component).outputs:
            if out.kind != "parameter":
                continue
            problem = self._check_parameter(step.id, out.name, out.type)
            if problem is not None:
                return problem
        return None

    def _check_parameter(self, key: str, name: str, type_name: str) -> str | None:
        path = self.run_dir / key / name
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            text = ""
        if not text:  # in a container engine the file is there from the start, empty
            return f"the step did not write its output parameter '{name}' (to {path})"
        try:
            value = json.loads(text)
        except ValueError as exc:
            return f"output parameter '{name}' is not JSON: {exc}"
        if not value_matches(type_name, value):
            return f"output parameter '{name}' is {type_name}, the step wrote {value!r}"
        return None

    def _extra(self) -> dict[str, Any]:
        """What ``run.json`` adds for control flow: branch decisions and loop items."""
        return {
            **super()._extra(),
            # copies first: worker threads record while the scheduler adds decisions
            "branches": dict(sorted(dict(self.branches).items())),
            "loops": {
                instance_key(loop, index): items
                for (loop, index), items in sorted(dict(self.items).items())
            },
        }
