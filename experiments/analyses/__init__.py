"""The analyses: what runs the model for a question, through the run core (`exodus.experiments.core`).

- `run`: one run of one scenario, written to a folder (`exodus run`);
- `batch`: scenarios over the same seeds, with an ensemble summary each (`exodus batch`);
- `sweep_file`, `sweep`: a sweep file's design (grid, lhs, sobol, saltelli, morris), run resumably (`exodus sweep`);
- `sensitivity`: Sobol and Morris indices, a sweep design plus SALib's analysis (`exodus sensitivity`);
- `attribution`: the outflow split into its drivers' contributions, Shapley values (`exodus attribute`);
- `parameters`: the bounded parameter that calibration, sensitivity and sweep files move;
- `calibration`: fitting a scenario's free parameters to the reported figures, and its report (`exodus calibrate`);
- `validation`: a scenario against every reported figure, fitted and held out (`exodus validate`).

Their data files (sweep files, sensitivity designs, the drivers) are in `exodus.experiments.data`. The analyses
import the core and, for the figures they write beside their results, `exodus.experiments.figures`; never the
command line.
"""
