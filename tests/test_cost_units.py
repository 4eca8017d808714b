"""``pipecast cost`` piece by piece, in process (DESIGN §14): the price change of a changed step
(``cost_changes``, what ``diff`` and ``plan`` print), an estimate's JSON and its text and Markdown
reports to the byte, a prices file's fields, and the warnings, notes and PC030 of an estimate.
tests/test_cost.py checks the figures end to end through the CLI."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from helpers import EXAMPLE_CONFIG

from pipecast import dsl
from pipecast.compilers import load_target
from pipecast.compilers.cost import (
    SPOT_DISCOUNT_SOURCE,
    Estimate,
    Monolith,
    Prices,
    StepCost,
    cost_changes,
    estimate,
    load_prices,
    money,
    step_hours,
)
from pipecast.compilers.cost_report import render
from pipecast.compilers.diff import DocumentSummary, StepSummary
from pipecast.compilers.target import Charge
from pipecast.config import Config
from pipecast.dsl import Resources
from pipecast.errors import ConfigError, PipelineError, UsageError

# shipped catalogue prices per hour (compilers/data/sagemaker_instances.json)
M5_LARGE, M5_XLARGE, M5_2XLARGE, G4DN = 0.115, 0.23, 0.461, 0.736


# ----- cost_changes: one line per step whose machine changed ------------------------------------


def _summary(**steps: dict[str, Any]) -> DocumentSummary:
    return DocumentSummary(
        "sagemaker",
        "p",
        {},
        {name: StepSummary(name, "job", fields) for name, fields in steps.items()},
    )


OLD = _summary(
    bigger={"instance type": "ml.m5.large", "spot": False},
    dropped={"instance type": "ml.m5.xlarge", "spot": False},
    to_spot={"instance type": "ml.g4dn.xlarge", "spot": False},
    from_unknown={"instance type": "ml.x9.huge", "spot": False},
    to_unknown={"instance type": "ml.m5.large", "spot": False},
    same={"instance type": "ml.m5.large", "spot": 3600, "image": "a"},
    no_machine={"image": "a"},
)
NEW = _summary(
    bigger={"instance type": "ml.m5.2xlarge", "spot": False},
    to_spot={"instance type": "ml.g4dn.xlarge", "spot": 7200},
    added={"instance type": "ml.g4dn.xlarge", "spot": 7200},
    from_unknown={"instance type": "ml.m5.large", "spot": False},
    to_unknown={"instance type": "ml.x9.huge", "spot": False},
    same={"instance type": "ml.m5.large", "spot": 3600, "image": "b"},
    no_machine={"image": "b"},
    added_no_machine={"image": "c"},
)


def test_cost_changes_prices_every_kind_of_change_per_machine_hour():
    assert cost_changes(OLD, NEW) == [
        f"added: (none) → ml.g4dn.xlarge spot, +${G4DN * 0.3:.2f} per machine-hour",
        f"bigger: ml.m5.large → ml.m5.2xlarge, +${M5_2XLARGE - M5_LARGE:.2f} per machine-hour",
        f"dropped: ml.m5.xlarge → (none), −${M5_XLARGE:.2f} per machine-hour",
        "from_unknown: ml.x9.huge → ml.m5.large, price unknown",
        "to_spot: ml.g4dn.xlarge → ml.g4dn.xlarge spot, −$0.52 per machine-hour",
        "to_unknown: ml.m5.large → ml.x9.huge, price unknown",
    ]


def test_cost_changes_per_run_where_the_hours_are_known_and_with_its_spot_discount():
    hours = {"bigger": 2.0, "dropped": 0.25, "added": 10.0}
    lines = cost_changes(OLD, NEW, hours, spot_discount=0.5)
    assert lines[:3] == [
        f"added: (none) → ml.g4dn.xlarge spot, +${G4DN * 0.5 * 10:.2f} per run",
        f"bigger: ml.m5.large → ml.m5.2xlarge, +${(M5_2XLARGE - M5_LARGE) * 2:.2f} per run",
        f"dropped: ml.m5.xlarge → (none), −${M5_XLARGE * 0.25:.4f} per run",  # under ten cents
    ]
    assert lines[4] == "to_spot: ml.g4dn.xlarge → ml.g4dn.xlarge spot, −$0.37 per machine-hour"
    assert cost_changes(OLD, OLD) == [] and cost_changes(NEW, NEW, hours) == []


# ----- an estimate's JSON and reports, to the byte ----------------------------------------------

PRICES = Prices((), "2026-01-02", "USD", "us-east-1", "hand-made", "test prices")
RUN = Estimate(
    target="sagemaker",
    pipeline="demo",
    prices=PRICES,
    spot_discount=0.7,
    steps=(
        StepCost("prep", "ml.m5.large", 1, 0.115, 2.0, False, 0.23, 0.23, assumed=True),
        StepCost("train", "ml.g5.48xlarge", 2, 20.36, 0.5, True, 6.108, 20.36, iterations=4),
    ),
    charges=(Charge("state transitions", 12, 0.000025),),
    charges_as_of="2026-02-03",
    total=6.3383,
    makespan_hours=2.5,
    monolith=Monolith("ml.g5.48xlarge", 20.36, 3.0, 61.08),
    runs_per_month=30,
    notes=("a note",),
    warnings=("warning: a warning",),
)
FREE = Estimate(
    target="stepfunctions",
    pipeline="idle",
    prices=Prices((), "2026-01-02", "USD", "us-east-1", "", "test prices"),
    spot_discount=0.5,
    steps=(StepCost("a|b", "ml.t3.medium", 1, 0.05, 0.0, False, 0.0, 0.0),),
    charges=(),
    charges_as_of=None,
    total=0.0,
    makespan_hours=0.0,
    monolith=Monolith("ml.t3.medium", 0.05, 0.0, 0.0),
    configured_region="eu-west-1",
)


def test_to_dict_has_every_figure_with_the_monthly_total_and_the_ratio():
    assert RUN.to_dict() == {
        "target": "sagemaker",
        "pipeline": "demo",
        "prices_as_of": "2026-01-02",
        "region": "us-east-1",
        "currency": "USD",
        "spot_discount": 0.7,
        "steps": [
            {
                "step": "prep",
                "instance_type": "ml.m5.large",
                "instance_count": 1,
                "price_per_hour": 0.115,
                "hours": 2.0,
                "iterations": 1,
                "hours_assumed": True,
                "spot": False,
                "on_demand_cost": 0.23,
                "cost": 0.23,
            },
            {
                "step": "train",
                "instance_type": "ml.g5.48xlarge",
                "instance_count": 2,
                "price_per_hour": 20.36,
                "hours": 0.5,
                "iterations": 4,
                "hours_assumed": False,
                "spot": True,
                "on_demand_cost": 20.36,
                "cost": 6.108,
            },
        ],
        "charges": [
            {
                "item": "state transitions",
                "count": 12,
                "unit_price": 0.000025,
                "cost": 0.0003,
                "prices_as_of": "2026-02-03",
            }
        ],
        "total": 6.3383,
        "makespan_hours": 2.5,
        "monolith": {
            "instance_type": "ml.g5.48xlarge",
            "price_per_hour": 20.36,
            "hours": 3.0,
            "cost": 61.08,
        },
        "ratio": round(61.08 / 6.3383, 4),
        "runs_per_month": 30,
        "monthly_total": 190.149,
        "notes": ["a note"],
        "warnings": ["warning: a warning"],
    }


def test_a_run_that_costs_nothing_has_no_ratio_and_no_monthly_total():
    got = FREE.to_dict()
    assert got["ratio"] is None and got["total"] == 0.0
    assert got["runs_per_month"] is None and got["monthly_total"] is None
    assert got["charges"] == [] and got["region"] == "us-east-1"


def test_figures_are_rounded_to_six_decimals_and_the_ratio_to_four():
    third = 1 / 3
    est = dataclasses.replace(
        FREE,
        steps=(StepCost("a", "ml.t3.medium", 1, 0.05, third, False, third / 20, third / 20),),
        total=third / 20,
        makespan_hours=third,
        monolith=Monolith("ml.t3.medium", 0.05, third, 2 / 30),
    )
    got = est.to_dict()
    (step,) = got["steps"]
    assert (step["hours"], step["on_demand_cost"], step["cost"]) == (0.333333, 0.016667, 0.016667)
    assert (got["total"], got["makespan_hours"]) == (0.016667, 0.333333)
    assert (got["monolith"]["hours"], got["monolith"]["cost"]) == (0.333333, 0.066667)
    assert got["ratio"] == 4.0


def test_json_report_is_the_dict():
    assert json.loads(render(RUN, "json")) == RUN.to_dict()


def test_text_report_to_the_byte():
    assert render(RUN) == (
        "pipeline 'demo' on sagemaker: estimated cost of one run (USD, us-east-1 prices as of "
        "2026-01-02)\n"
        "\n"
        "step        instance        count   $/hour            hours  spot        on demand"
        "     cost\n"
        "prep        ml.m5.large         1   0.1150  2.000 (assumed)  no            $0.2300"
        "  $0.2300\n"
        "train (×4)  ml.g5.48xlarge      2  20.3600            0.500  yes (−70%)   $20.3600"
        "  $6.1080\n"
        "\n"
        "state transitions: 12 × $0.000025 = $0.000300 (prices as of 2026-02-03)\n"
        "total per run: $6.3383\n"
        "makespan (critical path of the sagemaker layout): 2.500 h\n"
        "monolith (every step in sequence on one ml.g5.48xlarge, on demand, $20.3600/h): "
        "3.000 h, $61.0800\n"
        "ratio: 9.64× (monolith ÷ total)\n"
        "per month (30 runs): $190.15 (monolith: $1,832.40)\n"
        "\n"
        f"note: spot discount 70%: {SPOT_DISCOUNT_SOURCE}\n"
        "note: instance prices: test prices — hand-made\n"
        "note: a note\n"
        "note: a warning\n"
    )


def test_markdown_report_to_the_byte():
    assert render(FREE, "markdown") == (
        "### pipeline 'idle' on stepfunctions: estimated cost of one run (USD, us-east-1 prices "
        "as of 2026-01-02)\n"
        "**WARNING: these are us-east-1 prices, not eu-west-1 prices**\n"
        "\n"
        "| step | instance | count | $/hour | hours | spot | on demand | cost |\n"
        "|---|---|---:|---:|---:|---|---:|---:|\n"
        "| a\\|b | ml.t3.medium | 1 | 0.0500 | 0.000 | no | $0.0000 | $0.0000 |\n"
        "\n"
        "- total per run: **$0.0000**\n"
        "- makespan (critical path of the stepfunctions layout): 0.000 h\n"
        "- monolith (every step in sequence on one ml.t3.medium, on demand, $0.0500/h): "
        "0.000 h, $0.0000\n"
        "- ratio: n/a (the run costs nothing)\n"
        "\n"
        "notes:\n"
        "\n"
        "- spot discount 50%: from the configuration\n"
        "- instance prices: test prices\n"
    )


# ----- a prices file ----------------------------------------------------------------------------

CATALOGUE = {
    "as_of": "2027-03-04",
    "currency": "USD",
    "region": "eu-west-1",
    "source": "our own list",
    "instance_types": [
        {
            "type": "ml.m5.large",
            "vcpu": 2,
            "memory_gib": 8,
            "gpu": 0,
            "gpu_memory_gib": 0,
            "gpu_model": None,
            "job_kinds": ["processing", "training"],
            "price_per_hour": 0.2,
        }
    ],
}


@pytest.mark.parametrize("config_name", ["pipecast.toml", "pyproject.toml [tool.pipecast]"])
def test_a_prices_file_gives_every_field_and_is_found_beside_the_config(tmp_path, config_name):
    (tmp_path / "conf").mkdir()
    path = tmp_path / "conf" / "prices.json"
    path.write_text(json.dumps(CATALOGUE), encoding="utf-8")
    source = f"{tmp_path / 'conf'}/{config_name}"
    prices = load_prices(Config({"cost": {"prices": "prices.json"}}, source))
    assert (prices.as_of, prices.currency, prices.region) == ("2027-03-04", "USD", "eu-west-1")
    assert (prices.source, prices.origin) == ("our own list", str(path.resolve()))
    assert [(t.type, t.price_per_hour) for t in prices.types] == [("ml.m5.large", 0.2)]
    assert prices.price("ml.m5.large") == 0.2 and prices.price("ml.m5.xlarge") is None


def test_a_prices_file_without_a_source_and_without_a_config_file(tmp_path, monkeypatch):
    unsourced = {k: v for k, v in CATALOGUE.items() if k != "source"}
    (tmp_path / "prices.json").write_text(json.dumps(unsourced), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    prices = load_prices(Config({"cost": {"prices": "prices.json"}}, None))
    assert prices.source == "" and prices.region == "eu-west-1"
    assert prices.origin == str((tmp_path / "prices.json").resolve())
    with pytest.raises(ConfigError) as info:
        load_prices(Config({"cost": {"prices": "other.json"}}, None))
    assert str(info.value) == (
        f"[cost] prices = 'other.json' (configuration): {(tmp_path / 'other.json').resolve()} "
        "does not exist"
    )


def test_a_missing_or_broken_prices_file_says_where_it_was_named(tmp_path):
    source = str(tmp_path / "pipecast.toml")
    config = Config({"cost": {"prices": "prices.json"}}, source)
    path = (tmp_path / "prices.json").resolve()
    where = f"[cost] prices = 'prices.json' ({source})"
    with pytest.raises(ConfigError) as info:
        load_prices(config)
    assert str(info.value) == f"{where}: {path} does not exist"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_prices(config)
    assert str(info.value).startswith(f"{where}: {path} is not valid JSON: ")
    path.write_text(json.dumps({**CATALOGUE, "currency": "EUR", "as_of": 3}), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_prices(config)
    assert str(info.value) == (
        f"{where}: {path} is not a price catalogue:\n"
        "  as_of: 3 is not of type 'string'\n"
        "  currency: 'USD' was expected\n"
        "  hint: copy compilers/data/sagemaker_instances.json and change its prices"
    )


def test_each_problem_of_a_prices_file_names_its_path_or_the_top_level(tmp_path):
    source = str(tmp_path / "pipecast.toml")
    path = (tmp_path / "prices.json").resolve()
    broken = {k: v for k, v in CATALOGUE.items() if k != "region"}
    broken["instance_types"] = [{**CATALOGUE["instance_types"][0], "vcpu": "two"}]
    path.write_text(json.dumps(broken), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_prices(Config({"cost": {"prices": "prices.json"}}, source))
    assert str(info.value).splitlines()[1:] == [
        "  (top level): 'region' is a required property",
        "  instance_types.0.vcpu: 'two' is not of type 'integer'",
        "  hint: copy compilers/data/sagemaker_instances.json and change its prices",
    ]


# ----- an estimate's warnings, notes and PC030 --------------------------------------------------


@dsl.container_component(image="r/a:1", command=["a"], resources=Resources(cpu=2, memory="4GiB"))
def names(out: dsl.Output[list]):
    """Lists names."""


@dsl.container_component(image="r/b:1", command=["b"], resources=Resources(cpu=2, memory="4GiB"))
def work(name: str):
    """Works on one name."""


def _estimate(pipeline: Any, **kwargs: Any) -> Estimate:
    return estimate(pipeline.spec, load_target("sagemaker"), EXAMPLE_CONFIG, **kwargs)


def test_unhinted_steps_are_assumed_to_take_the_median_hint_and_named():
    @dsl.pipeline(name="hinted")
    def hinted():
        work(name="a").set_name("quick").set_expected_duration("30m")
        work(name="b").set_name("slow").set_expected_duration("1h")
        work(name="c").set_name("zeta")
        work(name="d").set_name("alpha")

    est = _estimate(hinted)
    assert est.warnings == (
        "warning: no expected duration for alpha, zeta: assumed 0.75 h each (the median of the "
        "hints given); add .set_expected_duration(...)",
    )
    assert {s.step: (s.hours, s.assumed) for s in est.steps} == {
        "quick": (0.5, False),
        "slow": (1.0, False),
        "zeta": (0.75, True),
        "alpha": (0.75, True),
    }


def test_without_any_hint_every_step_is_assumed_to_take_an_hour():
    @dsl.pipeline(name="unhinted")
    def unhinted():
        work(name="a").set_name("one")

    est = _estimate(unhinted)
    assert est.warnings == (
        "warning: no expected duration for one: assumed 1 h each (no step has a hint); add "
        ".set_expected_duration(...)",
    )
    assert est.runs_per_month is None
    assert _estimate(unhinted, runs_per_month=7).runs_per_month == 7


@dsl.pipeline(name="loops")
def loops(cams: list = ["a", "b", "c", "d"]):  # noqa: B006
    listed = names().set_expected_duration("6m")
    with dsl.ParallelFor(listed.output) as name:
        work(name=name).set_name("listed").set_expected_duration("30m")
    with dsl.ParallelFor(cams) as cam:
        work(name=cam).set_name("per-cam").set_expected_duration("30m")


def _loop_ids() -> tuple[str, str]:
    listed, cams = (g.id for g in loops.spec.groups if g.kind == "loop")
    return listed, cams


def test_a_loop_over_a_run_time_list_without_items_is_pc030_of_its_pipeline():
    listed, _ = _loop_ids()
    with pytest.raises(PipelineError) as info:
        _estimate(loops)
    assert info.value.pipeline == "loops"
    (problem,) = info.value.diagnostics
    assert problem.code == "PC030"
    assert problem.message == (
        f"loop '{listed}' iterates over a list known only at run time, so the cost of its steps "
        "depends on how many items it gets"
    )
    assert problem.hint == (
        f"give the expected count: --items N (every such loop) or --items {listed}=N"
    )
    assert problem.location == loops.spec.group(listed).location is not None
    assert str(info.value).endswith("pipeline 'loops': 1 error")


def test_loop_counts_come_from_items_or_the_parameters_default_and_are_noted():
    listed, cams = _loop_ids()
    est = _estimate(loops, items={listed: 5})
    assert {s.step: s.iterations for s in est.steps} == {"names": 1, "listed": 5, "per-cam": 4}
    assert (
        f"loop '{cams}' over parameter 'cams': 4 items, the parameter's default "
        f"(--items {cams}=N for another count)"
    ) in est.notes
    every = _estimate(loops, items={"*": 3})
    assert {s.step: s.iterations for s in every.steps} == {"names": 1, "listed": 3, "per-cam": 3}
    noted = [n for n in every.notes if n.startswith("loop ")]
    assert noted == [
        f"loop '{listed}' over a run-time list: 3 items (--items)",
        f"loop '{cams}' over a run-time list: 3 items (--items)",
    ]


def test_step_hours_are_hours_times_instances_times_iterations():
    listed, _ = _loop_ids()

    @dsl.pipeline(name="scaled")
    def scaled(cams: list = ["a", "b", "c", "d"]):  # noqa: B006
        with dsl.ParallelFor(cams) as cam:
            work(name=cam).set_name("per-cam").set_expected_duration("30m").set_instances(2)
        work(name="x").set_name("once").set_expected_duration("90m")

    assert step_hours(scaled.spec) == {"per-cam": 0.5 * 2 * 4, "once": 1.5}
    assert step_hours(loops.spec, {listed: 5}) == {"names": 0.1, "listed": 2.5, "per-cam": 2.0}
    with pytest.raises(PipelineError):
        step_hours(loops.spec)  # a run-time list and no count: PC030, as for estimate


@pytest.mark.parametrize(
    ("amount", "signed", "text"),
    [
        (0.1, False, "$0.10"),  # ten cents and more: cents
        (0.0999, False, "$0.0999"),  # under ten cents: four decimals, never $0.00
        (1234.5, False, "$1,234.50"),
        (0.1, True, "+$0.10"),
        (-0.05, True, "\u2212$0.0500"),  # a saving, with a real minus sign
    ],
)
def test_money_keeps_four_decimals_under_ten_cents(amount, signed, text):
    assert money(amount, signed=signed) == text


# ----- notes, regions and what cannot be estimated ----------------------------------------------


def test_steps_under_a_condition_are_noted_as_counted_when_their_branch_runs():
    @dsl.pipeline(name="branchy")
    def branchy(mode: str = "a"):
        with dsl.If(mode == "a"):
            work(name="a").set_name("maybe").set_expected_duration("1h")

    est = _estimate(branchy)
    assert "steps under a condition are counted as if their branch runs (at most)" in est.notes
    assert {s.step for s in est.steps} == {"maybe"}


def test_a_pipeline_the_target_cannot_compile_yet_is_estimated_as_written_and_noted():
    @dsl.container_component(image="r/c:1", command=["c"])
    def report(status: str):
        """Reports how the run ended."""

    @dsl.pipeline(name="guarded")
    def guarded():
        done = report(status=dsl.RUN_STATUS).set_expected_duration("1h")
        with dsl.ExitHandler(done):
            work(name="a").set_expected_duration("1h")

    from pipecast.compilers import graph

    with pytest.raises(PipelineError) as info:
        graph.check(guarded.spec, load_target("sagemaker"))
    assert {d.code for d in info.value.diagnostics if d.severity == "error"} == {"PC008"}
    est = _estimate(guarded)
    assert (
        "sagemaker cannot compile this pipeline yet (PC008; see pipecast validate): this "
        "estimates the pipeline as written"
    ) in est.notes
    assert {s.step for s in est.steps} == {"report", "work"}


def test_the_region_of_the_prices_is_said_when_none_or_another_is_configured():
    price_region = load_prices(EXAMPLE_CONFIG).region
    unconfigured = Config({k: v for k, v in EXAMPLE_CONFIG.data.items() if k != "region"})

    @dsl.pipeline(name="one")
    def one():
        work(name="a").set_expected_duration("1h")

    est = estimate(one.spec, load_target("sagemaker"), unconfigured)
    assert f"no region configured: prices are for {price_region}" in est.notes
    assert est.warnings == () and est.configured_region is None
    elsewhere = EXAMPLE_CONFIG.with_overrides({"region": "eu-west-1"})
    est = estimate(one.spec, load_target("sagemaker"), elsewhere)
    assert est.notes[-1] == (
        f"region eu-west-1 is not the prices' region: every price here is a {price_region} "
        'price, so the estimate is NOT for eu-west-1; give [cost] prices = "file.json" with '
        "eu-west-1 prices (the shipped catalogue's keys)"
    )
    assert est.warnings == (
        f"warning: prices are for {price_region}, not eu-west-1 (see the notes)",
    )
    assert est.configured_region == "eu-west-1"
    est = estimate(one.spec, load_target("sagemaker"), EXAMPLE_CONFIG)
    assert not [n for n in est.notes if "region" in n] and est.warnings == ()


def test_only_priced_targets_and_known_loops_can_be_estimated():
    from pipecast.errors import UsageError

    with pytest.raises(UsageError) as info:
        estimate(loops.spec, load_target("kubeflow"), EXAMPLE_CONFIG)
    assert str(info.value) == "pipecast cost estimates AWS targets; 'kubeflow' has no prices"
    listed, cams = _loop_ids()
    typo = listed[:-2] + "x" + listed[-2:]
    with pytest.raises(UsageError) as info:
        _estimate(loops, items={typo: 2})
    assert str(info.value) == (
        f"--items {typo}=2: no loop '{typo}' in pipeline 'loops'; did you mean '{listed}'?; "
        f"loops: {listed}, {cams}"
    )


@pytest.mark.parametrize(
    ("pinned", "resources", "monolith"),
    [
        # a pinned type brings all it has: memory (r5), and the GPU model (not a cheaper T4)
        ("ml.r5.2xlarge", Resources(cpu=1, memory="1GiB"), "ml.r5.2xlarge"),
        ("ml.g5.xlarge", Resources(cpu=1, memory="1GiB"), "ml.g5.xlarge"),
        # steps that ask for nothing, or for little, need only the smallest machine
        (None, None, "ml.t3.medium"),
        (None, Resources(cpu=1, memory="1GiB"), "ml.t3.medium"),
    ],
)
def test_the_monolith_holds_what_every_step_needs_at_once(pinned, resources, monolith):
    @dsl.pipeline(name="one-machine")
    def one_machine():
        big = work(name="a").set_name("big").set_expected_duration("1h")
        if pinned is not None:
            big.set_instance_type(pinned)
        small = work(name="b").set_name("small").set_expected_duration("1h")
        if resources is not None:
            small.set_resources(resources)

    assert _estimate(one_machine).monolith.instance_type == monolith


def test_markdown_lists_each_charge_as_an_item():
    charges = [line for line in render(RUN, "markdown").splitlines() if "transitions" in line]
    assert charges == ["- state transitions: 12 × $0.000025 = $0.000300 (prices as of 2026-02-03)"]


def test_steps_that_declare_no_resources_compare_with_the_smallest_machine():
    @dsl.container_component(image="r/c:1", command=["c"])
    def bare(name: str):
        """Declares no resources."""

    @dsl.pipeline(name="bare")
    def undeclared():
        bare(name="a").set_expected_duration("1h")

    monolith = _estimate(undeclared).monolith
    assert (monolith.instance_type, monolith.price_per_hour) == ("ml.t3.medium", 0.05)


def test_a_step_no_instance_type_holds_stops_the_estimate_with_pc006():
    @dsl.pipeline(name="huge")
    def huge():
        work(name="a").set_resources(Resources(cpu=4096, memory="1GiB"))

    with pytest.raises(PipelineError) as info:
        _estimate(huge)
    assert [d.code for d in info.value.diagnostics if d.severity == "error"] == ["PC006"]


def test_step_functions_charges_carry_the_date_of_their_prices():
    from pipecast.compilers.aws_jobs import service_prices_as_of

    @dsl.pipeline(name="two")
    def two():
        work(name="a").set_name("a").set_expected_duration("1h")

    est = estimate(two.spec, load_target("stepfunctions"), EXAMPLE_CONFIG)
    assert est.charges and est.charges_as_of == service_prices_as_of()
    assert est.to_dict()["charges"][0]["prices_as_of"] == service_prices_as_of()


def test_items_for_a_loop_the_pipeline_lacks_say_it_has_none():
    @dsl.pipeline(name="flat")
    def flat():
        work(name="a").set_expected_duration("1h")

    with pytest.raises(UsageError) as info:
        _estimate(flat, items={"loop-9": 3})
    assert str(info.value) == "--items loop-9=3: no loop 'loop-9' in pipeline 'flat'; loops: none"
