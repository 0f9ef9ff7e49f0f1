"""Read back what runs, batches and sweeps wrote, as ensembles of daily series.

An `Ensemble` is the daily table of several runs of one scenario (or of one
sweep) stacked on a first axis, one member a run, each in persons: the
seeds of a batch, the runs of a sweep, or a single run. Batch summaries and
plots start from these files, not from live models, so a result can be
looked at again without running it again.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from exodus.experiments.core.tables import DAILY_COLUMNS, Daily, read_daily

QUANTILES = (("median", 50.0), ("p05", 5.0), ("p95", 95.0))
ALL = "all"  # the segments summed
BATCH_MARKER = "batch.json"
SWEEP_MARKER = "sweep.json"
RUN_MARKER = "run.json"
SUMMARY = "ensemble.csv"


class ResultsError(ValueError):
    """A folder that holds no run, batch or sweep, or runs that cannot be stacked."""


@dataclass(frozen=True)
class Ensemble:
    """Daily tables of several runs: each column is [member, date, location, segment], in persons."""

    label: str
    kind: str  # "run", "batch" or "sweep"
    source: Path
    dates: np.ndarray  # datetime64[D]
    locations: list[str]
    segments: list[str]
    seeds: list[int]  # of each member
    columns: dict[str, np.ndarray]
    targets: Path | None = None
    scale: float | None = None
    place_names: dict[str, str] = field(default_factory=dict)  # location code: name

    def place(self, code: str) -> str:
        name = self.place_names.get(code)
        return f"{name} ({code})" if name else code

    @property
    def size(self) -> int:
        return len(self.seeds)

    @property
    def paired(self) -> bool:
        """One member per seed: members can be matched with another ensemble's by seed."""
        return len(set(self.seeds)) == len(self.seeds)

    def series(self, column: str, location: str | None = None, segment: str | None = None) -> np.ndarray:
        """[member, date], summed over all locations or segments when one is not named."""
        values = self.columns[column]
        values = values.sum(axis=2) if location is None else values[:, :, self.locations.index(location)]
        return values.sum(axis=2) if segment in (None, ALL) else values[:, :, self.segments.index(segment)]

    def median(self) -> Daily:
        """The median over members, date by date (a curve no single run need follow)."""
        columns = {c: np.median(v, axis=0) for c, v in self.columns.items()}
        return Daily(self.dates, self.locations, self.segments, columns)


def stack(dailies: list[Daily], where: list[Path]) -> tuple[np.ndarray, list[str], list[str], dict[str, np.ndarray]]:
    """Stack daily tables that cover the same dates, locations and segments."""
    first = dailies[0]
    for daily, path in zip(dailies[1:], where[1:], strict=True):
        if (
            len(daily.dates) != len(first.dates)
            or (daily.dates != first.dates).any()
            or daily.locations != first.locations
            or daily.segments != first.segments
        ):
            raise ResultsError(f"{path}: dates, locations or segments differ from {where[0]}; cannot stack them")
    columns = {c: np.stack([d.columns[c] for d in dailies]) for c in DAILY_COLUMNS}
    return first.dates, first.locations, first.segments, columns


def _targets(text: str | None, base: Path) -> Path | None:
    if not text:
        return None
    path = Path(text)
    if not path.is_absolute():
        path = base / path
    return path if path.is_file() else None


def _names(scenario: dict | None) -> dict[str, str]:
    locations = (scenario or {}).get("locations") or {}
    return {code: spec.get("name", "") for code, spec in locations.items() if isinstance(spec, dict)}


def _scenario_tables(path: str | None) -> dict | None:
    """A sweep's base scenario, for the names of places; None if it is gone or broken (names are a nicety)."""
    from exodus.model.scenario import ScenarioError, read_raw

    if not path:
        return None
    try:
        return read_raw(Path(path))
    except (ScenarioError, OSError):
        return None


def load_runs(folders: list[Path], label: str, kind: str, source: Path) -> Ensemble:
    """Runs written by `exodus run` (or a batch), stacked."""
    if not folders:
        raise ResultsError(f"{source}: no runs")
    records = [json.loads((f / RUN_MARKER).read_text(encoding="utf-8")) for f in folders]
    dates, locations, segments, columns = stack([read_daily(f / "daily.csv") for f in folders], folders)
    return Ensemble(
        label=label,
        kind=kind,
        source=source,
        dates=dates,
        locations=locations,
        segments=segments,
        seeds=[int(r["seed"]) for r in records],
        columns=columns,
        targets=_targets(records[0].get("targets_path"), Path.cwd()),
        scale=records[0].get("scale"),
        place_names=_names(records[0].get("scenario")),
    )


def seed_folders(scenario_dir: Path) -> list[Path]:
    """`seed<k>` folders holding a run, in seed order."""
    found = [p for p in scenario_dir.glob("seed*") if p.name[4:].isdigit() and (p / RUN_MARKER).is_file()]
    return sorted(found, key=lambda p: int(p.name[4:]))


