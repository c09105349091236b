"""Alerts after detection: their lifecycle in the ledger (fire, refresh, silence, resolve),
routing and rendering, the outbox and the channels that deliver them, and the charts they carry."""
