"""Data files of the analyses, apart from their code: edited without touching Python.

- `drivers.toml`: the drivers of the outflow that `exodus attribute` splits it into (and the dashboard's
  destination-incentives lever switches off);
- `sweeps/`: sweep files for `exodus sweep` (`smoke.toml`);
- `sensitivity/`: sensitivity designs for `exodus sensitivity` (`example.toml`, `tiny.toml`).

Paths inside the files (a base scenario) are relative to the file.
"""

from pathlib import Path

DATA = Path(__file__).resolve().parent
DRIVERS_FILE = DATA / "drivers.toml"
SWEEPS = DATA / "sweeps"
SENSITIVITY = DATA / "sensitivity"
