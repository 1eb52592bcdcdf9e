"""Operator scripts: create secrets and tables, seed the first admin, run locally."""
