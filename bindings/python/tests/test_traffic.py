"""The traffic model from Python: a plan's DNS weights per host, region and cluster, where a
region's users are sent (before and after failures), the plot, and that all of it equals the
command line's JSON on the same scenario."""

import json

import pandas as pd
import pytest

import fleetplan
from fleetplan import FleetplanError, Plan, plot

from conftest import FLEET, TUTORIAL, WEB

HOST = "shop.example.com"
EU = ["eu-west-1-a", "eu-west-1-b"]
TRAFFIC_COLUMNS = ["host", "source", "region", "cluster", "replicas", "weight", "share"]
RESOLUTION_COLUMNS = ["from_region", "latency_region", "cluster", "region", "weight", "share", "failed_open"]


def traffic_rows(document):
    """A plan document's "traffic" as one row per host, region and cluster."""
    return [{"host": h["host"], "source": h["source"], "region": r["region"], "cluster": c["cluster"],
             "replicas": c["replicas"], "weight": c["weight"], "share": c["share"]}
            for h in document.get("traffic", []) for r in h["regions"] for c in r["clusters"]]


def resolution_rows(resolution):
    """A resolution document's clusters that get requests, as resolve's rows."""
    return [{"from_region": resolution["from"], "latency_region": resolution.get("region"),
             "cluster": c["cluster"], "region": c["region"], "weight": c["weight"], "share": c["share"],
             "failed_open": resolution["failedOpen"]}
            for c in resolution["clusters"] if c["share"] > 0]


