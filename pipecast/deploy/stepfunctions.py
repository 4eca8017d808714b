"""Deploy backend for AWS Step Functions: describe/create/update/start a state machine."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .aws import Deployed, aws_errors, client

if TYPE_CHECKING:
    from pipecast.config import Config

__all__ = [
    "create",
    "fetch",
    "needed_permissions",
    "role",
    "role_problems",
    "start",
    "tag",
    "update",
    "validate",
]

# IAM actions of the AWS SDK calls a definition makes (API name → action, where they differ)
_SDK_ACTIONS = {"s3:ListObjectsV2": "s3:ListBucket"}


def _find_arn(sfn: Any, name: str) -> str | None:
    with aws_errors("ListStateMachines"):
        for page in sfn.get_paginator("list_state_machines").paginate():
            for machine in page["stateMachines"]:  # required in every page (botocore's model)
                if machine["name"] == name:
                    return str(machine["stateMachineArn"])
    return None


def fetch(name: str, config: Config) -> Deployed | None:
    """What is deployed under ``name`` (definition, role, tags), or None when nothing is."""
    sfn = client("stepfunctions", config.get("region"))
    arn = _find_arn(sfn, name)
    if arn is None:
        return None
    with aws_errors("DescribeStateMachine"):
        described = sfn.describe_state_machine(stateMachineArn=arn)
    with aws_errors("ListTagsForResource"):
        listed = sfn.list_tags_for_resource(resourceArn=arn).get("tags", [])
    tags = {t["key"]: t["value"] for t in listed}
    return Deployed(arn, str(described["definition"]), described.get("roleArn"), tags)


def role(config: Config) -> str | None:
    """The state machine's own role (``[stepfunctions] role_arn``)."""
    value = config.get("stepfunctions.role_arn")
    return None if value is None else str(value)


def needed_permissions(text: str) -> list[tuple[str, str]]:
    """(IAM action, resource ARN) the state machine's own role needs beyond SageMaker, read off
    the definition: its AWS SDK calls (values and Collected read from S3, handshakes), the
    ItemReader of a Distributed Map, and starting that map's child executions."""
    found: set[tuple[str, str]] = set()

    def bucket_arn(arguments: Any, objects: bool) -> str:
        bucket = arguments.get("Bucket") if isinstance(arguments, dict) else None
        bucket = bucket if isinstance(bucket, str) and "{%" not in bucket else "*"
        return f"arn:aws:s3:::{bucket}" + ("/*" if objects else "")

    def walk(machine: dict[str, Any]) -> None:
        for state in machine.get("States", {}).values():
            resource = state.get("Resource")
            if isinstance(resource, str) and resource.startswith("arn:aws:states:::aws-sdk:"):
                service, _, call = resource.removeprefix("arn:aws:states:::aws-sdk:").partition(":")
                api = f"{service}:{call[:1].upper()}{call[1:]}".split(".")[0]
                action = _SDK_ACTIONS.get(api, api)
                if service == "s3":
                    found.add(
                        (action, bucket_arn(state.get("Arguments"), action != "s3:ListBucket"))
                    )
                else:
                    found.add((action, "*"))
            reader = state.get("ItemReader")
            if isinstance(reader, dict):
                found.add(("s3:GetObject", bucket_arn(reader.get("Arguments"), True)))
            processor = state.get("ItemProcessor")
            if isinstance(processor, dict):
                if processor.get("ProcessorConfig", {}).get("Mode") == "DISTRIBUTED":
                    found.add(("states:StartExecution", "*"))
                walk(processor)
            for branch in state.get("Branches", []):
                walk(branch)

    walk(json.loads(text))
    return sorted(found)


def role_problems(text: str, config: Config) -> list[str]:
    """What the state machine role is denied of :func:`needed_permissions`, by IAM's policy
    simulator; empty when it cannot tell (no role, no permission to simulate)."""
    role_arn = role(config)
    needed = needed_permissions(text)
    if role_arn is None or not needed:
        return []
    import botocore.exceptions as bx

    iam = client("iam", config.get("region"))
    problems: list[str] = []
    for action, resource in needed:
        try:
            results = iam.simulate_principal_policy(
                PolicySourceArn=role_arn, ActionNames=[action], ResourceArns=[resource]
            )["EvaluationResults"]
        except (bx.BotoCoreError, bx.ClientError):
            return []  # cannot simulate: deploy goes on, as it would without the check
        problems += [
            f"role {role_arn} is not allowed {action} on {resource} ({r['EvalDecision']}); "
            "the state machine needs it (see the compile note)"
            for r in results
            if r.get("EvalDecision") != "allowed"
        ]
    return problems


def _check_role(text: str, config: Config) -> None:
    problems = role_problems(text, config)
    if problems:
        from pipecast.errors import DeployError

        raise DeployError("; ".join(problems))


def create(name: str, text: str, config: Config, tags: dict[str, str]) -> str:
    """Create the state machine with its definition, role and tags; returns its ARN. The role
    is first checked for the permissions the definition needs (when IAM lets us simulate)."""
    _check_role(text, config)
    sfn = client("stepfunctions", config.get("region"))
    with aws_errors("CreateStateMachine"):
        response = sfn.create_state_machine(
            name=name,
            definition=text,
            roleArn=config.require("stepfunctions.role_arn"),
            type="STANDARD",
            tags=[{"key": k, "value": v} for k, v in sorted(tags.items())],
        )
    return str(response["stateMachineArn"])


def update(
    deployed: Deployed, name: str, text: str, config: Config, definition: bool, role: bool
) -> None:
    """One UpdateStateMachine call with the definition and/or the role (whatever differs),
    after the role check of :func:`create`."""
    _check_role(text, config)
    sfn = client("stepfunctions", config.get("region"))
    args: dict[str, Any] = {"stateMachineArn": deployed.arn}
    if definition:
        args["definition"] = text
    if role:
        args["roleArn"] = config.require("stepfunctions.role_arn")
    with aws_errors("UpdateStateMachine"):
        sfn.update_state_machine(**args)


def tag(arn: str, tags: dict[str, str], config: Config) -> None:
    """Add or overwrite these tags (tags set by others are left alone)."""
    sfn = client("stepfunctions", config.get("region"))
    with aws_errors("TagResource"):
        sfn.tag_resource(
            resourceArn=arn, tags=[{"key": k, "value": v} for k, v in sorted(tags.items())]
        )


def start(name: str, params: dict[str, Any], config: Config) -> tuple[str, str]:
    """Start an execution with the parameters as its input; returns (ARN, console link)."""
    sfn = client("stepfunctions", config.get("region"))
    arn = _find_arn(sfn, name)
    if arn is None:
        from pipecast.errors import DeployError

        raise DeployError(f"state machine '{name}' is not deployed; run pipecast deploy first")
    with aws_errors("StartExecution"):
        response = sfn.start_execution(
            stateMachineArn=arn, input=json.dumps(params, sort_keys=True)
        )
    execution = str(response["executionArn"])
    region = sfn.meta.region_name
    link = (
        f"https://{region}.console.aws.amazon.com/states/home?region={region}"
        f"#/v2/executions/details/{execution}"
    )
    return execution, link


def validate(text: str) -> list[str]:
    """Problems that must stop a deploy: the target's document checks, the very ones
    ``pipecast compile`` and ``validate`` run (validate = deploy)."""
    from pipecast.compilers import load_target

    check = load_target("stepfunctions").validate_document
    assert check is not None
    return [f"step '{step}': {p}" if step else p for step, p in check(text)]
