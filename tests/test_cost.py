"""``pipecast cost`` (DESIGN §14): every figure recomputed here from the catalogue files and the
IR goldens with the test's own arithmetic (its own placement, durations, loops, critical path,
state count and monolith), for every example on both AWS targets; the JSON against the keys
DESIGN §14 names and schemas/cost.schema.json; overrides, notes and errors through the CLI."""

from __future__ import annotations

import json
import math
import re
import shutil
import statistics
from pathlib import Path
from typing import Any

import jsonschema
import networkx as nx
import pytest
from helpers import (
    EXAMPLES,
    GOLDEN_DIR,
    ROOT,
    example_files,
    load_example,
    package_dir,
    write_pipeline,
)

from pipecast.cli import main

AWS = ("sagemaker", "stepfunctions")
CATALOGUE = json.loads((package_dir("compilers") / "data/sagemaker_instances.json").read_text())
SERVICES = json.loads((package_dir("compilers") / "data/aws_service_prices.json").read_text())[
    "prices"
]
FLAGSHIP = EXAMPLES / "video_analysis.py"
DESIGN_KEYS = {
    "target",
    "prices_as_of",
    "region",
    "spot_discount",
    "steps",
    "total",
    "makespan_hours",
    "monolith",
    "ratio",
}
STEP_KEYS = {"step", "instance_type", "instance_count", "price_per_hour", "hours", "spot", "cost"}
MONOLITH_KEYS = {"instance_type", "price_per_hour", "hours", "cost"}


