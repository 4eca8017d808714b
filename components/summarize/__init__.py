"""``summarize``: a JSON summary and a self-contained HTML report with a timeline (small CPU).

Outputs: ``summary/summary.json`` and ``report/index.html`` (inline SVG and CSS, no scripts).
"""

from pipecast import dsl
from pipecast.dsl import Dataset, Input, Output, Resources

IMAGE = "ghcr.io/pipecast/summarize:0.1.0"


@dsl.container_component(
    image=IMAGE,
    command=["python", "-m", "pipecast.components.summarize"],
    resources=Resources(cpu=1, memory="2GiB"),
    timeout="30m",
)
def summarize(  # type: ignore[no-untyped-def]
    tracks: Input[Dataset],
    summary: Output[Dataset],
    report: Output[Dataset],
    title: str = "Video analysis report",
):
    """Write a JSON summary and an HTML report with a timeline per video."""


__all__ = ["IMAGE", "summarize"]
