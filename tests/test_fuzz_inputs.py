"""Fuzzing the inputs (issue 10): valid files mutated one field at a time.

Three kinds of file, each mutated field by field from a valid one:

- scenario files: every field of the schema (the pydantic models of model/scenario.py, walked here, so a new field is
  fuzzed without a change to this file), at every place the baseline uses its table (each location, route, event);
- targets CSV files: every cell of the reported figures, the columns the loader reads;
- sweep files: every field of the sweep schema (experiments/analyses/sweep_file.py), in a tiny sweep.

A mutation replaces a value with one that breaks a bound (NaN, infinity, negative, zero, far too large), a value of
the wrong type, another value of its kind (a route's other end, an event's other kind) or a date far outside the
run. Then `exodus run` (or `exodus sweep`) must either

- finish, with outputs whose stocks add up to the population on every day, or
- exit with status 2 and a message that names the file and the field (its table, for a rule across fields),

never a traceback and never a staging or partial folder left behind. A sweep may also record a run as failed (its
parameter value out of the field's range), as sweep.py documents: then its runs.csv is whole, the failed runs name
the field, and the exit status is 1 if every run failed.

Kept fast for CI: runs of 30 days at scale 0.001, a bounded number of examples, the same ones every time
(derandomized); loading (no run) covers every field deterministically. About 30 s on a busy 2-core machine.
"""

from __future__ import annotations

import copy
import csv
import datetime as dt
import json
import math
import tomllib
import types
import typing
from collections import defaultdict
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from exodus.experiments.analyses.sweep_file import SweepError, SweepSpec, load_sweep
from exodus.experiments.cli.main import main
from exodus.experiments.core.targets import REQUIRED, TargetsError, load_targets
from exodus.model import ScenarioError, load_scenario
from exodus.model.scenario import Scenario, read_raw, validate

