"""Metric providers, registered under the entry-point group `rollout.providers`."""
