"""Scenario files: they load, counterfactuals change only what they say, and errors explain themselves.

Errors are read by the people who edit the files, so each must name the
file, the field and what was expected.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
from conftest import SCENARIOS

from exodus.model import RelocationModel, ScenarioError, load_scenario

SCENARIO_FILES = sorted(SCENARIOS.glob("*.toml"))
BASELINE = SCENARIOS / "baseline.toml"


def leaves(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Dotted path -> value for every non-table value."""
    out: dict[str, Any] = {}
    for key, value in table.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(leaves(value, f"{path}."))
        else:
            out[path] = value
    return out


def own_fields(path: Path) -> set[str]:
    """Dotted paths a file sets itself (not what it extends), with every table prefix."""
    with path.open("rb") as fh:
        raw = tomllib.load(fh)
    return set(leaves(raw))


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def extends_baseline(tmp_path: Path, name: str, body: str) -> Path:
    return write(tmp_path, name, f'[scenario]\nextends = "{BASELINE}"\nname = "{Path(name).stem}"\n{body}')


# -- every file ---------------------------------------------------------------------------------


def test_there_are_the_required_scenarios() -> None:
    names = {p.stem for p in SCENARIO_FILES}
    required = {
        "baseline",
        "no_mobilisation",
        "penalty_tax",
        "border_closure",
        "no_it_incentives",
        "no_destination_incentives",
    }
    assert required <= names


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=lambda p: p.stem)
def test_every_scenario_loads(path: Path) -> None:
    scenario = load_scenario(path)
    assert scenario.scenario.name == path.stem
    assert "RU" in scenario.locations
    assert len(scenario.digest()) == 64


@pytest.mark.parametrize(
    "path",
    [p for p in SCENARIO_FILES if tomllib.loads(p.read_text()).get("scenario", {}).get("extends")],
    ids=lambda p: p.stem,
)
def test_a_scenario_differs_from_what_it_extends_only_where_it_says(path: Path) -> None:
    child = load_scenario(path)
    parent = load_scenario(path.parent / child.scenario.extends)
    mine, theirs = leaves(child.as_dict()), leaves(parent.as_dict())
    # [calibration] is free-form provenance: a calibrated file adds its own keys there
    added = {key for key in mine.keys() - theirs.keys() if key.startswith("calibration.")}
    assert mine.keys() - added == theirs.keys()
    assert added <= own_fields(path)
    changed = {key for key in mine if mine[key] != theirs.get(key)}
    meta = {"scenario.name", "scenario.description", "scenario.extends"}
    if child.scenario.extends == BASELINE.name:  # a counterfactual (the baseline may equal its inputs)
        assert changed - meta, f"{path.name} changes nothing"
    assert changed <= own_fields(path) | meta, f"{path.name} changes fields it does not set"


def test_counterfactuals_change_their_lever() -> None:
    base = load_scenario(BASELINE)
    assert base.policy["partial_mobilisation"].enabled
    assert not load_scenario(SCENARIOS / "no_mobilisation.toml").policy["partial_mobilisation"].enabled
    assert not base.policy["penalty_tax"].enabled
    penalty = load_scenario(SCENARIOS / "penalty_tax.toml").policy["penalty_tax"]
    assert penalty.enabled and penalty.level > 0
    assert not base.policy["border_closure"].enabled
    closure = load_scenario(SCENARIOS / "border_closure.toml").policy["border_closure"]
    assert closure.enabled and closure.kind == "exit_ban_military_age"
    no_it = load_scenario(SCENARIOS / "no_it_incentives.toml").policy
    assert not no_it["it_support"].enabled and not no_it["it_mobilisation_exemption"].enabled
    no_dest = load_scenario(SCENARIOS / "no_destination_incentives.toml")
    assert all(no_dest.locations[c].it_incentive == 0 for c in ("GE", "AM", "KZ", "KG", "UZ"))


# -- extends ------------------------------------------------------------------------------------


def test_extends_merges_tables_key_by_key(tmp_path: Path) -> None:
    base = load_scenario(BASELINE)
    path = extends_baseline(tmp_path, "child.toml", "[locations.GE]\njob_finding = 0.9\n")
    child = load_scenario(path)
    assert child.locations["GE"].job_finding == 0.9
    assert child.locations["GE"].model_dump(exclude={"job_finding"}) == base.locations["GE"].model_dump(
        exclude={"job_finding"}
    )
    assert child.locations["AM"] == base.locations["AM"]
    assert child.routes == base.routes and child.policy == base.policy
    assert child.scenario.days == base.scenario.days  # the [scenario] table merges too


