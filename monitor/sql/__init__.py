"""The database: connect and migrate the DuckDB ledger, load the queries in queries/, and the
published read-only snapshot."""
