"""The repository's conftest turns skips into failures in CI (issue #12: no silent skips).

Each case runs a small pytest session in a scratch folder with the real ``conftest.py`` copied in,
so what is checked is the hook CI runs, under CI=true and outside CI.
"""

from __future__ import annotations

import pytest
from helpers import ROOT

pytest_plugins = ["pytester"]

TESTS = """
import pytest

def test_browser():
    pytest.skip("headless Chromium not installed (apt-get install chromium)")

@pytest.mark.skipif(True, reason="asl-validator not installed")
def test_asl():
    pass

@pytest.mark.xfail(reason="known bug", strict=True)
def test_known_bug():
    assert False

def test_runs():
    assert True
"""

MODULE_SKIP = """
import pytest
pytest.importorskip("no_such_module_kfp_stand_in")

def test_never_collected():
    pass
"""


@pytest.fixture
def session(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    pytester.makeconftest((ROOT / "conftest.py").read_text(encoding="utf-8"))
    pytester.makepyfile(test_tools=TESTS)
    for name in ("CI", "PIPECAST_CI_ALLOW_SKIPS"):
        monkeypatch.delenv(name, raising=False)

    def run(*args: str, **env: str) -> pytest.RunResult:
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        # no hypothesis plugin: these sessions do not need it, and it costs seconds each
        return pytester.runpytest_inprocess(
            "-ra", "-p", "no:cacheprovider", "-p", "no:hypothesispytest", *args
        )

    return run


def test_outside_ci_skips_stay_skips_and_name_the_install_command(session):
    result = session()
    result.assert_outcomes(passed=1, skipped=2, xfailed=1)
    result.stdout.fnmatch_lines(
        [
            "*headless Chromium not installed (apt-get install chromium)",
            "*asl-validator not installed (to run it: make setup*",
        ]
    )


@pytest.mark.parametrize("ci", ["true", "1"])
def test_in_ci_every_skip_fails_with_its_reason_and_how_to_fix_it(session, ci):
    result = session(CI=ci)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    outcomes = result.parseoutcomes()
    # the call-time skip fails the test; the skipif (decided at setup) is an error at setup
    assert (outcomes.get("failed"), outcomes.get("errors"), outcomes.get("skipped")) == (1, 1, None)
    assert (outcomes["passed"], outcomes["xfailed"]) == (1, 1)
    result.stdout.fnmatch_lines(
        [
            "*skipped in CI, which must run this check: headless Chromium not installed*",
            "*make it runnable: apt-get install chromium",
            "*skipped in CI, which must run this check: asl-validator not installed",
            "*make it runnable: make setup*",
            "*PIPECAST_CI_ALLOW_SKIPS=<a fragment of the reason>",
        ]
    )


def test_the_allow_list_lets_named_skips_through_and_lists_them(session):
    result = session(CI="true", PIPECAST_CI_ALLOW_SKIPS=" Chromium , nothing-else")
    outcomes = result.parseoutcomes()
    assert (outcomes.get("skipped"), outcomes.get("errors"), outcomes.get("failed")) == (1, 1, None)
    result.stdout.fnmatch_lines(
        ["*skips allowed in CI by PIPECAST_CI_ALLOW_SKIPS*", "test_tools.py::test_browser: *"]
    )
    everything = session(CI="true", PIPECAST_CI_ALLOW_SKIPS="chromium,asl-validator")
    everything.assert_outcomes(passed=1, skipped=2, xfailed=1)
    assert everything.ret == pytest.ExitCode.OK


def test_a_module_skipped_at_collection_fails_in_ci(session, pytester):
    pytester.makepyfile(test_module_skip=MODULE_SKIP)
    outside = session("test_module_skip.py")
    outside.assert_outcomes(skipped=1)
    in_ci = session("test_module_skip.py", CI="true")
    assert in_ci.ret != pytest.ExitCode.OK
    assert in_ci.parseoutcomes().get("errors") == 1
    in_ci.stdout.fnmatch_lines(["*skipped in CI, which must run this check: could not import*"])


def test_ci_false_is_not_ci(session):
    session(CI="false").assert_outcomes(passed=1, skipped=2, xfailed=1)
