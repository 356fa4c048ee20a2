"""The detail screen's widgets: summary, steps, traffic, revisions, analysis, SLOs, events."""
