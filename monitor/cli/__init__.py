"""The command line: one module per verb group; main.py holds the click group, the
registration list and the error-to-exit-code mapping. Top of the import order: only
monitor/__main__.py imports it."""
