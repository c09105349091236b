"""Engines that run the detectors when the ledger does not fit DuckDB on one machine (Spark)."""