REPO = Path(__file__).resolve().parent.parent
BASELINE = REPO / "scenarios" / "baseline.toml"
TARGETS = REPO / "scenarios" / "targets" / "reported_figures.csv"
SMOKE = REPO / "experiments" / "data" / "sweeps" / "smoke.toml"
DAYS = 30
TINY = ["--scale", "0.001", "--quiet"]
SETTINGS = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,  # the same cases on every run of CI
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# -- the schema, walked --------------------------------------------------------------------------------------------
def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model an annotation holds directly (`Meta`, `Hazard | None`), if any."""
    union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    for candidate in (annotation, *(typing.get_args(annotation) if union else ())):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _table_of_models(annotation: Any) -> type[BaseModel] | None:
    """The model of a keyed table (`dict[str, LocationSpec]`) or a list of tables (`list[Parameter]`), if any."""
    origin = typing.get_origin(annotation)
    if origin in (dict, list):
        return _model_in(typing.get_args(annotation)[-1])
    return None


def schema_fields(model: type[BaseModel]) -> set[tuple[str, str]]:
    """Every field of `model` and of the models under it, as (model name, field name)."""
    out: set[tuple[str, str]] = set()
    for name, info in model.model_fields.items():
        out.add((model.__name__, name))
        sub = _model_in(info.annotation) or _table_of_models(info.annotation)
        if sub is not None:
            out |= schema_fields(sub)
    return out


def schema_paths(
    model: type[BaseModel], data: Any, prefix: tuple[Any, ...] = ()
) -> list[tuple[tuple[str, str], tuple[Any, ...], Any, Any]]:
    """(schema field, path in the file, current value, annotation) for every leaf field of `model` at every place
    `data` (the valid file's tables, defaults filled in) uses it. A keyed table of scalars (`family_ties`) is a leaf,
    and so is each of its entries."""
    out = []
    data = data if isinstance(data, dict) else {}
    for name, info in model.model_fields.items():
        path, value, annotation = (*prefix, name), data.get(name), info.annotation
        field = (model.__name__, name)
        sub = _model_in(annotation)
        table = _table_of_models(annotation)
        if sub is not None:
            out += [(field, path, value, annotation), *schema_paths(sub, value, path)]
        elif table is not None:
            out.append((field, path, value, annotation))  # the table itself: replaced by a wrong kind of value
            items = value.items() if isinstance(value, dict) else enumerate(value or [])
            for key, item in items:
                out += schema_paths(table, item, (*path, key))
        else:
            out.append((field, path, value, annotation))
            if isinstance(value, dict):
                entry = typing.get_args(annotation)[-1] if typing.get_args(annotation) else Any
                out += [(field, (*path, key), item, entry) for key, item in value.items()]
    return out


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
        return "{" + ", ".join(f"{json.dumps(str(k))} = {toml_value(v)}" for k, v in value.items()) + "}"
    return json.dumps(str(value))


def _example(annotation: Any) -> Any:
    """A value of the annotation's kind, for a field the valid file leaves at None (`lat`, `until`)."""
    kinds = [a for a in (annotation, *typing.get_args(annotation)) if a is not type(None)]
    for kind, instance in ((bool, True), (int, 10), (float, 1.0), (dt.date, dt.date(2022, 3, 1)), (str, "x")):
        if kind in kinds:
            return instance
    return "x"


ODD = [float("nan"), float("inf"), float("-inf"), "x", True, [], {}]


def mutations(value: Any, annotation: Any = None) -> st.SearchStrategy[Any]:
    """Values to put in place of `value`: out of bounds, of the wrong type, another of its kind, or far away."""
    if value is None:
        value = _example(annotation)
    odd = st.sampled_from(ODD)
    literal = [a for a in typing.get_args(annotation) if isinstance(a, str)] if annotation is not None else []
    if typing.get_origin(annotation) is typing.Literal and literal:
        return st.one_of(st.sampled_from(literal), odd, st.sampled_from(["", "XX"]))
    if isinstance(value, bool):
        return st.one_of(st.just(not value), odd)
    if isinstance(value, int | float):
        scaled = st.sampled_from([0, -1, 0.5, 2, 1000]).map(lambda k: type(value)(value * k) if value else k)
        return st.one_of(scaled, odd, st.sampled_from([-1e-9, 1.0 + 1e-9, 2.0**63]))
    if isinstance(value, dt.date):
        return st.one_of(st.sampled_from([dt.date(1990, 1, 1), dt.date(2022, 3, 1), dt.date(2031, 1, 1)]), odd)
    if isinstance(value, list):
        return st.one_of(st.sampled_from([[], ["RU"], ["XX"], ["GE", "GE"], [1.0]]), odd)
    if isinstance(value, dict):
        return st.one_of(st.sampled_from([{}, {"XX": 0.5}, {"RU": 2.0}]), odd)
    return st.one_of(st.sampled_from(["", "RU", "XX", "GE", "air", "land", "visa", "welcoming", "shock"]), odd)


# the scenario's own chain and horizon get their own values: a long horizon would be slow, a path must stay a path
SPECIAL: dict[tuple[str, ...], list[Any]] = {
    ("scenario", "days"): [0, -1, 1, 6, 7, 30, 3651, 2.5, float("nan"), "x", True],
    ("scenario", "extends"): ["", ".", "fuzz.toml", "missing.toml", 1.5, [], True],
    ("scenario", "targets"): ["", ".", "missing.csv", "fuzz.toml", 1.5, [], True],
}
BASE_RAW = read_raw(BASELINE)
RESOLVED = load_scenario(BASELINE).model_dump()
RESOLVED["scenario"]["extends"] = BASELINE.as_posix()
PATHS = [p for p in schema_paths(Scenario, RESOLVED) if p[0] != ("Scenario", "scenario")]
FIELDS = sorted({p[0] for p in PATHS})  # (model, field): each drawn as often as any other
BY_FIELD: dict[tuple[str, str], list[tuple[tuple[Any, ...], Any, Any]]] = defaultdict(list)
for _field, _path, _value, _annotation in PATHS:
    BY_FIELD[_field].append((_path, _value, _annotation))


@st.composite
def mutated_field(draw: st.DrawFn) -> tuple[tuple[Any, ...], Any]:
    field = draw(st.sampled_from(FIELDS))
    path, value, annotation = draw(st.sampled_from(BY_FIELD[field]))
    if path in SPECIAL:
        return path, draw(st.sampled_from(SPECIAL[path]))
    return path, draw(mutations(value, annotation))


def scenario_file(folder: Path, path: tuple[Any, ...], value: Any, name: str = "fuzz.toml") -> Path:
    """A file that extends the baseline and changes one field (written as a dotted key)."""
    meta = {"extends": BASELINE.as_posix(), "name": "fuzz"}
    text = ""
    if path[0] == "scenario":
        meta[path[1]] = value
    else:
        text = f"{'.'.join(json.dumps(str(part)) for part in path)} = {toml_value(value)}\n"
    text += "[scenario]\n" + "".join(f"{key} = {toml_value(v)}\n" for key, v in meta.items())
    file = folder / name
    file.write_text(text, encoding="utf-8")
    tomllib.loads(text)  # the fuzz writes valid TOML: what is tested is the model's checks
    return file


def run_argv(file: Path, out: Path, path: tuple[Any, ...]) -> list[str]:
    days = [] if path == ("scenario", "days") else ["--set", f"scenario.days={DAYS}"]  # the file's own days
    return ["run", str(file), "--out", str(out), *TINY, *days]


def assert_population_conserved(out: Path) -> None:
    record = json.loads((out / "run.json").read_text())
    population = record["population"]
    totals: dict[tuple[str, str], int] = defaultdict(int)
    with (out / "daily.csv").open(newline="") as fh:
        for row in csv.DictReader(fh):
            assert int(row["stock"]) >= 0, row
            totals[row["date"], row["segment"]] += int(row["stock"])
    assert len(totals) == record["days"] * len(population)
    assert all(total == population[seg] for (_, seg), total in totals.items())
    for table in ("daily.csv", "jobs.csv", "queues.csv", "firms.csv", "tax.csv", "outflow.png"):
        assert (out / table).is_file(), table


def named_fields(err: str) -> list[str]:
    return [line.split("field ", 1)[1].split(":")[0] for line in err.splitlines() if "field " in line]


def assert_refused_by_name(err: str, file: str, field: str, value: Any = None) -> None:
    """One message: the file and one field (on one line, or the file then the field), no traceback. A table put in
    (`{"XX": 0.5}`) may break several fields under it: one line each."""
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) <= 2 or (isinstance(value, dict | list) and all(x.startswith("  field ") for x in lines[1:])), err
    assert file in err, (file, err)
    named = named_fields(err) or [f for f in ("fields",) if f in err]
    assert named and any(n.startswith(field) or field.startswith(n) for n in named), (field, err)


