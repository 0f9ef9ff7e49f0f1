"""Each mechanism of docs/MODEL.md moves the outflow the way it should.

Every test compares two runs with one seed, so the random numbers agree
wherever the scenarios agree and the difference is the mechanism's effect
(`model/streams.py`). The tests assert directions with margins well inside
the effects, not calibrated numbers: the behaviour weights are retuned, and
where an effect is small the test strengthens the mechanism through
overrides rather than loosening the assertion. Weights under test are set
explicitly on both sides, so retuning the baseline does not move them.

A test marked `xfail(strict=True)` documents a mechanism that does not work
as it should (the reason says how); it fails loudly once the model is fixed.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import IT, Run, simulate

from exodus.model import RelocationModel
from exodus.model.locations import AIR, ENTRY_KINDS, HOME
from exodus.model.outputs import TAX_LOST, TaxTerm
from exodus.model.population import AT_HOME, FOREIGN, GREY, NO_WORK, RELOCATED, REMOTE_RU

LONG = 480  # to mid-June 2023: past the KZ stay limit (2023-01-27) and the penalty tax (2023-03-01)
PEACE = 209  # to 2022-09-20, the eve of mobilisation: for effects before it


def entry_codes(run: Run, kind: str) -> list[str]:
    """Destinations whose entry rule for Russians is `kind`."""
    entry = run.model.locations.entry
    return [c for j, c in enumerate(run.model.codes) if entry[j] == ENTRY_KINDS.index(kind)]


def air_only(run: Run) -> list[str]:
    """Destinations that can be reached from Russia by air only."""
    routes = run.model.routes
    from_home = routes.origin == HOME
    dests = set(routes.destination[from_home])
    by_land = set(routes.destination[from_home & (routes.mode != AIR)])
    return [run.model.codes[d] for d in sorted(dests - by_land)]


def persons_leaving_per_day(run: Run, start: str, end: str) -> float:
    """Departures from Russia in persons per day, both segments, over [start, end)."""
    tally = run.tally.departures[run.d(start) : run.d(end), HOME, :]
    return float((tally @ run.workers.persons_per_agent).sum()) / (run.d(end) - run.d(start))


def income_tax_per_day(run: Run, day: int) -> float:
    return float(run.tally.tax[day, :, TaxTerm.INCOME_TAX].sum())


# -- mobilisation ---------------------------------------------------------------------------------


def test_mobilisation_multiplies_daily_departures() -> None:
    # at scale 0.1: at the default 0.02 an agent outside IT stands for 4,000 persons, and two of them leaving in
    # the calm world's week would look like a spike
    called = simulate(scale=0.1)
    before = persons_leaving_per_day(called, "2022-09-01", "2022-09-21")
    week = persons_leaving_per_day(called, "2022-09-21", "2022-09-29")
    assert before > 0
    assert week > 3 * before

    calm = simulate("no_mobilisation", scale=0.1)
    before = persons_leaving_per_day(calm, "2022-09-01", "2022-09-21")
    week = persons_leaving_per_day(calm, "2022-09-21", "2022-09-29")
    assert week < 3 * before


def test_mobilisation_drives_out_men_of_military_age(baseline: Run) -> None:
    calm = simulate("no_mobilisation")
    w = baseline.workers
    for group in (w.military_age, w.reservist):
        assert baseline.leavers("2022-09-21", who=group) > 3 * calm.leavers("2022-09-21", who=group)
    # before the announcement the two worlds are the same
    assert baseline.leavers(end="2022-09-21") == calm.leavers(end="2022-09-21")


def test_it_deferment_keeps_deferrable_reservists_home() -> None:
    weak = simulate(**{"policy.it_mobilisation_exemption.level": 0.0})
    strong = simulate(**{"policy.it_mobilisation_exemption.level": 1.0})
    w = weak.workers
    deferrable = w.deferrable & w.reservist
    assert deferrable.sum() > 0
    assert strong.leavers("2022-09-23", who=deferrable) < 0.5 * weak.leavers("2022-09-23", who=deferrable)


def test_border_closure_stops_men_of_military_age_only(baseline: Run) -> None:
    closed = simulate("border_closure")
    w = baseline.workers
    after = "2022-09-28"
    assert baseline.leavers(after, who=w.military_age) > 0
    assert closed.leavers(after, who=w.military_age) < 0.1 * baseline.leavers(after, who=w.military_age)
    women = ~w.male
    assert 0.7 * baseline.leavers(after, who=women) <= closed.leavers(after, who=women)
    assert closed.leavers(after, who=women) <= 1.3 * baseline.leavers(after, who=women)
    assert closed.leavers(end=after) == baseline.leavers(end=after)


# -- borders and entry rules ----------------------------------------------------------------------


def test_closed_entry_means_no_arrivals(baseline: Run) -> None:
    closed = simulate(**{"locations.GE.entry": "closed"})
    assert baseline.count(dest="GE") > 0
    assert closed.count(dest="GE") == 0


def test_closed_land_border_cuts_arrivals() -> None:
    # the Baltic event is a land-border closure; point it at Georgia, reached by land only (GE_BY_LAND, below):
    # with its flights open, those shut out fly instead (arrivals fell by 8% only, at the fit of 3 December)
    open_ = simulate(**GE_BY_LAND)
    closed = simulate(**GE_BY_LAND, **{"policy.baltic_entry_ban.locations": ["GE"]})
    window = {"dest": "GE", "start": "2022-09-19", "end": "2022-10-15"}
    assert open_.count(**window) > 0
    assert closed.count(**window) < 0.5 * open_.count(**window)


# Georgia reachable by land only, and only by IT workers (50 persons an agent), so that queues and
# arrivals count many light agents rather than a few of 4,000 persons.
GE_BY_LAND = {
    "policy.eu_airspace.locations": ["EU", "FI", "ME", "GE"],
    "population.other.international_passport": 0.0,
    "population.other.schengen_visa": 0.0,
}


def test_a_closed_land_border_lets_nobody_through() -> None:
    """Those queued when the border shuts are turned back, not let through."""
    run = simulate(
        **GE_BY_LAND,
        **{
            "routes.RU-GE-land.capacity_per_day": 200.0,  # narrow enough that a queue is waiting on the 23rd
            "policy.baltic_entry_ban.locations": ["GE"],
            "policy.baltic_entry_ban.date": "2022-09-24",
        },
    )
    r = run.model.routes.names.index("RU-GE-land")
    assert run.tally.queue[run.d("2022-09-23"), r] > 0  # a queue was waiting when it shut
    assert run.count(origin="RU", dest="GE", end="2022-09-24") > 0
    assert run.count(origin="RU", dest="GE", start="2022-09-24") == 0


def test_land_border_capacity_makes_queues_and_holds_back_arrivals() -> None:
    wide = simulate(**GE_BY_LAND, **{"routes.RU-GE-land.capacity_per_day": 6000.0})
    narrow_capacity = 150.0  # well below the mobilisation-week flow to Georgia at this scale
    narrow = simulate(**GE_BY_LAND, **{"routes.RU-GE-land.capacity_per_day": narrow_capacity})
    r = wide.model.routes.names.index("RU-GE-land")
    week = slice(wide.d("2022-09-21"), wide.d("2022-09-29"))
    assert narrow.tally.queue[week, r].max() > wide.tally.queue[week, r].max()
    assert narrow.tally.queue[week, r].max() >= 2 * narrow_capacity
    window = {"dest": "GE", "start": "2022-09-21", "end": "2022-09-29"}
    assert narrow.count(**window) < 0.8 * wide.count(**window)


def test_without_international_passports_nobody_reaches_passport_destinations(baseline: Run) -> None:
    run = simulate(
        **{
            "population.it.international_passport": 0.0,
            "population.other.international_passport": 0.0,
            "population.it.schengen_visa": 0.0,
            "population.other.schengen_visa": 0.0,
        }
    )
    closed = entry_codes(run, "international_passport") + entry_codes(run, "visa")
    assert {"GE", "TR", "UZ"} <= set(closed)
    assert baseline.count(dest=closed) > 0
    assert run.count(dest=closed) == 0
    assert run.count(dest=entry_codes(run, "internal_passport")) > 0  # KZ, AM, KG still open


def test_without_schengen_visas_nobody_reaches_the_schengen_area(baseline: Run) -> None:
    # nobody holds one at home, nobody gets one from a consulate abroad
    no_visas = {
        f"population.{seg}.{field}": 0.0
        for seg in ("it", "other")
        for field in ("schengen_visa", "visa_abroad_per_year")
    }
    run = simulate(**no_visas)
    visa = entry_codes(run, "visa")
    assert set(visa) >= {"EU", "FI"}
    assert baseline.count(dest=visa) > 0
    assert run.count(dest=visa) == 0
    assert run.count(dest=entry_codes(run, "international_passport")) > 0


# -- money and fares ------------------------------------------------------------------------------


def test_savings_make_leaving_possible() -> None:
    def savings(months: float) -> dict[str, float]:
        return {f"population.{seg}.savings_months_median": months for seg in ("it", "other")}

    cost = {"behaviour.utility.travel_cost": 1.0}
    poor, rich = simulate(**cost, **savings(0.1)), simulate(**cost, **savings(3.0))
    it = rich.it()
    assert poor.leavers(who=it) < 0.9 * rich.leavers(who=it)


def test_fares_rise_after_mobilisation(baseline: Run) -> None:
    late_september = slice(baseline.d("2022-09-21"), baseline.d("2022-10-01"))
    assert baseline.tally.fare[late_september].max() > 1.5
    calm = simulate("no_mobilisation")
    assert calm.tally.fare[late_september].max() < baseline.tally.fare[late_september].max() - 0.5


def test_airfare_elasticity_holds_back_air_departures() -> None:
    # travel cost weighted up so that fares matter next to the mobilisation risk
    flat = simulate(**{"behaviour.airfares.elasticity": 0.0, "behaviour.utility.travel_cost": 3.0})
    steep = simulate(**{"behaviour.airfares.elasticity": 3.0, "behaviour.utility.travel_cost": 3.0})
    assert flat.tally.fare.max() == 1.0
    assert steep.tally.fare.max() > 2.0
    window = {"origin": "RU", "dest": air_only(flat), "start": "2022-09-21", "end": "2022-10-10"}
    assert steep.count(**window) < 0.95 * flat.count(**window)


def test_fares_follow_yesterdays_demand_not_an_older_one() -> None:
    """A day nobody at home decides anything leaves no demand for seats behind it."""
    model = RelocationModel(
        "scenarios/no_mobilisation.toml", rng=7, scale=0.001, **{"scenario.days": 200}
    )  # one agent of the other segment (80,000 persons) is more than a day's seats
    w = model.workers
    quiet = []
    while model.running:
        t = model.day
        at_home = (w.location == HOME) & (w.queued < 0)
        considered = w.considered.copy()
        model.step()
        if not ((w.considered > considered) & at_home).any():
            quiet.append(t)
    after_quiet = np.array([t + 1 for t in quiet if t + 1 < model.scenario.days])
    assert len(after_quiet) > 0
    assert (model.tally.fare[after_quiet] == 1.0).all()


# -- sanctions and firms --------------------------------------------------------------------------


def test_sanctions_exposure_raises_it_departures() -> None:
    off = simulate(days=PEACE, **{"behaviour.hazard.sanctions": 0.0})
    on = simulate(days=PEACE, **{"behaviour.hazard.sanctions": 3.0})
    it = on.it()
    assert on.leavers(end="2022-09-21", who=it) > 1.5 * off.leavers(end="2022-09-21", who=it)


def test_stronger_sanctions_bring_more_firm_relocations_and_it_departures() -> None:
    firms = {"firms.relocation_hazard": 0.002}
    none = simulate(days=PEACE, **firms, **{"policy.sanctions.level": 0.0})
    strong = simulate(days=PEACE, **firms, **{"policy.sanctions.level": 2.0})
    before = slice(0, none.d("2022-09-21"))
    assert strong.tally.firm_relocations[before].sum() > none.tally.firm_relocations[before].sum() + 5
    it = none.it()
    assert strong.leavers(end="2022-09-21", who=it) > 1.2 * none.leavers(end="2022-09-21", who=it)


def test_relocating_firms_take_their_employees() -> None:
    firms = {"firms.relocation_hazard": 0.02}
    alone = simulate(days=PEACE, **firms, **{"firms.follow_probability": 0.0})
    along = simulate(days=PEACE, **firms, **{"firms.follow_probability": 1.0})
    assert along.tally.firm_relocations.sum() == alone.tally.firm_relocations.sum() > 0
    it = along.it()
    assert along.leavers(end="2022-09-21", who=it) > 1.1 * alone.leavers(end="2022-09-21", who=it)
    t = along.d("2022-09-20")
    assert along.tally.jobs[t, IT, RELOCATED] > 1.5 * alone.tally.jobs[t, IT, RELOCATED]


# -- Russian and destination incentives -----------------------------------------------------------


def test_without_russian_it_incentives_more_it_workers_leave(baseline: Run) -> None:
    bare = simulate("no_it_incentives")
    it = baseline.it()
    assert bare.leavers(who=it) > baseline.leavers(who=it)
    assert bare.leavers(end="2022-09-21", who=it) > baseline.leavers(end="2022-09-21", who=it)  # tax breaks


def test_russian_it_tax_breaks_keep_it_workers() -> None:
    weight = {"behaviour.utility.incentives": 1.0}
    none = simulate(days=PEACE, **weight, **{"policy.it_support.level": 0.0})
    generous = simulate(days=PEACE, **weight, **{"policy.it_support.level": 5.0})
    it = none.it()
    assert generous.leavers(end="2022-09-21", who=it) < 0.9 * none.leavers(end="2022-09-21", who=it)


def test_destination_incentives_attract_it_workers(baseline: Run) -> None:
    bare = simulate("no_destination_incentives")
    courting = [baseline.loc(c) for c in ("UZ", "AM", "KZ", "GE")]
    with_incentives = baseline.tally.arrivals[:, courting, IT].sum()
    without = bare.tally.arrivals[:, courting, IT].sum()
    assert without < 0.95 * with_incentives


# -- penalty tax ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def penalty() -> tuple[Run, Run]:
    return simulate(days=LONG), simulate("penalty_tax", days=LONG)


def test_penalty_tax_brings_it_workers_home(penalty: tuple[Run, Run]) -> None:
    base, taxed = penalty
    it = base.it()
    assert taxed.count(dest="RU", end="2023-03-01", who=it) == base.count(dest="RU", end="2023-03-01", who=it)
    # > 1.05, not 1.1: since the job search abroad, part of the penalised switch to foreign employers instead
    assert taxed.count(dest="RU", start="2023-03-01", who=it) > 1.05 * base.count(dest="RU", start="2023-03-01", who=it)


def test_penalty_tax_moves_remote_workers_into_grey_pay(penalty: tuple[Run, Run]) -> None:
    base, taxed = penalty
    t = base.d("2023-06-15")
    assert taxed.tally.jobs[t, IT, GREY] > base.tally.jobs[t, IT, GREY] + 50
    assert taxed.job_switches(REMOTE_RU, GREY, "2023-03-01") > base.job_switches(REMOTE_RU, GREY, "2023-03-01")
    assert taxed.tally.jobs[t, IT, REMOTE_RU] < 0.9 * base.tally.jobs[t, IT, REMOTE_RU]


def test_penalty_tax_moves_remote_workers_to_foreign_employers(penalty: tuple[Run, Run]) -> None:
    base, taxed = penalty
    remote = base.tally.jobs[base.d("2023-02-28"), IT, REMOTE_RU]
    switched = taxed.job_switches(REMOTE_RU, FOREIGN, "2023-03-01") - base.job_switches(
        REMOTE_RU, FOREIGN, "2023-03-01"
    )
    assert switched > 0.01 * remote  # at least one in a hundred


def test_a_failed_job_search_does_not_cost_a_remote_job() -> None:
    taxed = simulate("penalty_tax", days=LONG, **{"policy.penalty_tax.level": 0.9})
    assert taxed.job_switches(REMOTE_RU, NO_WORK, "2023-03-01") == 0


def test_penalty_tax_is_collected_only_when_enacted(penalty: tuple[Run, Run]) -> None:
    base, taxed = penalty
    start = taxed.d("2023-03-01")
    assert base.tally.tax[:, :, TaxTerm.PENALTY_TAX].sum() == 0
    assert taxed.tally.tax[:start, :, TaxTerm.PENALTY_TAX].sum() == 0
    assert taxed.tally.tax[start:, :, TaxTerm.PENALTY_TAX].sum() > 0


# -- contacts, diaspora, shocks, repression, remote work, rents ---------------------------------------


def test_contacts_abroad_raise_the_hazard_of_leaving() -> None:
    alone = simulate(**{"behaviour.hazard.contacts": 0.0})
    social = simulate(**{"behaviour.hazard.contacts": 10.0})  # strong: few are abroad to be contacts early on
    assert social.leavers() > 1.5 * alone.leavers()


def test_contacts_already_there_pull_leavers() -> None:
    none = simulate(**{"behaviour.utility.contacts": 0.0})
    strong = simulate(**{"behaviour.utility.contacts": 3.0})
    assert strong.leavers() > none.leavers()


def test_diaspora_pulls_leavers() -> None:
    none = simulate(**{"behaviour.utility.diaspora": 0.0})
    strong = simulate(**{"behaviour.utility.diaspora": 1.0})
    assert strong.leavers() > 1.2 * none.leavers()


def test_news_shock_of_the_invasion_raises_early_departures() -> None:
    calm = simulate(days=30, **{"behaviour.hazard.alarm": 0.0})
    alarmed = simulate(days=30, **{"behaviour.hazard.alarm": 2.5})
    assert alarmed.leavers(end="2022-03-10") > 3 * calm.leavers(end="2022-03-10")


def test_repression_drives_out_the_opposed() -> None:
    none = simulate(days=PEACE, **{"policy.repression.level": 0.0})
    harsh = simulate(days=PEACE, **{"policy.repression.level": 3.0})
    opposed = none.workers.opposed
    assert harsh.leavers(end="2022-09-21", who=opposed) > 2 * none.leavers(end="2022-09-21", who=opposed)


def test_remote_work_makes_leaving_affordable() -> None:
    office = simulate(**{"population.it.remote_share": 0.0})
    remote = simulate(**{"population.it.remote_share": 0.8})
    it = remote.it()
    assert remote.leavers(who=it) > 1.3 * office.leavers(who=it)


def test_rents_rising_with_inflow_deter_arrivals() -> None:
    roomy = simulate(**{"locations.KZ.housing_capacity": 80_000.0})
    cramped = simulate(**{"locations.KZ.housing_capacity": 2_000.0})
    assert cramped.count(origin="RU", dest="KZ") < 0.8 * roomy.count(origin="RU", dest="KZ")


# -- moves abroad ---------------------------------------------------------------------------------


def test_onward_moves_and_returns_happen(baseline: Run) -> None:
    assert baseline.tally.onward.sum() > 0
    assert baseline.tally.arrivals[:, HOME, :].sum() > 0
    assert baseline.count(origin=[c for c in baseline.model.codes if c != "RU"], dest="RU") > 0


def test_returns_rise_when_mobilisation_ends(baseline: Run) -> None:
    endless = simulate(**{"policy.partial_mobilisation.until": "2024-12-31"})
    assert baseline.count(dest="RU", end="2022-10-28") == endless.count(dest="RU", end="2022-10-28")
    reservist = baseline.workers.reservist
    ended = baseline.count(dest="RU", start="2022-10-28", who=reservist)
    assert ended > 1.5 * endless.count(dest="RU", start="2022-10-28", who=reservist)


def test_kz_stay_limit_pushes_non_residents_out(penalty: tuple[Run, Run]) -> None:
    limited = penalty[0]
    # `enabled = false` cannot be overridden (test_scenarios); a zero limit is no limit
    unlimited = simulate(days=LONG, **{"policy.kz_stay_limit.level": 0.0})
    window = {"origin": "KZ", "start": "2023-02-01", "end": "2023-06-01"}
    assert limited.count(origin="KZ", end="2023-01-27") == unlimited.count(origin="KZ", end="2023-01-27")
    assert limited.count(**window) > 1.5 * unlimited.count(**window)


# -- Russia's tax take ----------------------------------------------------------------------------


def test_income_tax_take_falls_as_workers_leave() -> None:
    stay = simulate(**{"behaviour.hazard.base_it": 0.0, "behaviour.hazard.base_other": 0.0})
    leave = simulate(**{"behaviour.hazard.base_it": 0.003, "behaviour.hazard.base_other": 0.0003})
    last = stay.model.scenario.days - 1
    assert leave.leavers() > 10 * stay.leavers()
    assert income_tax_per_day(leave, last) < income_tax_per_day(stay, last)
    assert income_tax_per_day(leave, last) < income_tax_per_day(leave, 0)
    lost = TAX_LOST  # lost to grey pay, to foreign employers, to no work
    assert leave.tally.tax[last, :, lost].sum() > 2 * stay.tally.tax[last, :, lost].sum()
    assert leave.tally.jobs[last, IT, AT_HOME] < stay.tally.jobs[last, IT, AT_HOME]