def load_folder(path: str | Path) -> list[Ensemble]:
    """The ensembles in a run, batch, batch scenario or sweep folder."""
    path = Path(path)
    if not path.is_dir():
        raise ResultsError(f"{path}: not a folder")
    if (path / BATCH_MARKER).is_file():
        record = json.loads((path / BATCH_MARKER).read_text(encoding="utf-8"))
        return [
            load_runs(seed_folders(path / s["name"]), s["name"], "batch", path / s["name"]) for s in record["scenarios"]
        ]
    if (path / SWEEP_MARKER).is_file():
        return [load_sweep_series(path)]
    if (path / RUN_MARKER).is_file():
        record = json.loads((path / RUN_MARKER).read_text(encoding="utf-8"))
        return [load_runs([path], f"{record['scenario_name']} (seed {record['seed']})", "run", path)]
    if seed_folders(path):
        return [load_runs(seed_folders(path), path.name, "batch", path)]
    raise ResultsError(f"{path}: holds no run ({RUN_MARKER}), batch ({BATCH_MARKER}) or sweep ({SWEEP_MARKER})")


def load_sweep_series(path: Path) -> Ensemble:
    """Every finished, successful run of a sweep, as one ensemble (its spread: parameters and seeds together)."""
    import pyarrow.parquet as pq

    record = json.loads((path / SWEEP_MARKER).read_text(encoding="utf-8"))
    runs_csv = path / "runs.csv"
    if not runs_csv.is_file():
        raise ResultsError(f"{path}: no runs.csv yet; run the sweep first")
    with runs_csv.open(newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["status"] == "ok"]
    files = [path / "series" / f"{r['run_id']}.parquet" for r in rows]
    files = [f for f in files if f.is_file()]
    if not files:
        raise ResultsError(f"{path}: no successful runs with a daily series")
    dailies = [_daily_from_table(pq.read_table(f)) for f in files]
    seeds = [int(r["seed"]) for r in rows if (path / "series" / f"{r['run_id']}.parquet").is_file()]
    dates, locations, segments, columns = stack(dailies, files)
    return Ensemble(
        label=f"sweep {record['name']}",
        kind="sweep",
        source=path,
        dates=dates,
        locations=locations,
        segments=segments,
        seeds=seeds,
        columns=columns,
        targets=_targets(record.get("targets_path"), path),
        scale=record.get("scale"),
        place_names=_names(_scenario_tables(record.get("scenario_file"))),
    )


def _labels(column: Any) -> tuple[list[str], np.ndarray]:
    """A string column as (labels in order of first use, index of each row's label)."""
    import pyarrow as pa

    array = column.combine_chunks()
    if pa.types.is_dictionary(array.type):
        return [str(x) for x in array.dictionary.to_pylist()], array.indices.to_numpy(zero_copy_only=False)
    values = array.to_pylist()
    labels = list(dict.fromkeys(values))
    where = {label: i for i, label in enumerate(labels)}
    return labels, np.array([where[v] for v in values])


def _daily_from_table(table: Any) -> Daily:
    """A run's series (Parquet, long format as written by a sweep) as arrays."""
    row_dates = table.column("date").to_numpy().astype("datetime64[D]")
    dates = np.unique(row_dates)
    t = np.searchsorted(dates, row_dates)
    locations, j = _labels(table.column("location"))
    segments, s = _labels(table.column("segment"))
    columns = {}
    for name in DAILY_COLUMNS:
        values = np.zeros((len(dates), len(locations), len(segments)), dtype=np.int64)
        values[t, j, s] = table.column(name).to_numpy()
        columns[name] = values
    return Daily(dates, locations, segments, columns)


# batch summary -------------------------------------------------------------------
def _number(value: float) -> str:
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def summary_table(ensemble: Ensemble) -> str:
    """`ensemble.csv`: per date, location, segment (and `all`) and quantity, mean, median, p05 and p95 over runs.

    Quantiles are numpy's default (linear interpolation between the order
    statistics), taken date by date: the p95 curve is no single run's.
    """
    segments = [*ensemble.segments, ALL]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["date", "location", "segment", "quantity", "mean", *(name for name, _ in QUANTILES)])
    stats = {}
    for quantity in DAILY_COLUMNS:
        values = ensemble.columns[quantity].astype(np.float64)  # [member, date, loc, seg]
        values = np.concatenate([values, values.sum(axis=3, keepdims=True)], axis=3)
        qs = np.percentile(values, [q for _, q in QUANTILES], axis=0)
        stats[quantity] = (values.mean(axis=0), *qs)
    dates = [str(d) for d in ensemble.dates]
    for t, date in enumerate(dates):
        for j, loc in enumerate(ensemble.locations):
            for s, seg in enumerate(segments):
                for quantity in DAILY_COLUMNS:
                    writer.writerow([date, loc, seg, quantity, *(_number(a[t, j, s]) for a in stats[quantity])])
    return buf.getvalue()
