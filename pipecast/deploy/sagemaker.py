"""Deploy backend for SageMaker Pipelines: describe/create/update/start a pipeline.

Definitions over 100 KiB go through S3 (``PipelineDefinitionS3Location``), stored
content-addressed under ``{artifact_root}/{pipeline}/_definitions/`` so a redeploy of the same
definition writes the same object.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from pipecast.errors import ConfigError, DeployError

from .aws import aws_errors, client

if TYPE_CHECKING:
    from pipecast.config import Config

__all__ = ["INLINE_LIMIT", "fetch", "start", "upsert", "validate"]

INLINE_LIMIT = 100 * 1024  # bytes; larger definitions must be passed through S3


def _not_found(exc: Exception) -> bool:
    error = getattr(exc, "response", {}).get("Error", {})
    text = f"{error.get('Code', '')} {error.get('Message', '')}".lower()
    return "resourcenotfound" in text or "could not find" in text or "does not exist" in text


def fetch(name: str, config: Config) -> str | None:
    """The deployed definition text, or None when no pipeline has that name."""
    import botocore.exceptions

    sm = client("sagemaker", config.get("region"))
    try:
        with aws_errors("DescribePipeline"):
            try:
                response = sm.describe_pipeline(PipelineName=name)
            except botocore.exceptions.ClientError as exc:
                if _not_found(exc):
                    return None
                raise
    except DeployError:
        raise
    definition = response.get("PipelineDefinition")
    if definition is None:
        return None
    return definition if isinstance(definition, str) else json.dumps(definition)


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


def upsert(name: str, text: str, config: Config, tags: dict[str, str], exists: bool) -> str:
    """Create or update the pipeline; returns its ARN."""
    sm = client("sagemaker", config.get("region"))
    role = config.require("sagemaker.role_arn")
    definition = _definition_args(name, text, config)
    tag_list = [{"Key": k, "Value": v} for k, v in sorted(tags.items())]
    if not exists:
        with aws_errors("CreatePipeline"):
            response = sm.create_pipeline(
                PipelineName=name,
                PipelineDisplayName=name,
                RoleArn=role,
                Tags=tag_list,
                **definition,
            )
        return str(response["PipelineArn"])
    with aws_errors("UpdatePipeline"):
        response = sm.update_pipeline(
            PipelineName=name, PipelineDisplayName=name, RoleArn=role, **definition
        )
        arn = str(response["PipelineArn"])
        if tag_list:
            sm.add_tags(ResourceArn=arn, Tags=tag_list)
    return arn


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
    """Problems that must stop a deploy (the SageMaker document validator)."""
    from pipecast.compilers import sagemaker_validate

    return [str(p) for p in sagemaker_validate.validate_text(text)]