def test_extends_chains_and_can_add_a_location(tmp_path: Path) -> None:
    middle = extends_baseline(
        tmp_path,
        "middle.toml",
        "[behaviour.hazard]\nalarm = 0.5\n"
        + "[locations.MN]\n"
        + 'name = "Mongolia"\nentry = "internal_passport"\ncost_of_living_usd = 500.0\n'
        + "housing_capacity = 5000.0\nwage_local_usd = 800.0\njob_finding = 0.1\nincome_tax_it = 0.1\n"
        + 'russian_language = 0.3\ndiaspora_persons = 1000.0\nbanking = 0.3\nstance = "welcoming"\n'
        + "residence_probability = 0.2\n"
        + '[routes.RU-MN-air]\norigin = "RU"\ndestination = "MN"\nmode = "air"\ncost_usd = 300.0\ndays = 1.0\n',
    )
    top_text = '[scenario]\nextends = "middle.toml"\nname = "top"\n[behaviour.hazard]\nmoney = 9.0\n'
    top = write(tmp_path, "top.toml", top_text)
    scenario = load_scenario(top)
    assert scenario.behaviour.hazard.alarm == 0.5  # from the middle
    assert scenario.behaviour.hazard.money == 9.0  # from the top
    assert scenario.behaviour.hazard.contacts == load_scenario(BASELINE).behaviour.hazard.contacts
    assert "MN" in scenario.locations and "RU-MN-air" in scenario.routes
    model = RelocationModel(scenario, rng=1, scale=0.001, **{"scenario.days": 5}).run()
    assert "MN" in model.codes
    assert middle.exists()


# -- errors -------------------------------------------------------------------------------------


def error_of(path: Path, overrides: dict[str, Any] | None = None) -> str:
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, overrides)
    return str(info.value)


def test_wrong_type_names_file_field_and_expectation(tmp_path: Path) -> None:
    path = extends_baseline(tmp_path, "wrong_type.toml", '[behaviour.hazard]\nalarm = "high"\n')
    message = error_of(path)
    assert "wrong_type.toml" in message
    assert "behaviour.hazard.alarm" in message
    assert "number" in message and "'high'" in message


def test_out_of_range_value_names_the_bound(tmp_path: Path) -> None:
    path = extends_baseline(tmp_path, "negative.toml", "[population.it]\ninternational_passport = 1.5\n")
    message = error_of(path)
    assert "negative.toml" in message and "population.it.international_passport" in message
    assert "less than or equal to 1" in message


def test_unknown_field_is_named(tmp_path: Path) -> None:
    path = extends_baseline(tmp_path, "typo.toml", "[behaviour.hazard]\nalrm = 1.0\n")
    message = error_of(path)
    assert "typo.toml" in message and "behaviour.hazard.alrm" in message
    assert "not permitted" in message


def test_unknown_location_in_a_route_is_named(tmp_path: Path) -> None:
    body = '[routes.RU-XX-air]\norigin = "RU"\ndestination = "XX"\nmode = "air"\ncost_usd = 100.0\ndays = 1.0\n'
    message = error_of(extends_baseline(tmp_path, "route.toml", body))
    assert "route.toml" in message and "routes.RU-XX-air" in message and "'XX'" in message
    assert "[locations]" in message


def test_unknown_location_in_a_policy_is_named(tmp_path: Path) -> None:
    message = error_of(extends_baseline(tmp_path, "ban.toml", '[policy.finland_tourist_ban]\nlocations = ["ZZ"]\n'))
    assert "ban.toml" in message and "policy.finland_tourist_ban.locations" in message and "'ZZ'" in message


def test_missing_file_is_named(tmp_path: Path) -> None:
    message = error_of(tmp_path / "nowhere.toml")
    assert "nowhere.toml" in message and "not found" in message


