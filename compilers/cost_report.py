"""``pipecast cost`` output: a terminal table, Markdown for a pull request, or JSON (DESIGN §14).

Every format carries the same figures, the price dates and sources, and every assumption, so a
number is never shown without where it comes from. The output is a function of the estimate
alone (no clock, no locale): the same bytes on every run.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from .canonical import dumps_json
from .cost import SPOT_DISCOUNT_SOURCE, Estimate, money

__all__ = ["render"]

_HEADERS = ("step", "instance", "count", "$/hour", "hours", "spot", "on demand", "cost")


def render(est: Estimate, fmt: str = "text") -> str:
    """The estimate as ``text``, ``markdown`` or ``json``."""
    if fmt == "json":
        return dumps_json(est.to_dict())
    markdown = fmt == "markdown"
    rows = [
        (
            s.step + (f" (×{s.iterations})" if s.iterations != 1 else ""),
            s.instance_type,
            str(s.instance_count),
            f"{s.price_per_hour:.4f}",
            f"{s.hours:.3f}" + (" (assumed)" if s.assumed else ""),
            f"yes (−{est.spot_discount:.0%})" if s.spot else "no",
            money(s.on_demand_cost, digits=4),
            money(s.cost, digits=4),
        )
        for s in est.steps
    ]
    head = (
        f"pipeline '{est.pipeline}' on {est.target}: estimated cost of one run "
        f"({est.prices.currency}, {est.prices.region} prices as of {est.prices.as_of})"
    )
    lines = [f"### {head}", ""] if markdown else [head, ""]
    if est.configured_region not in (None, est.prices.region):
        lines[-1:] = [
            f"{'**' if markdown else ''}WARNING: these are {est.prices.region} prices, not "
            f"{est.configured_region} prices{'**' if markdown else ''}",
            "",
        ]
    lines += _table(rows, markdown)
    lines.append("")
    for c in est.charges:
        lines.append(
            f"{'- ' if markdown else ''}{c.item}: {c.count} × ${Decimal(str(c.unit_price)):f} = "
            f"{money(c.count * c.unit_price, digits=6)} (prices as of {est.charges_as_of})"
        )
    bold = "**" if markdown else ""
    m = est.monolith
    summary = [
        f"total per run: {bold}{money(est.total, digits=4)}{bold}",
        f"makespan (critical path of the {est.target} layout): {est.makespan_hours:.3f} h",
        f"monolith (every step in sequence on one {m.instance_type}, on demand, "
        f"${m.price_per_hour:.4f}/h): {m.hours:.3f} h, {money(m.cost, digits=4)}",
        f"ratio: {bold}{est.ratio:.2f}×{bold} (monolith ÷ total)"
        if est.total
        else "ratio: n/a (the run costs nothing)",
    ]
    if est.runs_per_month is not None:
        summary.append(
            f"per month ({est.runs_per_month} runs): {money(est.total * est.runs_per_month)}"
            f" (monolith: {money(m.cost * est.runs_per_month)})"
        )
    lines += [f"- {s}" if markdown else s for s in summary]
    notes = [
        f"spot discount {est.spot_discount:.0%}: "
        + (SPOT_DISCOUNT_SOURCE if est.spot_discount == 0.7 else "from the configuration"),
        f"instance prices: {est.prices.origin}"
        + (f" — {est.prices.source}" if est.prices.source else ""),
        *est.notes,
        *(w.removeprefix("warning: ") for w in est.warnings),
    ]
    lines.append("")
    if markdown:
        lines += ["notes:", "", *(f"- {n}" for n in notes)]
    else:
        lines += [f"note: {n}" for n in notes]
    return "\n".join(lines) + "\n"


def _table(rows: Sequence[tuple[str, ...]], markdown: bool) -> list[str]:
    if markdown:
        align = ("---", "---", "---:", "---:", "---:", "---", "---:", "---:")
        out = ["| " + " | ".join(_HEADERS) + " |", "|" + "|".join(align) + "|"]
        return out + ["| " + " | ".join(r.replace("|", "\\|") for r in row) + " |" for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(_HEADERS)]
    right = {2, 3, 4, 6, 7}

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return [line(_HEADERS), *(line(r) for r in rows)]
