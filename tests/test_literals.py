"""Literals stay literal (DESIGN §15): any string a user writes reaches the job byte for byte.

Random strings full of what the targets' languages treat specially (``{% %}``, ``$``, ``$(``,
``{{``, ``}}``, quotes, backslashes, newlines, unicode, ``Get``, ``Std:``) go through a command
entry, an argument template literal, a constant argument, an env value, an importer URI and a
parameter default. Each compiled document is then resolved the way its service resolves it:

- Step Functions: the state machine is executed (``asl_interpreter``: jsonata-python, the
  engine the moto tests plug into moto) and the SageMaker request the job gets is compared.
- SageMaker: the definition is evaluated by its expression rules (an object with a ``Get`` key
  or a ``Std:`` function key is an expression, everything else is data).
- Kubeflow: what reaches the process goes through Kubernetes' ``$(VAR)`` expansion of the pod's
  command line and env (the KFP driver puts the user command, args and its executor input
  there) and then placeholder substitution, done twice: by kfp's own
  ``kfp.local.placeholder_utils.replace_placeholders`` and the way the backend's launcher does it
  (``strings.ReplaceAll`` over a Go map, so in every order). Strings that KFP would resolve and
  that have no escape are refused at compile time (PC008); the test checks that refusals are
  exactly those.
"""

from __future__ import annotations

import functools
import json
import random
from typing import Any

import pytest
from asl_interpreter import execute
from helpers import EXAMPLE_CONFIG, compile_text
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_stepfunctions_moto import moto_sfn  # noqa: F401 (the fixture, used by name)

from pipecast import dsl
from pipecast.dsl import Dataset, Input, Output, Resources
from pipecast.errors import PipelineError

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/gen/step:1.0.0"
TRICKY = [
    "{%",
    "%}",
    "{% $uppercase('pwned') %}",
    "{% $states.input %}",
    "$",
    "$$",
    "$(",
    ")",
    "$(KFP_POD_NAME)",
    "$(E)",
    "{{",
    "}}",
    "{{$}}",
    "{{$.inputs.parameters['x']}}",
    "{{$.inputs.parameters['y']}}",
    "{{$.pipeline_job_name}}",
    "{{channel:task=;name=p;type=String;}}",
    '{"Concat": ',
    '{"Get": "Parameters.p"}',
    "Get",
    "Std:Join",
    "'",
    '"',
    "\\",
    "\\u0041",
    "\n",
    "\t",
    "é",
    "😀",
    "&",
    "`",
]
CHARS = st.characters(blacklist_categories=("Cs", "Cc"))
TEXT = st.lists(st.one_of(st.sampled_from(TRICKY), CHARS), max_size=6).map("".join)
# an S3 URI as botocore's pattern allows it (the AWS targets refuse others, PC011): no line break
URI = TEXT.map(lambda s: "s3://in/" + s.replace("\n", ""))
# moto inlines state data as JSON with ASCII escapes, which jsonata-python decodes one UTF-16
# half at a time: text that passes through state data stays in the Basic Multilingual Plane there
BMP = st.characters(blacklist_categories=("Cs", "Cc"), max_codepoint=0xFFFF)
MARKERS = ("{{$", "{{channel:")  # what KFP resolves in any text (the module docstring)
TEXT_BMP = st.lists(st.one_of(st.sampled_from(TRICKY[:-3]), BMP), max_size=6).map("".join)


def literal_pipeline(
    cmd: str, lit: str, lit2: str, const: str, env: str, uri: str, default: str
) -> dsl.Pipeline:
    """One step receiving every kind of user string; ``y`` comes from the parameter default."""

    @dsl.container_component(
        image=IMAGE,
        command=["run", cmd],
        args=[
            lit,
            [lit2, dsl.param("x")],
            "--y",
            dsl.param("y"),
            "--data",
            dsl.input_uri("data"),
            "--out",
            dsl.output_path("out"),
        ],
        resources=Resources(cpu=2, memory="4GiB"),
    )
    def comp(data: Input[Dataset], out: Output[Dataset], x: str, y: str) -> None:
        """Receives literals."""

    def body(p: str = default) -> None:
        imp = dsl.importer(uri=uri, artifact_type=Dataset)
        comp(data=imp.output, x=const, y=p).set_env(E=env)

    return dsl.pipeline(name="literals")(body)


