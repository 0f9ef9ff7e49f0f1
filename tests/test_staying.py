"""Whether people stay abroad, and where: each structural change of issue 8 moves the model the way it should.

As in test_mechanisms.py, every test compares two runs with one seed (common random numbers), sets the
weight under test explicitly on both sides, and asserts a direction with a margin well inside the effect.
"""

from __future__ import annotations

import numpy as np
from conftest import Run, simulate

from exodus.model.locations import AIR
from exodus.model.population import NO_WORK

LONG = 480  # to mid-June 2023: a year past the first wave, past the mobilisation's end


def persons_at(run: Run, code: str, date: str) -> float:
    """Persons present at a location at the end of a day."""
    return float(run.tally.stock[run.d(date), run.loc(code)] @ run.workers.persons_per_agent)


def persons_abroad(run: Run, date: str) -> float:
    return float(run.tally.stock[run.d(date), 1:].sum(axis=0) @ run.workers.persons_per_agent)


def returns(run: Run, start: str | None = None) -> int:
    """Moves (agents) back to Russia from abroad, from `start` on."""
    dests = [c for c in run.model.codes if c != "RU"]
    return run.count(origin=dests, dest="RU", start=start)


def test_a_residence_permit_keeps_people_past_the_visa_free_stay() -> None:
    """Turkey's 90-day limit: granting permits at the limit keeps more there (and fewer return)."""
    never = simulate(days=LONG, **{"locations.TR.permit_probability": 0.0, "locations.TR.attraction": 2.0})
    always = simulate(days=LONG, **{"locations.TR.permit_probability": 1.0, "locations.TR.attraction": 2.0})
    assert persons_at(always, "TR", "2023-06-01") > 1.3 * persons_at(never, "TR", "2023-06-01")
    assert returns(always) < returns(never)


def test_settling_in_abroad_cuts_returns() -> None:
    """Attachment weighs in a choice; it cannot hold anyone a stay limit sends out.

    So the returns compared are those from places no stay limit ever binds in the run (Armenia,
    Kyrgyzstan, Uzbekistan): measured at seed 7, settling cuts them 4x (65 to 15 agents), while returns
    from places with a limit (Turkey, Serbia, Kazakhstan from 2023, the Schengen area), forced at the limit
    for most, fall by a seventh (671 to 577).
    """
    # without transit, whose returns in the first weeks come before anyone settles, and without Turkey's
    # refusals of 2023, which send permit holders out however settled they are
    quiet = {"behaviour.hazard.transit": 0.0, "policy.tr_permit_tightening.enabled": False}
    loose = simulate(days=LONG, **quiet, **{"behaviour.utility.settled": 0.0})
    settled = simulate(days=LONG, **quiet, **{"behaviour.utility.settled": 6.0})
    m = loose.model
    limit = np.maximum(m.locations.stay_limit, m.timeline.stay_limit.max(axis=0))
    unlimited = [c for c, days in zip(m.codes, limit, strict=True) if c != "RU" and days == 0]
    back = [r.count(origin=unlimited, dest="RU", start="2022-06-01") for r in (loose, settled)]
    assert back[0] > 40  # enough to compare
    assert back[1] < 0.5 * back[0]
    assert returns(settled, start="2022-06-01") < returns(loose, start="2022-06-01")
    assert persons_abroad(settled, "2023-06-01") > 1.1 * persons_abroad(loose, "2023-06-01")


def test_a_destination_constant_draws_people_there() -> None:
    plain = simulate(**{"locations.GE.attraction": 0.0})
    drawn = simulate(**{"locations.GE.attraction": 2.0})
    assert persons_at(drawn, "GE", "2022-11-01") > 2 * persons_at(plain, "GE", "2022-11-01")
    assert persons_at(drawn, "KZ", "2022-11-01") < persons_at(plain, "KZ", "2022-11-01")  # taken from the others


def test_news_shocks_abroad_make_people_reconsider_and_return() -> None:
    """At the weight of home (3.0), the invasion shock had those abroad re-draw daily and go back."""
    calm = simulate(days=120, **{"behaviour.hazard.alarm_abroad": 0.0, "behaviour.hazard.alarm": 3.0})
    shaken = simulate(days=120, **{"behaviour.hazard.alarm_abroad": 3.0, "behaviour.hazard.alarm": 3.0})
    # in the weeks of the shock (later returns, of those the shock sent abroad, dilute it: 1.4x over 120 days)
    back = [
        r.count(origin=[c for c in r.model.codes if c != "RU"], dest="RU", end="2022-04-01") for r in (calm, shaken)
    ]
    assert back[1] > 1.5 * back[0]
    assert persons_abroad(shaken, "2022-06-01") < persons_abroad(calm, "2022-06-01")


