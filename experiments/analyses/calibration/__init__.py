"""Calibration: fit a scenario's free parameters to the reported figures.

- `calibrate`: the method (loss, point fit, uncertainty, check; see its docstring) and its evaluation log;
- `run`: the pipeline `exodus calibrate` runs: fit, uncertainty, check, report (`run.calibrate`);
- `report`: what a calibration writes: the calibrated scenario, `fit.md` and `fit.png`.
"""