def test_missing_parent_names_the_file_that_extends_it(tmp_path: Path) -> None:
    path = write(tmp_path, "orphan.toml", '[scenario]\nextends = "gone.toml"\nname = "orphan"\n')
    message = error_of(path)
    assert "gone.toml" in message and "not found" in message
    assert "orphan.toml" in message and "extends" in message


def test_cycle_in_extends_is_named(tmp_path: Path) -> None:
    write(tmp_path, "a.toml", '[scenario]\nextends = "b.toml"\nname = "a"\n')
    write(tmp_path, "b.toml", '[scenario]\nextends = "a.toml"\nname = "b"\n')
    message = error_of(tmp_path / "a.toml")
    assert "cycle" in message and "a.toml" in message and "b.toml" in message


def test_invalid_toml_is_named_with_its_line(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, "broken.toml", '[scenario]\nname = "x"\ndays = \n'))
    assert "broken.toml" in message and "TOML" in message and "line 3" in message


def test_until_before_date_is_refused(tmp_path: Path) -> None:
    path = extends_baseline(tmp_path, "backwards.toml", "[policy.partial_mobilisation]\nuntil = 2022-01-01\n")
    message = error_of(path)
    assert "backwards.toml" in message and "policy.partial_mobilisation" in message and "until" in message


# -- overrides ----------------------------------------------------------------------------------


def test_override_sets_a_field() -> None:
    scenario = load_scenario(BASELINE, {"behaviour.hazard.alarm": 0.25, "locations.GE.job_finding": 0.5})
    assert scenario.behaviour.hazard.alarm == 0.25
    assert scenario.locations["GE"].job_finding == 0.5


def test_override_with_double_underscores_as_keyword_arguments() -> None:
    model = RelocationModel(BASELINE, rng=1, scale=0.001, behaviour__hazard__alarm=0.25, scenario__days=3)
    assert model.behaviour.hazard.alarm == 0.25 and model.scenario.days == 3


@pytest.mark.parametrize(
    ("path", "named"),
    [
        ("behaviour.hazard.alarmm", "alarmm"),
        ("behaviour.hazzard.alarm", "hazzard"),
        ("locations.XX.entry", "XX"),
        ("behaviour.hazard.alarm.level", "alarm"),
    ],
)
def test_override_with_a_bad_path_is_named(path: str, named: str) -> None:
    message = error_of(BASELINE, {path: 1.0})
    assert path in message and named in message


def test_override_with_a_bad_value_names_field_and_expectation() -> None:
    message = error_of(BASELINE, {"behaviour.hazard.alarm": "loud"})
    assert "behaviour.hazard.alarm" in message and "number" in message and "'loud'" in message


def test_override_of_a_loaded_scenario_is_validated() -> None:
    with pytest.raises(ScenarioError, match="scenario.days"):
        RelocationModel(load_scenario(BASELINE), scale=0.001, **{"scenario.days": -1})


@pytest.mark.parametrize(
    "path, value",
    [("policy.kz_stay_limit.enabled", False), ("locations.GE.rent_elasticity", 1.0)],
)
def test_override_of_a_field_left_at_its_default(path: str, value: Any) -> None:
    scenario = load_scenario(BASELINE, {path: value})
    assert leaves(scenario.as_dict())[path] == value


# -- the rules a scenario must meet (issue 10): each refusal names the file, the field and the value -----------------


