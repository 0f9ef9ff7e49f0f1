"""`exodus plot`: batches, sweeps and single runs drawn together, written as PNG and SVG."""

from __future__ import annotations

import csv
import itertools
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import DateFormatter
from matplotlib.figure import Figure
from matplotlib.text import Annotation

from exodus.experiments.analyses.batch import run_batch
from exodus.experiments.cli.main import main
from exodus.experiments.core.results import load_folder
from exodus.experiments.core.targets import load_targets
from exodus.experiments.figures.ensembles import _band, band_name, results_figure

REPO = Path(__file__).resolve().parent.parent
SCENARIOS = [REPO / "scenarios" / "baseline.toml", REPO / "scenarios" / "no_mobilisation.toml"]
DAYS = 240  # to late October 2022: past the mobilisation, so several reported figures fall in the run
SWEEP = f"""
[sweep]
name = "tiny"
scenario = "{(REPO / "scenarios" / "baseline.toml").as_posix()}"
seeds = 1
scale = 0.002
days = {DAYS}
metrics = ["cumulative_departures:all:2022-09-30"]

[[parameter]]
path = "behaviour.hazard.alarm"
values = [2.0, 3.0]
"""


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("plot")
    batch = run_batch(
        SCENARIOS, 2, root / "batch", scale=0.002, workers=1, progress=False, overrides={"scenario.days": DAYS}
    )
    (root / "tiny.toml").write_text(SWEEP)
    assert main(["sweep", str(root / "tiny.toml"), "--out", str(root / "sweep"), "--workers", "1", "--quiet"]) == 0
    return {"batch": batch, "sweep": root / "sweep", "run": batch / "baseline" / "seed0", "root": root}


def check_figure(stem: Path) -> str:
    png, svg = stem.with_suffix(".png"), stem.with_suffix(".svg")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 50_000  # a drawn figure, not an empty canvas
    text = svg.read_text()
    ET.fromstring(text)  # well-formed
    return text


def test_batch_plot_writes_png_and_svg_with_comparison(folders: dict[str, Path], capsys: pytest.CaptureFixture) -> None:
    stem = folders["root"] / "figs" / "batch"
    assert main(["plot", str(folders["batch"]), "--out", str(stem) + ".png"]) == 0
    assert capsys.readouterr().out.split() == [str(stem) + ".png", str(stem) + ".svg"]
    svg = check_figure(stem)
    for words in (
        "Daily departures from Russia",
        "Cumulative departures from Russia",
        "Difference from baseline",
        "Returns to Russia",
        "Present in Kazakhstan (KZ)",
        "Abroad: foreign employer",
        "Tax take: taxpayers abroad",
        "Russian tech workers are fleeing the country",  # the sources by title, in the caption
        "no_mobilisation (2 seeds)",
        "band: range of the 2 seeds (lowest to highest)",
    ):
        assert words in svg, words
    assert "reported_figures.csv" not in svg and "it_first_wave" not in svg  # no file names or ids for readers


def test_sweep_and_run_can_be_drawn_together(folders: dict[str, Path]) -> None:
    stem = folders["root"] / "figs" / "mixed"
    assert main(["plot", str(folders["sweep"]), str(folders["run"]), "--out", str(stem), "--title", "Mixed"]) == 0
    svg = check_figure(stem)
    assert "sweep tiny (2 runs" in svg and "baseline (seed 0)" in svg
    assert "Difference from" not in svg  # a sweep's runs are not paired by seed: no comparison panel


def test_plot_of_a_folder_without_results_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["plot", str(tmp_path), "--out", str(tmp_path / "fig")]) == 2
    assert "holds no run" in capsys.readouterr().err
    assert not list(tmp_path.glob("fig*"))


def test_bands_are_the_percentiles_over_runs() -> None:
    import numpy as np

    values = np.arange(100, dtype=float).reshape(20, 5)
    median, low, high = _band(values)
    assert np.allclose(median, np.median(values, axis=0))
    assert np.allclose(low, np.percentile(values, 5, axis=0)) and np.allclose(high, np.percentile(values, 95, axis=0))
    assert band_name([20, 1]) == "5th-95th percentile of 20 runs"


def test_below_ten_runs_the_band_is_the_range_and_says_so() -> None:
    import numpy as np

    values = np.arange(15, dtype=float).reshape(3, 5)
    median, low, high = _band(values)
    assert np.allclose(low, values[0]) and np.allclose(high, values[-1]) and np.allclose(median, values[1])
    assert band_name([3, 3], "seeds") == "range of the 3 seeds (lowest to highest)"
    assert band_name([3, 1]) == "range of the 3 runs (lowest to highest)"
    assert "percentile" not in band_name([9, 4], "seeds")
    assert "range, lowest to highest, where there are only 3" in band_name([3, 12])
    assert band_name([12, 12], "seeds") == "5th-95th percentile of 12 seeds"


# the panels: each must be there, with dates, units, and the quantity it names ------------------------------------
PANELS = {  # title (its start): the y axis label (with the unit) where the panel has one
    "Daily departures from Russia": "persons per day",
    "Cumulative departures from Russia": "persons (cumulative)",
    "Present in Kazakhstan (KZ)": "",  # the unit is on the first panel of each row, whichever place leads
    "Abroad: persons outside Russia": "persons abroad",
    "Returns to Russia": "persons (cumulative)",
    "Abroad: remote, Russian employer": "persons abroad, by job",
    "Abroad: foreign employer": "",
    "Abroad: relocated Russian firm": "",
    "Abroad: without work": "",
    "Abroad: grey pay": "",
    "Tax take: taxpayers in Russia": "USD million per day",
    "Tax take: taxpayers abroad": "",
    "Tax lost abroad": "",
    "Difference from baseline: cumulative departures": "persons (difference)",
    "Difference from baseline: persons abroad": "persons (difference)",
    "Difference from baseline: Russia's tax take": "USD million per day",
}