def expected_job(cmd: str, lit: str, lit2: str, const: str, default: str) -> dict[str, Any]:
    return {
        "command": ["run", cmd],
        "args": [lit, lit2 + const, "--y", default, "--data"],
    }


# ----- Step Functions: execute the state machine ------------------------------------------------


def step_functions_job(pipeline: dsl.Pipeline, params: dict[str, Any]) -> dict[str, Any]:
    document = json.loads(compile_text(pipeline, "stepfunctions", EXAMPLE_CONFIG))
    _, player = execute(document, params)
    (job,) = player.jobs
    return job.request


def assert_aws_request(request: dict[str, Any], strings: dict[str, str]) -> None:
    want = expected_job(*(strings[k] for k in ("cmd", "lit", "lit2", "const", "default")))
    app = request["AppSpecification"]
    assert app["ContainerEntrypoint"] == want["command"]
    args = app["ContainerArguments"]
    assert args[:5] == want["args"]
    assert args[5] == strings["uri"]
    assert args[6:] == ["--out", "/opt/ml/processing/output/out"]
    assert request["Environment"] == {"E": strings["env"]}
    assert request["ProcessingInputs"][0]["S3Input"]["S3Uri"] == strings["uri"]


STRINGS = st.fixed_dictionaries(
    {
        "cmd": TEXT,
        "lit": TEXT,
        "lit2": TEXT,
        "const": TEXT,
        "env": TEXT,
        "uri": URI,
        "default": TEXT,
    }
)


def build(strings: dict[str, str]) -> dsl.Pipeline:
    keys = ("cmd", "lit", "lit2", "const", "env", "uri", "default")
    return literal_pipeline(*(strings[k] for k in keys))


@settings(max_examples=60, deadline=None)
@given(STRINGS)
def test_step_functions_hands_every_literal_over_unchanged(strings: dict[str, str]) -> None:
    assert_aws_request(step_functions_job(build(strings), {}), strings)


# the measurements: in moto, "{% $uppercase('pwned') %}" reached the job as PWNED and an
# env value "{% $states.input %}" handed the job every pipeline parameter
MEASURED = {
    "cmd": "{%$states.context%}",
    "lit": "{% $uppercase('pwned') %}",
    "lit2": "%}",
    "const": "{% $uppercase('pwned') %}",
    "env": "{% $states.input %}",
    "uri": "s3://in/{% $states.input.params %}",
    "default": "{% $states.input %}",
}


def test_step_functions_measured_cases() -> None:
    """The issue's measurements: an expression-shaped constant and env value stay text."""
    strings = MEASURED
    assert_aws_request(step_functions_job(build(strings), {}), strings)
    # a value given at run time is data too, whatever it looks like
    request = step_functions_job(build(strings), {"p": "{% 1 + 1 %}"})
    assert request["AppSpecification"]["ContainerArguments"][3] == "{% 1 + 1 %}"


def moto_job(moto: Any, pipeline: dsl.Pipeline, params: dict[str, Any]) -> dict[str, Any]:
    """The request of the job moto's own interpreter started for ``pipeline``."""
    document = compile_text(pipeline, "stepfunctions", EXAMPLE_CONFIG)
    before = len(moto.resolver.jobs)
    described = moto.execute(document, params)
    assert described["status"] == "SUCCEEDED", described
    (job,) = moto.resolver.jobs[before:]
    return job.request


def test_step_functions_measured_cases_in_moto(moto_sfn: Any) -> None:  # noqa: F811
    """The issue measured ``PWNED`` and the whole state reaching the job in moto; no more."""
    assert_aws_request(moto_job(moto_sfn, build(MEASURED), {}), MEASURED)


