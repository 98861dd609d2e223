"""Search: evolution and random search over a space, driven by any proxy."""