@pytest.fixture(scope="module")
def batch_figure(folders: dict[str, Path]) -> Figure:
    return results_figure([folders["batch"]])


def panel(fig: Figure, start: str):
    found = [ax for ax in fig.axes if ax.get_title(loc="left").startswith(start)]
    assert found, f"no panel titled {start!r}"
    return found[0]


def test_every_panel_is_drawn_with_dates_and_units(batch_figure: Figure) -> None:
    for start, unit in PANELS.items():
        ax = panel(batch_figure, start)
        assert ax.lines, f"{start}: nothing drawn"
        assert isinstance(ax.xaxis.get_major_formatter(), DateFormatter), f"{start}: no dates on the time axis"
        if unit:
            assert ax.get_ylabel() == unit, start
    titles = [ax.get_title(loc="left") for ax in batch_figure.axes if ax.get_title(loc="left")]
    # a panel this test does not know fails it, so that a new panel gets its check here
    assert all(any(t.startswith(s) for s in PANELS) or t.startswith("Present in ") for t in titles), titles
    assert sum(t.startswith("Present in ") for t in titles) >= 8
    present = [ax for ax in batch_figure.axes if ax.get_title(loc="left").startswith("Present in ")]
    assert present[0].get_ylabel() == "persons present"


def test_destination_panels_show_persons_present_not_cumulative_arrivals(
    folders: dict[str, Path], batch_figure: Figure
) -> None:
    base = load_folder(folders["batch"])[0]
    drawn = panel(batch_figure, "Present in Kazakhstan (KZ)").lines[0].get_ydata()
    assert np.allclose(drawn, np.median(base.series("stock", "KZ"), axis=0))
    assert not np.allclose(drawn, np.median(np.cumsum(base.series("arrivals", "KZ"), axis=1), axis=0))


def by_run(folder: Path, file: str, columns: tuple[str, ...], residence: str | None = None) -> np.ndarray:
    """[seed, date]: the columns summed over segments (and residences, unless one is named) from each run's file."""
    runs = []
    for seed in sorted(folder.glob("seed*")):
        totals: dict[str, float] = {}
        with (seed / file).open(newline="") as fh:
            for r in csv.DictReader(fh):
                if residence is None or r["residence"] == residence:
                    totals[r["date"]] = totals.get(r["date"], 0.0) + sum(float(r[c]) for c in columns)
        runs.append([totals[d] for d in sorted(totals)])
    return np.array(runs)


def test_jobs_and_tax_panels_draw_jobs_csv_and_tax_csv(folders: dict[str, Path], batch_figure: Figure) -> None:
    baseline = folders["batch"] / "baseline"
    jobs = panel(batch_figure, "Abroad: foreign employer").lines[0].get_ydata()
    assert np.allclose(jobs, np.median(by_run(baseline, "jobs.csv", ("foreign_employer",)), axis=0))
    take = ("income_tax_usd", "insurance_premiums_usd", "penalty_tax_usd")
    for title, residence in (("Tax take: taxpayers abroad", "abroad"), ("Tax take: taxpayers in Russia", "home")):
        drawn = panel(batch_figure, title).lines[0].get_ydata()
        assert np.allclose(drawn, np.median(by_run(baseline, "tax.csv", take, residence), axis=0) / 1e6), title
    lost = ("lost_to_grey_pay_usd", "lost_to_foreign_employers_usd", "lost_to_no_work_usd")
    drawn = panel(batch_figure, "Tax lost abroad").lines[0].get_ydata()
    assert np.allclose(drawn, np.median(by_run(baseline, "tax.csv", lost, "abroad"), axis=0) / 1e6)


def test_reported_figures_are_numbered_apart_and_cited_by_title(batch_figure: Figure) -> None:
    canvas = FigureCanvasAgg(batch_figure)
    canvas.draw()
    renderer = canvas.get_renderer()
    labels = [a for ax in batch_figure.axes for a in ax.texts if isinstance(a, Annotation)]
    assert len(labels) >= 5
    boxes = [a.get_window_extent(renderer) for a in labels]
    for (i, a), (j, b) in itertools.combinations(enumerate(boxes), 2):
        assert not a.overlaps(b), (labels[i].get_text(), labels[j].get_text())
    caption = "\n".join(t.get_text() for ax in batch_figure.axes for t in ax.texts if not isinstance(t, Annotation))
    for label in labels:
        assert f"[{label.get_text()}] " in caption
    caption = " ".join(caption.split())  # as one line: the caption wraps
    targets = {f.id: f for f in load_targets(REPO / "scenarios" / "targets" / "reported_figures.csv")}
    for drawn in ("it_first_wave", "all_four_days", "all_week_after_mobilisation"):  # in the dates
        assert " ".join(targets[drawn].source.split()) in caption, drawn
    assert "Kim Sengupta, 'At least 260,000 Russians have fled since Putin's military call-up" in caption
    assert not any(fid in caption for fid in targets)
    assert "reported_figures.csv" not in caption


def test_the_caption_names_no_ids_even_where_a_source_points_at_another_figure() -> None:
    from exodus.experiments.figures.plot import number_figures, reported_caption

    figures = load_targets(REPO / "scenarios" / "targets" / "reported_figures.csv")
    caption = reported_caption(figures, [], True, number_figures(figures), figures=figures)
    assert not [f.id for f in figures if f.id in caption]
    assert "Re:Russia 'Escape from War" in caption and "https://re-russia.net/en/review/347/" in caption
