"""boto3 sessions and AWS error translation: one clear line, never a traceback.

The standard AWS configuration applies unchanged: profiles (``AWS_PROFILE``), credentials from
the environment or files, ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_<SERVICE>`` (LocalStack, moto
server), and the region from the config file's ``region`` or the usual AWS settings.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from pipecast.errors import DeployError, MissingExtraError

__all__ = ["Deployed", "aws_errors", "client"]


@dataclass(frozen=True)
class Deployed:
    """What is deployed under a name: the parts a deploy makes equal to the compiled ones."""

    arn: str
    definition: str
    role: str | None
    tags: Mapping[str, str] = field(default_factory=dict)


_THROTTLING = {
    "Throttling",
    "ThrottlingException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "SlowDown",
}
_DENIED = {
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidSignatureException",
}


def client(service: str, region: str | None) -> Any:
    """A boto3 client; boto3 itself is imported only here (the ``aws`` extra)."""
    try:
        import boto3
    except ImportError:
        raise MissingExtraError("boto3", "aws") from None
    with aws_errors(f"{service} client"):
        core = _botocore_session()
        session = boto3.session.Session(botocore_session=core, region_name=region)
        # boto3 appends its data folder to the loader of every session it wraps (the list it
        # mutates is the loader's own): keep each folder once, in order
        paths = core.get_component("data_loader").search_paths
        paths[:] = dict.fromkeys(paths)
        if session.region_name is None:
            raise DeployError(
                'no AWS region: set region = "..." in pipecast.toml, --region, or '
                "AWS_DEFAULT_REGION"
            )
        return session.client(service)


# botocore's data loader, shared by every session of the process: each new session would
# otherwise parse endpoints.json and the service model again (0.15 s of JSON per client, most of
# a plan's time). What it caches is the installed botocore/boto3 data, never credentials or
# settings, which each session still reads from the environment.
_LOADERS: dict[str | None, Any] = {}


def _botocore_session() -> Any:
    """A new botocore session (fresh credentials, profile and endpoint settings) whose data
    loader is the process's shared one."""
    import botocore.loaders
    import botocore.session

    core = botocore.session.Session()
    data_path = core.get_config_variable("data_path")
    loader = _LOADERS.get(data_path)
    if loader is None:
        loader = _LOADERS[data_path] = botocore.loaders.create_loader(data_path)
    core.register_component("data_loader", loader)
    return core


@contextmanager
def aws_errors(action: str) -> Iterator[None]:
    """Turn botocore's exceptions raised inside the block into a one-line DeployError."""
    try:
        import botocore.exceptions as bx
    except ImportError:
        raise MissingExtraError("boto3", "aws") from None
    try:
        yield
    except bx.NoCredentialsError:
        raise DeployError(
            f"{action}: no AWS credentials found; configure a profile "
            "(aws configure, AWS_PROFILE) or set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY"
        ) from None
    except bx.ProfileNotFound as exc:
        raise DeployError(f"{action}: {exc}; check AWS_PROFILE") from None
    except bx.EndpointConnectionError as exc:
        raise DeployError(
            f"{action}: cannot reach {exc.kwargs.get('endpoint_url', 'AWS')}; "
            "check the network, the region and AWS_ENDPOINT_URL"
        ) from None
    except bx.ClientError as exc:
        error = exc.response.get("Error", {})
        code, message = error.get("Code", "Error"), error.get("Message", str(exc))
        operation = getattr(exc, "operation_name", action)
        if code in _DENIED:
            hint = "the credentials in use lack permission for it (or are invalid)"
            raise DeployError(f"{operation}: access denied ({code}): {message}; {hint}") from None
        if code in _THROTTLING:
            raise DeployError(
                f"{operation}: AWS is throttling requests ({code}); wait a "
                "moment and run the command again"
            ) from None
        raise DeployError(f"{operation} failed ({code}): {message}") from None
    except bx.BotoCoreError as exc:
        raise DeployError(f"{action}: {exc}") from None
