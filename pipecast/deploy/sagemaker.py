"""Deploy backend for SageMaker Pipelines: describe/create/update/start a pipeline.

Definitions over 100 KiB go through S3 (``PipelineDefinitionS3Location``), stored
content-addressed under ``{artifact_root}/{pipeline}/_definitions/`` so a redeploy of the same
definition writes the same object.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from pipecast.errors import ConfigError

from .aws import Deployed, aws_errors, client

if TYPE_CHECKING:
    from pipecast.config import Config

__all__ = ["INLINE_LIMIT", "create", "fetch", "role", "start", "tag", "update", "validate"]

INLINE_LIMIT = 100 * 1024  # bytes; larger definitions must be passed through S3


def _not_found(exc: Exception) -> bool:
    error = getattr(exc, "response", {}).get("Error", {})
    text = f"{error.get('Code', '')} {error.get('Message', '')}".lower()
    return "resourcenotfound" in text or "could not find" in text or "does not exist" in text


def fetch(name: str, config: Config) -> Deployed | None:
    """What is deployed under ``name`` (definition, role, tags), or None when nothing is."""
    import botocore.exceptions

    sm = client("sagemaker", config.get("region"))
    with aws_errors("DescribePipeline"):
        try:
            response = sm.describe_pipeline(PipelineName=name)
        except botocore.exceptions.ClientError as exc:
            if _not_found(exc):
                return None
            raise
    definition = response.get("PipelineDefinition")
    if definition is None:
        return None
    arn = str(response["PipelineArn"])
    with aws_errors("ListTags"):
        listed = sm.list_tags(ResourceArn=arn, MaxResults=100).get("Tags", [])
    tags = {t["Key"]: t["Value"] for t in listed}
    # botocore's model types PipelineDefinition as a string: the JSON text, as deployed
    return Deployed(arn, str(definition), response.get("RoleArn"), tags)


def role(config: Config) -> str | None:
    """The role the pipeline is deployed with (``[sagemaker] role_arn``)."""
    value = config.get("sagemaker.role_arn")
    return None if value is None else str(value)


def _definition_args(name: str, text: str, config: Config) -> dict[str, Any]:
    size = len(text.encode("utf-8"))
    if size <= INLINE_LIMIT:
        return {"PipelineDefinition": text}
    root = config.artifact_root
    if not root.startswith("s3://"):
        raise ConfigError(
            f"the definition is {size:,} bytes, so it must be uploaded to S3, but "
            f"artifact_root ({root}) is not an s3:// URI"
        )
    bucket, _, prefix = root[len("s3://") :].partition("/")
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]
    key = "/".join(p for p in (prefix.strip("/"), name, "_definitions", f"{digest}.json") if p)
    s3 = client("s3", config.get("region"))
    with aws_errors("PutObject (pipeline definition)"):
        s3.put_object(
            Bucket=bucket, Key=key, Body=text.encode("utf-8"), ContentType="application/json"
        )
    return {"PipelineDefinitionS3Location": {"Bucket": bucket, "ObjectKey": key}}


def create(name: str, text: str, config: Config, tags: dict[str, str]) -> str:
    """Create the pipeline with its definition, role and tags in one call; returns its ARN."""
    sm = client("sagemaker", config.get("region"))
    definition = _definition_args(name, text, config)
    with aws_errors("CreatePipeline"):
        response = sm.create_pipeline(
            PipelineName=name,
            PipelineDisplayName=name,
            RoleArn=config.require("sagemaker.role_arn"),
            Tags=[{"Key": k, "Value": v} for k, v in sorted(tags.items())],
            **definition,
        )
    return str(response["PipelineArn"])


def update(
    deployed: Deployed, name: str, text: str, config: Config, definition: bool, role: bool
) -> None:
    """One UpdatePipeline call with the definition and/or the role (whatever differs)."""
    sm = client("sagemaker", config.get("region"))
    args: dict[str, Any] = {"PipelineName": name, "PipelineDisplayName": name}
    if definition:
        args.update(_definition_args(name, text, config))
    if role:
        args["RoleArn"] = config.require("sagemaker.role_arn")
    with aws_errors("UpdatePipeline"):
        sm.update_pipeline(**args)


def tag(arn: str, tags: dict[str, str], config: Config) -> None:
    """Add or overwrite these tags (tags set by others are left alone)."""
    sm = client("sagemaker", config.get("region"))
    with aws_errors("AddTags"):
        sm.add_tags(ResourceArn=arn, Tags=[{"Key": k, "Value": v} for k, v in sorted(tags.items())])


def start(name: str, params: dict[str, Any], config: Config) -> tuple[str, str]:
    """Start an execution; returns (execution ARN, console link)."""
    from pipecast.dsl.spec import render_value

    sm = client("sagemaker", config.get("region"))
    values = [{"Name": k, "Value": render_value(v)} for k, v in sorted(params.items())]
    with aws_errors("StartPipelineExecution"):
        response = sm.start_pipeline_execution(PipelineName=name, PipelineParameters=values)
    arn = str(response["PipelineExecutionArn"])
    region = sm.meta.region_name
    link = (
        f"https://{region}.console.aws.amazon.com/sagemaker/home?region={region}"
        f"#/pipelines/{name} (open it in SageMaker Studio: Pipelines › {name} › Executions)"
    )
    return arn, link


def validate(text: str) -> list[str]:
    """Problems that must stop a deploy: the target's document checks, the very ones
    ``pipecast compile`` and ``validate`` run (validate = deploy)."""
    from pipecast.compilers import load_target

    check = load_target("sagemaker").validate_document
    assert check is not None
    return [f"step '{step}': {p}" if step else p for step, p in check(text)]
