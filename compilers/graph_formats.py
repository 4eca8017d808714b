"""Render a checked pipeline's step graph as Mermaid, Graphviz DOT or JSON (deterministic)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .canonical import dumps_json

if TYPE_CHECKING:
    from .graph import CheckedPipeline

__all__ = ["render"]


def _label(checked: CheckedPipeline, step_id: str) -> str:
    step = checked.spec.step(step_id)
    parts = [step_id]
    if step.component != step_id:
        parts.append(f"({step.component})")
    if step.resources is not None and step.resources.gpu:
        parts.append(f"{step.resources.gpu}×GPU")
    if step.spot is not None:
        parts.append("spot")
    return " ".join(parts)


def _dot(text: str) -> str:
    """A DOT quoted string: UTF-8 as is (Graphviz draws ``\\u00d7`` literally), quotes and
    backslashes escaped."""
    return json.dumps(text, ensure_ascii=False)


def _edges(checked: CheckedPipeline) -> list[tuple[str, str, dict[str, Any]]]:
    return sorted((u, v, d) for u, v, d in checked.graph.edges(data=True))


def render(checked: CheckedPipeline, fmt: str) -> str:
    """``mermaid`` (paste into Markdown), ``dot`` (Graphviz) or ``json`` (nodes and edges)."""
    if fmt == "json":
        return dumps_json(
            {
                "pipeline": checked.spec.name,
                "nodes": [
                    {"id": s, "component": checked.spec.step(s).component} for s in checked.order
                ],
                "edges": [
                    {
                        "from": u,
                        "to": v,
                        "data": bool(d.get("data")),
                        "outputs": list(d.get("outputs", ())),
                        "explicit": bool(d.get("explicit")),
                    }
                    for u, v, d in _edges(checked)
                ],
            }
        )
    if fmt == "dot":
        lines = [f"digraph {_dot(checked.spec.name)} {{", "  rankdir=LR;"]
        lines += [
            f"  {_dot(s)} [label={_dot(_label(checked, s))}];" for s in checked.order
        ]
        for u, v, d in _edges(checked):
            attrs = (
                f" [label={_dot(', '.join(d['outputs']))}]"
                if d.get("data")
                else " [style=dashed]"
            )
            lines.append(f"  {_dot(u)} -> {_dot(v)}{attrs};")
        return "\n".join([*lines, "}"]) + "\n"
    ids = {s: f"s{i}" for i, s in enumerate(checked.order)}
    lines = ["flowchart LR"]
    lines += [f'  {ids[s]}["{_label(checked, s)}"]' for s in checked.order]
    for u, v, d in _edges(checked):
        arrow = f"-- {', '.join(d['outputs'])} -->" if d.get("data") else "-.->"
        lines.append(f"  {ids[u]} {arrow} {ids[v]}")
    return "\n".join(lines) + "\n"
