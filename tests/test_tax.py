"""Russia's tax take: money is conserved, and tax.csv splits it by where the taxpayer lives."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest
from conftest import SCENARIOS

from exodus.model import RelocationModel
from exodus.model.decision import DAYS_PER_MONTH
from exodus.model.locations import HOME
from exodus.model.outputs import TAX_TERMS, tax_table
from exodus.model.population import REMOTE_RU

DAYS = 380  # to 2023-03-09: a week into the penalty tax of 1 March 2023


@pytest.fixture(scope="module")
def taxed() -> RelocationModel:
    model = RelocationModel(SCENARIOS / "penalty_tax.toml", rng=3, scale=0.01, **{"scenario.days": DAYS})
    return model.run()


def test_what_workers_lose_to_the_penalty_is_what_russia_books(taxed: RelocationModel) -> None:
    w, t = taxed.workers, DAYS - 1
    rate = taxed.timeline.penalty_tax[t]
    assert rate > 0
    remote = np.flatnonzero((w.location != HOME) & (w.job == REMOTE_RU))
    assert len(remote) > 0
    market = taxed._market(t)  # the day's prices; pay_by_job reads only the penalty rate of that day from it
    paid = taxed.rules.pay_by_job(remote, w.location[remote].astype(int), market)[REMOTE_RU]
    untaxed = w.wage[remote].astype(np.float64)  # what the same job pays without the penalty
    lost = float(((untaxed - paid) * w.persons_per_agent[w.segment[remote]]).sum()) / DAYS_PER_MONTH
    booked = float(taxed.tally.tax[t, :, TAX_TERMS.index("penalty_tax")].sum())
    assert booked == pytest.approx(lost, rel=1e-6)  # float32 wages; the old booking was 15% off


def test_tax_csv_splits_home_and_abroad_and_adds_up_to_the_total(taxed: RelocationModel) -> None:
    rows = list(csv.DictReader(io.StringIO(tax_table(taxed.tally, taxed.dates()))))
    assert {row["residence"] for row in rows} == {"home", "abroad"}
    assert len(rows) == DAYS * 2 * 2
    total = np.zeros(len(TAX_TERMS))
    for row in rows:
        values = np.array([float(row[f"{term}_usd"]) for term in TAX_TERMS])
        if row["residence"] == "home":
            assert (values[2:] == 0).all()  # penalty and the losses fall on people abroad only
        total += values
    assert total == pytest.approx(taxed.tally.tax.sum(axis=(0, 1)), abs=0.005 * len(rows))  # rounded to cents
    abroad_penalty = sum(float(r["penalty_tax_usd"]) for r in rows if r["residence"] == "abroad")
    assert abroad_penalty > 0
