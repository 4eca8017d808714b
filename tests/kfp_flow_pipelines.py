"""Small control-flow pipelines for the Kubeflow tests (test_kubeflow_flow.py): each uses one
or two constructs of DESIGN §12, so a test can read what kfp made of exactly that construct.

A module of its own (not the test file) so that ``@dsl.component`` functions are importable,
and so that the oldest-kfp check can compile the same pipelines in another virtualenv."""

from __future__ import annotations

from typing import NamedTuple

from pipecast import dsl
from pipecast.dsl import Dataset, Input, Output

IMG = "registry.example.com/flow:1.0"


@dsl.container_component(image=IMG, command=["count"])
def count_motion(camera: str, frames: Output[Dataset], moving: Output[int]):
    """Count the frames where something moved (writes ``--moving <path>`` as JSON)."""


@dsl.container_component(image=IMG, command=["detect"])
def detect(frames: Input[Dataset], camera: str, detections: Output[Dataset]):
    """The detector."""


@dsl.container_component(image=IMG, command=["summary"])
def summarize(cameras: list, moving: list, summary: Output[Dataset]):
    """Fan in the per-camera counts."""


@dsl.container_component(image=IMG, command=["report"])
def status_report(status: str, report: Output[Dataset]):
    """Write the run's status."""


@dsl.container_component(image=IMG, command=["use"])
def use_value(value: int):
    """Take an int."""


@dsl.container_component(image=IMG, command=["zone"])
def zone_task(camera: str, zone: int):
    """Take a camera and a zone."""


@dsl.container_component(image=IMG, command=["cams"])
def list_cameras(site: str, cameras: Output[list], config: Output[dict]):
    """List a site's cameras (an output list a loop iterates over)."""


@dsl.container_component(image=IMG, command=["ratio"])
def measure(camera: str, ratio: Output[float], ok: Output[bool]):
    """A float and a bool output."""


class Counts(NamedTuple):
    total: int
    cameras: list


@dsl.component(image=IMG)
def tally(moving: list) -> Counts:
    """A Python component returning a NamedTuple."""
    return Counts(sum(moving), [])


@dsl.component(image=IMG)
def pick(mode: str) -> int:
    """A Python component returning one value (kfp's single ``Output``)."""
    return len(mode)


@dsl.pipeline(name="kfp-triage")
def triage(
    cameras: list = ["lobby", "gate", "dock"],  # noqa: B006
    min_moving: int = 1,
):
    """camera_triage without its artifact fan-in (tests/test_kubeflow_collected.py has that):
    loop, condition per iteration, collected parameter, exit handler with RUN_STATUS."""
    report = status_report(status=dsl.RUN_STATUS)
    with dsl.ExitHandler(report):
        with dsl.ParallelFor(cameras, parallelism=2) as camera:
            motion = count_motion(camera=camera)
            with dsl.If(motion.outputs["moving"] >= min_moving):
                detect(frames=motion.outputs["frames"], camera=camera)
        summarize(cameras=cameras, moving=dsl.Collected(motion.outputs["moving"]))


@dsl.pipeline(name="kfp-branches")
def branches(mode: str = "fast", limit: float = 0.5):
    """If/Elif/Else on a parameter and an output, joined with OneOf."""
    probe = measure(camera="probe")
    with dsl.If(mode == "fast"):
        a = pick(mode=mode).set_name("pick-fast")
    with dsl.Elif(probe.outputs["ratio"] > limit):
        b = pick(mode="careful").set_name("pick-careful")
    with dsl.Else():
        c = pick(mode="slow").set_name("pick-slow")
    use_value(value=dsl.OneOf(a.output, b.output, c.output)).set_name("use-pick")
    with dsl.If(probe.outputs["ok"] == True):  # noqa: E712 (a comparison the DSL records)
        use_value(value=1).set_name("when-ok")


@dsl.pipeline(name="kfp-text-condition")
def text_condition(mode: str = "x"):
    """A string constant in a condition (its escaping is what the CEL tests check)."""
    with dsl.If(mode == "it's a \\ 'quoted' \"mode\"\n"):
        use_value(value=1).set_name("matched")


@dsl.pipeline(name="kfp-loops")
def loops(
    sites: list = [{"name": "hq", "zone": 1}, {"name": "depot", "zone": 2}],  # noqa: B006
):
    """Dict items, a loop over an output list, a nested literal loop, no parallelism limit."""
    with dsl.ParallelFor(sites, parallelism=1) as site:
        zone_task(camera=site["name"], zone=site["zone"]).set_name("per-site")
    listed = list_cameras(site="hq")
    with dsl.ParallelFor(listed.outputs["cameras"]) as cam, dsl.ParallelFor([3, 5, 8]) as zone:
        zone_task(camera=cam, zone=zone).set_name("per-zone")
    counted = count_motion(camera="hq")
    totals = tally(moving=[1, 2])
    use_value(value=totals.outputs["total"]).after(counted).set_name("use-total")


@dsl.container_component(image=IMG, command=["python", "-m", "status_probe"])
def python_report(status: str, note: str = "x"):
    """An exit task whose command is Python: on Kubeflow it gets the RUN_STATUS adapter."""


@dsl.pipeline(name="kfp-exit-python")
def exit_python(cameras: list = ["a", "b"]):  # noqa: B006
    """An exit handler around a loop, its exit task a Python module."""
    report = python_report(status=dsl.RUN_STATUS)
    with dsl.ExitHandler(report), dsl.ParallelFor(cameras) as camera:
        count_motion(camera=camera)