@pytest.mark.parametrize(
    ("path", "value", "field", "words"),
    [
        ("behaviour.utility.income", float("nan"), "behaviour.utility.income", "finite"),
        ("behaviour.utility.income", float("inf"), "behaviour.utility.income", "finite"),
        ("policy.partial_mobilisation.level", float("nan"), "policy.partial_mobilisation.level", "finite"),
        ("population.it.wage_median_usd", float("inf"), "population.it.wage_median_usd", "finite"),
        ("locations.GE.housing_capacity", float("inf"), "locations.GE.housing_capacity", "finite"),
        ("routes.RU-GE-air.cost_usd", float("nan"), "routes.RU-GE-air.cost_usd", "finite"),
        ("free_parameters.behaviour.hazard.contacts.high", float("inf"), "free_parameters", "finite"),
        ("policy.penalty_tax.level", 5.0, "policy.penalty_tax.level", "between 0 and 1"),
        ("policy.penalty_tax.level", -0.1, "policy.penalty_tax.level", "between 0 and 1"),
        ("policy.remote_work_tax_2024.level", 1.3, "policy.remote_work_tax_2024.level", "between 0 and 1"),
        ("policy.partial_mobilisation.level", -1.0, "policy.partial_mobilisation.level", ">= 0"),
        ("population.it.family_ties", {"GE": 0.7, "AM": 0.5}, "population.it.family_ties", "at most 1"),
        ("population.it.family_ties", {"GE": -0.2}, "population.it.family_ties.GE", "between 0 and 1"),
        ("population.it.age_min", 70, "population.it.age_min", "at most age_max"),
        ("population.other.schengen_visa", 0.9, "population.other.schengen_visa", "international_passport"),
        ("routes.RU-GE-air.destination", "RU", "routes.RU-GE-air.destination", "other than the origin"),
        ("policy.kz_stay_limit.locations", [], "policy.kz_stay_limit.locations", "expected the places"),
        ("policy.partial_mobilisation.locations", ["GE"], "policy.partial_mobilisation.locations", "expected none"),
        ("policy.invasion.date", "2030-01-01", "policy.invasion.date", "before the end of the horizon"),
    ],
)
def test_a_broken_rule_names_file_field_and_value(path: str, value: Any, field: str, words: str) -> None:
    if path.startswith("free_parameters."):
        message = error_of(BASELINE, {"free_parameters": {"behaviour.hazard.contacts": {"low": 0.0, "high": value}}})
    else:
        message = error_of(BASELINE, {path: value})
    assert "baseline.toml" in message and f"field {field}" in message and words in message, message
    assert len(message.splitlines()) == 2, message  # the file, then one line for the one field


def test_a_route_to_itself_in_a_file_is_named(tmp_path: Path) -> None:
    body = '[routes.GE-GE-air]\norigin = "GE"\ndestination = "GE"\nmode = "air"\ncost_usd = 100.0\ndays = 1.0\n'
    message = error_of(extends_baseline(tmp_path, "loop.toml", body))
    assert "loop.toml" in message and "routes.GE-GE-air.destination" in message and "'GE'" in message


def test_an_event_after_the_horizon_is_refused_unless_the_horizon_is_shortened_on_purpose(tmp_path: Path) -> None:
    late = '[policy.late]\nkind = "shock"\ndate = 2030-01-01\n'
    message = error_of(extends_baseline(tmp_path, "late.toml", late))
    assert "late.toml" in message and "field policy.late.date" in message and "before the end" in message
    message = error_of(extends_baseline(tmp_path, "short.toml", "days = 100\n" + late))  # its own event, too late
    assert "short.toml" in message and "field policy.late.date" in message
    message = error_of(BASELINE, {"scenario.days": 100, "policy.partial_mobilisation.date": "2022-09-21"})
    assert "field policy.partial_mobilisation.date" in message
    # a file that shortens the horizon of what it extends cuts the inherited events short knowingly
    assert load_scenario(extends_baseline(tmp_path, "brief.toml", "days = 100\n")).days == 100
    # --set scenario.days (or a sweep's days) cuts the run short knowingly: the later events fall outside it
    assert load_scenario(BASELINE, {"scenario.days": 30}).days == 30
    disabled = extends_baseline(
        tmp_path, "off.toml", '[policy.late]\nkind = "shock"\ndate = 2030-01-01\nenabled = false\n'
    )
    assert load_scenario(disabled).policy["late"].enabled is False  # a disabled event never acts: allowed


def test_a_free_parameter_must_name_a_number() -> None:
    message = error_of(BASELINE, {"free_parameters": {"behaviour.hazard": {"low": 0.0, "high": 1.0}}})
    assert "free_parameters.behaviour.hazard" in message and "dotted path of a number" in message
    message = error_of(BASELINE, {"free_parameters": {"behaviour.hazard.alarm": {"low": 2.0, "high": 1.0}}})
    assert "free_parameters.behaviour.hazard.alarm" in message and "low < high" in message


def test_a_scenario_path_that_is_a_folder_is_named(tmp_path: Path) -> None:
    message = error_of(tmp_path)
    assert str(tmp_path) in message and "folder" in message


def test_every_shipped_scenario_meets_the_rules() -> None:
    for path in SCENARIO_FILES:
        load_scenario(path)  # the horizon rule included
