"""The list screen's widgets: the filter, the table of rollouts, the status line."""
