"""Validate is deploy (DESIGN §15): what ``pipecast deploy`` would refuse, ``compile`` and
``validate`` refuse first, at the user's line; ``validate --document`` checks every target's
documents. The limits are botocore's (shipped as a slice, checked against botocore here)."""

from __future__ import annotations

import json
import shutil

import pytest
from helpers import EXAMPLES, GOLDEN_DIR, run_cli

from pipecast.compilers import _aws_models

AWS = ("sagemaker", "stepfunctions")

PIPELINE = '''\
from pipecast import dsl
from pipecast.dsl import Dataset, Input, Output, Retry


@dsl.container_component(
    image="123456789012.dkr.ecr.us-east-1.amazonaws.com/work:1.0", command=["work"]
)
def work(data: Input[Dataset], out: Output[Dataset]):
    """One step."""


@dsl.pipeline(name="limits")
def limits():
    source = dsl.importer(uri={uri!r}, artifact_type=Dataset)  # IMPORTER
    work(data=source.output){settings}  # STEP
'''


def _pipeline(tmp_path, settings: str = "", uri: str = "s3://acme-ml/in/"):
    shutil.copy(EXAMPLES / "pipecast.toml", tmp_path / "pipecast.toml")
    path = tmp_path / "limits.py"
    text = PIPELINE.format(settings=settings, uri=uri)
    path.write_text(text)
    lines = text.splitlines()
    line = {m: next(i for i, x in enumerate(lines, 1) if m in x) for m in ("IMPORTER", "STEP")}
    return path, line


def test_the_shipped_request_models_are_botocores():
    pytest.importorskip("botocore")
    fresh = _aws_models.extract()
    shipped = {
        s: {"operations": {}, "shapes": _aws_models.shapes(s)} for s in _aws_models.OPERATIONS
    }
    for service, operations in _aws_models.OPERATIONS.items():
        for operation in operations:
            name = _aws_models.input_shape(service, operation)
            assert name == fresh["services"][service]["operations"][operation]
            shipped[service]["operations"][operation] = name
    if fresh["services"] != shipped:
        # another botocore release: every limit pipecast relies on must still be the same
        changed = sorted(
            f"{service}.{name}"
            for service, data in shipped.items()
            for name, shape in data["shapes"].items()
            if fresh["services"][service]["shapes"].get(name) != shape  # changed or gone
        )
        assert not changed, (
            f"botocore {fresh['botocore']} changed these request shapes: {changed}; "
            "regenerate with python -m pipecast.compilers._aws_models"
        )


def test_the_limits_the_issue_names_come_from_the_models():
    sagemaker = _aws_models.shapes("sagemaker")
    assert sagemaker["ProcessingMaxRuntimeInSeconds"]["max"] == 777_600
    assert sagemaker["ProcessingEnvironmentValue"]["max"] == 256
    assert sagemaker["ProcessingEnvironmentMap"]["max"] == 100
    assert sagemaker["S3Uri"]["pattern"] == "(https|s3)://([^/]+)/?(.*)"


@pytest.mark.parametrize(
    ("settings", "fragments"),
    [
        (
            '.set_timeout("100000d")',
            {
                "sagemaker": "MaxRuntimeInSeconds: 8640000000 is above the maximum 777600",
                "stepfunctions": "MaxRuntimeInSeconds: 8640000000 is above the maximum 777600",
            },
        ),
        (
            '.set_env(BIG="x" * 300_000)',
            {
                "sagemaker": "Environment/BIG: 300000 characters is above the maximum 256",
                "stepfunctions": "Environment/BIG: 300000 characters is above the maximum 256",
            },
        ),
        (
            '.set_retry(Retry(max_attempts=3, backoff="200000000s"))',
            {"stepfunctions": "IntervalSeconds: 200,000,000 is above the maximum 99,999,999"},
        ),
    ],
    ids=["timeout-100000d", "env-300KB", "retry-interval"],
)
def test_what_deploy_refuses_compile_and_validate_refuse_at_the_step_line(
    tmp_path, settings, fragments
):
    path, line = _pipeline(tmp_path, settings)
    validate = run_cli("validate", str(path), "-t", "all", cwd=tmp_path)
    assert validate.returncode == 1 and "Traceback" not in validate.stderr
    for target in AWS:
        compiled = run_cli("compile", str(path), "-t", target, cwd=tmp_path)
        if target not in fragments:
            assert compiled.returncode == 0, compiled.stderr
            continue
        assert compiled.returncode == 1, compiled.stderr
        expected = f"{path.name}:{line['STEP']}: error[PC013]: step 'work': the {target} service"
        assert expected in compiled.stderr.replace(str(path), path.name), compiled.stderr
        assert fragments[target] in compiled.stderr
        assert fragments[target] in validate.stderr
        assert "hint: " in compiled.stderr


