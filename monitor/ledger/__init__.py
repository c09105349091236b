"""The ledger's contents: ingest of statement files, the registry of known payees, the Parquet lake,
and formats/ (readers for bank formats)."""
