"""`rollout lint` on blue-green specs: the strategy's own rules, and the Services it pins
checked against the Rollout's pods when they are among the linted files."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from rollout.cli.main import main

ROLLOUT = """\
apiVersion: rollout.dev/v1alpha1
kind: Rollout
metadata: {name: shop}
spec:
  replicas: 3
  selector: {matchLabels: {app: shop}}
  template:
    metadata: {labels: {app: shop, tier: web}}
    spec: {containers: [{name: app, image: "shop:1"}]}
  strategy:
    blueGreen:
      activeService: shop-active
      previewService: shop-preview
"""


def service(name: str, selector: dict[str, str], namespace: str | None = None) -> str:
    meta: dict[str, str] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    doc = {"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": {"selector": selector}}
    return yaml.safe_dump(doc)


def lint(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str]]:
    code = main(["lint", *args])
    captured = capsys.readouterr()
    assert captured.err == ""
    return code, captured.out.splitlines()


def test_a_preview_service_of_another_app_is_refused_across_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "rollout.yaml").write_text(ROLLOUT)
    (tmp_path / "services.yaml").write_text(
        service("shop-active", {"app": "shop"})
        + "---\n"
        + service("shop-preview", {"app": "payments"})
    )
    code, out = lint(capsys, str(tmp_path))
    assert code == 1
    assert out == [
        f"{tmp_path / 'rollout.yaml'}:13 (document 1): spec.strategy.blueGreen.previewService: "
        "Service shop-preview selects app=payments, which this Rollout's pods (app=shop, "
        "tier=web) do not carry: it would send its traffic to other pods or to none",
        "1 problem in 1 document; 0 Rollouts valid; 2 other documents skipped",
    ]


def test_services_that_select_the_pods_pass_even_when_already_pinned(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pinned = {"app": "shop", "rollout.dev/revision-hash": "abc"}
    (tmp_path / "all.yaml").write_text(
        ROLLOUT
        + "---\n"
        + service("shop-active", pinned)
        + "---\n"
        + service("shop-preview", {"tier": "web"})
    )
    code, out = lint(capsys, str(tmp_path / "all.yaml"))
    assert (code, out) == (0, ["no problems; 1 Rollout valid; 2 other documents skipped"])


def test_a_service_of_the_same_name_in_another_namespace_is_not_this_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "all.yaml").write_text(
        ROLLOUT + "---\n" + service("shop-preview", {"app": "payments"}, namespace="other")
    )
    code, out = lint(capsys, str(tmp_path / "all.yaml"))
    assert (code, out) == (0, ["no problems; 1 Rollout valid; 1 other document skipped"])


@pytest.mark.parametrize(
    ("fields", "path", "reason"),
    [
        (
            {"previewService": "shop-active"},
            "spec.strategy.blueGreen.previewService",
            "must differ from activeService",
        ),
        (
            {"previewReplicaCount": 4},
            "spec.strategy.blueGreen.previewReplicaCount",
            "4 is more than replicas (3)",
        ),
        (
            {"autoPromotionEnabled": False, "autoPromotionSeconds": 30},
            "spec.strategy.blueGreen.autoPromotionSeconds",
            "has no effect with autoPromotionEnabled: false",
        ),
        ({"activeService": None}, "spec.strategy.blueGreen.activeService", "required"),
    ],
)
def test_blue_green_rules_name_the_field(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    fields: dict[str, object],
    path: str,
    reason: str,
) -> None:
    doc = yaml.safe_load(ROLLOUT)
    spec = doc["spec"]["strategy"]["blueGreen"]
    for key, value in fields.items():
        if value is None:
            del spec[key]
        else:
            spec[key] = value
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(doc))
    code, out = lint(capsys, str(tmp_path / "r.yaml"))
    assert code == 1
    assert f": {path}: " in out[0] and reason in out[0], out


def test_both_strategies_at_once_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = yaml.safe_load(ROLLOUT)
    doc["spec"]["strategy"]["canary"] = {"steps": [{"setWeight": 10}]}
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(doc))
    code, out = lint(capsys, str(tmp_path / "r.yaml"))
    assert code == 1
    assert "spec.strategy: give exactly one strategy: canary or blueGreen (found both)" in out[0]
