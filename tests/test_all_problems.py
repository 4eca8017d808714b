"""All problems at once (issue #15 item 7): ``compile --target all`` and ``validate`` report every
problem of every target in one run, each diagnostic once, grouped by target; a bad duration or
size does not hide the other checks; PC008 names the targets that can express the feature (read
from the registered targets' capabilities); ``targets=(...)`` keeps a feature on some targets and
drops it on the others with a note; control-flow PC008s come once per construct."""

from __future__ import annotations

import dataclasses
import json
import shutil
import sys
import textwrap
from pathlib import Path

import jsonschema
import pytest
import yaml
from helpers import EXAMPLES, compile_document, package_dir, run_cli, write_pipeline

from pipecast import compilers, dsl
from pipecast.compilers import graph
from pipecast.compilers.target import Capabilities, Document, Target
from pipecast.dsl import Dataset, Input, Output, Retry
from pipecast.dsl.spec import PipelineSpec
from pipecast.errors import PipelineError

IMG = "registry.example.com/x:1.0"
HEADER_LINES = 2  # write_pipeline prepends two import lines


def _config(tmp_path: Path) -> Path:
    shutil.copy(EXAMPLES / "pipecast.toml", tmp_path / "pipecast.toml")
    return tmp_path / "pipecast.toml"


def _line(body: str, needle: str) -> int:
    """The 1-based line of ``needle`` in the written pipeline file (header included)."""
    lines = body.splitlines()
    return HEADER_LINES + next(i for i, line in enumerate(lines, 1) if needle in line)


# ----- every target's problems in one run, graph errors once --------------------------------------

MIXED = textwrap.dedent(
    f'''
    @dsl.container_component(image="{IMG}", command=["p"])
    def produce(out: Output[Dataset]):
        """p"""

    @dsl.container_component(image="{IMG}", command=["c"])
    def consume(data: Input[Dataset], out: Output[Dataset]):
        """c"""

    @dsl.pipeline(name="mixed")
    def mixed():
        a = produce().set_caching(True)  # stepfunctions cannot cache
        b = consume(data=a.output).set_resources(Resources(cpu=1, memory="1GiB", disk="10GiB"))
        b.after(b)  # a cycle: every target's problem
    '''
)


def test_compile_all_reports_every_target_and_the_shared_error_once(tmp_path):
    path = write_pipeline(tmp_path, MIXED)
    _config(tmp_path)
    result = run_cli("compile", str(path), "--target", "all", "-o", str(tmp_path / "out"))
    assert result.returncode == 1, result.stderr
    err = result.stderr
    assert "Traceback" not in err
    assert err.count("error[PC001]") == 1  # the cycle, once
    assert err.index("every target:") < err.index("error[PC001]") < err.index("stepfunctions:")
    sfn = err[err.index("stepfunctions:") :]
    assert "caching" in sfn.split("\n\n")[0]
    kubeflow = err[err.index("kubeflow:") :]
    assert "Resources(disk=...)" in kubeflow and "not expressible on kubeflow" in kubeflow
    # the caching problem is reported under stepfunctions only
    assert err.count("not expressible on stepfunctions") == 1
    assert not (tmp_path / "out").exists()  # nothing is written when any target fails


def test_validate_groups_by_target_with_file_and_line(tmp_path):
    path = write_pipeline(tmp_path, MIXED)
    _config(tmp_path)
    result = run_cli("validate", str(path))
    assert result.returncode == 1
    line = _line(MIXED, "set_caching(True)")
    assert f"pipe.py:{line}: error[PC008]: step 'produce': caching" in result.stderr
    assert "stepfunctions:\n" in result.stderr and "every target:\n" in result.stderr
    summary = result.stderr.strip().splitlines()[-1]
    assert summary.startswith("error: pipeline 'mixed':") or "pipeline 'mixed'" in summary