def cli(capsys: Any, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(list(args))
    out = capsys.readouterr()
    return int(info.value.code or 0), out.out, out.err


def estimate_json(capsys: Any, path: Path, target: str, *extra: str) -> dict[str, Any]:
    code, out, err = cli(capsys, "cost", str(path), "-t", target, "--format", "json", *extra)
    assert code == 0, err
    data: dict[str, Any] = json.loads(out)
    return data


# ----- the test's own model of the estimate ---------------------------------------------------


def _fits(row: dict[str, Any], res: dict[str, Any] | None) -> bool:
    if res is None:
        return row["gpu"] == 0
    gpu, model = res.get("gpu", 0), res.get("gpu_type")
    return (
        row["vcpu"] >= res["cpu"]
        and row["memory_gib"] * 2**30 >= res["memory"]
        and row["gpu"] >= gpu
        and not (gpu == 0 and row["gpu"] > 0)
        and not (model and (row["gpu_model"] or "").lower() != model.lower())
    )


def _cheapest(kind: str, res: dict[str, Any] | None) -> dict[str, Any]:
    rows = [r for r in CATALOGUE["instance_types"] if kind in r["job_kinds"] and _fits(r, res)]
    return min(rows, key=lambda r: (r["price_per_hour"], r["type"]))


def _row(instance: str) -> dict[str, Any]:
    return next(r for r in CATALOGUE["instance_types"] if r["type"] == instance)


def _iterations(ir: dict[str, Any], step: dict[str, Any]) -> tuple[int, int]:
    groups = {g["id"]: g for g in ir.get("groups", [])}
    params = {p["name"]: p for p in ir["parameters"]}
    total = waves = 1
    gid = step.get("group")
    while gid is not None:
        group = groups[gid]
        if group["kind"] == "loop":
            items = group["items"]
            values = (
                items["constant"] if "constant" in items else params[items["parameter"]]["default"]
            )
            total *= len(values)
            waves *= math.ceil(len(values) / (group["parallelism"] or len(values)))
        gid = group["parent"]
    return total, waves


def _count_states(machine: dict[str, Any]) -> tuple[int, int, int]:
    states = puts = gets = 0
    for state in machine["States"].values():
        states += 1
        resource = state.get("Resource", "")
        puts += resource == "arn:aws:states:::aws-sdk:s3:putObject.waitForTaskToken" or (
            resource == "arn:aws:states:::aws-sdk:s3:putObject"
        )
        gets += resource == "arn:aws:states:::aws-sdk:s3:getObject"
        branches = list(state.get("Branches", []))
        if "ItemProcessor" in state:  # a Map's body counts once, as the estimate states
            branches.append(state["ItemProcessor"])
        for branch in branches:
            s, p, g = _count_states(branch)
            states, puts, gets = states + s, puts + p, gets + g
    return states, puts, gets


def expected(example: Path, target: str) -> dict[str, Any]:
    """The estimate, computed from the IR golden and the price files alone."""
    pipeline = load_example(example.stem)
    ir = json.loads((GOLDEN_DIR / f"{pipeline.spec.name}.ir.json").read_text())
    hints = [s["expected_seconds"] for s in ir["steps"] if s.get("expected_seconds")]
    typical = statistics.median(hints) if hints else 3600
    steps, weights, needs = {}, {}, []
    for step in ir["steps"]:
        kind = "training" if step.get("spot") else "processing"
        if step.get("instance_type"):
            row = _row(step["instance_type"])
            needs.append(
                {"cpu": row["vcpu"], "memory": row["memory_gib"] * 2**30, "gpu": row["gpu"]}
            )
        else:
            row = _cheapest(kind, step.get("resources"))
            if step.get("resources"):
                needs.append(step["resources"])
        seconds = step.get("expected_seconds") or typical
        iterations, waves = _iterations(ir, step)
        count = step.get("instances", 1)
        hours = seconds / 3600 * iterations
        on_demand = row["price_per_hour"] * count * hours
        steps[step["id"]] = {
            "instance_type": row["type"],
            "instance_count": count,
            "price_per_hour": row["price_per_hour"],
            "hours": hours,
            "spot": bool(step.get("spot")),
            "cost": on_demand * (0.3 if step.get("spot") else 1),
        }
        weights[step["id"]] = seconds * waves
    charges = 0.0
    golden = GOLDEN_DIR / f"{pipeline.spec.name}.{target}.json"
    if target == "stepfunctions" and golden.exists():
        states, puts, gets = _count_states(json.loads(golden.read_text()))
        charges = (
            states * SERVICES["stepfunctions_state_transition"]
            + puts * SERVICES["s3_put_request"]
            + gets * SERVICES["s3_get_request"]
        )
    if target == "sagemaker" and golden.exists():  # the placement is what the target compiled
        text = golden.read_text()
        for step in steps.values():
            assert f'"InstanceType": "{step["instance_type"]}"' in text
    finish: dict[str, float] = {}
    graph = pipeline.graph
    for node in nx.topological_sort(graph):
        start = max((finish[p] for p in graph.predecessors(node)), default=0.0)
        finish[node] = start + weights[node]
    models = {n["gpu_type"].lower() for n in needs if n.get("gpu_type")}
    biggest = {
        "cpu": max(n["cpu"] for n in needs),
        "memory": max(n["memory"] for n in needs),
        "gpu": max(n.get("gpu", 0) for n in needs),
        "gpu_type": models.pop() if len(models) == 1 else None,
    }
    mono = _cheapest("processing", biggest)
    mono_hours = sum(s["hours"] * s["instance_count"] for s in steps.values())
    total = sum(s["cost"] for s in steps.values()) + charges
    return {
        "steps": steps,
        "total": total,
        "makespan_hours": max(finish.values()) / 3600,
        "monolith": {
            "instance_type": mono["type"],
            "price_per_hour": mono["price_per_hour"],
            "hours": mono_hours,
            "cost": mono["price_per_hour"] * mono_hours,
        },
        "ratio": mono["price_per_hour"] * mono_hours / total,
    }


# ----- every example, both AWS targets --------------------------------------------------------


@pytest.mark.parametrize("target", AWS)
@pytest.mark.parametrize("example", example_files(), ids=lambda p: p.stem)
def test_every_figure_matches_an_independent_recomputation(example, target, capsys):
    got = estimate_json(capsys, example, target)
    want = expected(example, target)
    assert got["target"] == target
    assert got["prices_as_of"] == CATALOGUE["as_of"] and got["region"] == CATALOGUE["region"]
    assert got["spot_discount"] == 0.7
    assert {s["step"] for s in got["steps"]} == set(want["steps"])
    for step in got["steps"]:
        mine = want["steps"][step["step"]]
        for key in ("instance_type", "instance_count", "price_per_hour", "spot"):
            assert step[key] == mine[key], (step["step"], key)
        assert step["hours"] == pytest.approx(mine["hours"], abs=1e-6)
        assert step["cost"] == pytest.approx(mine["cost"], abs=1e-6)
    assert got["total"] == pytest.approx(want["total"], abs=1e-6)
    assert got["makespan_hours"] == pytest.approx(want["makespan_hours"], abs=1e-6)
    assert got["monolith"]["instance_type"] == want["monolith"]["instance_type"]
    for key in ("price_per_hour", "hours", "cost"):
        assert got["monolith"][key] == pytest.approx(want["monolith"][key], abs=1e-6)
    assert got["ratio"] == pytest.approx(want["ratio"], abs=1e-4)


@pytest.mark.parametrize("target", AWS)
@pytest.mark.parametrize("example", example_files(), ids=lambda p: p.stem)
def test_json_has_the_design_keys_and_matches_its_schema(example, target, capsys):
    got = estimate_json(capsys, example, target)
    assert set(got) >= DESIGN_KEYS
    assert got["steps"] and all(set(s) >= STEP_KEYS for s in got["steps"])
    assert set(got["monolith"]) == MONOLITH_KEYS
    schema = json.loads((package_dir("schemas") / "cost.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(got)
    for s in got["steps"]:  # DESIGN §14's formula, on the document's own numbers
        factor = 1 - got["spot_discount"] if s["spot"] else 1
        assert s["cost"] == pytest.approx(
            s["price_per_hour"] * s["instance_count"] * s["hours"] * factor, abs=2e-6
        )


@pytest.mark.parametrize("target", AWS)
def test_the_flagship_is_at_least_three_times_cheaper_than_the_monolith(target, capsys):
    got = estimate_json(capsys, FLAGSHIP, target)
    assert got["ratio"] >= 3, got
    assert all(not s.get("hours_assumed") for s in got["steps"])  # every duration is stated


def test_same_bytes_every_run_in_every_format(capsys):
    for fmt in ("text", "markdown", "json"):
        args = ("cost", str(FLAGSHIP), "-t", "stepfunctions", "--format", fmt)
        first, second = cli(capsys, *args), cli(capsys, *args)
        assert first == second and first[0] == 0


def test_text_and_markdown_say_where_every_number_comes_from(capsys):
    code, out, _ = cli(
        capsys, "cost", str(FLAGSHIP), "-t", "stepfunctions", "--runs-per-month", "30"
    )
    assert code == 0
    assert f"prices as of {CATALOGUE['as_of']}" in out and "spot discount 70%" in out
    assert "state transitions" in out and "ratio:" in out and "per month (30 runs)" in out
    code, out, _ = cli(capsys, "cost", str(FLAGSHIP), "-t", "sagemaker", "--format", "markdown")
    table = [line for line in out.splitlines() if line.startswith("|")]
    assert table[0].startswith("| step | instance |") and len(table) == 2 + 4


def test_the_readme_shows_the_flagships_table_as_the_command_prints_it(capsys):
    code, out, _ = cli(capsys, "cost", str(FLAGSHIP), "-t", "sagemaker", "--format", "markdown")
    assert code == 0
    readme = (ROOT / "README.md").read_text()
    shown = re.search(r"<!-- cost:begin -->\n(.*?)<!-- cost:end -->", readme, re.S)
    assert shown is not None and shown.group(1) == out


# ----- overrides, notes, errors ---------------------------------------------------------------


def _flagship_copy(tmp_path: Path, extra_config: str = "") -> Path:
    shutil.copy(FLAGSHIP, tmp_path / "video_analysis.py")
    config = (EXAMPLES / "pipecast.toml").read_text() + extra_config
    (tmp_path / "pipecast.toml").write_text(config)
    return tmp_path / "video_analysis.py"


def test_a_prices_file_and_spot_discount_override_the_catalogue(tmp_path, capsys):
    doubled = {**CATALOGUE, "as_of": "2027-01-02"}
    doubled["instance_types"] = [
        {**r, "price_per_hour": r["price_per_hour"] * 2} for r in CATALOGUE["instance_types"]
    ]
    (tmp_path / "prices.json").write_text(json.dumps(doubled))
    path = _flagship_copy(tmp_path, '\n[cost]\nprices = "prices.json"\nspot_discount = 0.5\n')
    got = estimate_json(capsys, path, "sagemaker")
    assert got["prices_as_of"] == "2027-01-02" and got["spot_discount"] == 0.5
    detect = next(s for s in got["steps"] if s["step"] == "detect-objects")
    assert detect["cost"] == pytest.approx(_row("ml.g4dn.xlarge")["price_per_hour"] * 2 * 0.5 * 0.5)
    assert got["monolith"]["price_per_hour"] == pytest.approx(2 * 0.736)


def test_a_bad_prices_file_is_a_clear_error(tmp_path, capsys):
    broken = {**CATALOGUE, "instance_types": [{"type": "ml.c5.xlarge", "vcpu": 4}]}
    (tmp_path / "prices.json").write_text(json.dumps(broken))
    path = _flagship_copy(tmp_path, '\n[cost]\nprices = "prices.json"\n')
    code, out, err = cli(capsys, "cost", str(path), "-t", "sagemaker")
    assert code == 1 and out == "" and "Traceback" not in err
    assert "prices.json is not a price catalogue" in err and "price_per_hour" in err
    (tmp_path / "prices.json").write_text(
        json.dumps({**CATALOGUE, "instance_types": CATALOGUE["instance_types"][:3]})
    )
    code, _, err = cli(capsys, "cost", str(path), "-t", "sagemaker")
    assert code == 1 and "has no price for ml.c5.xlarge (step 'extract-frames')" in err
    (tmp_path / "prices.json").unlink()
    code, _, err = cli(capsys, "cost", str(path), "-t", "sagemaker")
    assert code == 1 and "does not exist" in err


def test_the_config_schema_checks_the_cost_table(tmp_path, capsys):
    path = _flagship_copy(tmp_path, "\n[cost]\nspot_discount = 1.5\nprice = 'x'\n")
    code, _, err = cli(capsys, "cost", str(path), "-t", "sagemaker")
    assert code == 1 and "cost.spot_discount" in err and "did you mean 'prices'" in err


def test_a_region_other_than_the_prices_is_said_never_silently_priced(capsys):
    got = estimate_json(capsys, FLAGSHIP, "sagemaker", "--region", "eu-west-1")
    assert got["region"] == "us-east-1"
    assert any("NOT for eu-west-1" in n for n in got["notes"])
    code, out, err = cli(capsys, "cost", str(FLAGSHIP), "-t", "sagemaker", "--region", "eu-west-1")
    assert code == 0 and "NOT for eu-west-1" in out
    assert out.splitlines()[1] == "WARNING: these are us-east-1 prices, not eu-west-1 prices"
    assert "prices are for us-east-1, not eu-west-1" in err
    code, out, err = cli(capsys, "cost", str(FLAGSHIP), "-t", "sagemaker")
    assert "WARNING" not in out and "region" not in err


LOOP = """
@dsl.container_component(image="r/a:1", command=["a"], resources=Resources(cpu=2, memory="4GiB"))
def names(out: Output[list]):
    '''list'''

@dsl.container_component(image="r/b:1", command=["b"], resources=Resources(cpu=2, memory="4GiB"))
def work(name: str):
    '''one'''

@dsl.pipeline(name="loops")
def loops():
    listed = names().set_expected_duration("6m")
    with dsl.ParallelFor(listed.output) as name:
        work(name=name).set_expected_duration("30m")
    with dsl.ParallelFor(["a", "b", "c"], parallelism=2) as name:
        work(name=name).set_name("fixed").set_expected_duration("24m")
"""


def test_loops_multiply_and_a_run_time_list_needs_items(tmp_path, capsys):
    path = write_pipeline(tmp_path, LOOP)
    code, _, err = cli(capsys, "cost", str(path), "-t", "sagemaker")
    assert code == 1 and "PC030" in err and "pipe.py:" in err and "--items" in err
    got = estimate_json(capsys, path, "sagemaker", "--items", "5")
    price = _cheapest("processing", {"cpu": 2, "memory": 4 * 2**30})["price_per_hour"]
    by_step = {s["step"]: s for s in got["steps"]}
    assert by_step["work"]["iterations"] == 5 and by_step["fixed"]["iterations"] == 3
    assert by_step["work"]["cost"] == pytest.approx(price * 0.5 * 5, abs=1e-6)
    assert by_step["fixed"]["cost"] == pytest.approx(price * 0.4 * 3, abs=1e-6)
    # three items, two at a time: that loop takes two rounds of 24 minutes (longer than 6 + 30)
    assert got["makespan_hours"] == pytest.approx(0.8, abs=1e-6)
    assert any("--items" in n for n in got["notes"])
    code, _, err = cli(capsys, "cost", str(path), "-t", "sagemaker", "--items", "lop-1=2")
    assert code == 2 and "no loop 'lop-1'" in err and "loop-1" in err


def test_unhinted_steps_are_named_in_a_warning(capsys):
    code, out, err = cli(capsys, "cost", str(EXAMPLES / "multi_camera.py"), "-t", "sagemaker")
    assert code == 0 and "no expected duration for detect-east" in err and "(assumed)" in out


def test_other_targets_and_bad_items_are_usage_errors(capsys):
    code, _, err = cli(capsys, "cost", str(FLAGSHIP), "-t", "kubeflow")
    assert code == 2 and "sagemaker, stepfunctions" in err
    code, _, err = cli(capsys, "cost", str(FLAGSHIP), "-t", "sagemaker", "--items", "x=")
    assert code == 2 and "LOOP=COUNT" in err


# ----- the cost of a change in diff and plan --------------------------------------------------


def test_diff_prints_the_price_change_of_a_changed_machine(tmp_path, capsys):
    old = (GOLDEN_DIR / "video-analysis.sagemaker.json").read_text()
    new = old.replace('"ml.g4dn.xlarge"', '"ml.g5.xlarge"')
    (tmp_path / "old.json").write_text(old)
    (tmp_path / "new.json").write_text(new)
    code, out, _ = cli(capsys, "diff", str(tmp_path / "old.json"), str(tmp_path / "new.json"))
    delta = (_row("ml.g5.xlarge")["price_per_hour"] - 0.736) * 0.3
    assert code == 1
    assert (
        f"detect-objects: ml.g4dn.xlarge spot → ml.g5.xlarge spot, +${delta:.2f} per machine-hour"
        in out
    )
    code, out, _ = cli(capsys, "diff", str(tmp_path / "old.json"), str(tmp_path / "old.json"))
    assert code == 0 and "cost change" not in out


@pytest.mark.parametrize("target", AWS)
def test_plan_prints_the_price_change_per_run(target, tmp_path, capsys, monkeypatch):
    from moto import mock_aws

    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    bigger = _flagship_copy(tmp_path)
    bigger.write_text(
        bigger.read_text().replace(
            'Resources(cpu=4, memory="16GiB", gpu=1)', 'Resources(cpu=8, memory="32GiB", gpu=1)'
        )
    )
    with mock_aws():
        import boto3

        boto3.client("s3").create_bucket(Bucket="acme-ml")
        code, _, err = cli(capsys, "deploy", str(FLAGSHIP), "-t", target)
        assert code == 0, err
        code, out, _ = cli(capsys, "plan", str(bigger), "-t", target)
    new = _cheapest("training", {"cpu": 8, "memory": 32 * 2**30, "gpu": 1})
    delta = (new["price_per_hour"] - 0.736) * 0.3 * 0.5  # spot, 30 minutes
    assert code == 1
    assert f"detect-objects: ml.g4dn.xlarge spot → {new['type']} spot, +${delta:.4f} per run" in out


def test_the_shipped_catalogue_is_what_a_prices_file_must_be():
    schema = json.loads((package_dir("schemas") / "price_catalogue.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(CATALOGUE)
    wrong = {**CATALOGUE, "instance_types": [{**CATALOGUE["instance_types"][0], "vcpu": 0}]}
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(wrong))


def test_instance_count_multiplies_the_step_and_the_monolith(tmp_path, capsys):
    ir = json.loads((GOLDEN_DIR / "video-analysis.ir.json").read_text())
    for step in ir["steps"]:
        if step["id"] == "detect-objects":
            step["instances"] = 3
    (tmp_path / "video.ir.json").write_text(json.dumps(ir))
    shutil.copy(EXAMPLES / "pipecast.toml", tmp_path / "pipecast.toml")
    got = estimate_json(capsys, tmp_path / "video.ir.json", "sagemaker")
    detect = next(s for s in got["steps"] if s["step"] == "detect-objects")
    assert detect["instance_count"] == 3
    assert detect["cost"] == pytest.approx(0.736 * 3 * 0.5 * 0.3, abs=1e-6)
    assert got["monolith"]["hours"] == pytest.approx(10 / 60 + 3 * 0.5 + 5 / 60 + 1 / 60)
