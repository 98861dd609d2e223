"""The scoring engine: cells x proxies -> one score table; the studies that score."""
