"""Deploy, rule by rule: plan output, refusals, AWS error translation and the calls each backend
makes, checked through the public functions against moto (in-process) or botocore's exceptions.

tests/test_deploy.py drives the whole plan/deploy/start cycle through the CLI; these pin the
details a user reads (messages, hints, plan lines) and what lands in AWS.
"""

from __future__ import annotations

import hashlib
import json

import pytest
from helpers import EXAMPLE_CONFIG, EXAMPLES, available_targets, compile_text, load_example

from pipecast import deploy
from pipecast.config import Config
from pipecast.deploy.aws import Deployed
from pipecast.errors import ConfigError, DeployError, DocumentError, UsageError

AWS_TARGETS = [t for t in ("sagemaker", "stepfunctions") if t in available_targets()]
pytestmark = pytest.mark.skipif(not AWS_TARGETS, reason="no AWS target is registered yet")
NAME = "video-analysis"
REGION = EXAMPLE_CONFIG.get("region")  # us-east-1


@pytest.fixture
def aws_env(monkeypatch):
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    # not the config's region: every call must use the region pipecast.toml names
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")


@pytest.fixture
def aws(aws_env):
    """moto for the whole test, with the examples' bucket."""
    import boto3
    from moto import mock_aws

    with mock_aws():
        boto3.client("s3", region_name=REGION).create_bucket(Bucket="acme-ml")
        yield


def flagship_text(target: str) -> str:
    return compile_text(load_example("video_analysis"), target)


# ----- choosing a backend ----------------------------------------------------------------------


def test_an_unknown_or_undeployable_target_is_a_usage_error_naming_the_deployable_ones():
    with pytest.raises(UsageError) as typo:
        deploy.backend("sagemkaer")
    assert "cannot deploy to 'sagemkaer'; did you mean 'sagemaker'?" in str(typo.value)
    with pytest.raises(UsageError) as other:
        deploy.backend("kubeflow")
    message = str(other.value)
    assert message.startswith("cannot deploy to 'kubeflow'")
    assert message.endswith(f"deployable targets: {', '.join(AWS_TARGETS)}")


# ----- plan ------------------------------------------------------------------------------------


@pytest.mark.parametrize("target", AWS_TARGETS)
def test_plan_of_nothing_deployed_says_deploy_will_create_it(target, aws):
    result = deploy.plan(target, NAME, flagship_text(target), EXAMPLE_CONFIG)
    assert (result.exists, result.equal, result.parts) == (False, False, [])
    assert result.diff == f"{target} pipeline '{NAME}' is not deployed yet: deploy will create it\n"
    as_json = deploy.plan(target, NAME, flagship_text(target), EXAMPLE_CONFIG, "json")
    assert json.loads(as_json.diff) == {
        "target": target,
        "pipeline": NAME,
        "exists": False,
        "equal": False,
        "definition": None,
        "role": None,
        "tags": [],
    }


@pytest.mark.parametrize("target", AWS_TARGETS)
def test_plan_lists_a_changed_tag_with_its_old_value_and_a_new_one_without(target, aws):
    text = flagship_text(target)
    deploy.deploy(target, NAME, text, EXAMPLE_CONFIG, {"team": "vision", "keep": "x"})
    tags = {"team": "ml", "owner": "me", "keep": "x"}
    result = deploy.plan(target, NAME, text, EXAMPLE_CONFIG, tags=tags)
    assert result.tags == {"owner": "me", "team": "ml"} and result.parts == ["tags"]
    assert result.diff.splitlines() == [
        f"pipeline '{NAME}' ({target}): definition unchanged",
        "+ tag owner=me",
        "~ tag team: vision → ml",
    ]
    markdown = deploy.plan(target, NAME, text, EXAMPLE_CONFIG, "markdown", tags)
    assert (
        markdown.diff.splitlines()[0] == f"### pipeline '{NAME}' ({target}): definition unchanged"
    )
    as_json = json.loads(deploy.plan(target, NAME, text, EXAMPLE_CONFIG, "json", tags).diff)
    assert (as_json["exists"], as_json["equal"], as_json["role"]) == (True, False, None)
    assert as_json["tags"] == [
        {"key": "owner", "old": None, "new": "me"},
        {"key": "team", "old": "vision", "new": "ml"},
    ]
    same = json.loads(deploy.plan(target, NAME, text, EXAMPLE_CONFIG, "json", {"keep": "x"}).diff)
    assert same["equal"] is True and same["tags"] == [] and same["definition"]["equal"] is True


@pytest.mark.parametrize("target", AWS_TARGETS)
def test_plan_and_deploy_of_a_new_role_show_old_and_new(target, aws):
    text = flagship_text(target)
    deploy.deploy(target, NAME, text, EXAMPLE_CONFIG, {})
    key = f"{target}.role_arn"
    new_role = "arn:aws:iam::123456789012:role/other"
    moved = EXAMPLE_CONFIG.with_overrides({key: new_role})
    result = deploy.plan(target, NAME, text, moved, "json")
    old_role = EXAMPLE_CONFIG.get(key)
    assert json.loads(result.diff)["role"] == {"old": old_role, "new": new_role}
    assert result.role == (old_role, new_role) and result.parts == ["role"]
    applied = deploy.deploy(target, NAME, text, moved, {})
    assert (applied.action, applied.applied) == ("updated", ("role",))
    assert deploy.backend(target).fetch(NAME, moved).role == new_role
    # a config without a role leaves the deployed one alone: no difference to plan
    data = json.loads(json.dumps(EXAMPLE_CONFIG.data))
    del data[target]["role_arn"]
    unset = Config(data=data, source="test")
    assert deploy.backend(target).role(unset) is None
    assert deploy.plan(target, NAME, text, unset).role is None


# ----- deploy ----------------------------------------------------------------------------------


