"""The names of the analysis runs the controller makes itself (besides the steps' own runs).

A module of its own, with no imports, so that what only shows runs (`rollout get`, `list`)
need not build the models that the gates (rollout.analysis.gates) are made of.
"""

RELEASE_GATE_RUN = "release-gate"
STEP_GATE_RUN = "step-gate"
BACKGROUND_RUN = "background"
PRE_PROMOTION_RUN = "pre-promotion"
POST_PROMOTION_RUN = "post-promotion"
