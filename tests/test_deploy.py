"""plan/deploy/start against moto: in-process and through a moto server via AWS_ENDPOINT_URL."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys

import pytest
from helpers import EXAMPLES, available_targets, run_cli

from pipecast.cli import main
from pipecast.errors import DeployError

FLAGSHIP = EXAMPLES / "video_analysis.py"
AWS_TARGETS = [t for t in ("sagemaker", "stepfunctions") if t in available_targets()]
needs_targets = pytest.mark.skipif(not AWS_TARGETS, reason="no AWS target is registered yet")


@pytest.fixture
def aws_env(monkeypatch):
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


def cli(capsys, *args: str) -> tuple[int, str, str]:
    """Run the CLI in-process (so moto's in-process mock applies); returns (code, out, err)."""
    with pytest.raises(SystemExit) as info:
        main(list(args))
    out = capsys.readouterr()
    return int(info.value.code or 0), out.out, out.err


def with_image(tmp_path, old: str, new: str):
    """A copy of the flagship (and its config) with one image changed."""
    shutil.copy(EXAMPLES / "pipecast.toml", tmp_path / "pipecast.toml")
    text = FLAGSHIP.read_text().replace(old, new)
    path = tmp_path / "video_analysis.py"
    path.write_text(text)
    return path


@needs_targets
@pytest.mark.parametrize("target", AWS_TARGETS)
def test_deploy_plan_change_deploy_cycle(target, tmp_path, capsys, aws_env):
    from moto import mock_aws

    with mock_aws():
        if target == "sagemaker":
            import boto3

            boto3.client("s3").create_bucket(Bucket="acme-ml")
        code, out, err = cli(capsys, "plan", str(FLAGSHIP), "-t", target)
        assert code == 1 and "not deployed yet" in out
        code, out, err = cli(capsys, "deploy", str(FLAGSHIP), "-t", target, "--tag", "team=vision")
        assert code == 0 and out.startswith("created: arn:aws:"), (out, err)
        code, out, _ = cli(capsys, "plan", str(FLAGSHIP), "-t", target)
        assert code == 0 and "no changes" in out
        code, out, _ = cli(capsys, "deploy", str(FLAGSHIP), "-t", target)
        assert code == 0 and out.startswith("no change:")
        changed = with_image(tmp_path, "track-objects:0.1.0", "track-objects:0.2.0")
        code, out, _ = cli(capsys, "plan", str(changed), "-t", target)
        assert code == 1
        assert "1 step changed" in out.splitlines()[0], out
        assert "~ step track" in out and "track-objects:0.2.0" in out
        assert "detect-objects" not in out
        code, out, _ = cli(capsys, "deploy", str(changed), "-t", target)
        assert code == 0 and out.startswith("updated: arn:aws:")
        code, out, _ = cli(capsys, "plan", str(changed), "-t", target)
        assert code == 0
        code, out, err = cli(
            capsys,
            "start",
            str(changed),
            "-t",
            target,
            "-p",
            "video_uri=s3://acme-ml/videos/",
            "-p",
            "fps=2",
        )
        assert code == 0 and out.startswith("arn:aws:") and "console: https://" in err


@needs_targets
@pytest.mark.skipif("sagemaker" not in AWS_TARGETS, reason="sagemaker target not registered")
def test_large_sagemaker_definition_goes_through_s3(tmp_path, capsys, aws_env, monkeypatch):
    import boto3
    from moto import mock_aws

    from pipecast.deploy import sagemaker as backend

    monkeypatch.setattr(backend, "INLINE_LIMIT", 100)  # the flagship is over 100 bytes
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="acme-ml")
        code, _out, err = cli(capsys, "deploy", str(FLAGSHIP), "-t", "sagemaker")
        assert code == 0, err
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="acme-ml")["Contents"]]
        assert len(keys) == 1 and keys[0].startswith("pipelines/video-analysis/_definitions/")
        stored = s3.get_object(Bucket="acme-ml", Key=keys[0])["Body"].read().decode()
        assert stored == (EXAMPLES / "compiled" / "video-analysis.sagemaker.json").read_text()
        described = boto3.client("sagemaker").describe_pipeline(PipelineName="video-analysis")
        text = described["PipelineDefinition"]
        # moto returns an S3-loaded definition as a dict (5.2.1) or its Python repr (5.2.5);
        # AWS returns the JSON text. Accept each form here; the product expects AWS's.
        if isinstance(text, dict):
            parsed = text
        else:
            parsed = json.loads(text) if text.lstrip().startswith('{"') else ast.literal_eval(text)
        assert parsed == json.loads(stored)


@needs_targets
def test_start_rejects_unknown_parameters(capsys, aws_env):
    from moto import mock_aws

    with mock_aws():
        code, _, err = cli(capsys, "start", str(FLAGSHIP), "-t", AWS_TARGETS[0], "-p", "fsp=2")
    assert code == 1 and "no parameter 'fsp'; did you mean 'fps'?" in err


