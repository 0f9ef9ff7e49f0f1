"""The relocation model: Russian tech workers and others leaving after 24 February 2022."""

from exodus.model.model import DEFAULT_SCENARIO, RelocationModel
from exodus.model.scenario import Scenario, ScenarioError, load_scenario

__all__ = ["DEFAULT_SCENARIO", "RelocationModel", "Scenario", "ScenarioError", "load_scenario"]
