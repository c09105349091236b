"""`monitor serve`: the web inbox, a front end beside the command line (docs/web.md)."""