@pytest.mark.parametrize("target", AWS_TARGETS)
def test_create_reports_what_one_call_set_and_the_tags_land(target, aws):
    text = flagship_text(target)
    plain = deploy.deploy(target, f"{NAME}-plain", text, EXAMPLE_CONFIG, {})
    assert plain.action == "created" and plain.applied == ("definition", "role")
    tagged = deploy.deploy(target, NAME, text, EXAMPLE_CONFIG, {"b": "2", "a": "1"})
    assert tagged.action == "created" and tagged.applied == ("definition", "role", "tags")
    assert tagged.arn.startswith("arn:aws:") and NAME in tagged.arn
    deployed = deploy.backend(target).fetch(NAME, EXAMPLE_CONFIG)
    assert deployed is not None
    assert (deployed.arn, dict(deployed.tags)) == (tagged.arn, {"a": "1", "b": "2"})
    assert deployed.role == EXAMPLE_CONFIG.get(f"{target}.role_arn")
    assert json.loads(deployed.definition) == json.loads(text)
    again = deploy.deploy(target, NAME, text, EXAMPLE_CONFIG, {"a": "1"})
    assert (again.action, again.arn, again.applied) == ("unchanged", "", ())


@pytest.mark.parametrize("target", AWS_TARGETS)
def test_fetch_of_a_name_never_deployed_is_none(target, aws):
    chosen = deploy.backend(target)
    deploy.deploy(target, NAME, flagship_text(target), EXAMPLE_CONFIG, {})
    assert chosen.fetch("not-" + NAME, EXAMPLE_CONFIG) is None
    assert chosen.fetch(NAME[:-1], EXAMPLE_CONFIG) is None  # a prefix is another name


@pytest.mark.parametrize("target", AWS_TARGETS)
def test_a_document_failing_validation_is_never_sent(target, aws):
    document = json.loads(flagship_text(target))
    if target == "sagemaker":
        document["Steps"] = [dict(document["Steps"][0], Type="Nope") for _ in range(40)]
    else:
        document["StartAt"] = "missing-state"
    bad = json.dumps(document)
    problems = deploy.backend(target).validate(bad)
    assert problems, "the edited document should fail the target's checks"
    with pytest.raises(DocumentError) as info:
        deploy.deploy(target, NAME, bad, EXAMPLE_CONFIG, {})
    lines = str(info.value).splitlines()
    assert lines[0] == f"refusing to deploy: the {target} document fails validation:"
    assert lines[1:] == [f"  {p}" for p in problems[:30]]
    assert deploy.backend(target).fetch(NAME, EXAMPLE_CONFIG) is None


# ----- SageMaker: definitions through S3, start -------------------------------------------------


@pytest.mark.skipif("sagemaker" not in AWS_TARGETS, reason="sagemaker target not registered")
def test_a_large_definition_is_stored_content_addressed(aws, monkeypatch):
    import boto3

    from pipecast.deploy import sagemaker as backend

    text = flagship_text("sagemaker")
    monkeypatch.setattr(backend, "INLINE_LIMIT", len(text.encode()) - 1)
    deploy.deploy("sagemaker", NAME, text, EXAMPLE_CONFIG, {})
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]
    listed = boto3.client("s3", region_name=REGION).list_objects_v2(Bucket="acme-ml")["Contents"]
    assert [o["Key"] for o in listed] == [f"pipelines/{NAME}/_definitions/{digest}.json"]
    # at the limit the definition is still inline: nothing more is uploaded
    monkeypatch.setattr(backend, "INLINE_LIMIT", len(text.encode()))
    deploy.deploy("sagemaker", "inline", text, EXAMPLE_CONFIG, {})
    assert (
        len(boto3.client("s3", region_name=REGION).list_objects_v2(Bucket="acme-ml")["Contents"])
        == 1
    )


@pytest.mark.skipif("sagemaker" not in AWS_TARGETS, reason="sagemaker target not registered")
def test_a_large_definition_needs_an_s3_artifact_root(aws, monkeypatch):
    from pipecast.deploy import sagemaker as backend

    text = flagship_text("sagemaker")
    monkeypatch.setattr(backend, "INLINE_LIMIT", 10)
    local = EXAMPLE_CONFIG.with_overrides({"artifact_root": "/data/runs"})
    with pytest.raises(ConfigError) as info:
        deploy.deploy("sagemaker", NAME, text, local, {})
    size = len(text.encode("utf-8"))
    assert str(info.value) == (
        f"the definition is {size:,} bytes, so it must be uploaded to S3, but "
        "artifact_root (/data/runs) is not an s3:// URI"
    )


@pytest.mark.skipif("sagemaker" not in AWS_TARGETS, reason="sagemaker target not registered")
def test_sagemaker_start_sends_rendered_parameters_and_links_the_console(aws):
    import boto3

    from pipecast.deploy import sagemaker as backend

    deploy.deploy("sagemaker", NAME, flagship_text("sagemaker"), EXAMPLE_CONFIG, {})
    arn, link = backend.start(NAME, {"video_uri": "s3://acme-ml/v/", "fps": 2}, EXAMPLE_CONFIG)
    assert arn.startswith("arn:aws:sagemaker:us-east-1:") and NAME in arn
    assert link.startswith(
        "https://us-east-1.console.aws.amazon.com/sagemaker/home?region=us-east-1"
        f"#/pipelines/{NAME} "
    )
    sent = boto3.client("sagemaker", region_name=REGION).list_pipeline_parameters_for_execution(
        PipelineExecutionArn=arn
    )["PipelineParameters"]
    assert sorted((p["Name"], p["Value"]) for p in sent) == [
        ("fps", "2"),
        ("video_uri", "s3://acme-ml/v/"),
    ]


# ----- Step Functions: start --------------------------------------------------------------------


@pytest.mark.skipif("stepfunctions" not in AWS_TARGETS, reason="stepfunctions not registered")
def test_step_functions_start_sends_the_parameters_as_input(aws):
    import boto3

    from pipecast.deploy import stepfunctions as backend

    with pytest.raises(DeployError) as info:
        backend.start(NAME, {}, EXAMPLE_CONFIG)
    assert str(info.value) == (f"state machine '{NAME}' is not deployed; run pipecast deploy first")
    deploy.deploy("stepfunctions", NAME, flagship_text("stepfunctions"), EXAMPLE_CONFIG, {})
    params = {"video_uri": "s3://acme-ml/v/", "fps": 2}
    execution, link = backend.start(NAME, params, EXAMPLE_CONFIG)
    assert link == (
        "https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1"
        f"#/v2/executions/details/{execution}"
    )
    described = boto3.client("stepfunctions", region_name=REGION).describe_execution(
        executionArn=execution
    )
    # the input is the same text for the same parameters, whatever order they were given in
    assert described["input"] == '{"fps": 2, "video_uri": "s3://acme-ml/v/"}'