def test_looking_for_work_abroad_finds_it() -> None:
    idle = simulate(days=LONG, **{"behaviour.hazard.job_search_days": 0.0})
    looking = simulate(days=LONG, **{"behaviour.hazard.job_search_days": 30.0})
    t = idle.d("2023-06-01")
    without_work = [float(r.tally.jobs[t, :, NO_WORK] @ r.workers.persons_per_agent) for r in (idle, looking)]
    abroad = [persons_abroad(r, "2023-06-01") for r in (idle, looking)]
    assert without_work[1] / abroad[1] < 0.8 * without_work[0] / abroad[0]


def abroad_on(run: Run, date: str) -> np.ndarray:
    """[agent] abroad at the start of `date`, from the move log."""
    where = np.zeros(len(run.workers.location), dtype=int)
    moves = run.moves(end=date)[::-1]  # latest first
    agents, first = np.unique(run.agent[moves], return_index=True)
    where[agents] = run.dest[moves][first]
    return where != run.loc("RU")


def test_a_mobilisation_decree_left_in_force_keeps_reservists_abroad() -> None:
    ended = simulate(days=LONG, **{"policy.mobilisation_in_force.level": 0.0})
    in_force = simulate(days=LONG, **{"policy.mobilisation_in_force.level": 1.5})
    # the same reservists abroad when the call-up ended (the runs are identical until then): fewer come back.
    # (Counting every reservist's return mixes in the many more the decree drives out, who return too.)
    cohort = ended.workers.reservist & abroad_on(ended, "2022-10-28")
    assert (cohort == (in_force.workers.reservist & abroad_on(in_force, "2022-10-28"))).all()
    back = [r.count(dest="RU", start="2022-10-28", who=cohort) for r in (ended, in_force)]
    assert back[1] < 0.8 * back[0]
    assert in_force.left_russia(start="2022-10-28") > ended.left_russia(start="2022-10-28")  # and more leave


def test_a_permit_that_runs_out_sends_some_home_or_onward() -> None:
    """Turkey's one-year permits, renewed with the odds they were granted: the stock falls a year on."""
    open_ended = {"locations.TR.permit_probability": 0.6, "locations.TR.attraction": 2.0}
    for_good = simulate(days=730, **open_ended, **{"locations.TR.permit_days": 0})
    yearly = simulate(days=730, **open_ended, **{"locations.TR.permit_days": 365})
    assert persons_at(yearly, "TR", "2022-12-01") == persons_at(for_good, "TR", "2022-12-01")  # no permit ran out
    assert persons_at(yearly, "TR", "2024-02-01") < 0.85 * persons_at(for_good, "TR", "2024-02-01")
    moved_out = [r.count(origin="TR", start="2023-01-01") for r in (for_good, yearly)]
    assert moved_out[1] > 1.3 * moved_out[0]


def residents_at(run: Run, code: str, date: str) -> float:
    """Persons holding residence (a permit) at a location at the end of a day."""
    return float(run.tally.residents[run.d(date), run.loc(code)] @ run.workers.persons_per_agent)


def test_harder_renewals_empty_the_register_a_year_on() -> None:
    """Turkey's first one-year permits granted easily, their renewals not: identical until the first permits
    run out, then fewer permit holders, and more of those who came move out of Turkey."""
    easy = {"locations.TR.permit_probability": 0.8, "locations.TR.permit_days": 365, "locations.TR.attraction": 2.0}
    easy["policy.tr_permit_tightening.enabled"] = False  # the baseline's refusals of 2023 would hide the renewals
    same = simulate(days=730, **easy, **{"locations.TR.renewal_probability": 0.8})
    hard = simulate(days=730, **easy, **{"locations.TR.renewal_probability": 0.1})
    assert residents_at(hard, "TR", "2022-12-01") == residents_at(same, "TR", "2022-12-01")  # none renewed yet
    assert residents_at(hard, "TR", "2024-02-01") < 0.8 * residents_at(same, "TR", "2024-02-01")
    moved_out = [r.count(origin="TR", start="2023-01-01") for r in (same, hard)]
    assert moved_out[1] > 1.3 * moved_out[0]