def test_a_file_importer_is_refused_at_the_importer_line(tmp_path):
    path, line = _pipeline(tmp_path, uri="file:///etc/passwd")
    for target in AWS:
        result = run_cli("compile", str(path), "-t", target, cwd=tmp_path)
        assert result.returncode == 1 and "Traceback" not in result.stderr
        assert f"limits.py:{line['IMPORTER']}: error[PC011]: importer 'importer' reads " in (
            result.stderr
        )
        assert "'file:///etc/passwd'" in result.stderr


@pytest.mark.parametrize("root", ["gs://acme-ml/pipelines", "/srv/pipelines"])
@pytest.mark.parametrize("target", AWS)
def test_a_non_s3_artifact_root_is_one_config_error(tmp_path, root, target):
    path, _ = _pipeline(tmp_path)
    for args in (("compile", "-t", target), ("validate", "-t", target)):
        result = run_cli(args[0], str(path), *args[1:], "--artifact-root", root, cwd=tmp_path)
        assert result.returncode == 1, result.stderr
        assert result.stderr.startswith(f"error: artifact_root = {root!r}")
        assert "s3://bucket/prefix" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    # the other targets accept it (Kubeflow writes to any KFP pipeline root, the IR anywhere)
    assert (
        run_cli("compile", str(path), "-t", "ir", "--artifact-root", root, cwd=tmp_path).returncode
        == 0
    )


@pytest.mark.parametrize(
    "golden",
    [
        "video-analysis.sagemaker.json",
        "video-analysis.stepfunctions.json",
        "video-analysis.kubeflow.yaml",
    ],
)
def test_validate_document_accepts_every_goldens_target(golden):
    result = run_cli("validate", "--document", str(GOLDEN_DIR / golden))
    assert result.returncode == 0 and result.stdout.startswith("ok: "), result.stderr


def test_validate_document_refuses_what_deploy_refuses(tmp_path):
    from pipecast import deploy

    machine = json.loads((GOLDEN_DIR / "video-analysis.stepfunctions.json").read_text())
    machine["States"]["track"]["Retry"] = [
        {"ErrorEquals": ["States.ALL"], "IntervalSeconds": 100_000_000, "MaxAttempts": 2}
    ]
    machine["States"]["track"]["Arguments"]["Environment"] = {"BIG": "x" * 300}
    path = tmp_path / "machine.json"
    path.write_text(json.dumps(machine))
    result = run_cli("validate", "--document", str(path))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    refused = deploy.backend("stepfunctions").validate(path.read_text())
    assert len(refused) == 2
    for problem in refused:  # the very problems deploy stops at
        assert f"  {problem}" in result.stderr
    assert "IntervalSeconds: 100,000,000 is above the maximum 99,999,999" in result.stderr


def test_validate_document_runs_kfps_loader(tmp_path):
    pytest.importorskip("kfp")
    text = (GOLDEN_DIR / "video-analysis.kubeflow.yaml").read_text()
    broken = text.replace("parameterType: NUMBER_DOUBLE", "parameterType: NUMBER_DOUBLEX", 1)
    assert broken != text
    path = tmp_path / "pipeline.yaml"
    path.write_text(broken)
    result = run_cli("validate", "--document", str(path))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "kfp cannot load it: ParseError" in result.stderr and "NUMBER_DOUBLEX" in result.stderr


@pytest.mark.parametrize(
    ("content", "code", "fragment"),
    [
        ('{"hello": 1}', 1, "not a document pipecast can read"),
        ('{"Version": "2020-12-01", "Steps": [', 1, "not valid JSON (truncated?)"),
    ],
)
def test_validate_document_bad_input_is_one_line(tmp_path, content, code, fragment):
    path = tmp_path / "doc.json"
    path.write_text(content)
    result = run_cli("validate", "--document", str(path))
    assert result.returncode == code and fragment in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
