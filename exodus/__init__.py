"""exodus: an agent-based simulation of the emigration of Russian tech workers after 24 February 2022.

One package with two subpackages whose sources keep the project's top-level folders (see
`[tool.setuptools.package-dir]` in pyproject.toml): `exodus.model` (the simulation, folder `model/`) and
`exodus.experiments` (everything that runs it, folder `experiments/`: the run core, the analyses,
figures, the dashboard, the command line and their data files). The scenarios (folder `scenarios/`) are
installed beside them as `exodus/scenarios`.
"""

from exodus.model import DEFAULT_SCENARIO, RelocationModel, Scenario, ScenarioError, load_scenario

__all__ = ["DEFAULT_SCENARIO", "RelocationModel", "Scenario", "ScenarioError", "load_scenario"]
