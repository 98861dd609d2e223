"""Training runs: presets, data, the run directory and its files, the training loops."""
