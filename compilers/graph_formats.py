"""Render a checked pipeline's step graph as Mermaid, Graphviz DOT or JSON (deterministic)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from pipecast.dsl.spec import GroupSpec

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


def _operand(binding: Any) -> str:
    data = binding.to_dict()
    if "output" in data:
        return f"{data['output']['step']}.{data['output']['name']}"
    if "parameter" in data:
        return str(data["parameter"])
    if "loop_item" in data:
        key = data["loop_item"].get("key")
        return "item" + (f"[{key!r}]" if key else "")
    return json.dumps(data.get("constant"))


def _group_label(group: GroupSpec) -> str:
    """``if a > 0``, ``else``, ``for each in cams (parallelism 2)``, ``exit handler → report``."""
    if group.kind == "condition":
        when = " and ".join(f"{_operand(c.left)} {c.op} {_operand(c.right)}" for c in group.when)
        head = "else if" if group.unless and when else "else" if group.unless else "if"
        return f"{group.id}: {head} {when}".rstrip()
    if group.kind == "loop":
        items = _operand(group.items) if group.items is not None else "?"
        limit = f" (parallelism {group.parallelism})" if group.parallelism else ""
        return f"{group.id}: for each in {items}{limit}"
    return f"{group.id}: exit handler, then {group.exit_step}"


def _nested(
    checked: CheckedPipeline,
) -> tuple[dict[str | None, list[str]], dict[str | None, list[GroupSpec]]]:
    """Steps (in order) and groups directly inside each group (None: the top level)."""
    steps: dict[str | None, list[str]] = {}
    for s in checked.order:
        steps.setdefault(checked.spec.step(s).group, []).append(s)
    groups: dict[str | None, list[GroupSpec]] = {}
    for g in checked.spec.groups:
        groups.setdefault(g.parent, []).append(g)
    return steps, groups


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
    steps, groups = _nested(checked)
    if fmt == "dot":
        lines = [f"digraph {_dot(checked.spec.name)} {{", "  rankdir=LR;"]

        def dot_block(parent: str | None, indent: str) -> None:
            for s in steps.get(parent, []):
                lines.append(f"{indent}{_dot(s)} [label={_dot(_label(checked, s))}];")
            for g in groups.get(parent, []):
                lines.append(f"{indent}subgraph {_dot('cluster_' + g.id)} {{")
                lines.append(f"{indent}  label={_dot(_group_label(g))};")
                dot_block(g.id, indent + "  ")
                lines.append(f"{indent}}}")

        dot_block(None, "  ")
        for u, v, d in _edges(checked):
            attrs = (
                f" [label={_dot(', '.join(d['outputs']))}]" if d.get("data") else " [style=dashed]"
            )
            lines.append(f"  {_dot(u)} -> {_dot(v)}{attrs};")
        return "\n".join([*lines, "}"]) + "\n"
    ids = {s: f"s{i}" for i, s in enumerate(checked.order)}
    lines = ["flowchart LR"]

    def mermaid_block(parent: str | None, indent: str) -> None:
        for s in steps.get(parent, []):
            lines.append(f'{indent}{ids[s]}["{_label(checked, s)}"]')
        for g in groups.get(parent, []):
            label = _group_label(g).replace('"', "#quot;")
            lines.append(f'{indent}subgraph {g.id.replace("-", "_")}["{label}"]')
            mermaid_block(g.id, indent + "  ")
            lines.append(f"{indent}end")

    mermaid_block(None, "  ")
    for u, v, d in _edges(checked):
        arrow = f"-- {', '.join(d['outputs'])} -->" if d.get("data") else "-.->"
        lines.append(f"  {ids[u]} {arrow} {ids[v]}")
    return "\n".join(lines) + "\n"
