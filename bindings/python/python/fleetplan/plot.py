"""Plots of plans and timelines with matplotlib: replicas per cluster and region, before and
after a failure, utilisation per cluster and resource, DNS weights per host, region and
cluster. Each function draws on ``ax`` (a new figure's axes when None) and returns the axes."""

from __future__ import annotations

from typing import Any, Optional, Sequence

import matplotlib.pyplot as plt
import pandas as pd

from fleetplan import Plan


def _axes(ax: Any) -> Any:
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4))
    return ax


def replicas_per_cluster(plan: Plan, ax: Any = None, title: str = "Replicas per cluster") -> Any:
    """Stacked bars: replicas per cluster, one colour per workload."""
    ax = _axes(ax)
    table = plan.placements.pivot_table(index="cluster", columns="workload", values="replicas",
                                        aggfunc="sum", fill_value=0)
    if table.empty:
        ax.text(0.5, 0.5, "nothing placed", ha="center", va="center", transform=ax.transAxes)
    else:
        table.plot.bar(stacked=True, ax=ax)
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1, 1))
    ax.set_title(title)
    ax.set_xlabel("cluster")
    ax.set_ylabel("replicas")
    return ax


def replicas_per_region(plan: Plan, ax: Any = None, title: str = "Replicas per region") -> Any:
    """Bars: replicas per region."""
    ax = _axes(ax)
    plan.replicas_by_region().plot.bar(ax=ax, color="tab:blue")
    ax.set_title(title)
    ax.set_xlabel("region")
    ax.set_ylabel("replicas")
    return ax


def before_after(before: Plan, after: Plan, by: str = "cluster", ax: Any = None,
                 labels: Sequence[str] = ("before", "after"), title: Optional[str] = None) -> Any:
    """Side-by-side bars of replicas per ``cluster`` or ``region`` in two plans, such as
    before and after a failure."""
    if by not in ("cluster", "region"):
        raise ValueError(f"by: expected cluster or region, got {by!r}")
    ax = _axes(ax)

    def per(plan: Plan) -> pd.Series:
        return plan.placements.groupby(by)["replicas"].sum()

    table = pd.DataFrame({labels[0]: per(before), labels[1]: per(after)}).fillna(0).astype(int)
    table.plot.bar(ax=ax)
    ax.set_title(title or f"Replicas per {by}: {labels[0]} and {labels[1]}")
    ax.set_xlabel(by)
    ax.set_ylabel("replicas")
    return ax


def utilisation(plan: Plan, resources: Sequence[str] = ("cpu", "memory"), ax: Any = None,
                title: str = "Node-pool utilisation") -> Any:
    """Bars of the planned share of node-pool capacity per cluster, one bar per resource."""
    ax = _axes(ax)
    table = plan.utilisation
    table = table[table["resource"].isin(resources)]
    pivot = table.pivot_table(index="cluster", columns="resource", values="fraction", fill_value=0.0)
    if pivot.empty:
        ax.text(0.5, 0.5, "no node pools", ha="center", va="center", transform=ax.transAxes)
    else:
        (pivot * 100).plot.bar(ax=ax)
    ax.set_title(title)
    ax.set_xlabel("cluster")
    ax.set_ylabel("% of allocatable")
    return ax


def traffic(plan: Plan, host: Optional[str] = None, ax: Any = None,
            title: str = "DNS weight per cluster", regions: Optional[Sequence[str]] = None) -> Any:
    """Bars of each cluster's DNS record weight (0-255, labelled), grouped by region (one
    colour per region) and host: where global DNS sends each host's users under the plan
    (``plan.traffic``). ``host`` keeps one host; with several, each group is labelled with
    its host. ``regions`` gives the colours' order (default: the plan's regions by name):
    pass the same list to plots being compared so that a region keeps its colour."""
    ax = _axes(ax)
    table = plan.traffic
    if host is not None:
        table = table[table["host"] == host]
    if table.empty:
        ax.text(0.5, 0.5, "no global traffic", ha="center", va="center", transform=ax.transAxes)
    else:
        order = list(regions or []) + sorted(set(table["region"]) - set(regions or []))
        colours = {r: f"C{i}" for i, r in enumerate(order)}
        several = table["host"].nunique() > 1
        ticks, labels, x = [], [], 0.0
        for name, regions_of_host in table.groupby("host", sort=False):
            start = x
            for region, group in regions_of_host.groupby("region", sort=False):
                positions = [x + i for i in range(len(group))]
                bars = ax.bar(positions, group["weight"], color=colours[region],
                              label=None if region in ax.get_legend_handles_labels()[1] else region)
                ax.bar_label(bars, fontsize="small")
                ticks += positions
                labels += list(group["cluster"])
                x = positions[-1] + 1.5
            if several:
                ax.text((start + x - 1.5) / 2, 285, name, ha="center", va="bottom", fontsize="small")
                x += 1
        ax.set_xticks(ticks)
        ax.set_xticklabels(labels, rotation=90)
        ax.axhline(255, color="grey", linestyle=":", linewidth=1)
        ax.set_ylim(0, 320 if several else 285)
        ax.legend(title="region", fontsize="small", loc="upper left", bbox_to_anchor=(1, 1))
    ax.set_title(title)
    ax.set_xlabel("cluster")
    ax.set_ylabel("weight (of 255)")
    return ax
