"""Offline checking of Rollout files and folders (`rollout lint`).

Owns which files are read and which documents are checked; the checking itself is
`rollout.parsing`, the same code the controller runs, so lint and the controller agree.

Rules:
- A directory is searched recursively for `*.yaml` / `*.yml` (hidden directories such as `.git`
  are skipped). A GitOps folder holds many kinds, so documents of other kinds are skipped and
  counted. A directory with no YAML file, or with no Rollout at all, is a problem.
- A file named explicitly must contain at least one Rollout; if it holds none, each of its
  documents is reported as the wrong kind (an empty file is reported as empty). Documents of
  other kinds next to a Rollout in the same file (its Services, say) are skipped.
- Anything that cannot be read as YAML, or a document that is not a mapping, is a problem
  wherever it is.
- `-` reads standard input (treated like a file named explicitly).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rollout import service_check
from rollout.documents import (
    MAX_FILE_BYTES,
    Document,
    decode_spec_bytes,
    display_path,
    read_spec_file,
    scan_documents,
)
from rollout.errors import SpecError, SpecProblem
from rollout.models import API_VERSION, KIND, Rollout
from rollout.parsing import parse_document

YAML_SUFFIXES = (".yaml", ".yml")
STDIN = "-"


@dataclass
class LintReport:
    """What `lint` found: every problem, plus counts for the summary line."""

    problems: list[SpecProblem] = field(default_factory=list)
    rollouts_valid: int = 0
    rollouts_invalid: int = 0
    templates_valid: int = 0  # AnalysisTemplate / ClusterAnalysisTemplate
    skipped: int = 0  # documents of other kinds
    rollouts: list[tuple[Rollout, Document, str]] = field(default_factory=list)
    """Valid Rollouts with their document and file, for the checks across documents."""
    services: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    """(namespace, name) -> Service found among the documents."""

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def summary(self) -> str:
        """`3 problems in 2 documents; 5 Rollouts valid` (+ how many other documents)."""
        places = {(p.file, p.document) for p in self.problems}
        parts = [
            f"{_count(len(self.problems), 'problem')} in {_count(len(places), 'document')}"
            if self.problems
            else "no problems",
            f"{_count(self.rollouts_valid, 'Rollout')} valid",
        ]
        if self.templates_valid:
            parts.append(f"{_count(self.templates_valid, 'analysis template')} valid")
        if self.skipped:
            parts.append(f"{_count(self.skipped, 'other document')} skipped")
        return "; ".join(parts)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def lint_paths(paths: Sequence[str]) -> list[SpecProblem]:
    """Every problem in the given files and directories (empty list: all good)."""
    return lint_report(paths).problems


def lint_report(paths: Sequence[str]) -> LintReport:
    report = LintReport()
    for given in paths:
        if given == STDIN:
            try:
                text = _read_stdin()
            except SpecError as err:
                report.problems.extend(err.problems)
            else:
                _lint_text(text, "<stdin>", report, explicit=True)
            continue
        path = Path(given)
        if path.is_dir():
            _lint_directory(path, report)
        else:
            _lint_file(path, report, explicit=True)
    _check_services(report)
    return report


def _check_services(report: LintReport) -> None:
    """A Service named by a Rollout and found among the documents must select its pods."""
    for rollout, doc, label in report.rollouts:
        namespace = rollout.metadata.namespace or ""
        found = {name: obj for (ns, name), obj in report.services.items() if ns == namespace}
        template = rollout.spec.template
        if template is None:
            continue  # workloadRef: the pod labels live in a Deployment lint may not see
        wrong = service_check.problems(rollout, template.metadata.labels, found)
        for path, why in wrong:
            line = doc.line_of(path)
            report.problems.append(
                SpecProblem(path, why, file=label, document=doc.index, line=line)
            )
        if wrong:
            report.rollouts_valid -= 1
            report.rollouts_invalid += 1


def _lint_directory(directory: Path, report: LintReport) -> None:
    files = sorted(_yaml_files(directory))
    if not files:
        reason = "no *.yaml or *.yml files in this directory"
        report.problems.append(SpecProblem("", reason, file=display_path(directory)))
        return
    before_valid, before_invalid, before_skipped = (
        report.rollouts_valid,
        report.rollouts_invalid,
        report.skipped,
    )
    before_problems = len(report.problems)
    for path in files:
        _lint_file(path, report, explicit=False)
    found = report.rollouts_valid + report.rollouts_invalid - before_valid - before_invalid
    if not found and len(report.problems) == before_problems:
        skipped = report.skipped - before_skipped
        reason = (
            f"no Rollout (kind {KIND}, apiVersion {API_VERSION}) in {_count(len(files), 'file')}"
            f" ({_count(skipped, 'other document')} skipped)"
        )
        report.problems.append(SpecProblem("", reason, file=display_path(directory)))


def _yaml_files(directory: Path) -> list[Path]:
    found: list[Path] = []
    # os.walk does not follow symlinked directories, so a link loop cannot trap us.
    for root, dirs, names in os.walk(directory):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found.extend(Path(root, n) for n in names if n.endswith(YAML_SUFFIXES))
    return found


def _lint_file(path: Path, report: LintReport, *, explicit: bool) -> None:
    try:
        text = read_spec_file(path)
    except SpecError as err:
        report.problems.extend(err.problems)
        return
    _lint_text(text, display_path(path), report, explicit=explicit)


def _read_stdin() -> str:
    raw = sys.stdin.buffer.read(MAX_FILE_BYTES + 1)
    if len(raw) > MAX_FILE_BYTES:
        reason = f"input is larger than the limit of {MAX_FILE_BYTES // (1024 * 1024)} MiB"
        raise SpecError([SpecProblem("", reason, file="<stdin>")])
    return decode_spec_bytes(raw, file="<stdin>")


def _lint_text(text: str, label: str, report: LintReport, *, explicit: bool) -> None:
    start = len(report.problems)
    _lint_documents(text, label, report, explicit=explicit)
    # In file order, whichever check found them.
    report.problems[start:] = sorted(report.problems[start:], key=_position)


def _position(problem: SpecProblem) -> tuple[int, int]:
    return problem.document, problem.line or 0


def _lint_documents(text: str, label: str, report: LintReport, *, explicit: bool) -> None:
    documents, problems = scan_documents(text, file=label)
    report.problems.extend(problems)
    others: list[Document] = []
    rollouts = 0
    for doc in documents:
        if _is_ours(doc.data) or not isinstance(doc.data, dict):
            # Ours, or not a Kubernetes object at all: parse_rollout names what is wrong.
            rollouts += 1 if _is_ours(doc.data) else 0
            _check(doc, label, report)
        else:
            others.append(doc)
            data = doc.data
            meta = data.get("metadata")
            if (
                data.get("kind") == "Service"
                and isinstance(meta, dict)
                and meta.get("name")
                and _selector_is_readable(data)
            ):
                key = (str(meta.get("namespace") or ""), str(meta["name"]))
                report.services[key] = data
    if explicit and not rollouts and not problems:
        if not documents:
            reason = "the file has no documents; expected a Rollout"
            report.problems.append(SpecProblem("", reason, file=label))
        for doc in others:  # named explicitly, so a file without a Rollout is a mistake
            _check(doc, label, report)
        return
    report.skipped += len(others)


def _selector_is_readable(service: dict[str, Any]) -> bool:
    """A Service whose `spec` is not a mapping, or whose `spec.selector` is not a mapping with
    string keys, is not one the Service check can read (kubectl would refuse it; lint checks
    Rollouts, not Services): it is left out, as if it were not among the documents."""
    spec = service.get("spec")
    if spec is None:
        return True
    if not isinstance(spec, dict):
        return False
    selector = spec.get("selector") or {}
    return isinstance(selector, dict) and all(isinstance(key, str) for key in selector)


def _check(doc: Document, label: str, report: LintReport) -> None:
    try:
        parsed = parse_document(doc, file=label)
    except SpecError as err:
        report.problems.extend(err.problems)
        if _is_ours(doc.data):
            report.rollouts_invalid += 1
    else:
        if isinstance(parsed, Rollout):
            report.rollouts_valid += 1
            report.rollouts.append((parsed, doc, label))
        else:
            report.templates_valid += 1


def _is_ours(data: object) -> bool:
    """A document meant as one of our Rollouts (right kind, or our API group)."""
    if not isinstance(data, dict):
        return False
    api_version = data.get("apiVersion")
    ours = isinstance(api_version, str) and api_version.startswith(API_VERSION.split("/")[0] + "/")
    return data.get("kind") == KIND or ours