MOTO_STRINGS = st.fixed_dictionaries(
    {k: TEXT_BMP for k in ("cmd", "lit", "lit2", "const", "env", "default")}
).flatmap(lambda d: TEXT_BMP.map(lambda u: {**d, "uri": "s3://in/" + u.replace("\n", "")}))


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(MOTO_STRINGS)
def test_step_functions_literals_in_moto(moto_sfn: Any, strings: dict[str, str]) -> None:  # noqa: F811
    assert_aws_request(moto_job(moto_sfn, build(strings), {}), strings)


# ----- SageMaker: evaluate the definition by its expression rules -----------------------------


class Definition:
    """Evaluates SageMaker pipeline-definition values: ``Get`` and ``Std:Join`` are expressions,
    any other object, list or string is data (and is returned as it is)."""

    def __init__(self, document: dict[str, Any], params: dict[str, Any]) -> None:
        self.params = {p["Name"]: p.get("DefaultValue") for p in document["Parameters"]}
        self.params.update(params)

    def __call__(self, value: Any) -> Any:
        if isinstance(value, dict):
            if "Get" in value:
                ref = value["Get"]
                if ref.startswith("Parameters."):
                    return self.params[ref.removeprefix("Parameters.")]
                assert ref == "Execution.PipelineExecutionId", ref
                return "execution-1"
            functions = [k for k in value if k.startswith("Std:")]
            if functions:
                assert functions == ["Std:Join"], functions
                join = value["Std:Join"]
                return join["On"].join(str(self(v)) for v in join["Values"])
            return {k: self(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self(v) for v in value]
        return value


def expressions_in(value: Any) -> int:
    if isinstance(value, dict):
        own = "Get" in value or any(k.startswith("Std:") for k in value)
        return own + sum(expressions_in(v) for v in value.values())
    if isinstance(value, list):
        return sum(expressions_in(v) for v in value)
    return 0


@functools.cache
def own_references() -> int:
    """How many expressions pipecast itself writes in this step's request (plain strings)."""
    plain = dict.fromkeys(("cmd", "lit", "lit2", "const", "env", "uri", "default"), "s3://x")
    document = json.loads(compile_text(build(plain), "sagemaker", EXAMPLE_CONFIG))
    return expressions_in(document["Steps"][0]["Arguments"])


@settings(max_examples=50, deadline=None)
@given(STRINGS)
def test_sagemaker_hands_every_literal_over_unchanged(strings: dict[str, str]) -> None:
    document = json.loads(compile_text(build(strings), "sagemaker", EXAMPLE_CONFIG))
    (step,) = document["Steps"]
    # pipecast's own references only: the parameter y and the output prefix's execution id
    assert expressions_in(step["Arguments"]) == expressions_in(
        json.loads(compile_text(build(dict.fromkeys(strings, "s3://plain")), "sagemaker"))["Steps"][
            0
        ]["Arguments"]
    )
    assert_aws_request(Definition(document, {})(step["Arguments"]), strings)


ENV_NAMES = st.one_of(
    st.sampled_from(["Get", "GET", "get", "Std", "Get_", "XGet"]),
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True),
)


@settings(max_examples=40, deadline=None)
@given(ENV_NAMES, TEXT)
def test_sagemaker_refuses_exactly_the_env_names_it_would_read_as_expressions(
    name: str, value: str
) -> None:
    @dsl.container_component(image=IMAGE, command=["run"], resources=Resources(cpu=1))
    def one(out: Output[Dataset]) -> None:
        """One step."""

    @dsl.pipeline(name="env-names")
    def pipeline() -> None:
        one().set_env(**{name: value})

    if name == "Get":
        with pytest.raises(PipelineError) as info:
            compile_text(pipeline, "sagemaker")
        (problem,) = info.value.diagnostics
        assert problem.code == "PC008" and "expression keyword" in problem.message
        assert problem.hint and "rename" in problem.hint
        # the other targets pass it on
        request = step_functions_job(pipeline, {})
        assert request["Environment"] == {name: value}
        return
    document = json.loads(compile_text(pipeline, "sagemaker"))
    environment = document["Steps"][0]["Arguments"]["Environment"]
    assert Definition(document, {})(environment) == {name: value}
    assert expressions_in(environment) == 0


