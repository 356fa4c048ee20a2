"""The `rollout` command line: one module per group of commands, wired together in main."""
