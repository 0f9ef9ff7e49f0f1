"""`exodus validate`, the target measures it reads, and the scale warnings of `exodus run`."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from conftest import Run

from exodus.experiments.analyses.run import scale_warnings
from exodus.experiments.analyses.validation import summary
from exodus.experiments.cli.main import main
from exodus.experiments.core.targets import Target, TargetsError, load_targets
from exodus.model import load_scenario

REPO = Path(__file__).resolve().parent.parent
BASELINE = REPO / "scenarios" / "baseline.toml"
TARGETS = REPO / "scenarios" / "targets" / "reported_figures.csv"


def target(measure: str, start: str, end: str, location: str = "", segment: str = "all") -> Target:
    return Target(
        "t", segment, measure, dt.date.fromisoformat(start), dt.date.fromisoformat(end), 1, 0, 2, 1, "test",
        location=location,
    )  # fmt: skip


def value(run: Run, t: Target) -> float:
    m = run.model
    return t.model_value(m.tally, m.scenario.start, m.workers.persons_per_agent, m.codes)


def test_stock_change_is_the_stock_on_the_last_day_less_the_day_before_the_first(baseline: Run) -> None:
    ppa = baseline.workers.persons_per_agent
    ge = baseline.loc("GE")
    got = value(baseline, target("stock_change", "2022-09-17", "2022-09-26", "GE"))
    stock = baseline.tally.stock[:, ge] @ ppa
    assert got == pytest.approx(stock[baseline.d("2022-09-26")] - stock[baseline.d("2022-09-16")])
    from_start = value(baseline, target("stock_change", "2022-02-24", "2022-09-26", "GE"))
    assert from_start == pytest.approx(stock[baseline.d("2022-09-26")])  # everybody starts in Russia


def test_the_residents_register_counts_those_abroad_holding_residence(baseline: Run) -> None:
    """The register kept on every move and permit decision agrees with the workers' own state at the end."""
    w, m = baseline.workers, baseline.model
    last = m.scenario.days - 1
    for code in ("TR", "RS", "IL"):
        j = baseline.loc(code)
        held = [(w.resident & (w.location == j) & (w.segment == s)).sum() for s in range(2)]
        assert list(baseline.tally.residents[last, j]) == held
        assert (baseline.tally.residents[:, j] <= baseline.tally.stock[:, j]).all()
    assert held[0] + held[1] > 0
    got = value(baseline, target("residents_change", "2022-06-01", "2022-09-30", "TR"))
    register = baseline.tally.residents[:, baseline.loc("TR")] @ w.persons_per_agent
    assert got == pytest.approx(register[baseline.d("2022-09-30")] - register[baseline.d("2022-05-31")])


def test_a_location_sum_adds_the_places(baseline: Run) -> None:
    both = value(baseline, target("stock_abroad", "2022-09-27", "2022-09-27", "EU+FI"))
    parts = [value(baseline, target("stock_abroad", "2022-09-27", "2022-09-27", c)) for c in ("EU", "FI")]
    assert both == pytest.approx(sum(parts))


def test_share_returned_is_returns_over_departures(baseline: Run) -> None:
    share = value(baseline, target("share_returned", "2022-02-24", "2022-11-01", segment="it"))
    it = baseline.it()
    left = baseline.left_russia(end="2022-11-02", who=it)
    back = baseline.count(dest="RU", end="2022-11-02", who=it)
    assert 0 < share < 1
    assert share == pytest.approx(back / left)


def test_arrivals_count_onward_moves_into_the_place(baseline: Run) -> None:
    arrivals = value(baseline, target("arrivals", "2022-02-24", "2022-11-01", "AM"))
    ppa = baseline.workers.persons_per_agent
    moved = baseline.agent[baseline.moves(dest="AM", end="2022-11-02")]
    assert arrivals > 0
    assert arrivals == pytest.approx(float(ppa[baseline.workers.segment[moved]].sum()))
    onward = baseline.count(origin=["GE", "KZ", "TR"], dest="AM", end="2022-11-02")
    assert arrivals > value(baseline, target("stock_abroad", "2022-11-01", "2022-11-01", "AM")) or onward == 0


def test_the_shipped_targets_name_their_role_and_reasoning() -> None:
    targets = load_targets(TARGETS)
    held = [t for t in targets if t.role == "holdout"]
    assert len(held) >= 8 and all(t.weight > 0 and not t.fitted for t in held)
    destination = [t for t in targets if t.places]
    assert {c for t in destination for c in t.places} >= {"GE", "AM", "KZ", "TR", "IL", "RS", "EU"}
    assert all(t.reasoning and t.source for t in destination)
    assert sum("http" in t.source for t in destination) >= len(destination) - 3  # a few cite a paper or agency only


def test_a_bad_role_or_share_is_refused(tmp_path: Path) -> None:
    header = "id,segment,measure,date_start,date_end,value,low,high,weight,source,role\n"
    bad_role = tmp_path / "role.csv"
    bad_role.write_text(header + "x,all,stock_abroad,2022-03-01,2022-03-01,5,1,9,1,s,maybe\n")
    with pytest.raises(TargetsError, match="field role"):
        load_targets(bad_role)
    bad_share = tmp_path / "share.csv"
    bad_share.write_text(header + "x,all,share_returned,2022-03-01,2022-04-01,0.5,0.1,1.5,1,s,fit\n")
    with pytest.raises(TargetsError, match="share"):
        load_targets(bad_share)


def test_run_warns_when_an_agent_outweighs_a_border_or_a_figure() -> None:
    scenario, targets = load_scenario(BASELINE), load_targets(TARGETS)
    assert scale_warnings(scenario, 1.0, targets) == []
    small = scale_warnings(scenario, 0.01, targets)
    assert any("the route RU-EU-land lets through" in w for w in small) and any("reported figure" in w for w in small)
    stripped = [dataclasses.replace(t, value=1e6, low=0, high=2e6) for t in targets if t.measure != "share_returned"]
    assert not any("reported figure" in w for w in scale_warnings(scenario, 0.05, stripped))


def test_validate_writes_the_table_the_figure_and_the_record(tmp_path: Path) -> None:
    out = tmp_path / "validation"
    args = ["validate", str(BASELINE), "--seeds", "2", "--scale", "0.002", "--workers", "1", "--out", str(out)]
    assert main([*args, "--quiet"]) == 0
    text = (out / "validation.md").read_text()
    assert "| fitted |" in text and "| held out (never shown to the fit) |" in text
    record = summary(out)
    targets = load_targets(TARGETS)
    assert set(record["values"]) == {t.id for t in targets}
    assert all(len(v) == 2 and np.all(np.isfinite(v)) for v in record["values"].values())
    assert record["git"]["commit"] and record["scenario"]["digest"]
    assert (out / "validation.png").stat().st_size > 10_000
