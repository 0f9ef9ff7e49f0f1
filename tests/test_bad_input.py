"""Bad input (issue 10): every user mistake gets a one-line error and exit status 2 before any work, and nothing is
left behind. Each case here was once accepted without a word, or ended in a traceback.

Runs are tiny (scale 0.001, 30 days): the point is the refusal, not the result.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from exodus.experiments.cli.main import main
from exodus.experiments.core.outdir import OutputError, claim, leftovers, staged_dir
from exodus.experiments.core.targets import Target, TargetsError, load_targets
from exodus.model import RelocationModel, ScenarioError, load_scenario
from exodus.model.population import MEMORY_BUDGET_ENV, ScaleError, check_scale

REPO = Path(__file__).resolve().parent.parent
BASELINE = REPO / "scenarios" / "baseline.toml"
TARGETS = REPO / "scenarios" / "targets" / "reported_figures.csv"
TINY = ["--scale", "0.001", "--set", "scenario.days=30", "--quiet"]


def refused(capsys: pytest.CaptureFixture, *argv: str) -> str:
    """Run the command line, expect exit status 2 and return its one-line(ish) message."""
    try:
        status = main(list(argv))
    except SystemExit as exit:  # argparse refuses an argument by exiting
        status = exit.code
    assert status == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "error:" in err, err
    return err


# -- command-line arguments ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--seed", "-1"], "from 0 to 18446744073709551615"),
        (["--seed", str(2**64)], "from 0 to 18446744073709551615"),
        (["--seed", "1.5"], "from 0 to"),
        (["--scale", "inf"], "finite number above 0"),
        (["--scale", "nan"], "finite number above 0"),
        (["--scale", "1e-300"], "expected at least 1e-06"),
        (["--scale", "1e-7"], "expected at least 1e-06"),
    ],
)
def test_a_bad_seed_or_scale_is_refused_before_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture, args: list[str], words: str
) -> None:
    out = tmp_path / "out"
    err = refused(capsys, "run", str(BASELINE), "--out", str(out), *TINY, *args)
    assert words in err, err
    assert list(tmp_path.iterdir()) == []


def test_a_scale_beyond_the_memory_budget_names_the_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    err = refused(capsys, "run", str(BASELINE), "--out", str(tmp_path / "o"), *TINY, "--scale", "1e9")
    assert "81,000,000 agents" in err and "memory budget" in err and MEMORY_BUDGET_ENV in err
    monkeypatch.setenv(MEMORY_BUDGET_ENV, str(10_000 * 400))
    err = refused(capsys, "run", str(BASELINE), "--out", str(tmp_path / "o"), *TINY, "--scale", "0.01")
    assert "at most 10,000 agents" in err
    assert list(tmp_path.iterdir()) == []


def test_the_model_refuses_a_seed_or_scale_outside_its_range() -> None:
    scenario = load_scenario(BASELINE, {"scenario.days": 3})
    with pytest.raises(ValueError, match="seed"):
        RelocationModel(scenario, rng=-1, scale=0.001)
    with pytest.raises(ValueError, match="seed"):
        RelocationModel(scenario, rng=2**64, scale=0.001)
    with pytest.raises(ScaleError, match="finite"):
        check_scale(scenario, float("inf"))
    assert RelocationModel(scenario, rng=2**64 - 1, scale=0.001).seed == 2**64 - 1


@pytest.mark.parametrize("days", [1, 3, 6])
def test_a_horizon_shorter_than_a_week_runs_and_plots(tmp_path: Path, days: int) -> None:
    out = tmp_path / "short"
    argv = ["run", str(BASELINE), "--out", str(out), "--scale", "0.001", "--set", f"scenario.days={days}", "--quiet"]
    assert main(argv) == 0
    assert (out / "outflow.png").stat().st_size > 0
    assert len({line.split(",")[0] for line in (out / "daily.csv").read_text().splitlines()[1:]}) == days


def test_a_nan_override_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out"
    err = refused(capsys, "run", str(BASELINE), "--out", str(out), *TINY, "--set", "behaviour.utility.income=nan")
    assert "baseline.toml" in err and "field behaviour.utility.income" in err and "finite" in err and "nan" in err


# -- files that cannot be read ---------------------------------------------------------------------------------------


def test_a_scenario_that_is_a_folder_or_binary_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    err = refused(capsys, "run", str(tmp_path), "--out", str(tmp_path / "o"), *TINY)
    assert str(tmp_path) in err and "folder" in err
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00\x01")
    err = refused(capsys, "run", str(binary), "--out", str(tmp_path / "o"), *TINY)
    assert "binary.toml" in err and "TOML" in err
    assert not (tmp_path / "o").exists()


def test_a_system_error_is_one_line_and_a_bug_still_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    import exodus.experiments.analyses.run as run

    def denied(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied", "/somewhere/file.csv")

    monkeypatch.setattr(run, "run_scenario", denied)
    err = refused(capsys, "run", "--quiet")
    assert "exodus run: error: /somewhere/file.csv: Permission denied" in err

    def bug(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(run, "run_scenario", bug)
    with pytest.raises(ZeroDivisionError):
        main(["run", "--quiet"])


# -- targets -----------------------------------------------------------------------------------------------------------


def targets_with(tmp_path: Path, location: str) -> Path:
    with TARGETS.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        fields, first = reader.fieldnames, next(reader)
    assert fields is not None and "location" in fields
    path = tmp_path / "targets.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerow({**first, "location": location})
    return path


def test_a_target_at_a_location_that_does_not_exist_is_refused_at_load(tmp_path: Path) -> None:
    codes = load_scenario(BASELINE).locations
    with pytest.raises(TargetsError, match=r"line 2: field location: expected a location .* got 'XX'"):
        load_targets(targets_with(tmp_path, "XX"), codes=codes)
    with pytest.raises(TargetsError, match="got 'XX'"):
        load_targets(targets_with(tmp_path, "EU+XX"), codes=codes)
    (target,) = load_targets(targets_with(tmp_path, "EU+FI"), codes=codes)
    assert target.places == ["EU", "FI"]


def test_a_run_refuses_a_scenario_whose_target_location_does_not_exist(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    targets_with(tmp_path, "XX")
    scenario = tmp_path / "s.toml"
    scenario.write_text(f'[scenario]\nextends = "{BASELINE}"\nname = "s"\ntargets = "targets.csv"\n')
    err = refused(capsys, "run", str(scenario), "--out", str(tmp_path / "out"), *TINY)
    assert "targets.csv, line 2: field location" in err
    assert not (tmp_path / "out").exists()


def test_a_target_summed_over_places_is_the_sum_of_its_places() -> None:
    model = RelocationModel(BASELINE, rng=0, scale=0.001, **{"scenario.days": 60}).run()
    per_agent, codes = model.workers.persons_per_agent, model.codes
    start = model.scenario.start

    def figure(measure: str, location: str) -> float:
        target = Target("t", "all", measure, start, start + dt.timedelta(days=59), 1.0, 1.0, 1.0, 1.0, "", location)
        return target.model_value(model.tally, start, per_agent, codes)

    for measure in ("gross_departures", "stock_abroad"):
        assert figure(measure, "GE+KZ") == figure(measure, "GE") + figure(measure, "KZ") > 0


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00", "UTF-8"),
        (b"id,segment\x00,measure\n", "binary"),
    ],
)
def test_a_binary_targets_file_is_one_line(tmp_path: Path, content: bytes, words: str) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(content)
    with pytest.raises(TargetsError, match=words):
        load_targets(path)
    with pytest.raises(TargetsError, match="folder"):
        load_targets(tmp_path)


def test_a_target_with_nan_is_refused(tmp_path: Path) -> None:
    header, first = list(csv.reader(TARGETS.open(newline="", encoding="utf-8")))[:2]
    first[header.index("weight")] = "nan"  # by name: the first target's weight is not always 1.0
    path = tmp_path / "t.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([header, first])
    with pytest.raises(TargetsError, match="field weight: expected a finite number"):
        load_targets(path)


# -- the output place --------------------------------------------------------------------------------------------------


def test_an_output_that_cannot_be_written_is_refused_before_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("x")
    err = refused(capsys, "run", str(BASELINE), "--out", str(a_file / "out"), *TINY)
    assert "is a file, not a folder" in err
    err = refused(capsys, "run", str(BASELINE), "--out", str(a_file), *TINY)
    assert "not a folder" in err
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        err = refused(capsys, "run", str(BASELINE), "--out", str(locked / "out"), *TINY)
        assert "no permission" in err


@pytest.mark.parametrize("command", ["run", "validate"])
def test_a_second_writer_to_one_folder_is_refused_at_once(tmp_path: Path, command: str) -> None:
    out = tmp_path / "out"
    with claim(out):  # validate, like run and batch, takes the lock of --out before it runs anything
        other = subprocess.run(
            [sys.executable, "-m", "exodus", command, str(BASELINE), "--out", str(out), *TINY],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert other.returncode == 2, other.stderr
        assert "another process is writing to it" in other.stderr and "Traceback" not in other.stderr
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # the lock file goes with the writer


def test_stale_staging_folders_are_removed_by_the_next_run(tmp_path: Path) -> None:
    out = tmp_path / "out"
    stale = [Path(tempfile.mkdtemp(prefix=".out.", suffix=suffix, dir=tmp_path)) for suffix in (".partial", ".old")]
    (stale[0] / "daily.csv").write_text("half")
    neighbour = Path(tempfile.mkdtemp(prefix=".out.x.", suffix=".partial", dir=tmp_path))  # of a folder `out.x`
    assert leftovers(out) == sorted(stale)
    assert main(["run", str(BASELINE), "--out", str(out), *TINY]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([neighbour.name, "out"])


def test_a_failed_write_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(RuntimeError), staged_dir(out) as staging:
        (staging / "daily.csv").write_text("half")
        raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_an_unusable_output_raises_output_error(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(OutputError), claim(tmp_path / "f" / "out"):
        pass


# -- sweeps ------------------------------------------------------------------------------------------------------------

SWEEP = """
[sweep]
name = "bad"
scenario = "{scenario}"
seeds = 1
scale = 0.001
days = 30
metrics = ["cumulative_departures:all:2022-03-20"]

