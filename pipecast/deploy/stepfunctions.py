"""Deploy backend for AWS Step Functions: describe/create/update/start a state machine."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .aws import aws_errors, client

if TYPE_CHECKING:
    from pipecast.config import Config

__all__ = ["fetch", "start", "upsert", "validate"]


def _find_arn(sfn: Any, name: str) -> str | None:
    with aws_errors("ListStateMachines"):
        for page in sfn.get_paginator("list_state_machines").paginate():
            for machine in page.get("stateMachines", []):
                if machine["name"] == name:
                    return str(machine["stateMachineArn"])
    return None


def fetch(name: str, config: Config) -> str | None:
    """The deployed definition text, or None when no state machine has that name."""
    sfn = client("stepfunctions", config.get("region"))
    arn = _find_arn(sfn, name)
    if arn is None:
        return None
    with aws_errors("DescribeStateMachine"):
        return str(sfn.describe_state_machine(stateMachineArn=arn)["definition"])


def upsert(name: str, text: str, config: Config, tags: dict[str, str], exists: bool) -> str:
    """Create or update the state machine; returns its ARN."""
    sfn = client("stepfunctions", config.get("region"))
    role = config.require("stepfunctions.role_arn")
    tag_list = [{"key": k, "value": v} for k, v in sorted(tags.items())]
    arn = _find_arn(sfn, name) if exists else None
    if arn is None:
        with aws_errors("CreateStateMachine"):
            response = sfn.create_state_machine(
                name=name, definition=text, roleArn=role, type="STANDARD", tags=tag_list
            )
        return str(response["stateMachineArn"])
    with aws_errors("UpdateStateMachine"):
        sfn.update_state_machine(stateMachineArn=arn, definition=text, roleArn=role)
        if tag_list:
            sfn.tag_resource(resourceArn=arn, tags=tag_list)
    return arn


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
    """Problems that must stop a deploy: ASL structure and every Task's job request."""
    from pipecast.compilers import stepfunctions_validate

    return [str(p) for p in stepfunctions_validate.validate_text(text)]
