"""``pipecast graph``: DOT labels are UTF-8 text Graphviz draws as written (DOT has no ``\\u``
escapes: ``\\u00d7`` would be drawn literally)."""

from __future__ import annotations

from helpers import EXAMPLES, run_cli


def test_dot_labels_are_utf8_not_escapes():
    proc = run_cli("graph", str(EXAMPLES / "video_analysis.py"), "--format", "dot")
    assert proc.returncode == 0, proc.stderr
    assert '"detect-objects" [label="detect-objects 1×GPU spot"];' in proc.stdout
    assert "\\u" not in proc.stdout


def test_mermaid_labels_keep_the_same_text():
    proc = run_cli("graph", str(EXAMPLES / "video_analysis.py"), "--format", "mermaid")
    assert proc.returncode == 0, proc.stderr
    assert '["detect-objects 1×GPU spot"]' in proc.stdout
