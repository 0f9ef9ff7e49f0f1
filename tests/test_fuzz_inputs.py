"""Fuzzing the inputs (issue 10): valid files mutated one field at a time.

Every field of the baseline scenario (as its files resolve, `extends` and all) is a candidate; a mutation replaces
its value with a number that breaks a bound (NaN, infinity, negative, zero, far too large), a value of the wrong
type, or a date far outside the run. For each, `exodus run` must either

- finish, with a folder whose stocks add up to the population on every day, or
- exit with status 2 and one message that names the file and the field (its table, for a rule across fields),

never a traceback and never a staging folder left behind. Targets and sweep files are mutated cell by cell and
field by field and loaded (no run): a clean load or an error naming the file.

Kept fast for CI (runs of 30 days at scale 0.001, a few dozen examples, the same ones every time; the
whole file takes about 25 s on an idle 2-core machine).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
import tomllib
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from exodus.experiments.cli import main
from exodus.experiments.sweep_file import SweepError, load_sweep
from exodus.experiments.targets import TargetsError, load_targets
from exodus.model import ScenarioError, load_scenario
from exodus.model.scenario import read_raw

REPO = Path(__file__).resolve().parent.parent
BASELINE = REPO / "scenarios" / "baseline.toml"
TARGETS = REPO / "scenarios" / "targets" / "reported_figures.csv"
SMOKE = REPO / "experiments" / "sweeps" / "smoke.toml"
DAYS = 30
SETTINGS = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,  # the same cases on every run of CI
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def leaves(table: dict[str, Any], prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    out: dict[tuple[str, ...], Any] = {}
    for key, value in table.items():
        if isinstance(value, dict) and value:
            out |= leaves(value, (*prefix, key))
        else:
            out[(*prefix, key)] = value
    return out


# what the fuzz leaves alone: the chain of files, the horizon (a long one would be slow) and the calibration's notes
FIXED = {("scenario", "extends"), ("scenario", "targets"), ("scenario", "days"), ("scenario", "name")}
FIELDS = sorted(
    path
    for path in leaves(read_raw(BASELINE))
    if path not in FIXED and path[0] != "calibration" and "sources" not in path
)


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, int | dt.date):
        return str(value) if isinstance(value, int) else value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    return json.dumps(str(value))


def mutations(value: Any) -> st.SearchStrategy[Any]:
    """Values to put in place of `value`: out of bounds, of the wrong type, or far away."""
    odd = st.sampled_from([float("nan"), float("inf"), float("-inf"), "x", True, [], {}])
    if isinstance(value, bool):
        return st.one_of(st.just(not value), odd)
    if isinstance(value, int | float):
        scaled = st.sampled_from([0, -1, 0.5, 2, 1000]).map(lambda k: type(value)(value * k) if value else k)
        return st.one_of(scaled, odd, st.sampled_from([-1e-9, 1.0 + 1e-9, 2.0**63]))
    if isinstance(value, dt.date):
        return st.one_of(st.sampled_from([dt.date(1990, 1, 1), dt.date(2022, 3, 1), dt.date(2031, 1, 1)]), odd)
    if isinstance(value, list):
        return st.one_of(st.sampled_from([[], ["RU"], ["XX"], ["GE", "GE"], [1.0]]), odd)
    return st.one_of(st.sampled_from(["", "RU", "XX", "air", "land", "visa", "welcoming", "shock"]), odd)


@st.composite
def mutated_field(draw: st.DrawFn) -> tuple[tuple[str, ...], Any]:
    path = draw(st.sampled_from(FIELDS))
    return path, draw(mutations(leaves(read_raw(BASELINE))[path]))


def scenario_file(folder: Path, path: tuple[str, ...], value: Any) -> Path:
    """A file that extends the baseline and changes one field (written as a dotted key)."""
    key = ".".join(json.dumps(part) for part in path)
    meta = f'[scenario]\nextends = "{BASELINE.as_posix()}"\nname = "fuzz"\n'
    text = (f"{key} = {toml_value(value)}\n" if path[0] != "scenario" else "") + meta
    if path[0] == "scenario":
        text += f"{path[1]} = {toml_value(value)}\n"
    file = folder / "fuzz.toml"
    file.write_text(text, encoding="utf-8")
    tomllib.loads(text)  # the fuzz writes valid TOML: what is tested is the model's checks
    return file


def assert_population_conserved(out: Path) -> None:
    population = json.loads((out / "run.json").read_text())["population"]
    totals: dict[tuple[str, str], int] = defaultdict(int)
    with (out / "daily.csv").open(newline="") as fh:
        for row in csv.DictReader(fh):
            assert int(row["stock"]) >= 0, row
            totals[row["date"], row["segment"]] += int(row["stock"])
    assert len(totals) == DAYS * len(population)
    assert all(total == population[seg] for (_, seg), total in totals.items())


@settings(SETTINGS, max_examples=40)
@given(change=mutated_field())
def test_a_mutated_scenario_runs_cleanly_or_is_refused_by_name(
    tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture, change: tuple[tuple[str, ...], Any]
) -> None:
    path, value = change
    folder = tmp_path_factory.mktemp("fuzz")
    file = scenario_file(folder, path, value)
    out = folder / "out"
    capsys.readouterr()
    argv = ["run", str(file), "--out", str(out), "--scale", "0.001", "--set", f"scenario.days={DAYS}", "--quiet"]
    status = main(argv)  # a traceback fails the test: an exception other than the user errors propagates
    err = capsys.readouterr().err
    event("ran" if status == 0 else f"exit {status}")
    assert sorted(p.name for p in folder.iterdir()) == sorted(["fuzz.toml", *(["out"] if status == 0 else [])])
    if status == 0:
        assert_population_conserved(out)
        return
    assert status == 2, err
    assert len(err.strip().splitlines()) == 2, err  # the file, then one line for the one field
    assert "fuzz.toml" in err, err
    table = ".".join(path[:2])
    named = [line.split("field ", 1)[1].split(":")[0] for line in err.splitlines() if "field " in line]
    assert named and (named[0].startswith(table) or table.startswith(named[0])), (path, err)


def test_every_field_of_the_schema_is_a_fuzz_candidate() -> None:
    """The candidates cover each table of the scenario, so a new field is fuzzed without a change here."""
    tables = {path[0] for path in FIELDS}
    assert tables == {
        "scenario",
        "population",
        "firms",
        "locations",
        "routes",
        "policy",
        "behaviour",
        "free_parameters",
    }
    assert len(FIELDS) > 500


def test_every_field_refuses_a_value_of_the_wrong_kind_by_name(tmp_path: Path) -> None:
    """Each field in turn, loaded (not run): NaN and infinity in every number, a word in every number, date, flag
    and list, a number in every text. All refused, each naming the file and the field."""
    current = leaves(read_raw(BASELINE))
    checked = 0
    for path in FIELDS:
        value = current[path]
        if isinstance(value, bool):
            wrong: list[Any] = ["x"]
        elif isinstance(value, int | float):
            wrong = [float("nan"), float("inf"), float("-inf"), "x"]
        elif isinstance(value, str):
            wrong = [1.5]
        else:
            wrong = ["x"]
        for bad in wrong:
            file = scenario_file(tmp_path, path, bad)
            with pytest.raises(ScenarioError) as info:
                load_scenario(file, {"scenario.days": DAYS})
            message = str(info.value)
            field = ".".join(path)
            assert "fuzz.toml" in message and f"field {field}" in message, (field, bad, message)
            checked += 1
    assert checked > 1500


# -- targets and sweep files: loaded, not run --------------------------------------------------------------------------
ROWS = list(csv.reader(TARGETS.open(newline="", encoding="utf-8")))
COLUMNS = ROWS[0]
CODES = load_scenario(BASELINE).locations


@SETTINGS
@given(
    row=st.integers(1, len(ROWS) - 1),
    column=st.sampled_from(COLUMNS),
    value=st.sampled_from(["", "nan", "inf", "-1", "0", "1e30", "x", "2030-01-01", "XX", "EU+FI", "all", "\x00"]),
)
def test_a_mutated_targets_file_loads_or_is_refused_by_name(
    tmp_path_factory: pytest.TempPathFactory, row: int, column: str, value: str
) -> None:
    rows = [list(r) for r in ROWS]
    rows[row][COLUMNS.index(column)] = value
    file = tmp_path_factory.mktemp("targets") / "targets.csv"
    with file.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    try:
        load_targets(file, dt.date(2022, 2, 24), 730, CODES)
    except TargetsError as err:
        assert str(file) in str(err) and "\n" not in str(err), err


SWEEP_FIELDS = sorted(leaves(tomllib.loads(SMOKE.read_text(encoding="utf-8"))))


@SETTINGS
@given(data=st.data())
def test_a_mutated_sweep_file_loads_or_is_refused_by_name(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    raw = tomllib.loads(SMOKE.read_text(encoding="utf-8"))
    raw["sweep"]["scenario"] = BASELINE.as_posix()
    path = data.draw(st.sampled_from([p for p in SWEEP_FIELDS if p != ("sweep", "scenario")]))
    value = data.draw(mutations(leaves(raw)[path]))
    node = raw
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    file = tmp_path_factory.mktemp("sweep") / "sweep.toml"
    file.write_text(
        "\n".join(f"{'.'.join(json.dumps(k) for k in p)} = {toml_value(v)}" for p, v in leaves(raw).items())
    )
    try:
        load_sweep(file)
    except (SweepError, ScenarioError) as err:
        assert str(file) in str(err), err