def _table_name(path: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in path[:2])


def check_scenario_run(folder: Path, capsys: pytest.CaptureFixture, path: tuple[Any, ...], value: Any) -> int:
    """Run a scenario with one field changed: a whole folder whose population adds up, or status 2 and a message
    naming the file and the field; nothing else left in `folder`. Returns the exit status."""
    file = scenario_file(folder, path, value)
    out = folder / "out"
    capsys.readouterr()
    status = main(run_argv(file, out, path))  # a traceback fails the test: only user errors are caught
    err = "\n".join(line for line in capsys.readouterr().err.splitlines() if not line.startswith("warning: "))
    assert sorted(p.name for p in folder.iterdir()) == sorted(["fuzz.toml", *(["out"] if status == 0 else [])])
    if status == 0:
        assert_population_conserved(out)
        return status
    assert status == 2, err
    assert_refused_by_name(err, "fuzz.toml", _table_name(path), value)
    return status


@settings(SETTINGS, max_examples=40)
@given(change=mutated_field())
def test_a_mutated_scenario_runs_cleanly_or_is_refused_by_name(
    tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture, change: tuple[tuple[Any, ...], Any]
) -> None:
    status = check_scenario_run(tmp_path_factory.mktemp("fuzz"), capsys, *change)
    event("ran" if status == 0 else f"exit {status}")


@pytest.mark.parametrize(
    ("path", "value"), [(path, value) for path, values in SPECIAL.items() for value in values], ids=repr
)
def test_the_chain_the_targets_and_the_horizon_run_cleanly_or_are_refused_by_name(
    tmp_path: Path, capsys: pytest.CaptureFixture, path: tuple[str, ...], value: Any
) -> None:
    """The scenario's own fields, which the draw above reaches rarely: each value in turn."""
    check_scenario_run(tmp_path, capsys, path, value)


@settings(SETTINGS, max_examples=400)
@given(change=mutated_field())
def test_a_mutated_scenario_loads_or_is_refused_by_name(
    tmp_path_factory: pytest.TempPathFactory, change: tuple[tuple[Any, ...], Any]
) -> None:
    """Many more mutations, loaded only (as `exodus run` does before it simulates): a clean load, or one error naming
    the file and the field."""
    path, value = change
    file = scenario_file(tmp_path_factory.mktemp("load"), path, value)
    overrides = {} if path == ("scenario", "days") else {"scenario.days": DAYS}
    try:
        scenario = load_scenario(file, overrides)
    except ScenarioError as err:
        assert_refused_by_name(str(err), "fuzz.toml", _table_name(path), value)
        return
    assert scenario.days >= 1


