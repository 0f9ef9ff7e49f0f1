"""The dashboard in the browser: `solara run app.py` (or `exodus dashboard`).

A Mesa SolaraViz page on the real model at scale 0.05 (the calibration's scale,
unbiased against full scale in `calibration/baseline/fit.md`): pick a scenario,
a seed and the policy levers, press Reset to build the model with them, then
Step or play; every chart shows the chosen scenario beside the baseline run with
the same seed. The page is built in `exodus.experiments.dashboard`.
"""

from exodus.experiments.dashboard import page as _page

page = _page()