def test_a_failing_target_no_longer_hides_the_next_one(tmp_path):
    """Before: compile --target all stopped at the first target that failed."""
    body = MIXED.replace("    b.after(b)  # a cycle: every target's problem\n", "")
    assert body != MIXED
    path = write_pipeline(tmp_path, body)
    _config(tmp_path)
    result = run_cli("compile", str(path), "--target", "all", "-o", str(tmp_path / "out"))
    assert result.returncode == 1
    assert "every target:" not in result.stderr  # nothing is shared
    assert "stepfunctions:" in result.stderr
    assert "kubeflow:" in result.stderr
    assert result.stderr.index("stepfunctions:") < result.stderr.index("kubeflow:")


def test_a_target_missing_its_config_is_reported_with_the_others(tmp_path):
    body = MIXED.replace("    b.after(b)  # a cycle: every target's problem\n", "")
    path = write_pipeline(tmp_path, body)
    (tmp_path / "pipecast.toml").write_text('artifact_root = "s3://b/p"\n', encoding="utf-8")
    result = run_cli("validate", str(path), cwd=tmp_path)
    assert result.returncode == 1
    err = result.stderr
    assert "Traceback" not in err
    for aws in ("sagemaker", "stepfunctions"):
        section = err[err.index(f"{aws}:\n") :]
        assert section.splitlines()[1].startswith("  error: ") and "role_arn" in section
    assert "not expressible on kubeflow" in err[err.index("kubeflow:\n") :]


# ----- a bad duration or size does not abort the other checks -------------------------------------

TYPOS = textwrap.dedent(
    f'''
    @dsl.container_component(image="{IMG}", command=["p"])
    def produce(out: Output[Dataset]):
        """p"""

    @dsl.container_component(image="{IMG}", command=["c"])
    def consume(data: Input[Dataset], out: Output[Dataset]):
        """c"""

    @dsl.pipeline(name="typos")
    def typos():
        a = produce().set_timeout("soon")
        b = consume(data=a.output).set_resources(Resources(cpu=2, memory="16"))
        c = consume(data=b.output).set_retry(Retry(max_attempts=3, backoff="later"))
        c.set_caching(True, expire_after="forever")
        c.after(c)
    '''
)


def test_dsl_value_mistakes_are_collected_and_the_graph_still_checked(tmp_path):
    path = write_pipeline(tmp_path, TYPOS)
    _config(tmp_path)
    result = run_cli("validate", str(path), "--target", "all")
    assert result.returncode == 1
    err = result.stderr
    assert "Traceback" not in err
    for needle, what in (
        ('set_timeout("soon")', "timeout 'soon'"),
        ('memory="16"', "has no unit"),
        ('backoff="later"', "Retry.backoff"),
        ('expire_after="forever"', "expire_after"),
    ):
        assert f"pipe.py:{_line(TYPOS, needle)}: error[PC101]" in err, (needle, err)
        assert what in err, what
    assert err.count("error[PC001]") == 1  # the graph was checked too, despite the typos
    assert err.count("error[PC101]") == 4
    assert "every target:" in err


def test_dsl_value_mistakes_with_one_target_are_one_plain_report(tmp_path):
    path = write_pipeline(tmp_path, TYPOS)
    _config(tmp_path)
    result = run_cli("compile", str(path), "--target", "sagemaker")
    assert result.returncode == 1
    assert result.stderr.count("error[PC101]") == 4
    assert "error[PC001]" in result.stderr
    assert "every target:" not in result.stderr


def test_outside_a_pipeline_function_a_bad_size_still_raises_at_once():
    from pipecast.dsl import Resources
    from pipecast.errors import DefinitionError

    with pytest.raises(DefinitionError, match="has no unit"):
        Resources(memory="16")


def test_python_api_still_refuses_a_pipeline_with_a_collected_mistake():
    @dsl.container_component(image=IMG, command=["p"])
    def produce(out: Output[Dataset]):
        """p"""

    @dsl.pipeline(name="api-typo")
    def api_typo():
        produce().set_timeout("soon")

    with pytest.raises(PipelineError) as info:
        _ = api_typo.spec
    assert [d.code for d in info.value.diagnostics] == ["PC101"]
    assert isinstance(info.value.spec, PipelineSpec)  # the rest, for the checks to see
    assert info.value.spec.steps[0].timeout_seconds is None


# ----- PC008 names the targets that can, from their capabilities ---------------------------------