def test_every_field_of_the_schema_is_reachable_by_the_fuzzer() -> None:
    """Every field of every model of the scenario schema is a fuzz candidate, with at least one place in the valid
    file: a new field is fuzzed without a change here, and a field the fuzzer cannot reach fails this test."""
    unreachable = schema_fields(Scenario) - set(FIELDS) - {("Scenario", "scenario")}
    assert not unreachable, f"fields of the schema the fuzzer never mutates: {sorted(unreachable)}"
    assert all(BY_FIELD[f] for f in FIELDS)
    assert {p[0][0] for p in PATHS} >= {"Meta", "SegmentSpec", "LocationSpec", "RouteSpec", "PolicyEvent", "Hazard"}
    assert len(PATHS) > 500


def test_the_schema_walk_sees_a_new_field() -> None:
    """The walk reads the models, not a list: a model with one more field gives one more fuzz candidate."""
    from exodus.model.scenario import Hazard

    grown = types.new_class("Hazard", (Hazard,), exec_body=lambda ns: ns.update({"__annotations__": {"new": float}}))
    assert ("Hazard", "new") in schema_fields(grown)
    assert ("Hazard", "new") in {p[0] for p in schema_paths(grown, {})}


def test_every_field_refuses_a_value_of_the_wrong_kind_by_name(tmp_path: Path) -> None:
    """Each place of each field in turn, loaded (not run): NaN and infinity in every number, a word in every number,
    date, flag, table and list, a number in every text. All refused, each naming the file and the field."""
    checked = 0
    for _, path, value, annotation in PATHS:
        if value is None:
            value = _example(annotation)
        if annotation is Any or path == ("calibration",) or path[:1] == ("calibration",):
            continue  # the calibration's notes: free-form
        if isinstance(value, bool):
            wrong: list[Any] = ["x"]
        elif isinstance(value, int | float):
            wrong = [float("nan"), float("inf"), float("-inf"), "x"]
        elif isinstance(value, str):
            wrong = [1.5]
        else:
            wrong = ["x"]
        for bad in wrong:  # as load_scenario validates a file that sets this field (and faster than writing one)
            raw = copy.deepcopy(BASE_RAW)
            node = raw
            for key in path[:-1]:
                node = node.setdefault(key, {})
            node[path[-1]] = bad
            if path != ("scenario", "days"):
                raw["scenario"]["days"] = DAYS
            with pytest.raises(ScenarioError) as info:
                validate(raw, "fuzz.toml")
            message = str(info.value)
            field = ".".join(str(p) for p in path)
            assert "fuzz.toml" in message and f"field {field}" in message, (field, bad, message)
            checked += 1
    assert checked > 1500


# -- targets files: each cell mutated, then run ----------------------------------------------------------------------
ROWS = list(csv.reader(TARGETS.open(newline="", encoding="utf-8")))
COLUMNS = ROWS[0]
CODES = load_scenario(BASELINE).locations
READ = (*REQUIRED, "location", "kind", "quote_or_note", "role", "reasoning")  # the columns load_targets reads
CELLS = ["", "nan", "inf", "-1", "0", "1e30", "x", "2030-01-01", "2022-03-01", "XX", "EU+FI", "GE", "all", "\x00"]
CELLS += ["arrivals", "share_returned", "stock_change", "holdout", "fit", "it", "1.5", "it_first_wave"]


def test_every_column_the_targets_loader_reads_is_fuzzed() -> None:
    assert set(READ) <= set(COLUMNS), sorted(set(READ) - set(COLUMNS))


def targets_scenario(folder: Path, rows: list[list[str]]) -> Path:
    targets = folder / "targets.csv"
    with targets.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    file = folder / "scenario.toml"
    file.write_text(f'[scenario]\nextends = "{BASELINE.as_posix()}"\nname = "fuzz"\ntargets = "targets.csv"\n')
    return targets


