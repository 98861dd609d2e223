"""Analyses across score tables: label-free ensembles, few-label predictors, search on a sample."""