# ----- AWS errors: one line, saying what to do ---------------------------------------------------


def _client_error(code: str, message: str = "nope", operation: str = "CreatePipeline"):
    import botocore.exceptions

    return botocore.exceptions.ClientError({"Error": {"Code": code, "Message": message}}, operation)


def _raised(exc: Exception, action: str = "Deploy") -> str:
    from pipecast.deploy.aws import aws_errors

    with pytest.raises(DeployError) as info, aws_errors(action):
        raise exc
    return str(info.value)


@pytest.mark.parametrize(
    "code",
    [
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidSignatureException",
    ],
)
def test_every_credentials_error_is_access_denied_with_its_hint(code):
    assert _raised(_client_error(code)) == (
        f"CreatePipeline: access denied ({code}): nope; "
        "the credentials in use lack permission for it (or are invalid)"
    )


@pytest.mark.parametrize(
    "code",
    [
        "Throttling",
        "ThrottlingException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
    ],
)
def test_every_throttling_error_says_wait_and_rerun(code):
    assert _raised(_client_error(code, operation="AddTags")) == (
        f"AddTags: AWS is throttling requests ({code}); wait a moment and run the command again"
    )


def test_other_client_errors_name_the_operation_code_and_message():
    assert _raised(_client_error("ValidationException", "bad name", "UpdatePipeline")) == (
        "UpdatePipeline failed (ValidationException): bad name"
    )


def test_botocore_errors_name_the_action_and_what_to_check():
    import botocore.exceptions as bx

    assert _raised(bx.NoCredentialsError(), "DescribePipeline") == (
        "DescribePipeline: no AWS credentials found; configure a profile (aws configure, "
        "AWS_PROFILE) or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
    )
    profile = _raised(bx.ProfileNotFound(profile="nope"), "sagemaker client")
    assert profile.startswith("sagemaker client: ") and profile.endswith("; check AWS_PROFILE")
    assert "nope" in profile
    unreachable = _raised(bx.EndpointConnectionError(endpoint_url="http://localhost:1"), "Plan")
    assert unreachable == (
        "Plan: cannot reach http://localhost:1; check the network, the region and AWS_ENDPOINT_URL"
    )
    other = _raised(bx.ParamValidationError(report="bad"), "StartExecution")
    assert other.startswith("StartExecution: ") and "bad" in other


def test_no_region_anywhere_is_one_line_saying_where_to_set_it(monkeypatch, tmp_path):
    from pipecast.deploy.aws import client

    for key in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    with pytest.raises(DeployError) as info:
        client("sagemaker", None)
    assert str(info.value) == (
        'no AWS region: set region = "..." in pipecast.toml, --region, or AWS_DEFAULT_REGION'
    )
    assert client("sagemaker", "eu-west-1").meta.region_name == "eu-west-1"


def test_clients_share_botocore_data_but_read_the_environment_afresh(monkeypatch, tmp_path):
    from pipecast.deploy.aws import client

    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "first")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s")
    first = client("sagemaker", None)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-south-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "second")
    second = client("stepfunctions", None)
    third = client("stepfunctions", "us-west-2")
    assert first.meta.region_name == "eu-west-1"
    assert second.meta.region_name == "ap-south-1"
    assert third.meta.region_name == "us-west-2"
    assert first._request_signer._credentials.access_key == "first"
    assert second._request_signer._credentials.access_key == "second"
    # one loader for all three, and boto3's data folder on it once however many sessions wrap it
    loaders = {id(c._loader) for c in (first, second, third)}
    assert len(loaders) == 1
    paths = first._loader.search_paths
    assert len(paths) == len(set(paths))


# ----- the commands' tags ----------------------------------------------------------------------


def _cli(capsys, *args: str) -> tuple[int, str, str]:
    from pipecast.cli import main

    with pytest.raises(SystemExit) as info:
        main(list(args))
    out = capsys.readouterr()
    return int(info.value.code or 0), out.out, out.err


@pytest.mark.parametrize("bad", ["novalue", "=value"])
def test_a_tag_without_key_or_equals_sign_is_a_usage_error(bad, capsys, aws):
    from helpers import EXAMPLES

    code, _, err = _cli(
        capsys, "plan", str(EXAMPLES / "video_analysis.py"), "-t", AWS_TARGETS[0], "--tag", bad
    )
    assert code == 2 and f"--tag takes KEY=VALUE, got {bad!r}" in err


def test_config_tags_are_planned_and_a_tag_flag_overrides_one(capsys, aws, tmp_path):
    import shutil

    from helpers import EXAMPLES

    target = AWS_TARGETS[0]
    config = (EXAMPLES / "pipecast.toml").read_text()
    config = config.replace(
        f"[{target}]\n", f'[{target}]\ntags = {{ team = "vision", cost = "7" }}\n'
    )
    (tmp_path / "pipecast.toml").write_text(config)
    shutil.copy(EXAMPLES / "video_analysis.py", tmp_path / "video_analysis.py")
    ref = str(tmp_path / "video_analysis.py")
    assert _cli(capsys, "deploy", ref, "-t", target, "--tag", "team=ml=x")[0] == 0
    deployed = deploy.backend(target).fetch(NAME, EXAMPLE_CONFIG)
    assert deployed is not None and dict(deployed.tags) == {"cost": "7", "team": "ml=x"}


