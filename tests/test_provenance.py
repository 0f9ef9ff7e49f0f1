"""A result is dirty when the code or scenarios that made it differ from the commit, not when outputs appear."""

from __future__ import annotations

import subprocess
from pathlib import Path

from exodus.experiments.core.provenance import git_state


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def test_outputs_in_the_checkout_do_not_make_it_dirty_but_code_changes_do(tmp_path: Path) -> None:
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "rule.py").write_text("x = 1\n")
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "first")
    assert git_state(tmp_path)["dirty"] is False
    (tmp_path / "calibration").mkdir()
    (tmp_path / "calibration" / "evaluations.jsonl").write_text("{}\n")  # a calibration writing its log
    assert git_state(tmp_path)["dirty"] is False
    (tmp_path / "model" / "rule.py").write_text("x = 2\n")
    state = git_state(tmp_path)
    assert state["dirty"] is True and len(state["commit"]) == 40
