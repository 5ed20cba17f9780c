"""Inputs the tests and the benchmarks both build: real faces and their variants, hash worlds,
and the reference duplicate grouping the fast one is checked against. No Dagster here."""