def _unreachable_calls():
    """(backend, function, call): each backend function's first AWS call and how it is named."""
    from pipecast.deploy.aws import Deployed

    deployed = Deployed("arn:aws:states:us-east-1:123456789012:stateMachine:x", "{}", None)
    calls = []
    for target, names in (
        (
            "sagemaker",
            ("DescribePipeline", "CreatePipeline", "UpdatePipeline", "AddTags", "StartPipeline"),
        ),
        (
            "stepfunctions",
            (
                "ListStateMachines",
                "CreateStateMachine",
                "UpdateStateMachine",
                "TagResource",
                "List",
            ),
        ),
    ):
        if target not in AWS_TARGETS:
            continue
        functions = [
            lambda b: b.fetch(NAME, EXAMPLE_CONFIG),
            lambda b: b.create(NAME, "{}", EXAMPLE_CONFIG, {"a": "1"}),
            lambda b: b.update(deployed, NAME, "{}", EXAMPLE_CONFIG, True, True),
            lambda b: b.tag(deployed.arn, {"a": "1"}, EXAMPLE_CONFIG),
            lambda b: b.start(NAME, {"a": 1}, EXAMPLE_CONFIG),
        ]
        for name, call in zip(names, functions, strict=True):
            # start: SageMaker's StartPipelineExecution; Step Functions first lists the machines
            full = {"StartPipeline": "StartPipelineExecution", "List": "ListStateMachines"}
            action = full.get(name, name)
            calls.append(pytest.param(target, call, action, id=f"{target}-{name}"))
    return calls


@pytest.mark.parametrize(("target", "call", "action"), _unreachable_calls())
def test_an_unreachable_endpoint_names_the_call_that_failed(
    target, call, action, aws_env, monkeypatch
):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    with pytest.raises(DeployError) as info:
        call(deploy.backend(target))
    assert str(info.value).startswith(f"{action}: cannot reach http://127.0.0.1:9"), info.value
    assert str(info.value).endswith("; check the network, the region and AWS_ENDPOINT_URL")


@pytest.mark.parametrize(
    ("target", "action", "call"),
    [
        ("sagemaker", "ListTags", lambda b: b.fetch(NAME, EXAMPLE_CONFIG)),
        ("stepfunctions", "DescribeStateMachine", lambda b: b.fetch(NAME, EXAMPLE_CONFIG)),
        ("stepfunctions", "ListTagsForResource", lambda b: b.fetch(NAME, EXAMPLE_CONFIG)),
        ("stepfunctions", "StartExecution", lambda b: b.start(NAME, {}, EXAMPLE_CONFIG)),
    ],
)
def test_a_network_failure_after_the_first_call_names_the_call(
    target, action, call, aws, monkeypatch
):
    """The connection drops at one AWS operation of a deployed pipeline: the error names it."""
    import botocore.client
    import botocore.exceptions

    if target not in AWS_TARGETS:
        pytest.skip(f"{target} target not registered")
    deploy.deploy(target, NAME, flagship_text(target), EXAMPLE_CONFIG, {})
    real = botocore.client.BaseClient._make_api_call

    def dropping(self, operation, params):
        if operation == action:
            raise botocore.exceptions.EndpointConnectionError(endpoint_url="https://aws.test")
        return real(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", dropping)
    with pytest.raises(DeployError) as info:
        call(deploy.backend(target))
    assert str(info.value).startswith(f"{action}: cannot reach https://aws.test;")


@pytest.mark.skipif("sagemaker" not in AWS_TARGETS, reason="sagemaker target not registered")
def test_a_network_failure_uploading_a_large_definition_says_so(aws, monkeypatch):
    import botocore.client
    import botocore.exceptions

    from pipecast.deploy import sagemaker as backend

    real = botocore.client.BaseClient._make_api_call

    def dropping(self, operation, params):
        if operation == "PutObject":
            raise botocore.exceptions.EndpointConnectionError(endpoint_url="https://s3.test")
        return real(self, operation, params)

    monkeypatch.setattr(backend, "INLINE_LIMIT", 10)
    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", dropping)
    with pytest.raises(DeployError) as info:
        deploy.deploy("sagemaker", NAME, flagship_text("sagemaker"), EXAMPLE_CONFIG, {})
    assert str(info.value).startswith(
        "PutObject (pipeline definition): cannot reach https://s3.test;"
    )


# ----- the Step Functions role: what a definition needs ------------------------------------------


def _machine(*states: dict) -> str:
    return json.dumps({"StartAt": "s0", "States": {f"s{i}": s for i, s in enumerate(states)}})


def _sdk(call: str, bucket: object = None) -> dict:
    arguments = {} if bucket is None else {"Bucket": bucket}
    return {"Type": "Task", "Resource": f"arn:aws:states:::aws-sdk:{call}", "Arguments": arguments}


def _map(mode: str, *states: dict, reader: dict | None = None) -> dict:
    state: dict = {
        "Type": "Map",
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": mode},
            "StartAt": "s0",
            "States": {f"s{i}": s for i, s in enumerate(states)},
        },
    }
    if reader is not None:
        state["ItemReader"] = reader
    return state


