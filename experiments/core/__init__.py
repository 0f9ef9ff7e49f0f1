"""The run core: what every command that runs the model stands on.

- `runner`: one job type (`Job`), one way to run a job (`run`), one way to run many (`run_many`);
- `pool`: the local worker processes `run_many` uses;
- `metrics`: summary numbers of a finished run, by name (what `runner.run_metrics` returns);
- `provenance`: the record written beside every result; `outdir`: result folders written all at once;
- `tables`, `results`: reading back what runs, batches and sweeps wrote;
- `targets`: the reported figures, as data, and the model's counterpart of each.

Nothing here imports from the analyses, the figures, the dashboard or the command line.
"""