@settings(SETTINGS, max_examples=20)
@given(row=st.integers(1, len(ROWS) - 1), column=st.sampled_from(COLUMNS), value=st.sampled_from(CELLS))
def test_a_mutated_targets_file_runs_cleanly_or_is_refused_by_name(
    tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture, row: int, column: str, value: str
) -> None:
    rows = [list(r) for r in ROWS]
    rows[row][COLUMNS.index(column)] = value
    folder = tmp_path_factory.mktemp("targets")
    targets_scenario(folder, rows)
    out = folder / "out"
    capsys.readouterr()
    status = main(["run", str(folder / "scenario.toml"), "--out", str(out), *TINY, "--set", f"scenario.days={DAYS}"])
    err = "\n".join(line for line in capsys.readouterr().err.splitlines() if not line.startswith("warning: "))
    event("ran" if status == 0 else f"exit {status}")
    expected = ["scenario.toml", "targets.csv", *(["out"] if status == 0 else [])]
    assert sorted(p.name for p in folder.iterdir()) == sorted(expected)
    if status == 0:
        assert_population_conserved(out)
        return
    assert status == 2, err
    assert "targets.csv" in err and len(err.strip().splitlines()) == 1, err
    assert f"field {column}" in err or ("fields " in err and column in err) or "field id" in err, (column, err)


@settings(SETTINGS, max_examples=150)
@given(row=st.integers(1, len(ROWS) - 1), column=st.sampled_from(COLUMNS), value=st.sampled_from(CELLS))
def test_a_mutated_targets_file_loads_or_is_refused_by_name(
    tmp_path_factory: pytest.TempPathFactory, row: int, column: str, value: str
) -> None:
    """Many more cells, loaded as a calibration loads them (windows inside the run, locations of the scenario)."""
    rows = [list(r) for r in ROWS]
    rows[row][COLUMNS.index(column)] = value
    file = targets_scenario(tmp_path_factory.mktemp("targets"), rows)
    try:
        load_targets(file, dt.date(2022, 2, 24), 730, CODES)
    except TargetsError as err:
        assert str(file) in str(err) and "\n" not in str(err), err
        assert f"field {column}" in str(err) or column in str(err) or "field id" in str(err), (column, err)


# -- sweep files: each field of the schema mutated, then swept --------------------------------------------------------
def tiny_sweep() -> dict[str, Any]:
    """smoke.toml shrunk to 2 runs of 30 days at scale 0.001, with every optional table present."""
    raw = tomllib.loads(SMOKE.read_text(encoding="utf-8"))
    raw["sweep"] |= {"scenario": BASELINE.as_posix(), "seeds": 1, "scale": 0.001, "days": DAYS}
    raw["sweep"]["metrics"] = [
        "cumulative_departures:all:2022-03-20",
        "departures:all:2022-03-01:2022-03-05",
        "stock_abroad:all:2022-03-20",
    ]
    raw["design"] |= {"samples": 2}
    raw["set"] = {"behaviour.airfares.elasticity": 1.0}
    return raw


SWEEP_BASE = tiny_sweep()
SWEEP_SPEC = SweepSpec.model_validate(SWEEP_BASE).model_dump()
SWEEP_SPEC["sweep"]["scenario"] = BASELINE.as_posix()
SWEEP_PATHS = [p for p in schema_paths(SweepSpec, SWEEP_SPEC) if p[1] != ("sweep", "scenario")]
SWEEP_FIELDS = sorted({p[0] for p in SWEEP_PATHS})
# what may be swept at once without making the test slow: runs x days x scale
SWEEP_BUDGET = 4 * DAYS * 0.002


def test_every_field_of_the_sweep_schema_is_reachable_by_the_fuzzer() -> None:
    unreachable = schema_fields(SweepSpec) - set(SWEEP_FIELDS) - {("Meta", "scenario")}
    assert not unreachable, f"fields of the sweep schema the fuzzer never mutates: {sorted(unreachable)}"


def write_sweep(file: Path, raw: dict[str, Any]) -> None:
    file.write_text("".join(f"{key} = {toml_value(value)}\n" for key, value in raw.items()), encoding="utf-8")
    tomllib.loads(file.read_text(encoding="utf-8"))


@st.composite
def mutated_sweep(draw: st.DrawFn) -> tuple[tuple[Any, ...], Any, dict[str, Any]]:
    field = draw(st.sampled_from(SWEEP_FIELDS))
    path, value, annotation = draw(st.sampled_from([(p, v, a) for f, p, v, a in SWEEP_PATHS if f == field]))
    raw = json.loads(json.dumps(SWEEP_BASE))
    node: Any = raw
    for key in path[:-1]:
        node = node.setdefault(key, {}) if isinstance(node, dict) else node[key]
    node[path[-1]] = mutated = draw(mutations(value, annotation))
    event(".".join(str(p) for p in path))
    return path, mutated, raw