@pytest.mark.parametrize(
    ("states", "needed"),
    [
        # objects of a literal bucket: the object ARN; a computed bucket: any bucket
        ([_sdk("s3:getObject", "acme")], [("s3:GetObject", "arn:aws:s3:::acme/*")]),
        ([_sdk("s3:getObject", "{% $b %}")], [("s3:GetObject", "arn:aws:s3:::*/*")]),
        ([_sdk("s3:getObject", 7)], [("s3:GetObject", "arn:aws:s3:::*/*")]),
        ([_sdk("s3:getObject")], [("s3:GetObject", "arn:aws:s3:::*/*")]),
        # listing is an action on the bucket itself, under another IAM name
        ([_sdk("s3:listObjectsV2", "acme")], [("s3:ListBucket", "arn:aws:s3:::acme")]),
        ([_sdk("s3:putObject", "acme")], [("s3:PutObject", "arn:aws:s3:::acme/*")]),
        # another service: its action on any resource; a wait suffix is not part of the name
        ([_sdk("sqs:sendMessage.waitForTaskToken")], [("sqs:SendMessage", "*")]),
        # the SageMaker integrations are not SDK calls: the role's SageMaker policy covers them
        ([{"Type": "Task", "Resource": "arn:aws:states:::sagemaker:createProcessingJob.sync"}], []),
        # the same call twice is one permission; the list is sorted
        (
            [_sdk("s3:putObject", "b"), _sdk("s3:getObject", "a"), _sdk("s3:getObject", "a")],
            [("s3:GetObject", "arn:aws:s3:::a/*"), ("s3:PutObject", "arn:aws:s3:::b/*")],
        ),
        # inside an inline Map and a Parallel branch too, but only a distributed Map starts
        # child executions; its ItemReader reads an object
        ([_map("INLINE", _sdk("s3:getObject", "in"))], [("s3:GetObject", "arn:aws:s3:::in/*")]),
        (
            [
                _map(
                    "DISTRIBUTED", _sdk("s3:getObject", "in"), reader={"Arguments": {"Bucket": "r"}}
                )
            ],
            [
                ("s3:GetObject", "arn:aws:s3:::in/*"),
                ("s3:GetObject", "arn:aws:s3:::r/*"),
                ("states:StartExecution", "*"),
            ],
        ),
        (
            [_map("DISTRIBUTED", reader={"Resource": "arn:aws:states:::s3:getObject"})],
            [("s3:GetObject", "arn:aws:s3:::*/*"), ("states:StartExecution", "*")],
        ),
        (
            [
                {
                    "Type": "Parallel",
                    "Branches": [
                        {"StartAt": "a", "States": {"a": _sdk("s3:getObject", "one")}},
                        {"StartAt": "b", "States": {"b": _sdk("s3:listObjectsV2", "two")}},
                    ],
                }
            ],
            [("s3:GetObject", "arn:aws:s3:::one/*"), ("s3:ListBucket", "arn:aws:s3:::two")],
        ),
        ([{"Type": "Pass"}, {"Type": "Succeed"}], []),
    ],
)
def test_the_state_machine_role_needs_what_its_sdk_calls_and_maps_do(states, needed):
    backend = deploy.backend("stepfunctions")
    assert backend.needed_permissions(_machine(*states)) == needed


@pytest.mark.parametrize(
    ("target", "step", "required"),
    [
        ("sagemaker", "extract-frames", "AppSpecification"),
        ("stepfunctions", "detect-objects", "OutputDataConfig"),
    ],
)
def test_a_problem_in_one_step_names_that_step(target, step, required):
    document = json.loads(flagship_text(target))
    if target == "sagemaker":
        arguments = next(s for s in document["Steps"] if s["Name"] == step)["Arguments"]
    else:
        arguments = document["States"][step]["Arguments"]
    del arguments[required]
    problems = deploy.backend(target).validate(json.dumps(document))
    assert len(problems) == 1
    assert (
        problems[0].startswith(f"step '{step}': ")
        and f"missing required '{required}'" in problems[0]
    )
    # a problem of the whole document names no step
    whole = json.loads(flagship_text(target))
    if target == "sagemaker":
        whole["Version"] = "nope"
    else:
        whole["StartAt"] = "missing-state"
    assert deploy.backend(target).validate(json.dumps(whole)) == [
        "/Version: unknown version 'nope'"
        if target == "sagemaker"
        else "/StartAt: 'missing-state' is not a state in this scope"
    ]


def test_a_state_machine_is_created_standard_with_sorted_tags(monkeypatch):
    """The exact CreateStateMachine call (botocore's Stubber checks every parameter): a STANDARD
    machine (an EXPRESS one cannot run .sync jobs longer than 5 minutes), tags in key order."""
    import botocore.session
    from botocore.stub import Stubber

    backend = deploy.backend("stepfunctions")
    text = flagship_text("stepfunctions")
    sfn = botocore.session.get_session().create_client("stepfunctions", region_name=REGION)
    monkeypatch.setattr(backend, "client", lambda service, region: sfn)
    arn = f"arn:aws:states:{REGION}:123456789012:stateMachine:{NAME}"
    with Stubber(sfn) as stub:
        stub.add_response(
            "create_state_machine",
            {"stateMachineArn": arn, "creationDate": "2026-01-01T00:00:00Z"},
            {
                "name": NAME,
                "definition": text,
                "roleArn": EXAMPLE_CONFIG.get("stepfunctions.role_arn"),
                "type": "STANDARD",
                "tags": [{"key": "a", "value": "1"}, {"key": "b", "value": "2"}],
            },
        )
        assert backend.create(NAME, text, EXAMPLE_CONFIG, {"b": "2", "a": "1"}) == arn
        stub.assert_no_pending_responses()


@pytest.mark.parametrize("target", AWS_TARGETS)
def test_tags_are_added_in_the_configured_region(target, aws):
    """The environment says eu-west-1 (the fixture); pipecast.toml says us-east-1, where the
    pipeline lives: tagging must go there."""
    import boto3

    created = deploy.deploy(target, NAME, flagship_text(target), EXAMPLE_CONFIG, {})
    deploy.backend(target).tag(created.arn, {"team": "vision"}, EXAMPLE_CONFIG)
    if target == "sagemaker":
        listed = boto3.client("sagemaker", region_name=REGION).list_tags(ResourceArn=created.arn)
        tags = {t["Key"]: t["Value"] for t in listed["Tags"]}
    else:
        client = boto3.client("stepfunctions", region_name=REGION)
        listed = client.list_tags_for_resource(resourceArn=created.arn)
        tags = {t["key"]: t["value"] for t in listed["tags"]}
    assert tags == {"team": "vision"}


def _stubbed(monkeypatch, backend, service: str):
    """A real botocore client of ``service`` behind botocore's Stubber, as the backend's client."""
    import botocore.session
    from botocore.stub import Stubber

    real = botocore.session.get_session().create_client(service, region_name=REGION)

    def client(name: str, region: str | None):
        assert (name, region) == (service, REGION), "the config's region, the right service"
        return real

    monkeypatch.setattr(backend, "client", client)
    return Stubber(real)


