"""The HTML report: period figures, severity cards and charts, rendered from templates/."""
