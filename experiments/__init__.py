"""Everything that runs the model (`exodus.model`), one subpackage a concept, importing downwards only:

- `core`: the run core (`Job`, `run`, `run_many`), metrics, provenance, result folders, reading results back,
  the reported figures; it imports nothing else of `exodus.experiments`;
- `figures`: figures drawn from what runs wrote (the core only);
- `analyses`: one run, batches, sweeps, sensitivity, attribution, calibration (`analyses.calibration`),
  validation (the core, and `figures` for the figures they write);
- `dashboard`: the Mesa SolaraViz page (the core and the attribution's drivers);
- `cli`: the `exodus` command line (everything above; nothing imports it);
- `data`: data files apart from code (sweep files, sensitivity designs, the drivers).
"""