def test_a_state_machine_without_tags_fetches_as_no_tags(monkeypatch):
    backend = deploy.backend("stepfunctions")
    arn = f"arn:aws:states:{REGION}:123456789012:stateMachine:{NAME}"
    with _stubbed(monkeypatch, backend, "stepfunctions") as stub:
        stub.add_response(
            "list_state_machines",
            {
                "stateMachines": [
                    {
                        "stateMachineArn": arn,
                        "name": NAME,
                        "type": "STANDARD",
                        "creationDate": "2026-01-01T00:00:00Z",
                    }
                ]
            },
            {},
        )
        stub.add_response(
            "describe_state_machine",
            {
                "stateMachineArn": arn,
                "name": NAME,
                "definition": "{}",
                "roleArn": "arn:r",
                "type": "STANDARD",
                "creationDate": "2026-01-01T00:00:00Z",
            },
            {"stateMachineArn": arn},
        )
        stub.add_response("list_tags_for_resource", {}, {"resourceArn": arn})  # no "tags" key
        deployed = backend.fetch(NAME, EXAMPLE_CONFIG)
    assert deployed is not None and (deployed.arn, dict(deployed.tags)) == (arn, {})


def test_the_role_check_asks_iam_for_each_permission_and_names_the_denied_ones(monkeypatch):
    backend = deploy.backend("stepfunctions")
    role_arn = "arn:aws:iam::123456789012:role/states"
    config = EXAMPLE_CONFIG.with_overrides({"stepfunctions.role_arn": role_arn})
    text = _machine(_sdk("s3:getObject", "acme"), _sdk("s3:listObjectsV2", "acme"))
    verdicts = {"s3:GetObject": "allowed", "s3:ListBucket": "explicitDeny"}
    with _stubbed(monkeypatch, backend, "iam") as stub:
        for action, resource in backend.needed_permissions(text):
            stub.add_response(
                "simulate_principal_policy",
                {
                    "EvaluationResults": [
                        {"EvalActionName": action, "EvalDecision": verdicts[action]}
                    ]
                },
                {"PolicySourceArn": role_arn, "ActionNames": [action], "ResourceArns": [resource]},
            )
        assert backend.role_problems(text, config) == [
            f"role {role_arn} is not allowed s3:ListBucket on arn:aws:s3:::acme (explicitDeny); "
            "the state machine needs it (see the compile note)"
        ]
        stub.assert_no_pending_responses()
    # no role configured, or nothing needed: no question to IAM at all
    monkeypatch.setattr(backend, "client", lambda *a: pytest.fail("IAM was asked"))
    data = json.loads(json.dumps(EXAMPLE_CONFIG.data))
    del data["stepfunctions"]["role_arn"]
    no_role = Config(data, "no-role.toml")
    assert backend.role(no_role) is None
    assert backend.role_problems(text, no_role) == []
    assert backend.role_problems(_machine({"Type": "Pass"}), config) == []


def test_a_role_denied_two_permissions_stops_create_naming_both(monkeypatch):
    backend = deploy.backend("stepfunctions")
    role_arn = "arn:aws:iam::123456789012:role/states"
    config = EXAMPLE_CONFIG.with_overrides({"stepfunctions.role_arn": role_arn})
    text = _machine(_sdk("s3:getObject", "acme"), _sdk("s3:listObjectsV2", "acme"))
    needed = backend.needed_permissions(text)
    with _stubbed(monkeypatch, backend, "iam") as stub:
        for action, resource in needed:
            stub.add_response(
                "simulate_principal_policy",
                {"EvaluationResults": [{"EvalActionName": action, "EvalDecision": "implicitDeny"}]},
                {"PolicySourceArn": role_arn, "ActionNames": [action], "ResourceArns": [resource]},
            )
        with pytest.raises(DeployError) as info:
            backend.create(NAME, text, config, {})  # refused before any Step Functions call
    assert str(info.value) == "; ".join(
        f"role {role_arn} is not allowed {action} on {resource} (implicitDeny); "
        "the state machine needs it (see the compile note)"
        for action, resource in needed
    )


def test_plan_and_deploy_take_config_region_and_artifact_root_flags_and_price_a_change(
    capsys, aws, tmp_path
):
    """In-process, so the flags' handling is what runs: ``--config`` names a file the pipeline
    does not sit beside, ``--region``/``--artifact-root`` override it, compile notes go to
    stderr, and a changed machine is priced per run at the config's spot discount."""
    import re

    import boto3

    from pipecast.compilers import cost

    config = tmp_path / "elsewhere.toml"
    text = (EXAMPLES / "pipecast.toml").read_text()
    config.write_text(text.replace('region = "us-east-1"', 'region = "ap-south-1"'))
    flagship = (EXAMPLES / "video_analysis.py").read_text()
    old, new = tmp_path / "old.py", tmp_path / "new.py"
    old.write_text(flagship)
    new.write_text(
        flagship.replace(
            'Resources(cpu=4, memory="16GiB", gpu=1)', 'Resources(cpu=8, memory="32GiB", gpu=1)'
        )
    )
    boto3.client("s3", region_name=REGION).create_bucket(Bucket="other-bucket")
    flags = [
        "-t",
        "sagemaker",
        "--config",
        str(config),
        "--region",
        REGION,
        "--artifact-root",
        "s3://other-bucket/p",
    ]
    code, out, _ = _cli(capsys, "plan", str(old), *flags)
    assert code == 1 and "not deployed yet" in out and "cost change" not in out
    code, _, err = _cli(capsys, "deploy", str(old), *flags)
    assert code == 0 and "warning[PC008]" in err  # the compile notes, on stderr
    sagemaker = boto3.client("sagemaker", region_name=REGION)  # --region, not the file's
    definition = sagemaker.describe_pipeline(PipelineName=NAME)["PipelineDefinition"]
    assert "s3://other-bucket/p/" in definition and "s3://acme-ml/" not in definition

    def priced(discount: float | None) -> float:
        body = text if discount is None else text + f"\n[cost]\nspot_discount = {discount}\n"
        config.write_text(body.replace('region = "us-east-1"', 'region = "ap-south-1"'))
        code, out, _ = _cli(capsys, "plan", str(new), *flags)
        assert code == 1 and "instance type: ml.g4dn.xlarge → ml.g4dn.2xlarge" in out
        percent = round(100 * (cost.DEFAULT_SPOT_DISCOUNT if discount is None else discount))
        assert f"spot {percent}% below on demand" in out
        found = re.search(r"detect-objects: .* spot, \+\$([0-9.]+) per run", out)
        assert found, out  # per run: plan knows the steps' hours
        return float(found.group(1))

    # what spot saves scales the change: at 50 % off it costs (1 - 0.5) / (1 - default) as much
    half, default = priced(0.5), priced(None)
    assert half == pytest.approx(default * 0.5 / (1 - cost.DEFAULT_SPOT_DISCOUNT), rel=0.02)


