"""The imperative shell: watch the cluster, call the engine, carry out its actions."""
