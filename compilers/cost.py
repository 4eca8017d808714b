"""What a run costs, per step, before anything runs (``pipecast cost``, DESIGN §14).

The estimate reads the pipeline, never AWS: each step's instance type is the one the target
compiles to (its ``place``: the cheapest catalogue type that fits, or the pinned one), its
price comes from a dated price catalogue (the shipped one, or ``[cost] prices = "file.json"``
with the same keys), its duration from ``set_expected_duration`` (a step without a hint is
assumed to take the median of the hints given, 1 hour when there are none, and is named in a
warning). A step's cost is ``price_per_hour × instance_count × hours × (1 − spot_discount if
spot)``, where ``hours`` covers every iteration of the loops around it. The target adds what
its orchestration charges per run and decides the makespan through its own layout
(``Target.run_shape``), so no code here asks which target it is.

The monolith is the same work as one job on one machine: every step in sequence (a step on N
machines takes N times as long), on demand, on the cheapest catalogue type with the maximum of
each resource any step asks for. ``ratio`` is the monolith's cost over the run's total.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipecast.dsl.spec import Constant, ParameterRef, ResourceSpec
from pipecast.errors import ConfigError, Diagnostic, PipelineError, UsageError, did_you_mean

from . import aws_jobs as jobs
from .aws_jobs import InstanceType

if TYPE_CHECKING:
    from pipecast.config import Config
    from pipecast.dsl.spec import GroupSpec, PipelineSpec, StepSpec

    from .diff import DocumentSummary
    from .target import Charge, Target

__all__ = [
    "ALL_LOOPS",
    "ASSUMED_SECONDS",
    "DEFAULT_SPOT_DISCOUNT",
    "SPOT_DISCOUNT_SOURCE",
    "Estimate",
    "Monolith",
    "Prices",
    "StepCost",
    "cost_changes",
    "estimate",
    "load_prices",
    "money",
    "step_hours",
]

DEFAULT_SPOT_DISCOUNT = 0.7
SPOT_DISCOUNT_SOURCE = (
    "assumed 70% below on demand: AWS states managed spot training saves up to 90% over "
    "on-demand instances, and spot prices vary by type, region and hour; 70% is the typical "
    "saving pipecast's design assumes (set [cost] spot_discount to your own)"
)
ASSUMED_SECONDS = 3600.0  # a step's duration when no step of the pipeline has a hint
ALL_LOOPS = "*"  # the key of ``--items N`` (every loop over a run-time list)


@dataclass(frozen=True)
class Prices:
    """An instance price catalogue: its types, date, currency, region and source."""

    types: tuple[InstanceType, ...]
    as_of: str
    currency: str
    region: str
    source: str
    origin: str = "the catalogue shipped with pipecast (compilers/data/sagemaker_instances.json)"

    def price(self, instance_type: str) -> float | None:
        found = next((t for t in self.types if t.type == instance_type), None)
        return None if found is None else found.price_per_hour


@dataclass(frozen=True)
class StepCost:
    """One step's line: ``hours`` covers all ``iterations`` (loops around the step)."""

    step: str
    instance_type: str
    instance_count: int
    price_per_hour: float
    hours: float
    spot: bool
    cost: float
    on_demand_cost: float
    iterations: int = 1
    assumed: bool = False


@dataclass(frozen=True)
class Monolith:
    instance_type: str
    price_per_hour: float
    hours: float
    cost: float


@dataclass(frozen=True)
class Estimate:
    """A run's estimate; :meth:`to_dict` has DESIGN §14's JSON keys (plus a few documented
    extras: ``pipeline``, ``currency``, ``charges``, ``runs_per_month``, ``monthly_total``,
    ``notes``, ``warnings``)."""

    target: str
    pipeline: str
    prices: Prices
    spot_discount: float
    steps: tuple[StepCost, ...]
    charges: tuple[Charge, ...]
    charges_as_of: str | None
    total: float
    makespan_hours: float
    monolith: Monolith
    runs_per_month: int | None = None
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    configured_region: str | None = None  # the configuration's region, when it has one

    @property
    def ratio(self) -> float:
        return self.monolith.cost / self.total if self.total else math.inf

    def to_dict(self) -> dict[str, Any]:
        monthly = None if self.runs_per_month is None else self.total * self.runs_per_month
        return {
            "target": self.target,
            "pipeline": self.pipeline,
            "prices_as_of": self.prices.as_of,
            "region": self.prices.region,
            "currency": self.prices.currency,
            "spot_discount": self.spot_discount,
            "steps": [
                {
                    "step": s.step,
                    "instance_type": s.instance_type,
                    "instance_count": s.instance_count,
                    "price_per_hour": s.price_per_hour,
                    "hours": _round(s.hours),
                    "iterations": s.iterations,
                    "hours_assumed": s.assumed,
                    "spot": s.spot,
                    "on_demand_cost": _round(s.on_demand_cost),
                    "cost": _round(s.cost),
                }
                for s in self.steps
            ],
            "charges": [
                {
                    "item": c.item,
                    "count": c.count,
                    "unit_price": c.unit_price,
                    "cost": _round(c.count * c.unit_price),
                    "prices_as_of": self.charges_as_of,
                }
                for c in self.charges
            ],
            "total": _round(self.total),
            "makespan_hours": _round(self.makespan_hours),
            "monolith": {
                "instance_type": self.monolith.instance_type,
                "price_per_hour": self.monolith.price_per_hour,
                "hours": _round(self.monolith.hours),
                "cost": _round(self.monolith.cost),
            },
            "ratio": _round(self.ratio, 4) if self.total else None,
            "runs_per_month": self.runs_per_month,
            "monthly_total": None if monthly is None else _round(monthly),
            "notes": list(self.notes),
            "warnings": list(self.warnings),
        }