@pytest.mark.parametrize(
    ("root", "key"),
    [
        ("s3://acme-ml/runs/", "runs/{name}/_definitions/{digest}.json"),
        ("s3://acme-ml//a/b//", "a/b/{name}/_definitions/{digest}.json"),
        ("s3://acme-ml", "{name}/_definitions/{digest}.json"),
        ("s3://acme-ml/Xa/bX/", "Xa/bX/{name}/_definitions/{digest}.json"),
    ],
)
def test_a_large_definitions_key_has_no_empty_or_doubled_parts(aws, monkeypatch, root, key):
    import boto3

    from pipecast.deploy import sagemaker as backend

    text = flagship_text("sagemaker")
    monkeypatch.setattr(backend, "INLINE_LIMIT", 10)
    regions, real_client = [], backend.client

    def client(service, region):
        regions.append((service, region))
        return real_client(service, region)

    monkeypatch.setattr(backend, "client", client)
    deploy.deploy(
        "sagemaker", NAME, text, EXAMPLE_CONFIG.with_overrides({"artifact_root": root}), {}
    )
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]
    s3 = boto3.client("s3", region_name=REGION)
    listed = s3.list_objects_v2(Bucket="acme-ml")["Contents"]
    assert [o["Key"] for o in listed] == [key.format(name=NAME, digest=digest)]
    stored = s3.get_object(Bucket="acme-ml", Key=listed[0]["Key"])
    assert stored["ContentType"] == "application/json" and stored["Body"].read() == text.encode()
    # every call in the config's region (the environment says eu-west-1)
    assert ("s3", REGION) in regions and {r for _, r in regions} == {REGION}


def test_a_sagemaker_pipeline_is_created_in_one_call_with_its_display_name(monkeypatch):
    """The exact CreatePipeline call (botocore's Stubber checks every parameter)."""
    from pipecast.deploy import sagemaker as backend

    text = flagship_text("sagemaker")
    arn = f"arn:aws:sagemaker:{REGION}:123456789012:pipeline/{NAME}"
    with _stubbed(monkeypatch, backend, "sagemaker") as stub:
        stub.add_response(
            "create_pipeline",
            {"PipelineArn": arn},
            {
                "PipelineName": NAME,
                "PipelineDisplayName": NAME,
                "RoleArn": EXAMPLE_CONFIG.get("sagemaker.role_arn"),
                "Tags": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}],
                "PipelineDefinition": text,
            },
        )
        assert backend.create(NAME, text, EXAMPLE_CONFIG, {"b": "2", "a": "1"}) == arn
        stub.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("error", "not_found"),
    [
        ({"Code": "ResourceNotFound", "Message": "x"}, True),
        ({"Code": "ValidationException", "Message": "Pipeline 'p' does not exist."}, True),
        ({"Code": "ValidationException", "Message": "Could not find pipeline p"}, True),
        ({"Message": "Pipeline 'p' does not exist."}, True),
        ({"Code": "ValidationException", "Message": "Pipeline name too long"}, False),
        ({"Code": "AccessDeniedException", "Message": "not allowed"}, False),
        ({}, False),
    ],
)
def test_sagemaker_tells_a_pipeline_that_does_not_exist_from_other_errors(error, not_found):
    """DescribePipeline of a missing pipeline is a ResourceNotFound or a ValidationException
    saying so, by region and API version; only those mean "nothing deployed yet"."""
    import botocore.session
    from botocore.stub import Stubber

    from pipecast.deploy import sagemaker as backend

    real = botocore.session.get_session().create_client("sagemaker", region_name=REGION)
    code = error.get("Code", "ValidationException")
    with pytest.MonkeyPatch.context() as patch, Stubber(real) as stub:
        patch.setattr(backend, "client", lambda *a: real)
        stub.add_client_error(
            "describe_pipeline", service_error_code=code, service_message=error.get("Message", "")
        )
        if not_found:
            assert backend.fetch(NAME, EXAMPLE_CONFIG) is None
        else:
            with pytest.raises(DeployError) as info:
                backend.fetch(NAME, EXAMPLE_CONFIG)
            assert str(info.value).startswith("DescribePipeline") and f"({code})" in str(info.value)


def test_a_deployed_sagemaker_pipeline_without_tags_fetches_as_no_tags(monkeypatch):
    from pipecast.deploy import sagemaker as backend

    arn = f"arn:aws:sagemaker:{REGION}:123456789012:pipeline/{NAME}"
    with _stubbed(monkeypatch, backend, "sagemaker") as stub:
        stub.add_response(
            "describe_pipeline",
            {
                "PipelineArn": arn,
                "PipelineDefinition": '{"Version": "2020-12-01"}',
                "RoleArn": "arn:aws:iam::123456789012:role/r",
            },
            {"PipelineName": NAME},
        )
        stub.add_response("list_tags", {}, {"ResourceArn": arn, "MaxResults": 100})  # no "Tags"
        deployed = backend.fetch(NAME, EXAMPLE_CONFIG)
        stub.assert_no_pending_responses()
    assert deployed == Deployed(
        arn, '{"Version": "2020-12-01"}', "arn:aws:iam::123456789012:role/r", {}
    )
    # a pipeline the service describes without a definition is not one pipecast deployed
    with _stubbed(monkeypatch, backend, "sagemaker") as stub:
        stub.add_response("describe_pipeline", {"PipelineArn": arn}, {"PipelineName": NAME})
        assert backend.fetch(NAME, EXAMPLE_CONFIG) is None


