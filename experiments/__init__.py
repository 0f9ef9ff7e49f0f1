"""Runs, batches, sweeps, calibration and plots, built on `model`."""
