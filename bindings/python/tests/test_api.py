"""The Python API: loading, planning, simulating and explaining, the DataFrames, errors, and
that results equal the command line's JSON on the same scenario."""

import json
import shutil

import pandas as pd
import pytest

import fleetplan
from fleetplan import FleetplanError, plot

from conftest import FLEET, TUTORIAL, WEB

GPU = {
    "apiVersion": "batch/v1",
    "kind": "Job",
    "metadata": {"name": "train", "namespace": "ml"},
    "spec": {
        "parallelism": 1,
        "template": {"spec": {"restartPolicy": "Never", "containers": [
            {"name": "t", "resources": {"requests": {"nvidia.com/gpu": "1"}, "limits": {"nvidia.com/gpu": "1"}}}]}},
    },
}


def without_timing(document):
    """A plan or timeline document without the solver's wall-clock time."""
    text = json.dumps(document, sort_keys=True)
    value = json.loads(text)

    def strip(node):
        if isinstance(node, dict):
            node.pop("millis", None)
            for child in node.values():
                strip(child)
        elif isinstance(node, list):
            for child in node:
                strip(child)

    strip(value)
    return value


@pytest.mark.parametrize("solver", ["auto", "fast", "flow", "exact"])
def test_a_plan_equals_the_command_lines_json(cli, solver):
    ours = fleetplan.load(TUTORIAL).plan(solver=solver).to_dict()
    theirs = json.loads(cli("plan", str(TUTORIAL), "--solver", solver, "-o", "json"))
    assert without_timing(ours) == without_timing(theirs)


def test_a_timeline_equals_the_command_lines_json(cli):
    steps = TUTORIAL / "steps" / "failover.yaml"
    ours = fleetplan.load(TUTORIAL).simulate(steps.read_text()).to_dict()
    theirs = json.loads(cli("simulate", str(TUTORIAL), "--steps", str(steps), "-o", "json"))
    assert without_timing(ours) == without_timing(theirs)


def test_yaml_texts_and_dicts_load_as_files_do():
    from_yaml = fleetplan.load_yaml([FLEET], [json.dumps(WEB)]).plan().to_dict()
    from_dicts = fleetplan.load_dicts([{"apiVersion": "fleetplan.io/v1", "kind": "Fleet", "clusters": [
        {"name": "east", "region": "us-east-1", "pools": [{"name": "general", "count": 2,
                                                           "allocatable": {"cpu": "4", "memory": "16Gi"}}]},
        {"name": "west", "region": "us-west-2", "pools": [{"name": "general", "count": 1,
                                                           "allocatable": {"cpu": "4", "memory": "16Gi"}}]},
    ]}], [WEB]).plan().to_dict()
    assert without_timing(from_yaml) == without_timing(from_dicts)
    assert from_yaml["summary"]["placed"] == 6


def test_dataframes_have_their_documented_columns():
    scenario = fleetplan.load_yaml([FLEET], [json.dumps(WEB), json.dumps(GPU)])
    plan = scenario.plan(explain=True)
    assert list(plan.placements.columns) == ["workload", "cluster", "region", "replicas"]
    assert list(plan.pools.columns) == ["workload", "cluster", "region", "pool", "replicas"]
    assert list(plan.unplaced.columns) == ["workload", "replicas", "cluster", "code", "reason"]
    assert list(plan.explanations.columns) == ["workload", "cluster", "replicas", "code", "reason"]
    assert list(plan.utilisation.columns) == ["cluster", "region", "resource", "planned", "capacity", "fraction"]
    assert list(scenario.clusters.columns) == ["cluster", "region", "health", "pools", "fargate_profiles"]
    assert list(scenario.workloads.columns) == ["workload", "kind", "replicas"]
    assert plan.placements["replicas"].sum() == 6
    # The GPU job cannot run anywhere: every cluster says why.
    unplaced = plan.unplaced
    assert set(unplaced["workload"]) == {"ml/train"}
    assert set(unplaced["cluster"]) == {"east", "west"}
    assert unplaced["code"].eq("Insufficient").all(), unplaced
    cpu = plan.utilisation[plan.utilisation["resource"] == "cpu"].set_index("cluster")
    assert cpu["planned"].sum() == 6000
    assert cpu.loc["east", "capacity"] == 8000
    assert ((cpu["fraction"] >= 0) & (cpu["fraction"] <= 1)).all()
    assert plan.replicas_by_cluster().sum() == 6
    assert isinstance(plan.replicas_by_region(), pd.Series)
    assert "6 of 7 replicas placed" in plan._repr_html_()