def test_a_plans_traffic_has_weights_summing_to_255_per_region():
    plan = fleetplan.load(TUTORIAL).plan()
    traffic = plan.traffic
    assert list(traffic.columns) == TRAFFIC_COLUMNS
    assert set(traffic["host"]) == {HOST}
    assert set(traffic["source"]) == {"Ingress shop/web"}
    assert set(traffic["region"]) == {"eu-west-1", "us-west-2"}
    assert set(traffic["cluster"]) == {"eu-west-1-a", "eu-west-1-b", "us-west-2-a", "us-west-2-b"}
    # Latency over weighted (the default): each region's records share the 255 points.
    assert traffic.groupby(["host", "region"])["weight"].sum().tolist() == [255, 255]
    assert ((traffic["weight"] >= 1) & (traffic["weight"] <= 255)).all()
    assert traffic.groupby("region")["share"].sum().round(9).tolist() == [1.0, 1.0]
    # The engine's order: host, region, cluster.
    ordered = traffic.sort_values(["host", "region", "cluster"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(traffic, ordered)
    # The replicas are the backends' (the Ingress serves shop/web-eu and shop/web-us).
    placements = plan.placements
    backends = placements[placements["workload"].isin(["shop/web-eu", "shop/web-us"])]
    assert traffic.set_index("cluster")["replicas"].to_dict() == backends.groupby("cluster")["replicas"].sum().to_dict()


@pytest.mark.parametrize("solver", ["auto", "fast"])
def test_a_plans_traffic_equals_the_command_lines_json(cli, solver):
    plan = fleetplan.load(TUTORIAL).plan(solver=solver)
    theirs = json.loads(cli("plan", str(TUTORIAL), "--solver", solver, "-o", "json"))
    assert theirs["traffic"], "the tutorial has a global host"
    assert plan.traffic.to_dict("records") == traffic_rows(theirs)
    # A plan read from its document (as a timeline's are) gives the same table.
    pd.testing.assert_frame_equal(Plan(document=plan.to_dict()).traffic, plan.traffic)


def test_a_plan_without_hosts_has_an_empty_traffic_table():
    plan = fleetplan.load_yaml([FLEET], [json.dumps(WEB)]).plan()
    assert plan.summary["placed"] == 6
    traffic = plan.traffic
    assert traffic.empty and list(traffic.columns) == TRAFFIC_COLUMNS
    assert Plan(document=plan.to_dict()).traffic.empty
    ax = plot.traffic(plan)
    assert not ax.patches and ax.texts[0].get_text() == "no global traffic"


def test_a_timelines_plans_carry_their_traffic():
    timeline = fleetplan.load(TUTORIAL).simulate([{"op": "fail", "cluster": c} for c in EU])
    before, after = timeline.plan(0).traffic, timeline.plan(-1).traffic
    assert set(before["region"]) == {"eu-west-1", "us-west-2"}
    assert set(after["region"]) == {"us-west-2"}
    assert after["weight"].sum() == 255


def test_users_go_to_their_region_then_to_us_west_2_when_both_eu_clusters_fail():
    scenario = fleetplan.load(TUTORIAL)
    eu = scenario.resolve(HOST, "eu-west-1")
    assert list(eu.columns) == RESOLUTION_COLUMNS
    assert set(eu["cluster"]) == set(EU)
    assert set(eu["region"]) == {"eu-west-1"} and set(eu["latency_region"]) == {"eu-west-1"}
    assert eu["share"].sum() == pytest.approx(1.0)
    assert not eu["failed_open"].any()
    assert eu.attrs == {"host": HOST, "from_region": "eu-west-1", "latency_region": "eu-west-1",
                        "rtt_ms": 0.0, "failed_open": False}
    us = scenario.resolve(HOST, "us-west-2")
    assert set(us["cluster"]) == {"us-west-2-a", "us-west-2-b"}
    # us-east-1 holds no replica: its users go to the nearest region that does.
    assert set(scenario.resolve(HOST, "us-east-1")["region"]) == {"us-west-2"}
    # Both eu clusters fail: their records go, and eu users are sent to us-west-2.
    after = scenario.resolve(HOST, "eu-west-1", fail=EU)
    assert set(after["cluster"]) == {"us-west-2-a", "us-west-2-b"}
    assert set(after["latency_region"]) == {"us-west-2"}
    assert after["share"].sum() == pytest.approx(1.0)
    assert after.attrs["rtt_ms"] > 0 and not after.attrs["failed_open"]
    assert set(scenario.resolve(HOST, "us-west-2", fail=EU)["cluster"]) == {"us-west-2-a", "us-west-2-b"}


def test_unhealthy_clusters_are_skipped_and_all_unhealthy_fails_open():
    scenario = fleetplan.load(TUTORIAL)
    one = scenario.resolve(HOST, "eu-west-1", unhealthy="eu-west-1-a")
    assert one[["cluster", "share"]].values.tolist() == [["eu-west-1-b", 1.0]]
    # Both eu records unhealthy (but still there): the latency record fails over.
    both = scenario.resolve(HOST, "eu-west-1", unhealthy=EU)
    assert set(both["region"]) == {"us-west-2"} and not both.attrs["failed_open"]
    everything = scenario.resolve(HOST, "eu-west-1", unhealthy=EU + ["us-west-2-a", "us-west-2-b"])
    assert everything.attrs["failed_open"] and everything["failed_open"].all()
    assert set(everything["cluster"]) == set(EU)
    assert everything["share"].sum() == pytest.approx(1.0)


@pytest.mark.parametrize("region", ["eu-west-1", "us-west-2", "us-east-1"])
@pytest.mark.parametrize("failed", [[], EU], ids=["healthy", "eu-down"])
def test_a_resolution_equals_the_command_lines_json(cli, region, failed):
    ours = fleetplan.load(TUTORIAL).resolve(HOST, region, fail=failed, unhealthy=["us-west-2-b"])
    flags = [arg for c in failed for arg in ("--fail", c)]
    theirs = json.loads(cli("traffic", "resolve", HOST, str(TUTORIAL), "--from", region, "--unhealthy",
                            "us-west-2-b", *flags, "-o", "json"))
    assert len(theirs) == 1
    assert ours.to_dict("records") == resolution_rows(theirs[0])
    assert ours.attrs["latency_region"] == theirs[0].get("region")
    assert ours.attrs["rtt_ms"] == theirs[0].get("rttMs")


def test_resolve_errors_raise_value_errors_with_the_engines_message():
    scenario = fleetplan.load(TUTORIAL)
    with pytest.raises(ValueError, match=r"no route for host `nowhere.example.com` \(hosts: shop.example.com\)"):
        scenario.resolve("nowhere.example.com", "eu-west-1")
    with pytest.raises(FleetplanError, match=r"`mars-1` is not an AWS region fleetplan knows; known regions: .*eu-west-1"):
        scenario.resolve(HOST, "mars-1")
    with pytest.raises(FleetplanError, match="unhealthy: unknown cluster `nowhere`"):
        scenario.resolve(HOST, "eu-west-1", unhealthy=["nowhere"])
    with pytest.raises(FleetplanError, match=r"step 1 \(fail nowhere\): unknown cluster `nowhere`"):
        scenario.resolve(HOST, "eu-west-1", fail=["nowhere"])
    with pytest.raises(FleetplanError, match=r"fail\[0\]: expected a cluster name"):
        scenario.resolve(HOST, "eu-west-1", fail=[1])
    with pytest.raises(FleetplanError, match="solver: expected auto, fast, flow or exact"):
        scenario.resolve(HOST, "eu-west-1", solver="fastest")
    with pytest.raises(FleetplanError, match="no route for host `shop.example.com` \\(hosts: none\\)"):
        fleetplan.load_yaml([FLEET], [json.dumps(WEB)]).resolve(HOST, "us-east-1")
    # The interpreter is still fine.
    assert len(scenario.resolve(HOST, "eu-west-1")) == 2


def test_the_traffic_plot_draws_a_bar_per_cluster_with_its_weight():
    plan = fleetplan.load(TUTORIAL).plan()
    ax = plot.traffic(plan)
    heights = sorted(p.get_height() for p in ax.patches)
    assert heights == sorted(plan.traffic["weight"].tolist())
    assert [t.get_text() for t in ax.get_xticklabels()] == plan.traffic["cluster"].tolist()
    assert sorted(t.get_text() for t in ax.get_legend().get_texts()) == ["eu-west-1", "us-west-2"]
    assert not plot.traffic(plan, host="other.example.com").patches
    # Plots being compared keep a region's colour when given the same regions.
    after = fleetplan.load(TUTORIAL).simulate([{"op": "fail", "cluster": c} for c in EU]).plan(-1)
    regions = ["eu-west-1", "us-west-2"]
    before_colours = {t.get_text(): p.get_facecolor() for t, p in
                      zip(ax.get_xticklabels(), ax.patches)}
    ax_after = plot.traffic(after, regions=regions)
    assert [t.get_text() for t in ax_after.get_xticklabels()] == ["us-west-2-a", "us-west-2-b"]
    assert ax_after.patches[0].get_facecolor() == before_colours["us-west-2-a"]
    # Several hosts: each host's groups are labelled once with its name.
    document = plan.to_dict()
    document["traffic"] = [dict(document["traffic"][0], host="api.example.com"), document["traffic"][0]]
    ax_hosts = plot.traffic(Plan(document=document))
    assert len(ax_hosts.patches) == 8
    assert sorted(t.get_text() for t in ax_hosts.texts if t.get_text().endswith(".com")) == \
        ["api.example.com", HOST]
