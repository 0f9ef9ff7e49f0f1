"""Figures drawn from what runs wrote: read back through the core (`core.tables`, `core.results`), with the
reported figures of `core.targets`.

- `plot`: the outflow figure of one run (its `outflow.png`) and the drawing helpers the others share
  (number formats, smoothing, reported figures and their caption, labels that do not overlap);
- `ensembles`: the results figure of `exodus plot`: runs, batches and sweeps together, with bands and comparisons.

The figures import the core only; the analyses that write a figure beside their results (a run's outflow, a
calibration's fit) draw it with these.
"""