def test_explain_and_a_timeline_have_tables_and_html():
    scenario = fleetplan.load(TUTORIAL)
    why = scenario.explain()
    assert set(why["code"].dropna()) >= {"ClusterSelector"}
    timeline = scenario.simulate([{"op": "fail", "cluster": "us-west-2-a"}, [{"op": "recover", "cluster": "us-west-2-a"}]])
    assert len(timeline) == 3
    summary = timeline.summary
    assert list(summary.columns) == ["step", "operations", "placed", "unplaced", "lost", "moved", "cost_per_hour"]
    assert summary.loc[1, "operations"] == "fail us-west-2-a"
    assert summary.loc[1, "lost"] > 0
    assert summary["placed"].tolist() == [17, 17, 17]
    assert "us-west-2-a" not in set(timeline.plan(1).placements["cluster"])
    assert "<table" in timeline._repr_html_() and "<table" in scenario._repr_html_()


def test_plots_draw_bars():
    scenario = fleetplan.load(TUTORIAL)
    plan = scenario.plan()
    after = scenario.simulate([{"op": "fail", "cluster": "us-west-2-a"}]).plan(-1)
    for ax in (plot.replicas_per_cluster(plan), plot.replicas_per_region(plan),
               plot.before_after(plan, after), plot.utilisation(plan)):
        assert ax.patches, ax.get_title()
    with pytest.raises(ValueError, match="by: expected cluster or region"):
        plot.before_after(plan, after, by="zone")


def test_files_a_folder_holds_that_are_not_manifests_are_warned_about(tmp_path):
    shutil.copytree(TUTORIAL, tmp_path / "tutorial")
    (tmp_path / "tutorial" / "apps" / "notes.txt").write_text("to do\n")
    with pytest.warns(UserWarning, match=r"^skipped .*/apps/notes\.txt: not a \.yaml, \.yml or \.json file$"):
        scenario = fleetplan.load(tmp_path / "tutorial")
    assert scenario.plan().to_dict()["summary"]["unplaced"] == 0


def test_internal_failures_are_told_apart_from_bad_input():
    # A solver failing on valid input is fleetplan's fault: a RuntimeError, not a ValueError.
    assert issubclass(fleetplan.InternalError, RuntimeError)
    assert not issubclass(fleetplan.InternalError, ValueError)
    assert issubclass(FleetplanError, ValueError)


def test_a_max_surge_of_zero_is_refused():
    scenario = fleetplan.load(TUTORIAL)
    with pytest.raises(FleetplanError, match="max surge 0"):
        scenario.simulate([{"op": "fail", "cluster": "us-west-2-a"}], max_surge=0)


def test_bad_input_raises_the_command_lines_message():
    with pytest.raises(FleetplanError, match=r"apps\[0\]: Deployment shop/web: spec.replicas"):
        bad = json.loads(json.dumps(WEB))
        bad["spec"]["replicas"] = -1
        fleetplan.load_yaml([FLEET], [json.dumps(bad)])
    with pytest.raises(FleetplanError, match=r"fleet\[0\]"):
        fleetplan.load_yaml(["clusters: ["], [json.dumps(WEB)])
    with pytest.raises(FleetplanError, match="not a scenario folder"):
        fleetplan.load(TUTORIAL / "missing")
    with pytest.raises(FleetplanError, match=r"apps\[0\]: expected a dict"):
        fleetplan.load_dicts([], ["web"])
    with pytest.raises(FleetplanError, match="expected a list of YAML texts"):
        fleetplan.load_yaml(FLEET, [])
    scenario = fleetplan.load(TUTORIAL)
    with pytest.raises(FleetplanError, match="solver: expected auto, fast, flow or exact"):
        scenario.plan(solver="fastest")
    with pytest.raises(FleetplanError, match="unknown weight `speed`"):
        scenario.plan(weights={"speed": 1})
    with pytest.raises(FleetplanError, match="time_limit"):
        scenario.plan(time_limit=-1)
    with pytest.raises(FleetplanError, match="steps: step 1"):
        scenario.simulate([{"op": "explode"}])
    with pytest.raises(FleetplanError, match="step 1 \\(fail nowhere\\)"):
        scenario.simulate([{"op": "fail", "cluster": "nowhere"}])
    with pytest.raises(FleetplanError, match="recovery"):
        scenario.simulate([{"op": "fail", "cluster": "us-west-2-a"}], recovery="never")
    # FleetplanError is a ValueError, and the interpreter is still fine.
    assert issubclass(FleetplanError, ValueError)
    assert scenario.plan().summary["placed"] == 17