@needs_targets
def test_moto_server_through_aws_endpoint_url(tmp_path):
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    try:
        host, port = server.get_host_and_port()
        env = {
            "AWS_ENDPOINT_URL": f"http://{host}:{port}",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        env.pop("AWS_PROFILE", None)
        target = AWS_TARGETS[0]
        first = run_cli("deploy", str(FLAGSHIP), "-t", target, env=env)
        assert first.returncode == 0 and first.stdout.startswith("created:"), first.stderr
        again = run_cli("plan", str(FLAGSHIP), "-t", target, env=env)
        assert again.returncode == 0 and "no changes" in again.stdout, again.stderr
    finally:
        server.stop()


def test_no_credentials_is_one_clear_line():
    import botocore.exceptions

    from pipecast.deploy.aws import aws_errors

    with pytest.raises(DeployError, match="no AWS credentials found"), aws_errors("Deploy"):
        raise botocore.exceptions.NoCredentialsError()


@needs_targets
def test_no_credentials_through_the_cli(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        {
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
            "AWS_CONFIG_FILE": str(tmp_path / "none"),
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )
    result = subprocess.run(
        [sys.executable, "-m", "pipecast", "plan", str(FLAGSHIP), "-t", AWS_TARGETS[0]],
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 1 and "no AWS credentials found" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        ("AccessDeniedException", "access denied"),
        ("ThrottlingException", "throttling"),
        ("ValidationException", "failed (ValidationException)"),
    ],
)
def test_client_errors_become_one_line(code, fragment):
    import botocore.exceptions

    from pipecast.deploy.aws import aws_errors

    error = botocore.exceptions.ClientError(
        {"Error": {"Code": code, "Message": "nope"}}, "CreatePipeline"
    )
    with pytest.raises(DeployError) as info, aws_errors("CreatePipeline"):
        raise error
    message = str(info.value)
    assert fragment in message and "\n" not in message and message.startswith("CreatePipeline")


def test_deploy_to_kubeflow_is_a_usage_error():
    result = run_cli("deploy", str(FLAGSHIP), "-t", "kubeflow")
    assert result.returncode == 2 and "Invalid value for '--target'" in result.stderr


def _flagship_with_config(tmp_path, old: str = "", new: str = ""):
    """A copy of the flagship whose pipecast.toml has ``old`` replaced by ``new``."""
    (tmp_path / "pipecast.toml").write_text(
        (EXAMPLES / "pipecast.toml").read_text().replace(old, new)
    )
    path = tmp_path / "video_analysis.py"
    path.write_text(FLAGSHIP.read_text())
    return path


def _deployed_role_and_tags(target: str) -> tuple[str, dict[str, str]]:
    import boto3

    if target == "sagemaker":
        sm = boto3.client("sagemaker")
        described = sm.describe_pipeline(PipelineName="video-analysis")
        tags = sm.list_tags(ResourceArn=described["PipelineArn"])["Tags"]
        return described["RoleArn"], {t["Key"]: t["Value"] for t in tags}
    sfn = boto3.client("stepfunctions")
    arn = sfn.list_state_machines()["stateMachines"][0]["stateMachineArn"]
    tags = sfn.list_tags_for_resource(resourceArn=arn)["tags"]
    return sfn.describe_state_machine(stateMachineArn=arn)["roleArn"], {
        t["key"]: t["value"] for t in tags
    }


@needs_targets
@pytest.mark.parametrize("target", AWS_TARGETS)
def test_plan_shows_and_deploy_applies_role_and_tags_on_an_unchanged_definition(
    target, tmp_path, capsys, aws_env
):
    from moto import mock_aws

    role_key = "pipecast-jobs" if target == "sagemaker" else "pipecast-states"
    moved = _flagship_with_config(tmp_path, f"role/{role_key}", f"role/{role_key}-v2")
    with mock_aws():
        if target == "sagemaker":
            import boto3

            boto3.client("s3").create_bucket(Bucket="acme-ml")
        code, out, err = cli(capsys, "deploy", str(FLAGSHIP), "-t", target, "--tag", "team=vision")
        assert code == 0 and out.startswith("created: "), err
        assert err.endswith("applied: definition, role, tags\n"), err
        # new tag, same definition and role: plan shows the tag, deploy applies only it
        code, out, _ = cli(capsys, "plan", str(FLAGSHIP), "-t", target, "--tag", "owner=ml")
        assert code == 1 and out.splitlines() == [
            f"pipeline 'video-analysis' ({target}): definition unchanged",
            "+ tag owner=ml",
        ], out
        code, out, _ = cli(
            capsys, "plan", str(FLAGSHIP), "-t", target, "--tag", "owner=ml", "--format", "json"
        )
        planned = json.loads(out)
        assert code == 1 and planned["equal"] is False and planned["role"] is None
        assert planned["definition"]["equal"] is True
        assert planned["tags"] == [{"key": "owner", "old": None, "new": "ml"}]
        code, out, err = cli(capsys, "deploy", str(FLAGSHIP), "-t", target, "--tag", "owner=ml")
        assert code == 0 and out.startswith("updated: ") and "applied: tags" in err, (out, err)
        assert _deployed_role_and_tags(target)[1] == {"team": "vision", "owner": "ml"}
        # a new role: plan shows it (on SageMaker the jobs' RoleArn is in the definition too)
        code, out, _ = cli(capsys, "plan", str(moved), "-t", target)
        assert code == 1 and f"~ role: arn:aws:iam::123456789012:role/{role_key} → " in out
        code, out, err = cli(capsys, "deploy", str(moved), "-t", target)
        applied = "definition, role" if target == "sagemaker" else "role"
        assert code == 0 and f"applied: {applied}\n" in err, err
        assert _deployed_role_and_tags(target)[0].endswith(f"role/{role_key}-v2")
        code, out, _ = cli(capsys, "plan", str(moved), "-t", target)
        assert code == 0 and out == f"pipeline 'video-analysis' ({target}): no changes\n"


@needs_targets
@pytest.mark.parametrize("target", AWS_TARGETS)
def test_a_deploy_that_fails_part_way_says_so_and_a_rerun_finishes_it(
    target, tmp_path, capsys, aws_env, monkeypatch
):
    import botocore.exceptions
    from moto import mock_aws

    from pipecast import deploy

    chosen = deploy.backend(target)
    real_tag = chosen.tag
    changed = with_image(tmp_path, "track-objects:0.1.0", "track-objects:0.2.0")

    def failing_tag(arn, tags, config):
        from pipecast.deploy.aws import aws_errors

        with aws_errors("TagResource"):
            raise botocore.exceptions.ClientError(
                {"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "TagResource"
            )

    with mock_aws():
        if target == "sagemaker":
            import boto3

            boto3.client("s3").create_bucket(Bucket="acme-ml")
        assert cli(capsys, "deploy", str(FLAGSHIP), "-t", target)[0] == 0
        monkeypatch.setattr(chosen, "tag", failing_tag)
        code, out, err = cli(capsys, "deploy", str(changed), "-t", target, "--tag", "team=vision")
        assert code == 1 and "Traceback" not in err
        assert (
            f"{target} pipeline 'video-analysis' partly deployed: applied definition; "
            "not applied tags (" in err
        ), err
        assert "run pipecast deploy again to finish" in err
        # the update landed: the plan now shows only the tag
        code, out, _ = cli(capsys, "plan", str(changed), "-t", target, "--tag", "team=vision")
        assert code == 1 and "definition unchanged" in out and "+ tag team=vision" in out, out
        monkeypatch.setattr(chosen, "tag", real_tag)
        code, out, err = cli(capsys, "deploy", str(changed), "-t", target, "--tag", "team=vision")
        assert code == 0 and "applied: tags\n" in err, err
        code, out, _ = cli(capsys, "plan", str(changed), "-t", target, "--tag", "team=vision")
        assert code == 0 and "no changes" in out
        assert _deployed_role_and_tags(target)[1] == {"team": "vision"}


@needs_targets
@pytest.mark.parametrize("target", AWS_TARGETS)
def test_a_change_only_outside_the_summary_is_planned_and_deployed(target, aws_env):
    """A definition that differs only where no summary row looks (VolumeSizeInGB) is a change:
    plan says so by path, deploy sends it, and the deployed definition is the new one."""
    import boto3
    from helpers import EXAMPLE_CONFIG, compile_text, load_example
    from moto import mock_aws

    from pipecast import deploy

    text = compile_text(load_example("video_analysis"), target)
    document = json.loads(text)
    job = (
        document["Steps"][2]["Arguments"]
        if target == "sagemaker"
        else document["States"]["track"]["Arguments"]
    )
    job["ProcessingResources"]["ClusterConfig"]["VolumeSizeInGB"] = 31
    edited = json.dumps(document, indent=2, sort_keys=True) + "\n"
    with mock_aws():
        boto3.client("s3").create_bucket(Bucket="acme-ml")
        deploy.deploy(target, "video-analysis", text, EXAMPLE_CONFIG, {})
        result = deploy.plan(target, "video-analysis", edited, EXAMPLE_CONFIG)
        assert not result.equal and result.parts == ["definition"]
        assert "VolumeSizeInGB: 30 → 31" in result.diff and "no changes" not in result.diff
        applied = deploy.deploy(target, "video-analysis", edited, EXAMPLE_CONFIG, {})
        assert applied.action == "updated" and applied.applied == ("definition",)
        deployed = deploy.backend(target).fetch("video-analysis", EXAMPLE_CONFIG)
        assert deployed is not None and json.loads(deployed.definition) == document
        assert deploy.plan(target, "video-analysis", edited, EXAMPLE_CONFIG).equal