def test_permit_refusals_turn_people_out_from_their_date() -> None:
    """A host refusing most permits from 2023 (Turkey's shrinking register): nothing changes before, then the
    register falls and more leave Turkey; where no refusal applies (Serbia) nobody is refused."""
    base = {"locations.TR.permit_probability": 0.8, "locations.TR.attraction": 2.0}
    base["policy.tr_permit_tightening.enabled"] = False  # compared with the test's own refusals
    refusing = {"policy.tr_test_refusals": {"kind": "permit_refusals", "date": "2023-01-01", "locations": ["TR"],
                                            "level": 0.9, "source": "test"}}  # fmt: skip
    granted = simulate(days=730, **base)
    refused = simulate(days=730, **base, **refusing)
    assert residents_at(refused, "TR", "2022-12-31") == residents_at(granted, "TR", "2022-12-31")
    assert residents_at(refused, "TR", "2023-12-07") < 0.8 * residents_at(granted, "TR", "2023-12-07")
    moved_out = [r.count(origin="TR", start="2023-01-01") for r in (granted, refused)]
    assert moved_out[1] > 1.3 * moved_out[0]


def test_newcomers_pass_through_stepping_stones() -> None:
    """Kazakhstan, Armenia and Georgia as transit: a higher hazard of reconsidering in the first weeks moves
    people on or back, so the stepping stones hold fewer of those who came."""
    settled = simulate(days=240, **{"behaviour.hazard.transit": 0.0})
    transit = simulate(days=240, **{"behaviour.hazard.transit": 2.5, "behaviour.hazard.transit_days": 30.0})
    stones = ["KZ", "GE", "AM"]
    assert transit.count(origin=stones) > 2 * settled.count(origin=stones)
    held = [sum(persons_at(r, code, "2022-10-01") for code in stones) for r in (settled, transit)]
    assert held[1] < 0.9 * held[0]


def test_connecting_flights_keep_the_schengen_area_in_reach_after_the_airspace_closure() -> None:
    """The EU closed its airspace to Russian aircraft on 27 February 2022, not to Russians: with the flight
    through Istanbul, visa holders still arrive in the Schengen area after the closure and the Baltic ban."""
    direct_only = simulate(days=LONG, **{"routes.RU-EU-air-via-TR.enabled": False})
    connecting = simulate(days=LONG, **{"routes.RU-EU-air-via-TR.enabled": True})
    after = {"origin": "RU", "dest": "EU", "start": "2022-10-01"}
    # without it, the few who reach the Schengen area from Russia after the Baltic ban (19 September) flew
    # elsewhere first and moved on the same day
    assert connecting.count(**after) > 10 * max(direct_only.count(**after), 1)
    # (1.5x before the flights out of the Schengen area of 4 December: those whose 90 days run out now leave
    # for Istanbul or Belgrade and many come back in, connecting flight or not, so the stock depends less on it)
    assert persons_at(connecting, "EU", "2023-06-01") > 1.15 * persons_at(direct_only, "EU", "2023-06-01")


def test_a_closure_to_russian_aircraft_leaves_third_country_flights_open() -> None:
    """Onward from Istanbul to the Schengen area is a Turkish flight: the EU closure does not cut it."""
    run = simulate(days=LONG, **{"population.it.visa_abroad_per_year": 0.5})
    assert run.count(origin=["TR", "GE", "AM", "RS"], dest="EU") > 0


def test_visas_from_consulates_abroad_move_people_on_to_the_schengen_area() -> None:
    """Abroad, workers who get a national or Schengen visa in Tbilisi, Yerevan or Istanbul reconsider and
    some move on: more onward moves into the Schengen area, fewer left at the stepping stones."""
    rates = ("population.it.visa_abroad_per_year", "population.other.visa_abroad_per_year")
    none = simulate(days=LONG, **dict.fromkeys(rates, 0.0))
    some = simulate(days=LONG, **dict.fromkeys(rates, 0.3))
    onward = [r.count(origin=["TR", "GE", "AM", "RS", "KZ"], dest="EU") for r in (none, some)]
    # without consular visas the onward moves into the area are those who had a visa from home, went out
    # when their 90 days ran out and came back (3x before the flights out of the area of 4 December)
    assert onward[1] > 1.5 * max(onward[0], 1)
    assert persons_at(some, "EU", "2023-06-01") > 1.2 * persons_at(none, "EU", "2023-06-01")
    assert some.workers.schengen.sum() > none.workers.schengen.sum()


