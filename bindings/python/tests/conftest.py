"""Shared fixtures: the repository's examples and the `fleetplan` command line to compare with."""

import os
import subprocess
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[3]
TUTORIAL = ROOT / "examples" / "tutorial"

# A small fleet of two clusters and a Deployment of six replicas, written inline.
FLEET = """apiVersion: fleetplan.io/v1
kind: Fleet
clusters:
- name: east
  region: us-east-1
  pools: [{name: general, count: 2, allocatable: {cpu: "4", memory: 16Gi}}]
- name: west
  region: us-west-2
  pools: [{name: general, count: 1, allocatable: {cpu: "4", memory: 16Gi}}]
"""

WEB = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "shop"},
    "spec": {
        "replicas": 6,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "resources": {"requests": {"cpu": "1"}}}]},
        },
    },
}


@pytest.fixture(scope="session")
def cli():
    """Runs the `fleetplan` binary named by FLEETPLAN_CLI (scripts/test sets it) and returns
    its stdout; without it the tests fail, they never skip."""
    binary = os.environ.get("FLEETPLAN_CLI")
    if not binary or not Path(binary).is_file():
        pytest.fail("FLEETPLAN_CLI must name the fleetplan binary (cargo build --release; scripts/test sets it)")

    def run(*args: str) -> str:
        done = subprocess.run([binary, *args], capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout

    return run