def _round(value: float, digits: int = 6) -> float:
    return round(value, digits)


# ----- prices -----------------------------------------------------------------------------------


def load_prices(config: Config) -> Prices:
    """The shipped catalogue, or the file ``[cost] prices`` names (relative to the config file),
    checked against ``schemas/price_catalogue.schema.json`` with every problem listed."""
    name = config.get("cost.prices")
    if name is None:
        info = jobs.catalogue_info()
        return Prices(
            jobs.catalogue(), info["as_of"], info["currency"], info["region"], info["source"]
        )
    base = Path(config.source.split(" [", 1)[0]).parent if config.source else Path.cwd()
    path = (base / str(name)).resolve()
    where = f"[cost] prices = {name!r} ({config.source or 'configuration'})"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{where}: {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{where}: cannot read {path}: {exc}") from None
    except ValueError as exc:
        raise ConfigError(f"{where}: {path} is not valid JSON: {exc}") from None
    _check_prices(data, f"{where}: {path}")
    return Prices(
        jobs.instance_types(data["instance_types"]),
        data["as_of"],
        data["currency"],
        data["region"],
        data.get("source", ""),
        str(path),
    )


def _check_prices(data: Any, where: str) -> None:
    import jsonschema

    from pipecast.schemas import load_schema

    validator = jsonschema.Draft202012Validator(load_schema("price_catalogue"))
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [
            f"  {'.'.join(str(p) for p in e.absolute_path) or '(top level)'}: {e.message}"
            for e in errors
        ]
        raise ConfigError(
            f"{where} is not a price catalogue:\n"
            + "\n".join(lines)
            + "\n  hint: copy compilers/data/sagemaker_instances.json and change its prices"
        )


# ----- durations and loops ----------------------------------------------------------------------


def _hinted_seconds(spec: PipelineSpec) -> tuple[dict[str, float], float, str]:
    """(each step's expected seconds, the assumption for unhinted steps, how it was chosen)."""
    hints = [float(s.expected_seconds) for s in spec.steps if s.expected_seconds]
    if hints:
        typical, why = statistics.median(hints), "the median of the hints given"
    else:
        typical, why = ASSUMED_SECONDS, "no step has a hint"
    seconds = {s.id: float(s.expected_seconds or typical) for s in spec.steps}
    return seconds, typical, why


def _loop_items(
    spec: PipelineSpec, loop: GroupSpec, items: Mapping[str, int], notes: list[str]
) -> int:
    """How many iterations a loop runs: a literal list's length, ``--items``, or the default
    of the list parameter it iterates; otherwise a PC030 diagnostic."""
    if loop.id in items:
        return items[loop.id]
    if isinstance(loop.items, Constant) and isinstance(loop.items.value, list):
        return len(loop.items.value)
    if ALL_LOOPS in items:
        notes.append(f"loop '{loop.id}' over a run-time list: {items[ALL_LOOPS]} items (--items)")
        return items[ALL_LOOPS]
    if isinstance(loop.items, ParameterRef):
        param = spec.parameter(loop.items.name)
        if param is not None and isinstance(param.default, list):
            n = len(param.default)
            notes.append(
                f"loop '{loop.id}' over parameter '{loop.items.name}': {n} items, the "
                f"parameter's default (--items {loop.id}=N for another count)"
            )
            return n
    raise PipelineError(
        [
            Diagnostic(
                "PC030",
                f"loop '{loop.id}' iterates over a list known only at run time, so the cost "
                "of its steps depends on how many items it gets",
                loop.location,
                f"give the expected count: --items N (every such loop) or --items {loop.id}=N",
            )
        ],
        pipeline=spec.name,
    )


def _repeats(
    spec: PipelineSpec, step: StepSpec, items: Mapping[str, int], notes: list[str]
) -> tuple[int, int]:
    """(iterations of the step, waves of them in time: ``ceil(items / parallelism)``)."""
    total, waves = 1, 1
    for group in spec.groups_of(step):
        if group.kind != "loop":
            continue
        n = _loop_items(spec, group, items, notes)
        total *= n
        waves *= math.ceil(n / group.parallelism) if group.parallelism else min(n, 1)
    return total, waves


def step_hours(spec: PipelineSpec, items: Mapping[str, int] | None = None) -> dict[str, float]:
    """Machine-hours of each step in one run: expected hours × instances × iterations (what
    ``plan`` multiplies a price change by)."""
    seconds, _, _ = _hinted_seconds(spec)
    out: dict[str, float] = {}
    for step in spec.steps:
        iterations, _ = _repeats(spec, step, items or {}, [])
        out[step.id] = seconds[step.id] / 3600 * step.instances * iterations
    return out


# ----- the estimate -----------------------------------------------------------------------------


def estimate(
    spec: PipelineSpec,
    target: Target,
    config: Config,
    *,
    items: Mapping[str, int] | None = None,
    runs_per_month: int | None = None,
) -> Estimate:
    """Estimate one run of ``spec`` on ``target`` (which must declare ``run_shape``)."""
    from . import graph

    if target.run_shape is None or target.place is None:
        raise UsageError(f"pipecast cost estimates AWS targets; '{target.name}' has no prices")
    _check_items(spec, items or {})
    checked = graph.check(spec)  # the pipeline's own errors stop the estimate
    notes: list[str] = []
    try:
        checked = graph.check(spec, target)  # with the target's placement
    except PipelineError as exc:
        if any(d.code == "PC006" for d in exc.diagnostics):
            raise
        refused = sorted({d.code for d in exc.diagnostics if d.severity == "error"})
        notes.append(
            f"{target.name} cannot compile this pipeline yet ({', '.join(refused)}; see "
            f"pipecast validate): this estimates the pipeline as written"
        )
    placement, _ = target.place(spec)
    prices = load_prices(config)
    discount = float(config.get("cost.spot_discount", DEFAULT_SPOT_DISCOUNT))
    seconds, typical, why = _hinted_seconds(spec)
    warnings = [
        f"warning: no expected duration for {', '.join(sorted(unhinted))}: assumed "
        f"{typical / 3600:g} h each ({why}); add .set_expected_duration(...)"
        for unhinted in [[s.id for s in spec.steps if not s.expected_seconds]]
        if unhinted
    ]
    lines: list[StepCost] = []
    span_seconds: dict[str, float] = {}
    for step in checked.steps():
        iterations, waves = _repeats(spec, step, items or {}, notes)
        instance = placement[step.id]
        price = prices.price(instance)
        if price is None:
            raise ConfigError(
                f"{prices.origin} has no price for {instance} (step '{step.id}')"
                f"{did_you_mean(instance, [t.type for t in prices.types])}; add it to the file"
            )
        hours = seconds[step.id] / 3600 * iterations
        on_demand = price * step.instances * hours
        spot = step.spot is not None
        lines.append(
            StepCost(
                step.id,
                instance,
                step.instances,
                price,
                hours,
                spot,
                on_demand * (1 - discount) if spot else on_demand,
                on_demand,
                iterations,
                not step.expected_seconds,
            )
        )
        span_seconds[step.id] = seconds[step.id] * waves
    shape = target.run_shape(checked, config, span_seconds)
    if any(g.kind == "condition" for s in spec.steps for g in spec.groups_of(s)):
        notes.append("steps under a condition are counted as if their branch runs (at most)")
    notes = list(dict.fromkeys(notes))  # a loop around several steps is noted once
    notes += shape.notes
    notes += _region_notes(config, prices)
    region = config.get("region")
    if region is not None and region != prices.region:
        warnings.append(f"warning: prices are for {prices.region}, not {region} (see the notes)")
    total = sum(s.cost for s in lines) + sum(c.count * c.unit_price for c in shape.charges)
    return Estimate(
        target=target.name,
        pipeline=spec.name,
        prices=prices,
        spot_discount=discount,
        steps=tuple(lines),
        charges=shape.charges,
        charges_as_of=shape.prices_as_of,
        total=total,
        makespan_hours=shape.makespan_seconds / 3600,
        monolith=_monolith(spec, placement, lines, prices),
        runs_per_month=runs_per_month,
        notes=tuple(notes),
        warnings=tuple(warnings),
        configured_region=region,
    )


def _check_items(spec: PipelineSpec, items: Mapping[str, int]) -> None:
    loops = [g.id for g in spec.groups if g.kind == "loop"]
    for key, value in items.items():
        if key != ALL_LOOPS and key not in loops:
            raise UsageError(
                f"--items {key}={value}: no loop '{key}' in pipeline '{spec.name}'"
                f"{did_you_mean(key, loops)}; loops: {', '.join(loops) or 'none'}"
            )


def _region_notes(config: Config, prices: Prices) -> list[str]:
    region = config.get("region")
    if region is None:
        return [f"no region configured: prices are for {prices.region}"]
    if region != prices.region:
        return [
            f"region {region} is not the prices' region: every price here is a "
            f"{prices.region} price, so the estimate is NOT for {region}; give "
            f'[cost] prices = "file.json" with {region} prices (the shipped catalogue\'s keys)'
        ]
    return []


def _needs(step: StepSpec, placed: InstanceType | None) -> ResourceSpec | None:
    if step.instance_type is not None and placed is not None:  # a pinned type: what it has
        return ResourceSpec(
            placed.vcpu, int(placed.memory_gib * 1024**3), placed.gpu, placed.gpu_model
        )
    return step.resources


def _monolith(
    spec: PipelineSpec, placement: Mapping[str, str], lines: list[StepCost], prices: Prices
) -> Monolith:
    by_type = {t.type: t for t in (*jobs.catalogue(), *prices.types)}
    needs = [r for s in spec.steps if (r := _needs(s, by_type.get(placement[s.id])))]
    gpu_types = {r.gpu_type.lower() for r in needs if r.gpu_type}
    biggest = ResourceSpec(
        max((r.cpu for r in needs), default=1),
        max((r.memory_bytes for r in needs), default=1),
        max((r.gpu for r in needs), default=0),
        next(iter(gpu_types)) if len(gpu_types) == 1 else None,
    )
    chosen = jobs.cheapest_fit("processing", biggest, prices.types)
    if chosen is None:
        raise ConfigError(
            f"{prices.origin}: no processing instance type holds every step at once "
            f"({biggest.cpu:g} vCPU, {biggest.memory_bytes / 1024**3:g} GiB, {biggest.gpu} GPU), "
            "so there is no monolith to compare with"
        )
    hours = sum(s.hours * s.instance_count for s in lines)
    return Monolith(chosen.type, chosen.price_per_hour, hours, chosen.price_per_hour * hours)


def money(amount: float, signed: bool = False, digits: int | None = None) -> str:
    """``$0.54``; amounts under ten cents keep four decimals so that they do not read $0.00
    (``digits`` fixes the decimals, for tables)."""
    if digits is None:
        digits = 2 if abs(amount) >= 0.1 else 4
    text = f"${abs(amount):,.{digits}f}"
    if signed:
        return ("+" if amount >= 0 else "−") + text
    return text if amount >= 0 else "−" + text


# ----- the cost of a change (diff, plan) --------------------------------------------------------


def cost_changes(
    old: DocumentSummary,
    new: DocumentSummary,
    hours: Mapping[str, float] | None = None,
    spot_discount: float = DEFAULT_SPOT_DISCOUNT,
) -> list[str]:
    """One line per step whose instance type or spot changed (or that was added or removed):
    the price change per run when ``hours`` (machine-hours per step, :func:`step_hours`) is
    known, else per machine-hour. Prices are the shipped catalogue's."""
    info = jobs.catalogue_info()
    prices = Prices(jobs.catalogue(), info["as_of"], info["currency"], info["region"], "")
    lines = []
    for step in sorted({*old.steps, *new.steps}):
        before = _rate(old.steps.get(step), prices, spot_discount)
        after = _rate(new.steps.get(step), prices, spot_discount)
        if before[0] == after[0]:
            continue
        if (before[1] is None and before[0]) or (after[1] is None and after[0]):
            lines.append(f"{step}: {before[0] or '(none)'} → {after[0] or '(none)'}, price unknown")
            continue
        delta = (after[1] or 0.0) - (before[1] or 0.0)
        unit = "per machine-hour"
        if hours is not None and step in hours:
            delta, unit = delta * hours[step], "per run"
        lines.append(
            f"{step}: {before[0] or '(none)'} → {after[0] or '(none)'}, {money(delta, True)} {unit}"
        )
    return lines


def _rate(step: Any, prices: Prices, discount: float) -> tuple[str | None, float | None]:
    """(``type`` or ``type spot``, what an hour of it costs) of a summarised step."""
    instance = None if step is None else step.fields.get("instance type")
    if step is None or not instance:  # no step, or a target that does not name machines
        return None, None
    spot = bool(step.fields.get("spot"))
    price = prices.price(str(instance))
    label = f"{instance}{' spot' if spot else ''}"
    return label, None if price is None else price * (1 - discount if spot else 1)