# ----- Kubeflow: Kubernetes expansion, then KFP's placeholder substitution ----------------------


def k8s_expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes' expansion of command, args and env values (``third_party/forked/golang/
    expansion``): ``$$`` → ``$``; ``$(NAME)`` → the variable when defined, else unchanged."""
    out, i = [], 0
    while i < len(text):
        if text[i] == "$" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt == "$":
                out.append("$")
                i += 2
                continue
            if nxt == "(":
                end = text.find(")", i + 2)
                if end != -1:
                    name = text[i + 2 : end]
                    out.append(env.get(name, f"$({name})"))
                    i = end + 1
                    continue
                out.append("$(")
                i += 2
                continue
            out.append("$" + nxt)
            i += 2
            continue
        out.append(text[i])
        i += 1
    return "".join(out)


DRIVER_CONSTANTS = {
    "{{$.pipeline_job_name}}": "run display name",
    "{{$.pipeline_job_resource_name}}": "run-name",
    "{{$.pipeline_job_uuid}}": "run-uuid",
    "{{$.pipeline_task_name}}": "comp",
    "{{$.pipeline_task_uuid}}": "task-uuid",
}


def driver_constant(value: str) -> str:
    """The KFP driver's handling of a task's constant input (``resolveInputParameter``)."""
    if "{{$.workspace_path}}" in value:
        return value.replace("{{$.workspace_path}}", "/kfp-workspace")
    return DRIVER_CONSTANTS.get(value, value)


def go_launcher(args: list[str], placeholders: dict[str, str], rng: random.Random) -> list[str]:
    """``executeV2`` in backend/src/v2/component/launcher_v2.go: each placeholder replaced with
    ``strings.ReplaceAll`` while ranging over a Go map (an unspecified order: shuffled here)."""
    out = []
    for arg in args:
        keys = list(placeholders)
        rng.shuffle(keys)
        for key in keys:
            arg = arg.replace(key, placeholders[key])
        out.append(arg)
    return out


def kfp_job(text: str) -> dict[str, Any]:
    """What the process of task ``comp`` receives, resolved as described in the docstring."""
    import yaml
    from kfp.local import placeholder_utils

    main = next(iter(yaml.safe_load_all(text)))
    container = main["deploymentSpec"]["executors"]["exec-comp"]["container"]
    task = main["root"]["dag"]["tasks"]["comp"]
    importer = main["deploymentSpec"]["executors"]["exec-importer"]["importer"]
    defaults = main["root"]["inputDefinitions"]["parameters"]
    pod_env = {"KFP_POD_NAME": "pod-1", "KFP_POD_UID": "uid-1"}
    for entry in container.get("env", []):
        pod_env[entry["name"]] = k8s_expand(entry.get("value", ""), pod_env)  # "" is omitted
    values: dict[str, str] = {}
    for name, spec in task["inputs"].get("parameters", {}).items():
        if "runtimeValue" in spec:
            values[name] = driver_constant(spec["runtimeValue"]["constant"])
        else:
            values[name] = defaults[spec["componentInputParameter"]]["defaultValue"]
    uri = (
        importer["artifactUri"]["runtimeParameter"]
        if "runtimeParameter" in importer["artifactUri"]
        else importer["artifactUri"]["constant"]
    )
    out_uri = "s3://acme-ml/pipelines/literals/run-1/comp/out"
    # the executor input travels on the pod's command line (``--executor_input``)
    expand = lambda s: k8s_expand(s, pod_env)  # noqa: E731
    executor_input = {
        "inputs": {
            "parameterValues": {k: expand(v) for k, v in values.items()},
            "artifacts": {
                "data": {"artifacts": [{"uri": expand(uri), "type": {}, "metadata": {}}]}
            },
        },
        "outputs": {
            "artifacts": {"out": {"artifacts": [{"uri": out_uri, "type": {}, "metadata": {}}]}},
            "outputFile": "/tmp/kfp_outputs/output_metadata.json",
        },
    }
    command = [expand(c) for c in container["command"] + container["args"]]
    resolved = placeholder_utils.replace_placeholders(
        full_command=command,
        executor_input_dict=executor_input,
        pipeline_resource_name="run-name",
        task_resource_name="comp",
        pipeline_root="s3://acme-ml/pipelines",
        unique_pipeline_id="run-uuid",
    )
    inputs = executor_input["inputs"]
    placeholders = {"{{$}}": json.dumps(executor_input)}
    for name, value in inputs["parameterValues"].items():
        placeholders[f"{{{{$.inputs.parameters['{name}']}}}}"] = value
    data_uri = inputs["artifacts"]["data"]["artifacts"][0]["uri"]
    placeholders["{{$.inputs.artifacts['data'].uri}}"] = data_uri
    placeholders["{{$.inputs.artifacts['data'].path}}"] = "/s3/" + data_uri.removeprefix("s3://")
    placeholders["{{$.outputs.artifacts['out'].uri}}"] = out_uri
    out_path = "/s3/" + out_uri.removeprefix("s3://")
    placeholders["{{$.outputs.artifacts['out'].path}}"] = out_path
    orders = {tuple(go_launcher(command, placeholders, random.Random(i))) for i in range(24)}
    return {
        "kfp": resolved,
        "launcher": orders,
        "out": (resolved[-1], out_path),
        "env": pod_env.get("E"),
    }


def kubeflow_refuses(strings: dict[str, str]) -> bool:
    """An independent statement of what KFP cannot pass on (the module docstring)."""
    values = [strings["const"], strings["uri"], strings["default"]]
    if any(m in v for v in values for m in (*MARKERS, "$$", "$(")):
        return True
    texts = [strings["cmd"], strings["lit"], strings["lit2"] + strings["const"]]
    return any(m in t for t in texts for m in MARKERS) or any(
        t.startswith(('{"Concat"', '{"IfPresent"')) for t in texts
    )


# text KFP accepts: literal text may hold $, $(, $$, {{ and }} (escaped or harmless); values
# passed in KFP's executor input avoid $$ and $( (which the generator may still form by chance)
KFP_TEXT = st.lists(
    st.one_of(st.sampled_from([t for t in TRICKY if not any(m in t for m in MARKERS)]), CHARS),
    max_size=6,
).map("".join)
KFP_VALUE = st.lists(
    st.one_of(
        st.sampled_from([t for t in TRICKY if not any(m in t for m in (*MARKERS, "$$", "$("))]),
        CHARS,
    ),
    max_size=6,
).map("".join)
KFP_STRINGS = st.fixed_dictionaries(
    {
        "cmd": KFP_TEXT,
        "lit": KFP_TEXT,
        "lit2": KFP_TEXT,
        "const": KFP_VALUE,
        "env": TEXT,
        "uri": KFP_VALUE.map(lambda s: "s3://in/" + s.replace("\n", "")),
        "default": KFP_VALUE,
    }
)


def check_kubeflow(strings: dict[str, str]) -> None:
    pytest.importorskip("kfp")
    if kubeflow_refuses(strings):
        with pytest.raises(PipelineError) as info:
            compile_text(build(strings), "kubeflow")
        assert {d.code for d in info.value.diagnostics} == {"PC008"}
        assert all("cannot reach the job unchanged" in d.message for d in info.value.diagnostics)
        return
    job = kfp_job(compile_text(build(strings), "kubeflow"))
    want = expected_job(*(strings[k] for k in ("cmd", "lit", "lit2", "const", "default")))
    resolved = job["kfp"]
    assert resolved[:2] == want["command"]
    assert resolved[2:7] == want["args"]
    assert resolved[7] == strings["uri"]
    assert resolved[8] == "--out"
    assert job["env"] == strings["env"]
    # the backend's launcher gives the same whatever order its map is ranged in
    (only,) = job["launcher"]
    assert list(only[:8]) == resolved[:8]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(STRINGS)
def test_kubeflow_refuses_exactly_what_it_cannot_hand_over(strings: dict[str, str]) -> None:
    check_kubeflow(strings)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(KFP_STRINGS)
def test_kubeflow_hands_over_every_literal_it_accepts(strings: dict[str, str]) -> None:
    check_kubeflow(strings)


def test_kubeflow_measured_cases() -> None:
    """The issue's measurement is refused; shell-like text is escaped and arrives unchanged."""
    pytest.importorskip("kfp")
    live = {
        "cmd": "x",
        "lit": "{{$.inputs.parameters['x']}}",
        "lit2": "",
        "const": "c",
        "env": "e",
        "uri": "s3://in/u",
        "default": "d",
    }
    with pytest.raises(PipelineError) as info:
        compile_text(build(live), "kubeflow")
    (problem,) = info.value.diagnostics
    assert problem.code == "PC008" and "'{{$'" in problem.message
    assert "sagemaker and stepfunctions pass it as is" in (problem.hint or "")
    shell = {
        "cmd": "$(KFP_POD_NAME)",
        "lit": "a$$b",
        "lit2": "$(E)-",
        "const": "$HOME",
        "env": "$(KFP_POD_UID)$$",
        "uri": "s3://in/$x",
        "default": "{{ not kfp }}",
    }
    text = compile_text(build(shell), "kubeflow")
    assert "$$(KFP_POD_NAME)" in text and "a$$$$b" in text  # doubled for Kubernetes
    job = kfp_job(text)
    assert job["kfp"][:7] == [
        "run",
        "$(KFP_POD_NAME)",
        "a$$b",
        "$(E)-$HOME",
        "--y",
        "{{ not kfp }}",
        "--data",
    ]
    assert job["env"] == "$(KFP_POD_UID)$$"


