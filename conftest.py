"""Repository-wide pytest hooks (tests/ and components/): in CI, a skip is a failure.

Some tests skip when an outside tool is missing: asl-validator (npm), statelint, headless
Chromium (the report's browser test), kfp, moto, jsonata, OpenCV... On a developer's machine that
is the right call, and the skip reason says how to install the tool. In CI it is not: a skip
there hides a check CI is supposed to run, and a green run would claim a check that never ran.

So when ``CI`` is set (``true``/``1``/``yes``, as CI runs ``.ci/run``), every skipped test, and
every module skipped at collection, is reported as a failure naming the reason and the install
command, unless the reason contains one of the comma-separated, case-insensitive fragments in
``PIPECAST_CI_ALLOW_SKIPS`` (e.g. ``PIPECAST_CI_ALLOW_SKIPS=chromium`` on a CI machine that
cannot have a browser): an explicit, visible decision, listed at the end of the run. Expected
failures (``xfail``) are not skips and are left alone.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

ALLOW_ENV = "PIPECAST_CI_ALLOW_SKIPS"

# a fragment of a skip reason → the command that makes the skipped check runnable
INSTALL = {
    "asl-validator": "make setup (npm install --prefix .tools asl-validator@3; needs npm)",
    "npm": "apt-get install npm, then make setup",
    "chromium": "apt-get install chromium",
    "kfp": "pip install -e '.[kubeflow]'",
    "cv2": "pip install -e '.[components]'",
    "components extra": "pip install -e '.[components]'",
    "matplotlib": "pip install -e '.[components]'",
    "statelint": "pip install -e '.[dev]'",
    "moto": "pip install -e '.[dev]'",
    "jsonata": "pip install -e '.[dev]'",
    "'build' package": "pip install -e '.[dev]'",
}

_allowed_in_ci: list[str] = []


def in_ci() -> bool:
    """Whether this run is CI's (the ``CI`` variable most CI systems and ``.ci/run`` set)."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def allow_list() -> list[str]:
    """The fragments in ``PIPECAST_CI_ALLOW_SKIPS``, lower-cased."""
    raw = os.environ.get(ALLOW_ENV, "")
    return [part.strip().lower() for part in raw.split(",") if part.strip()]


def install_hint(reason: str) -> str | None:
    """The install command for the tool a skip reason names, if it is a known one."""
    lowered = reason.lower()
    for fragment, command in INSTALL.items():
        if fragment in lowered:
            return command
    return None


def _reason(report: Any) -> str:
    longrepr = report.longrepr
    text = str(longrepr[2]) if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    return text.removeprefix("Skipped: ")


def _police(report: Any) -> None:
    """Turn a skip into a CI failure, or give it its install hint outside CI."""
    if not report.skipped or hasattr(report, "wasxfail"):
        return
    reason = _reason(report)
    hint = install_hint(reason)
    if not in_ci():
        if hint and hint not in reason and isinstance(report.longrepr, tuple):
            path, line, _ = report.longrepr
            report.longrepr = (path, line, f"Skipped: {reason} (to run it: {hint})")
        return
    if any(fragment in reason.lower() for fragment in allow_list()):
        _allowed_in_ci.append(f"{report.nodeid}: {reason}")
        return
    report.outcome = "failed"
    report.longrepr = (
        f"skipped in CI, which must run this check: {reason}\n"
        f"  make it runnable: {hint or 'install what the reason names'}\n"
        f"  or allow it deliberately: {ALLOW_ENV}=<a fragment of the reason>"
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    outcome = yield
    _police(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Any:
    outcome = yield
    _police(outcome.get_result())


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _allowed_in_ci:
        terminalreporter.write_sep("=", f"skips allowed in CI by {ALLOW_ENV}")
        for line in _allowed_in_ci:
            terminalreporter.write_line(line)
