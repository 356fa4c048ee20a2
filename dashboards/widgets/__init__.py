"""The dashboard's widgets, one per file, grouped by the screen region they belong to."""
