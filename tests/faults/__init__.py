"""Proof under faults (issue 7): many concurrent rollouts against one real controller process
that is SIGKILLed, starved by API faults, cut off from its watches and its metrics provider,
and whose wall clock jumps; invariants checked on every committed state of the cluster."""
