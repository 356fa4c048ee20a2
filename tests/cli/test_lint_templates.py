"""`rollout lint` checks analysis templates too, naming the field path and the reason."""

from __future__ import annotations

from pathlib import Path

from rollout.lint import lint_report

BAD = """\
apiVersion: rollout.dev/v1alpha1
kind: AnalysisTemplate
metadata: {name: t}
spec:
  metrics:
    - name: rate
      provider:
        prometheus: {address: "http://p:9090", query: "up"}
      successCondition: "result >="
    - name: web
      provider:
        web: {url: "http://x", method: PUT}
      successCondition: result == true
    - name: quiet
      provider:
        prometheus: {address: "http://p:9090", query: "up"}
"""


def test_template_problems_are_named_by_path(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(BAD)
    report = lint_report([str(path)])
    found = {(p.path, p.reason.split(":")[0]) for p in report.problems}
    paths = {p.path for p in report.problems}
    assert "spec.metrics[0].successCondition" in paths, found
    assert "spec.metrics[1].provider.web.method" in paths, found
    assert any(
        p.path.startswith("spec.metrics[2]") and "needs successCondition" in p.reason
        for p in report.problems
    ), found
    assert all(p.line for p in report.problems)
    assert report.templates_valid == 0


def test_the_example_templates_are_valid() -> None:
    examples = Path(__file__).resolve().parents[2] / "examples" / "analysis"
    report = lint_report([str(examples)])
    assert report.problems == []
    assert (report.rollouts_valid, report.templates_valid) == (1, 3)
