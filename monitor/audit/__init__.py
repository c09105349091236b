"""The auditors' toolkit: the append-only audit log and the read-only queries, exports and
verification that run on the published snapshot."""
