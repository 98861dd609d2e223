"""Statistics on score tables (no torch): ground truth, correlations, combinations, leaderboards."""
