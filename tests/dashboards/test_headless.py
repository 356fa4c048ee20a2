"""The controller, the strategies, the meshes and the CLI never load Textual: only the dashboard
command does, when it runs (checked in a fresh interpreter, importing every module)."""

from __future__ import annotations

import json
import subprocess
import sys

IMPORT_ALL = """
import importlib, json, pkgutil, sys
import rollout, strategies, meshes
skipped = {"rollout.cli.dashboard_cmd"}
imported = []
for package in (rollout, strategies, meshes):
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        if info.name in skipped or info.name.endswith("__main__"):
            continue
        importlib.import_module(info.name)
        imported.append(info.name)
from rollout.cli.main import build_parser
build_parser()  # registers every command, dashboard_cmd's too
ui = ("textual", "dashboards")
loaded = sorted(m for m in sys.modules if m in ui or m.startswith(tuple(f"{u}." for u in ui)))
print(json.dumps({"imported": imported, "loaded": loaded}))
"""


def test_headless_modules_never_import_textual() -> None:
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_ALL], capture_output=True, text=True, timeout=90, check=True
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["loaded"] == []
    assert "rollout.reconciler.controller" in report["imported"]
    assert "strategies.canary" in report["imported"] and "meshes.istio" in report["imported"]
    assert "rollout.cli.view_cmd" in report["imported"] and "rollout.demo" in report["imported"]