def test_a_consular_check_delays_arrivals() -> None:
    """Israel's aliyah check: with a two-month mean wait, arrivals shift from the invasion weeks to the spring,
    and those waiting are queued at home, not considering again."""
    at_once = simulate(days=150, **{"routes.RU-IL-air.processing_days": 0.0})
    checked = simulate(days=150, **{"routes.RU-IL-air.processing_days": 60.0})
    early = {"origin": "RU", "dest": "IL", "end": "2022-03-20"}
    later = {"origin": "RU", "dest": "IL", "start": "2022-04-15"}
    assert checked.count(**early) < 0.6 * at_once.count(**early)
    assert checked.count(**later) > 1.3 * at_once.count(**later)
    r = checked.model.routes.names.index("RU-IL-air")
    assert checked.tally.queue[: checked.d("2022-04-01"), r].max() > 0  # waiting, counted as a queue


def test_passport_holders_lead_the_first_wave() -> None:
    """Weighting an international passport in the hazard: the invasion wave has more passport holders (who
    can reach Georgia, Turkey, Serbia) and sends fewer by internal passport to Kazakhstan."""
    plain = simulate(days=60, scale=0.1, **{"behaviour.hazard.passport": 0.0})
    weighted = simulate(days=60, scale=0.1, **{"behaviour.hazard.passport": 1.0})

    def passport_share(run: Run) -> float:  # outside IT, where passports are rarer (29% against 60%)
        leavers = run.agent[run.moves(origin="RU", who=run.other())]
        return float(run.workers.passport[leavers].mean())

    assert passport_share(weighted) > passport_share(plain) + 0.1
    to_kz = [r.count(origin="RU", dest="KZ") / max(r.left_russia(), 1) for r in (plain, weighted)]
    assert to_kz[1] < 0.8 * to_kz[0]


def test_flights_out_of_the_schengen_area_turn_forced_returns_into_onward_moves() -> None:
    """A 90-day Schengen stay that runs out ends at home only if no flight leaves for a visa-free place: with
    the routes from the EU and Finland open, fewer go home from there and more move on."""
    open_ = simulate(days=LONG)
    schengen = ["EU", "FI"]
    routes, codes = open_.model.routes, open_.model.codes
    exits = [
        name
        for name, o, d in zip(routes.names, routes.origin, routes.destination, strict=True)
        if codes[o] in schengen and codes[d] not in schengen and codes[d] != "RU"
    ]
    shut = simulate(days=LONG, **{f"routes.{name}.enabled": False for name in exits})
    back = [r.count(origin=schengen, dest="RU") for r in (shut, open_)]
    onward_dests = [c for c in open_.model.codes if c not in ("RU", "EU", "FI")]
    onward = [r.count(origin=schengen, dest=onward_dests) for r in (shut, open_)]
    assert onward[0] == 0  # no route, no onward move
    assert onward[1] > 20
    assert back[1] < 0.8 * back[0]
    assert returns(open_) < returns(shut)


def test_sold_out_flights_spread_the_call_up_wave_over_days_and_onto_land_borders() -> None:
    """Flights out of Russia that carry their seats a day and no more (`scenarios/sold_out_flights.toml`): those
    without a seat on the day of the call-up wait for a later flight or take a land border. Without the limit
    (the baseline) the wave leaves on its first days by air."""
    unlimited, seats = simulate(), simulate("sold_out_flights")
    routes = seats.model.routes
    assert not (unlimited.model.routes.capacity[unlimited.model.routes.mode == AIR] > 0).any()
    first_days = [r.left_russia(start="2022-09-21", end="2022-09-23") for r in (unlimited, seats)]
    later = [r.left_russia(start="2022-09-23", end="2022-10-10") for r in (unlimited, seats)]
    by_land = ["GE", "KZ", "FI"]  # reached by land as well as by air
    land = [r.count(origin="RU", dest=by_land, start="2022-09-21", end="2022-10-10") for r in (unlimited, seats)]
    istanbul = routes.names.index("RU-TR-air")
    assert first_days[1] < 0.9 * first_days[0]
    assert later[1] > 1.1 * later[0]
    assert land[1] > 1.05 * land[0]
    assert seats.tally.queue[seats.d("2022-09-21"), istanbul] > 0  # a queue for seats the day of the call-up
    assert unlimited.tally.queue[:, istanbul].max() == 0