[[parameter]]
path = "{path}"
values = {values}
"""


def sweep_file(tmp_path: Path, path: str, values: str) -> Path:
    file = tmp_path / "sweep.toml"
    file.write_text(SWEEP.format(scenario=BASELINE.as_posix(), path=path, values=values))
    return file


def test_a_sweep_parameter_naming_a_table_is_refused_at_load(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    file = sweep_file(tmp_path, "behaviour.hazard", "[1.0, 2.0]")
    err = refused(capsys, "sweep", str(file), "--out", str(tmp_path / "out"), "--quiet")
    assert "parameter[0].path" in err and "is a table" in err
    assert not (tmp_path / "out").exists()


def test_a_sweep_whose_every_run_fails_exits_non_zero(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    file = sweep_file(tmp_path, "behaviour.hazard.alarm", "[-1.0, -2.0]")
    assert main(["sweep", str(file), "--out", str(tmp_path / "out"), "--workers", "1", "--quiet"]) == 1
    assert "every run failed" in capsys.readouterr().err


def test_a_sweep_with_nan_in_its_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    file = sweep_file(tmp_path, "behaviour.hazard.alarm", "[1.0]").read_text().replace("scale = 0.001", "scale = nan")
    (tmp_path / "nan.toml").write_text(file)
    err = refused(capsys, "sweep", str(tmp_path / "nan.toml"), "--out", str(tmp_path / "out"), "--quiet")
    assert "field sweep.scale" in err and "finite" in err


def test_numbers_are_unchanged_by_the_checks() -> None:
    assert np.isfinite(RelocationModel(BASELINE, rng=0, scale=0.001, **{"scenario.days": 5}).run().tally.stock).all()


def test_a_swap_killed_half_way_gives_the_previous_results_back(tmp_path: Path) -> None:
    """Killed after renaming the old folder away and before renaming the new one in: the next writer puts the
    old results back (and clears the half-written one) instead of deleting them."""
    from exodus.experiments.core.outdir import claim

    out = tmp_path / "run"
    old = tmp_path / ".run.abcd1234.old"
    old.mkdir()
    (old / "run.json").write_text("{}")
    partial = tmp_path / ".run.efgh5678.partial"
    partial.mkdir()
    with claim(out):
        assert (out / "run.json").read_text() == "{}"
    assert not old.exists() and not partial.exists()


# -- found by the fuzz test (tests/test_fuzz_inputs.py) ----------------------------------------------------------------


@pytest.mark.parametrize("extends", ["", "."])
def test_a_scenario_extending_a_folder_names_the_field(tmp_path: Path, extends: str) -> None:
    file = tmp_path / "s.toml"
    file.write_text(f'[scenario]\nname = "s"\nextends = "{extends}"\n', encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"s\.toml: field scenario\.extends: expected a scenario file, .* folder"):
        load_scenario(file)


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"scenario.days": True}, "scenario.days"),
        ({"locations.GE.lat": False}, "locations.GE.lat"),
        ({"population.it.family_ties.IL": True}, "population.it.family_ties.IL"),
    ],
)
def test_true_or_false_for_a_number_is_refused(override: dict, field: str) -> None:
    """pydantic reads true as 1: `days = true` was a one-day run, `scale = true` a full-scale sweep."""
    with pytest.raises(ScenarioError, match=rf"field {field}: expected a number"):
        load_scenario(BASELINE, override)


def test_a_sweep_scale_or_seeds_given_as_a_flag_or_nan_is_one_line(tmp_path: Path) -> None:
    from exodus.experiments.analyses.sweep_file import SweepError, load_sweep

    text = sweep_file(tmp_path, "behaviour.hazard.alarm", "[1.0]").read_text()
    (tmp_path / "flag.toml").write_text(text.replace("scale = 0.001", "scale = true"))
    with pytest.raises(SweepError, match="field sweep.scale: expected a number"):
        load_sweep(tmp_path / "flag.toml")
    (tmp_path / "seeds.toml").write_text(text.replace("seeds = 1", "seeds = nan"))
    with pytest.raises(SweepError) as info:
        load_sweep(tmp_path / "seeds.toml")
    # `int | list[int]`: one line for the field, not one per member of the union (`seeds.int`, `seeds.list[int]`)
    assert str(info.value).splitlines()[1:] == [
        "  field sweep.seeds: Input should be a finite number (got nan); or Input should be a valid list"
    ]


def test_a_nul_byte_in_a_targets_cell_names_its_line_and_field(tmp_path: Path) -> None:
    header, first, *_ = csv.reader(TARGETS.open(newline="", encoding="utf-8"))
    first[header.index("source")] = "a\x00b"
    path = tmp_path / "t.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([header, first])
    with pytest.raises(TargetsError, match=r"t\.csv, line 2: field source: expected a CSV file, got a binary"):
        load_targets(path)


def test_the_readme_lists_the_rules_for_every_table_of_the_schema() -> None:
    """README, "The rules a scenario file must meet": every table of the schema is named there, so a table added
    to model/scenario.py without its rules in the README fails here."""
    from exodus.model.scenario import Behaviour, Scenario

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("### The rules a scenario file must meet", 1)[1].split("\n## ", 1)[0]
    tables = [f"[{name}" for name in Scenario.model_fields] + [f"[behaviour.{name}]" for name in Behaviour.model_fields]
    assert [t for t in tables if t not in section] == []
    for words in ("finite", "[0, 1]", "extends", "cycle", "until", "locations", "horizon", "low < high", "UTF-8"):
        assert words in section, words
