"""References from a Rollout to analysis templates, shared by both strategies' specs."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import Field, model_validator

from rollout.models.analysis import ValueFrom
from rollout.models.base import SpecModel

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def dns_name(value: str) -> str:
    if len(value) > 63 or not _DNS_LABEL.match(value):
        raise ValueError(
            "must be a DNS-1123 label: lower-case letters, digits and '-', at most 63 characters"
        )
    return value


class AnalysisTemplateRef(SpecModel):
    """A reference to an AnalysisTemplate (or ClusterAnalysisTemplate with clusterScope)."""

    template_name: str
    cluster_scope: bool = False


class AnalysisArg(SpecModel):
    """A value for a template argument: given, or from a Secret or a field of this Rollout."""

    name: str
    value: str | None = None
    value_from: ValueFrom | None = None

    @model_validator(mode="after")
    def _one_value(self) -> AnalysisArg:
        if (self.value is None) == (self.value_from is None):
            raise ValueError(f"arg {self.name}: give exactly one of value and valueFrom")
        return self


class AnalysisStep(SpecModel):
    """Run analysis templates and block the step on their result: Successful moves on, Failed or
    Error rolls back, Inconclusive pauses (until promote, abort, or spec.analysis's
    inconclusiveTimeout, which rolls back)."""

    templates: Annotated[list[AnalysisTemplateRef], Field(min_length=1)]
    args: list[AnalysisArg] = []


class BackgroundAnalysis(AnalysisStep):
    """Analysis for the whole update, from `startingStep` (index from 0) until promotion. Failed
    or Error rolls back at any time; Inconclusive pauses; promotion waits for it to be sound."""

    starting_step: Annotated[int, Field(ge=0)] | None = None


__all__ = ["AnalysisArg", "AnalysisStep", "AnalysisTemplateRef", "BackgroundAnalysis", "dns_name"]