def _fake_target(name: str, caps: Capabilities) -> Target:
    def compile_(checked, config):
        return Document(name, "{}\n", f"{name}.json")

    return Target(
        name=name, suffix=f"{name}.json", description="test", compile=compile_, capabilities=caps
    )


@pytest.fixture
def extra_target(monkeypatch, tmp_path):
    """Register a target module 'faketarget' that caches (and names it ``fake``)."""
    module = tmp_path / "pipecast_fake_target.py"
    module.write_text(
        "from pipecast.compilers.target import Capabilities, Document, Target\n"
        "def _compile(checked, config):\n"
        "    return Document('fake', '{}\\n', 'fake.json')\n"
        "TARGET = Target(name='fake', suffix='fake.json', description='t', compile=_compile,\n"
        "                capabilities=Capabilities(unsupported={'gpu'}))\n",
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(compilers.TARGETS, "fake", "pipecast_fake_target")
    yield
    sys.modules.pop("pipecast_fake_target", None)


@dsl.container_component(image=IMG, command=["p"])
def produce(out: Output[Dataset]):
    """p"""


@dsl.container_component(image=IMG, command=["c"])
def consume(data: Input[Dataset], out: Output[Dataset]):
    """c"""


@dsl.pipeline(name="cached")
def cached():
    produce().set_caching(True)


def _pc008(spec: PipelineSpec, target: str) -> list:
    with pytest.raises(PipelineError) as info:
        compile_document(spec, target)
    return [d for d in info.value.diagnostics if d.code == "PC008"]


def test_pc008_hint_names_the_targets_whose_capabilities_include_the_feature(extra_target):
    (found,) = _pc008(cached.spec, "stepfunctions")
    assert found.hint is not None
    can = found.hint.split(" can express it")[0]
    # registry order; stepfunctions cannot, the IR only records settings
    assert can == "sagemaker, kubeflow and fake"
    assert 'targets=("sagemaker", "kubeflow", "fake")' in found.hint


def test_a_target_that_cannot_is_not_named(extra_target, monkeypatch):
    compilers.load_target("fake")  # imports the module
    module = sys.modules["pipecast_fake_target"]
    cannot = dataclasses.replace(module.TARGET, capabilities=Capabilities(unsupported={"caching"}))
    monkeypatch.setattr(module, "TARGET", cannot)
    (found,) = _pc008(cached.spec, "stepfunctions")
    assert found.hint.split(" can express it")[0] == "sagemaker and kubeflow"


# ----- per-target settings ------------------------------------------------------------------------


@dsl.pipeline(name="per-target")
def per_target():
    a = produce().set_caching(True, targets=("sagemaker", "kubeflow"))
    consume(data=a.output).set_retry(Retry(max_attempts=4), targets=["sagemaker"]).set_timeout(
        "1h", targets=("stepfunctions",)
    )


def test_per_target_settings_are_in_the_ir_and_schema_valid():
    spec = per_target.spec
    data = json.loads(compile_document(spec, "ir").text)
    steps = {s["id"]: s for s in data["steps"]}
    assert steps["produce"]["only_on"] == {"caching": ["kubeflow", "sagemaker"]}
    assert steps["consume"]["only_on"] == {"retry": ["sagemaker"], "timeout": ["stepfunctions"]}
    schema = json.loads(
        (package_dir("schemas") / "pipeline.schema.json").read_text(encoding="utf-8")
    )
    jsonschema.validate(data, schema)
    assert PipelineSpec.from_dict(data) == spec
    bad = json.loads(json.dumps(data))
    bad["steps"][0]["only_on"] = {"gpu": ["kubeflow"]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


def test_a_dropped_feature_is_a_note_and_absent_from_the_document():
    doc = compile_document(per_target.spec, "stepfunctions")
    notes = [n for n in doc.notes if "PC014" in n]
    assert len(notes) == 2, doc.notes  # caching of produce, retry of consume
    assert any("step 'produce': caching is left out on stepfunctions" in n for n in notes)
    assert any("step 'consume': retry is left out on stepfunctions" in n for n in notes)
    machine = json.loads(doc.text)
    text = json.dumps(machine)
    assert '"Retry"' not in text or 'MaxAttempts": 3' not in text
    assert "MaxAttempts" not in text  # no retry at all on this target
    assert "3600" in text  # the timeout kept here


def _everywhere_retry() -> dict:
    """The same retry set without targets=: what a target that keeps it must emit."""

    @dsl.pipeline(name="per-target")
    def plain():
        a = produce()
        consume(data=a.output).set_retry(Retry(max_attempts=4))

    return {
        s["Name"]: s for s in json.loads(compile_document(plain.spec, "sagemaker").text)["Steps"]
    }


def test_a_kept_feature_is_in_the_document_of_its_target():
    doc = compile_document(per_target.spec, "sagemaker")
    steps = {s["Name"]: s for s in json.loads(doc.text)["Steps"]}
    assert steps["produce"]["CacheConfig"]["Enabled"] is True
    everywhere = _everywhere_retry()
    assert steps["consume"]["RetryPolicies"] == everywhere["consume"]["RetryPolicies"] != []
    stopping = steps["consume"]["Arguments"].get("StoppingCondition", {})
    assert stopping.get("MaxRuntimeInSeconds") != 3600  # the timeout is stepfunctions-only
    assert [n for n in doc.notes if "PC014" in n] == [
        n for n in doc.notes if "timeout is left out on sagemaker" in n
    ]


def test_kubeflow_keeps_caching_and_drops_retry():
    doc = compile_document(per_target.spec, "kubeflow")
    text = doc.text
    tasks = yaml.safe_load(text)["root"]["dag"]["tasks"]
    assert tasks["produce"]["cachingOptions"].get("enableCache") is True
    assert "retryPolicy" not in tasks["consume"]
    assert any("retry is left out on kubeflow" in n for n in doc.notes)


def test_unknown_target_name_in_targets_is_pc004_with_a_suggestion():
    @dsl.pipeline(name="typo-target")
    def typo_target():
        produce().set_caching(True, targets=("sagemkaer",))

    with pytest.raises(PipelineError) as info:
        graph.check(typo_target.spec)
    (found,) = info.value.diagnostics
    assert found.code == "PC004" and "did you mean 'sagemaker'" in found.message


@pytest.mark.parametrize("bad", ["sagemaker", (), ("",), (1,)])
def test_targets_must_be_a_tuple_of_names(bad):
    @dsl.pipeline(name="bad-targets")
    def bad_targets():
        produce().set_caching(True, targets=bad)

    with pytest.raises(PipelineError) as info:
        _ = bad_targets.spec
    assert [d.code for d in info.value.diagnostics] == ["PC107"]


# ----- control flow: one PC008 per construct ------------------------------------------------------


@dsl.container_component(image=IMG, command=["w"])
def work(item: str, out: Output[Dataset]):
    """w"""


@dsl.pipeline(name="looped")
def looped():
    with dsl.ParallelFor(["a", "b", "c"]) as item:
        one = work(item=item).set_name("one")
        two = work(item=item).set_name("two").after(one)
        work(item=item).set_name("three").after(two)
    with dsl.ParallelFor(["x"]) as other:
        work(item=other).set_name("four")


def test_control_flow_pc008_is_one_diagnostic_per_construct_naming_the_steps():
    plain = _fake_target("plain", Capabilities())  # expresses no control flow
    found = [d for d in graph.diagnose(looped.spec, [plain])[0] if d.code == "PC008"]
    assert len(found) == 2, [d.message for d in found]
    first, second = sorted(found, key=lambda d: d.location.line)
    assert "steps 'one', 'two', 'three'" in first.message
    assert "dsl.ParallelFor" in first.message and "plain" in first.message
    assert "step 'four'" in second.message
    assert first.location.line < second.location.line


@dsl.pipeline(name="wide-loop")
def wide_loop():
    with dsl.ParallelFor(["a", "b"]) as item:
        for i in range(12):
            work(item=item).set_name(f"s{i:02d}")


def test_a_large_construct_names_ten_steps_and_counts_the_rest():
    plain = _fake_target("plain", Capabilities())
    (found,) = [d for d in graph.diagnose(wide_loop.spec, [plain])[0] if d.code == "PC008"]
    assert "'s00', 's01'" in found.message and "'s09' and 2 more" in found.message
    assert "'s10'" not in found.message
