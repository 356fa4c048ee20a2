"""Fuzzing bad input (issue 7): the spec parser behind `rollout lint` and the CLI's arguments.

Nothing but our own errors, no traceback, and every rejection names the file and the field.
"""
