"""``python -m rollout.sandbox``: run a sandbox API server in the foreground."""

import sys

from .cli import run_sandbox_cli

sys.exit(run_sandbox_cli(sys.argv[1:]))
