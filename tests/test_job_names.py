"""Step Functions job names: legal, at most 63 characters, unique per step, execution and retry.

Names are evaluated the way Step Functions does (the JSONata expression the Task state carries,
run by jsonata-python with Step Functions' ``$hash``), not read off our own helper.
"""

from __future__ import annotations

import json
import re

from asl_interpreter import evaluate, execute
from helpers import EXAMPLE_CONFIG, compile_text
from hypothesis import given, settings
from hypothesis import strategies as st

from pipecast import dsl
from pipecast.compilers.stepfunctions import job_name, job_step_part
from pipecast.dsl import Dataset, Input, Output, Resources

# CreateProcessingJob/CreateTrainingJob's pattern for job names (botocore's service model)
JOB_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
STEP_IDS = st.from_regex(r"[a-z][a-z0-9-]{0,47}", fullmatch=True)
EXECUTIONS = st.from_regex(r"[A-Za-z0-9_-]{1,80}", fullmatch=True)
MAX_RETRY = 19  # Retry(max_attempts) is at most 20: RetryCount goes up to 19


def evaluated(step_id: str, execution: str, retry: int) -> str:
    """The job name Step Functions computes for ``step_id`` in ``execution`` at ``retry``."""
    context = {
        "Execution": {
            "Name": execution,
            "Id": f"arn:aws:states:us-east-1:123456789012:execution:machine:{execution}",
        },
        "State": {"Name": step_id, "RetryCount": retry},
    }
    text = "{% " + job_name(step_id).text + " %}"
    name = evaluate(text, {"states": {"input": {}, "context": context}})
    assert isinstance(name, str)
    return name


@settings(max_examples=150, deadline=None)
@given(STEP_IDS, EXECUTIONS, st.integers(0, MAX_RETRY))
def test_names_are_legal_and_short(step_id: str, execution: str, retry: int) -> None:
    name = evaluated(step_id, execution, retry)
    assert JOB_NAME.fullmatch(name), name
    assert len(name) <= 63, name


@settings(max_examples=300, deadline=None)
@given(STEP_IDS, STEP_IDS)
def test_distinct_step_ids_get_distinct_names(a: str, b: str) -> None:
    if a == b:
        return
    assert job_step_part(a) != job_step_part(b)
    assert evaluated(a, "run-1", 0) != evaluated(b, "run-1", 0)


@settings(max_examples=100, deadline=None)
@given(
    st.from_regex(r"[a-z][a-z0-9-]{40,47}", fullmatch=True),
    st.text("abcdefghij-", min_size=1, max_size=8),
)
def test_ids_sharing_a_long_prefix_differ(base: str, tail: str) -> None:
    """The measured bug: ids equal in their first 40 characters used to share a job name."""
    other = (base[:40] + tail)[:48]
    if other == base:
        return
    assert evaluated(base, "run-1", 0) != evaluated(other, "run-1", 0)


@settings(max_examples=100, deadline=None)
@given(STEP_IDS, st.integers(0, MAX_RETRY - 1))
def test_each_retry_and_execution_gets_its_own_name(step_id: str, retry: int) -> None:
    names = {
        evaluated(step_id, "run-1", retry),
        evaluated(step_id, "run-1", retry + 1),
        evaluated(step_id, "run-2", retry),
    }
    assert len(names) == 3


def test_short_ids_keep_their_spelling() -> None:
    """Ids of up to 40 characters are used as they are (the committed goldens stay the same)."""
    step = "a" * 40
    assert job_step_part(step) == step
    assert evaluated(step, "run-1", 0).startswith(step + "-")


IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/gen/step:1.0.0"


@dsl.container_component(
    image=IMAGE, command=["python", "-m", "gen"], resources=Resources(cpu=2, memory="4GiB")
)
def relay(data: Input[Dataset], out: Output[Dataset]) -> None:
    """Copy."""


@dsl.container_component(
    image=IMAGE, command=["python", "-m", "gen"], resources=Resources(cpu=2, memory="4GiB")
)
def source(out: Output[Dataset]) -> None:
    """Produce."""


def test_two_long_steps_sharing_40_characters_run_in_one_execution() -> None:
    """End to end: both jobs are created in one execution (the player refuses a reused name)."""
    prefix = "detect-objects-in-every-camera-of-the-"  # 38 characters
    ids = [prefix + "north-gate", prefix + "north-gatf"]

    @dsl.pipeline(name="long-ids")
    def pipeline() -> None:
        first = source().set_name(ids[0])
        relay(data=first.output).set_name(ids[1])

    document = json.loads(compile_text(pipeline, "stepfunctions", EXAMPLE_CONFIG))
    _, player = execute(document, {})
    names = [job.name for job in player.jobs]
    assert [job.state for job in player.jobs] == ids
    assert len(set(names)) == 2, names
    assert all(JOB_NAME.fullmatch(n) and len(n) <= 63 for n in names), names
