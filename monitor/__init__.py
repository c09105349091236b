"""Payment micro-theft monitor: ingest ledgers, detect slow small theft, alert finance."""
__version__ = "0.1.0"