def test_the_kubeflow_oracle_sees_an_unescaped_placeholder() -> None:
    """The resolution above is not vacuous: an unescaped ``$(VAR)`` or ``{{$...}}`` changes."""
    assert k8s_expand("$(KFP_POD_NAME)", {"KFP_POD_NAME": "pod-1"}) == "pod-1"
    assert k8s_expand("a$$b", {}) == "a$b"
    placeholders = {"{{$.inputs.parameters['x']}}": "X", "{{$}}": "{}"}
    outcomes = {
        tuple(go_launcher(["{{$.inputs.parameters['x']}}"], placeholders, random.Random(i)))
        for i in range(8)
    }
    assert outcomes == {("X",)}
    value_with_key = {"{{$.inputs.parameters['x']}}": "{{$}}", "{{$}}": "{}"}
    outcomes = {
        go_launcher(["{{$.inputs.parameters['x']}}"], value_with_key, random.Random(i))[0]
        for i in range(16)
    }
    assert outcomes == {"{{$}}", "{}"}  # order-dependent: why such values are refused


def test_kubeflow_header_comment_survives_a_default_with_line_breaks() -> None:
    """kfp writes defaults into its ``# Inputs:`` header comment as they are: a line break there
    would end the comment and make the rest of the default YAML content."""
    pytest.importorskip("kfp")
    import yaml

    default = "x']\nroot: {}\r\u2028end"
    strings = dict.fromkeys(("cmd", "lit", "lit2", "const", "env", "default"), "plain")
    text = compile_text(build({**strings, "default": default, "uri": "s3://in/u"}), "kubeflow")
    header = text[: text.index("components:")]
    assert all(line.startswith("#") for line in header.splitlines())
    assert "[Default: 'x']\\nroot: {}\\r\\u2028end']" in header
    main = next(iter(yaml.safe_load_all(text)))
    assert main["root"]["inputDefinitions"]["parameters"]["p"]["defaultValue"] == default
    assert kfp_job(text)["kfp"][5] == default
