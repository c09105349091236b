"""The daemon (`monitor run`): APScheduler jobs, the lock, state and logs."""
