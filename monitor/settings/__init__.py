"""Settings: the typed config read from config.toml and its validated sections ([engine], [schedule])."""
