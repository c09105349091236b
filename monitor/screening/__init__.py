"""Sanctions screening: the publishers' lists read as released (lists.py), names compared
(names.py), and the lists, matches and dismissals kept in the ledger (store.py)."""
