"""Detection: the scan that runs the detector queries over the ledger and keeps the firing groups,
with the engines that execute it."""