# ----- plan and deploy against an odd deployment ------------------------------------------------


def _deployed_as(monkeypatch, target: str, deployed: Deployed | None):
    """The backend's fetch returns ``deployed``; updates and tags are recorded, not sent."""
    chosen = deploy.backend(target)
    calls: list[str] = []
    monkeypatch.setattr(chosen, "fetch", lambda name, config: deployed)
    monkeypatch.setattr(chosen, "update", lambda *a: calls.append("update"))
    monkeypatch.setattr(chosen, "tag", lambda *a: calls.append("tag"))
    monkeypatch.setattr(chosen, "role_problems", lambda *a: [], raising=False)
    return calls


@pytest.mark.parametrize("target", AWS_TARGETS)
def test_plan_is_text_by_default_and_shows_a_role_set_where_there_was_none(target, monkeypatch):
    text = flagship_text(target)
    changed = text.replace("track-objects:0.1.0", "track-objects:0.2.0")
    _deployed_as(monkeypatch, target, Deployed(f"arn:{target}", text, None, {}))
    result = deploy.plan(target, NAME, changed, EXAMPLE_CONFIG, tags={"team": "vision"})
    role = EXAMPLE_CONFIG.get(f"{target}.role_arn")
    lines = result.diff.splitlines()
    assert lines[0] == f"pipeline '{NAME}' ({target}): 1 step changed"  # text, not markdown
    assert f"~ role: (none) → {role}" in lines and "+ tag team=vision" in lines
    assert lines.index(f"~ role: (none) → {role}") > 0  # after the definition's lines
    assert not result.equal and result.definition_changed


@pytest.mark.parametrize("target", AWS_TARGETS)
def test_plan_against_a_definition_edited_outside_pipecast_shows_the_change(target, monkeypatch):
    """What is deployed may be any document the service took (edited in the console): plan
    compares it, it does not refuse it."""
    text = flagship_text(target)
    _deployed_as(monkeypatch, target, Deployed(f"arn:{target}", '{"hand": "made"}', None, {}))
    result = deploy.plan(target, NAME, text, EXAMPLE_CONFIG)
    assert not result.equal and result.definition_changed
    assert result.diff.startswith(f"pipeline '{NAME}' ({target}):")


@pytest.mark.parametrize("target", AWS_TARGETS)
def test_a_deploy_failing_at_its_first_call_applied_nothing_and_names_every_part(
    target, monkeypatch
):
    text = flagship_text(target)
    calls = _deployed_as(monkeypatch, target, Deployed(f"arn:{target}", text, "arn:old", {}))

    def refuse(*a):
        raise DeployError("UpdatePipeline: access denied")

    monkeypatch.setattr(deploy.backend(target), "update", refuse)
    changed = text.replace("track-objects:0.1.0", "track-objects:0.2.0")
    with pytest.raises(DeployError) as info:
        deploy.deploy(target, NAME, changed, EXAMPLE_CONFIG, {"team": "vision"})
    assert str(info.value) == (
        f"{target} pipeline '{NAME}' partly deployed: applied nothing; not applied "
        "definition, role, tags (UpdatePipeline: access denied); run pipecast deploy again to "
        "finish"
    )
    assert calls == []  # the tags were not attempted after the failure


@pytest.mark.parametrize("target", AWS_TARGETS)
def test_a_deploy_applies_definition_role_and_tags_and_says_so(target, monkeypatch):
    text = flagship_text(target)
    calls = _deployed_as(monkeypatch, target, Deployed(f"arn:{target}", text, "arn:old", {}))
    changed = text.replace("track-objects:0.1.0", "track-objects:0.2.0")
    done = deploy.deploy(target, NAME, changed, EXAMPLE_CONFIG, {"team": "vision"})
    assert (done.action, done.applied) == ("updated", ("definition", "role", "tags"))
    assert calls == ["update", "tag"]


def test_an_aws_data_path_gets_a_loader_of_its_own(monkeypatch, tmp_path):
    """``AWS_DATA_PATH`` (extra or patched service models) is honoured: the shared loader is per
    data path, and searches it first."""
    from pipecast.deploy.aws import client

    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "a")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s")
    monkeypatch.delenv("AWS_DATA_PATH", raising=False)
    plain = client("sagemaker", None)
    monkeypatch.setenv("AWS_DATA_PATH", str(tmp_path))
    custom = client("sagemaker", None)
    assert custom._loader is not plain._loader
    assert custom._loader.search_paths[0] == str(tmp_path)
    assert str(tmp_path) not in plain._loader.search_paths
    assert client("stepfunctions", None)._loader is custom._loader


def test_without_boto3_a_deploy_says_which_extra_to_install(monkeypatch):
    import sys

    from pipecast.deploy.aws import client
    from pipecast.errors import MissingExtraError

    monkeypatch.setitem(sys.modules, "boto3", None)  # import boto3 now fails
    with pytest.raises(MissingExtraError) as info:
        client("sagemaker", "eu-west-1")
    assert str(info.value) == "this needs the 'boto3' package: pip install 'pipecast[aws]'"


@pytest.mark.parametrize("target", AWS_TARGETS)
def test_a_deploy_failing_at_its_tags_names_both_parts_it_applied(target, monkeypatch):
    text = flagship_text(target)
    calls = _deployed_as(monkeypatch, target, Deployed(f"arn:{target}", text, "arn:old", {}))

    def refuse(*a):
        raise DeployError("TagResource: slow down")

    monkeypatch.setattr(deploy.backend(target), "tag", refuse)
    changed = text.replace("track-objects:0.1.0", "track-objects:0.2.0")
    with pytest.raises(DeployError) as info:
        deploy.deploy(target, NAME, changed, EXAMPLE_CONFIG, {"team": "vision"})
    assert str(info.value) == (
        f"{target} pipeline '{NAME}' partly deployed: applied definition, role; not applied "
        "tags (TagResource: slow down); run pipecast deploy again to finish"
    )
    assert calls == ["update"]