def assert_sweep_refused_by_name(err: str, file: Path, mutated: Any) -> None:
    """The sweep file, then one line per field; one field for a value (a table replaced whole may lose several)."""
    lines = err.strip().splitlines()
    assert str(file) in lines[0] and "Traceback" not in err, err
    assert "field " in err, err
    assert all(line.startswith("  field ") for line in lines[1:]), err
    assert len(lines) <= 2 or isinstance(mutated, dict | list), err


def _sweep_workload(file: Path) -> float | None:
    try:
        sweep = load_sweep(file)
    except (SweepError, ScenarioError):
        return None
    return len(sweep.runs) * (sweep.spec.sweep.days or 730) * sweep.spec.sweep.scale


def assert_sweep_complete(out: Path, every_failed: bool) -> None:
    record = json.loads((out / "sweep.json").read_text())
    assert record["complete"], record
    with (out / "runs.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["run_id"] for r in rows] == record["runs"]
    for row in rows:
        if row["status"] == "ok":
            table = pq.read_table(out / "series" / f"{row['run_id']}.parquet").to_pandas()
            totals = table.groupby(["date", "segment"], observed=True)["stock"].sum().unstack()
            assert (totals.nunique() == 1).all(), f"{row['run_id']}: the population changes over time"
        else:
            assert "field " in row["error"] or "ValidationError" in row["error"] or "invalid" in row["error"], row
    assert every_failed == all(r["status"] != "ok" for r in rows)


def sweep_change(*changes: tuple[tuple[Any, ...], Any]) -> tuple[tuple[Any, ...], Any, dict[str, Any]]:
    """The tiny sweep with these fields set: examples the draw reaches rarely."""
    raw = json.loads(json.dumps(SWEEP_BASE))
    for path, value in changes:
        node: Any = raw
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return changes[-1][0], changes[-1][1], raw


@settings(SETTINGS, max_examples=25)
@example(change=sweep_change((("sweep", "name"), "smoke")))  # as it is
@example(change=sweep_change((("parameter", 0, "low"), -4.5)))  # some runs out of the field's range: recorded
@example(change=sweep_change((("parameter", 0, "low"), -4.5), (("parameter", 0, "high"), -1.5)))  # all: exit 1
@example(change=sweep_change((("design", "method"), "sobol"), (("parameter", 1, "integer"), True)))
@given(change=mutated_sweep())
def test_a_mutated_sweep_file_sweeps_cleanly_or_is_refused_by_name(
    tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture, change: tuple[Any, Any, dict[str, Any]]
) -> None:
    _, mutated, raw = change
    folder = tmp_path_factory.mktemp("sweep")
    file = folder / "sweep.toml"
    write_sweep(file, raw)
    workload = _sweep_workload(file)
    if workload is not None and workload > SWEEP_BUDGET:
        event("valid, too big to sweep here")
        return
    out = folder / "out"
    capsys.readouterr()
    status = main(["sweep", str(file), "--out", str(out), "--workers", "1", "--quiet"])
    err = capsys.readouterr().err
    event(f"exit {status}")
    if status in (0, 1):  # 1: every run failed, each recorded with its error
        assert sorted(p.name for p in folder.iterdir()) == ["out", "sweep.toml"]
        assert_sweep_complete(out, every_failed=status == 1)
        return
    assert status == 2, err
    assert sorted(p.name for p in folder.iterdir()) == ["sweep.toml"]
    assert_sweep_refused_by_name(err.removeprefix("exodus sweep: error: "), file, mutated)


@settings(SETTINGS, max_examples=200)
@given(change=mutated_sweep())
def test_a_mutated_sweep_file_loads_or_is_refused_by_name(
    tmp_path_factory: pytest.TempPathFactory, change: tuple[Any, Any, dict[str, Any]]
) -> None:
    _, mutated, raw = change
    file = tmp_path_factory.mktemp("sweep") / "sweep.toml"
    write_sweep(file, raw)
    try:
        load_sweep(file)
    except (SweepError, ScenarioError) as err:
        assert_sweep_refused_by_name(str(err), file, mutated)
