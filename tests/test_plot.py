"""`exodus plot`: batches, sweeps and single runs drawn together, written as PNG and SVG."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from exodus.experiments.batch import run_batch
from exodus.experiments.cli import main
from exodus.experiments.figures import _band, band_name

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
        "reported_figures.csv",  # the sources, in the caption
        "no_mobilisation (2 seeds)",
    ):
        assert words in svg, words


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
    assert band_name([20, 1]) == "5th-95th percentile over runs"


def test_below_ten_runs_the_band_is_the_range_and_says_so() -> None:
    import numpy as np

    values = np.arange(15, dtype=float).reshape(3, 5)
    median, low, high = _band(values)
    assert np.allclose(low, values[0]) and np.allclose(high, values[-1]) and np.allclose(median, values[1])
    assert band_name([3, 3]) == "min-max over runs"
    assert "min-max where fewer than 10" in band_name([3, 12])
