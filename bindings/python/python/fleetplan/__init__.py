"""fleetplan for notebooks: load a fleet, plan it, ask "what if us-west-2-a goes down?".

The planning is done by the same Rust engine the ``fleetplan`` command line and controller
run (the native module ``fleetplan._native``); this package only loads input, calls it, and
shapes the answers as pandas DataFrames, dicts, HTML and plots.

    >>> import fleetplan
    >>> scenario = fleetplan.load("examples/tutorial")
    >>> plan = scenario.plan()
    >>> plan.placements            # DataFrame: workload, cluster, region, replicas
    >>> after = scenario.simulate([{"op": "fail", "cluster": "us-west-2-a"}])
    >>> after.summary              # DataFrame: one row per step
    >>> plan.traffic               # DataFrame: DNS weight per host, region and cluster
    >>> scenario.resolve("shop.example.com", "eu-west-1", fail=["eu-west-1-a", "eu-west-1-b"])

Bad input raises :class:`FleetplanError` (a ``ValueError``) with the message the command
line prints: the file, object and field at fault. A failure of fleetplan itself (a solver
failing on valid input) raises :class:`InternalError` (a ``RuntimeError``), never blamed on
the input.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Sequence, Union

import pandas as pd

from fleetplan._native import FleetplanError, InternalError
from fleetplan._native import Scenario as _NativeScenario

__all__ = [
    "FleetplanError",
    "InternalError",
    "Plan",
    "Scenario",
    "Timeline",
    "load",
    "load_dicts",
    "load_problem_json",
    "load_yaml",
]

PathLike = Union[str, Path]


def load(path: PathLike) -> Scenario:
    """Loads a scenario folder: ``path/fleet`` (eksctl ClusterConfigs, Fleet files, kubectl
    dumps) and ``path/apps`` (Kubernetes YAML, kustomizations rendered with ``kubectl
    kustomize``), as ``fleetplan plan PATH`` does; each file it does not read (not ``.yaml``,
    ``.yml`` or ``.json``) raises a ``UserWarning``, as the command line warns."""
    folder = Path(path)
    if not folder.is_dir():
        raise FleetplanError(f"{folder}: not a scenario folder (it needs fleet/ and apps/)")
    return Scenario(_NativeScenario.from_dir(str(folder)))


def load_yaml(fleet: Sequence[str], apps: Sequence[str]) -> Scenario:
    """Loads a scenario from YAML texts: each string is one file's content. Errors name them
    ``fleet[i]`` and ``apps[i]``."""
    return Scenario(
        _NativeScenario.from_texts(_named("fleet", fleet), _named("apps", apps)),
    )


def load_dicts(fleet: Sequence[Mapping[str, Any]], apps: Sequence[Mapping[str, Any]]) -> Scenario:
    """Loads a scenario from plain dicts: each dict is one document (a Fleet, an eksctl
    ClusterConfig, a Deployment...), as ``yaml.safe_load`` would give it."""
    return load_yaml([_document(d, "fleet", i) for i, d in enumerate(fleet)],
                     [_document(d, "apps", i) for i, d in enumerate(apps)])


def load_problem_json(path: PathLike) -> Scenario:
    """Loads a problem written as JSON in the engine's own model (as the benchmark tools
    write synthetic fleets)."""
    text = Path(path).read_text()
    return Scenario(_NativeScenario.from_problem_json(text))


def _named(kind: str, texts: Sequence[str]) -> list[tuple[str, str]]:
    if isinstance(texts, str):
        raise FleetplanError(f"{kind}: expected a list of YAML texts, got one string")
    named = []
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise FleetplanError(f"{kind}[{i}]: expected YAML text, got {type(text).__name__}")
        named.append((f"{kind}[{i}]", text))
    return named


def _document(value: Any, kind: str, index: int) -> str:
    if not isinstance(value, Mapping):
        raise FleetplanError(f"{kind}[{index}]: expected a dict, got {type(value).__name__}")
    try:
        return json.dumps(value)
    except (TypeError, ValueError) as err:
        raise FleetplanError(f"{kind}[{index}]: not plain data: {err}") from None


def _weights(weights: Optional[Mapping[str, float]]) -> Optional[list[tuple[str, float]]]:
    if weights is None:
        return None
    return [(str(name), float(value)) for name, value in weights.items()]


def _clusters(kind: str, names: Union[str, Iterable[str]]) -> list[str]:
    """Cluster names: one name, or any iterable of names."""
    if isinstance(names, str):
        return [names]
    clusters = []
    for i, name in enumerate(names):
        if not isinstance(name, str):
            raise FleetplanError(f"{kind}[{i}]: expected a cluster name, got {type(name).__name__}")
        clusters.append(name)
    return clusters


_RESOLUTION_COLUMNS = ["from_region", "latency_region", "cluster", "region", "weight", "share", "failed_open"]
_TRAFFIC_COLUMNS = ["host", "source", "region", "cluster", "replicas", "weight", "share"]


def _steps(steps: Union[str, Iterable[Any]]) -> str:
    """Steps as the steps-file text: a YAML string as it is, or a list of operations (dicts)
    and lists of operations."""
    if isinstance(steps, str):
        return steps
    try:
        return json.dumps(list(steps))
    except (TypeError, ValueError) as err:
        raise FleetplanError(f"steps: not plain data: {err}") from None


class Scenario:
    """A loaded, checked scenario: clusters, workloads and the replicas running now."""

    def __init__(self, native: _NativeScenario):
        self._native = native
        self._problem: Optional[dict[str, Any]] = None

    def _model(self) -> dict[str, Any]:
        """The problem as a dict, converted once (a scenario does not change)."""
        if self._problem is None:
            self._problem = self._native.problem()
        return self._problem

    def plan(
        self,
        solver: str = "auto",
        explain: bool = False,
        time_limit: float = 10.0,
        weights: Optional[Mapping[str, float]] = None,
    ) -> Plan:
        """Plans the scenario. ``solver`` is ``auto``, ``fast``, ``flow`` or ``exact``;
        ``weights`` sets objective weights by name (``cost``, ``moved``...), as
        ``fleetplan plan --weight`` does."""
        return Plan(native=self._native.plan(solver, explain, float(time_limit), _weights(weights)))

    def explain(self, solver: str = "auto", **options: Any) -> pd.DataFrame:
        """Why each workload got what it got in each cluster: the plan's explanations as a
        DataFrame (workload, cluster, replicas, code, reason)."""
        return self.plan(solver=solver, explain=True, **options).explanations

    def simulate(
        self,
        steps: Union[str, Iterable[Any]],
        solver: str = "fast",
        recovery: str = "stay",
        max_surge: int = 1,
        max_unavailable: int = 0,
        time_limit: float = 10.0,
        weights: Optional[Mapping[str, float]] = None,
    ) -> Timeline:
        """Runs what-if steps: a list whose items are one operation (``{"op": "fail",
        "cluster": "us-west-2-a"}``) or a list of operations applied together, or the YAML
        text of a steps file. Returns the timeline, step 0 being the initial plan."""
        document = self._native.simulate(
            _steps(steps), solver, recovery, int(max_surge), int(max_unavailable),
            float(time_limit), _weights(weights),
        )
        return Timeline(document)

    def resolve(
        self,
        host: str,
        from_region: str,
        *,
        unhealthy: Union[str, Iterable[str]] = (),
        fail: Union[str, Iterable[str]] = (),
        solver: str = "fast",
        time_limit: float = 10.0,
        weights: Optional[Mapping[str, float]] = None,
    ) -> pd.DataFrame:
        """Where the requests of users in ``from_region`` (an AWS region) for ``host`` go, as
        Route53 answers them: the nearest region holding replicas whose records include a
        healthy one (latency), then its clusters by weight; when no record is healthy, every
        record answers (fail-open). As ``fleetplan traffic resolve HOST --from REGION``.

        ``unhealthy`` clusters keep their records but fail their health checks; ``fail``
        clusters go down first, one step each (``--fail``), and the plan after them is
        resolved. ``solver``, ``time_limit`` and ``weights`` plan, as for :meth:`simulate`.

        Returns one row per cluster that gets requests: from_region, latency_region (the
        region whose latency record answers; None under the weighted policy), cluster,
        region, weight (its record's, 0-255), share (of the requests, 0-1; the shares sum to
        1), failed_open. ``attrs`` holds host, from_region, latency_region, rtt_ms (the
        estimated round trip to latency_region) and failed_open. An unknown host, region or
        cluster raises :class:`FleetplanError`."""
        r = self._native.resolve(
            str(host), str(from_region), _clusters("unhealthy", unhealthy), _clusters("fail", fail),
            solver, float(time_limit), _weights(weights),
        )
        rows = [{"from_region": r["from"], "latency_region": r.get("region"), "cluster": c["cluster"],
                 "region": c["region"], "weight": c["weight"], "share": c["share"],
                 "failed_open": r["failedOpen"]}
                for c in r["clusters"] if c["share"] > 0]
        table = pd.DataFrame(rows, columns=_RESOLUTION_COLUMNS)
        table.attrs.update(host=r["host"], from_region=r["from"], latency_region=r.get("region"),
                           rtt_ms=r.get("rttMs"), failed_open=r["failedOpen"])
        return table

    def native_plan_seconds(self, solver: str = "fast") -> float:
        """Seconds the engine takes to plan, with nothing converted for Python (the
        baseline for measuring this package's overhead)."""
        return self._native.native_plan_seconds(solver)

    def to_dict(self) -> dict[str, Any]:
        """The problem in the engine's model, as a dict."""
        return self._model()

    @property
    def carried(self) -> list[str]:
        """Objects carried along unplanned (Services, Ingresses...)."""
        return self._native.carried()

    @property
    def clusters(self) -> pd.DataFrame:
        """One row per cluster: cluster, region, health, pools, fargate_profiles."""
        rows = []
        for c in self._model()["clusters"]:
            pools = c.get("pools", [])
            rows.append({
                "cluster": c["name"],
                "region": c["region"],
                "health": c.get("health"),
                "pools": sum(1 for p in pools if not p.get("fargate")),
                "fargate_profiles": sum(1 for p in pools if p.get("fargate")),
            })
        return pd.DataFrame(rows, columns=["cluster", "region", "health", "pools", "fargate_profiles"])

    @property
    def workloads(self) -> pd.DataFrame:
        """One row per workload: workload, kind, replicas."""
        rows = [
            {"workload": f"{w['id']['namespace']}/{w['id']['name']}", "kind": w.get("kind"),
             "replicas": w["replicas"]}
            for w in self._model()["workloads"]
        ]
        return pd.DataFrame(rows, columns=["workload", "kind", "replicas"])

    def _repr_html_(self) -> str:
        return (f"<p><b>fleetplan scenario</b>: {len(self.clusters)} clusters, "
                f"{len(self.workloads)} workloads</p>" + self.clusters.to_html(index=False))


class Plan:
    """A plan: the JSON plan contract (``to_dict()``) with DataFrame views.

    A plan made by :meth:`Scenario.plan` stays in the engine until asked for: ``to_dict()``
    converts it once, and the ``placements`` and ``pools`` tables are built from columns, so
    that a million-replica plan costs little more in Python than in Rust."""

    def __init__(self, document: Optional[dict[str, Any]] = None, native: Any = None):
        if document is None and native is None:
            raise ValueError("a Plan needs a document or a native plan")
        self._doc = document
        self._native = native

    def to_dict(self) -> dict[str, Any]:
        """The plan as ``fleetplan plan -o json`` prints it, as a dict."""
        if self._doc is None:
            self._doc = self._native.to_dict()
        return self._doc

    def to_json(self) -> str:
        """The plan as JSON text, as ``fleetplan plan -o json`` prints it."""
        if self._native is not None:
            return self._native.to_json()
        return json.dumps(self._doc, indent=2) + "\n"

    @property
    def summary(self) -> dict[str, Any]:
        """Workloads, target, placed, unplaced, kept, removed (and costPerHour when priced)."""
        if self._doc is None:
            return self._native.summary()
        return self._doc["summary"]

    def _placement_table(self, pools: bool) -> pd.DataFrame:
        columns = ["workload", "cluster", "region", "pool", "replicas"] if pools else \
            ["workload", "cluster", "region", "replicas"]
        if self._native is not None:
            return pd.DataFrame(self._native.placement_columns(pools), columns=columns)
        if pools:
            rows = [{"workload": p["workload"], "cluster": p["cluster"], "region": p["region"],
                     "pool": q["pool"], "replicas": q["replicas"]}
                    for p in self._doc["placements"] for q in p["pools"]]
        else:
            rows = [{k: p[k] for k in columns} for p in self._doc["placements"]]
        return pd.DataFrame(rows, columns=columns)

    @property
    def placements(self) -> pd.DataFrame:
        """One row per workload and cluster: workload, cluster, region, replicas."""
        return self._placement_table(pools=False)

    @property
    def pools(self) -> pd.DataFrame:
        """One row per workload, cluster and pool: workload, cluster, region, pool, replicas."""
        return self._placement_table(pools=True)

    @property
    def traffic(self) -> pd.DataFrame:
        """Where global DNS sends each host's users (an Ingress rule's host): one row per
        host, region and cluster holding its backends' replicas, ordered by host, region and
        cluster as the engine orders them: host, source (the object asking for it), region,
        cluster, replicas, weight (the cluster's DNS record weight, 0-255; a region's weights
        sum to 255 under the default latency-over-weighted policy, a host's under weighted),
        share (its part of those replicas, 0-1). Empty when the scenario has no host."""
        if self._native is not None:
            return pd.DataFrame(self._native.traffic_columns(), columns=_TRAFFIC_COLUMNS)
        rows = [{"host": h["host"], "source": h["source"], "region": r["region"], "cluster": c["cluster"],
                 "replicas": c["replicas"], "weight": c["weight"], "share": c["share"]}
                for h in self._doc.get("traffic", []) for r in h["regions"] for c in r["clusters"]]
        return pd.DataFrame(rows, columns=_TRAFFIC_COLUMNS)

    @property
    def unplaced(self) -> pd.DataFrame:
        """One row per unplaced workload and cluster that took no more of it: workload,
        replicas (unplaced in all), cluster, code, reason."""
        rows = [{"workload": u["workload"], "replicas": u["replicas"], "cluster": r["cluster"],
                 "code": r["code"], "reason": r["reason"]}
                for u in self.to_dict()["unplaced"] for r in (u["reasons"] or [{"cluster": None, "code": None, "reason": None}])]
        return pd.DataFrame(rows, columns=["workload", "replicas", "cluster", "code", "reason"])

    @property
    def explanations(self) -> pd.DataFrame:
        """With ``explain=True``: one row per workload and cluster: workload, cluster,
        replicas, code, reason (None where the cluster could have taken more)."""
        rows = [{k: e.get(k) for k in ("workload", "cluster", "replicas", "code", "reason")}
                for e in self.to_dict().get("explanations", [])]
        return pd.DataFrame(rows, columns=["workload", "cluster", "replicas", "code", "reason"])

    @property
    def costs(self) -> pd.DataFrame:
        """One row per priced workload: workload, per_hour, fargate_replicas,
        fargate_cpu_millis, fargate_memory_bytes, fargate_waste_cpu_millis,
        fargate_waste_memory_bytes."""
        columns = ["workload", "per_hour", "fargate_replicas", "fargate_cpu_millis",
                   "fargate_memory_bytes", "fargate_waste_cpu_millis", "fargate_waste_memory_bytes"]
        rows = []
        for c in self.to_dict().get("costs", []):
            f = c.get("fargate") or {}
            rows.append({
                "workload": c["workload"], "per_hour": c["perHour"],
                "fargate_replicas": f.get("replicas", 0), "fargate_cpu_millis": f.get("cpuMillis"),
                "fargate_memory_bytes": f.get("memoryBytes"), "fargate_waste_cpu_millis": f.get("wasteCpuMillis"),
                "fargate_waste_memory_bytes": f.get("wasteMemoryBytes"),
            })
        return pd.DataFrame(rows, columns=columns)

    @property
    def utilisation(self) -> pd.DataFrame:
        """Node-pool utilisation per cluster and resource: cluster, region, resource,
        planned, capacity, fraction. Counts the plan's replicas on node pools against the
        pools' allocatable (Fargate and pods outside the scenario are left out)."""
        columns = ["cluster", "region", "resource", "planned", "capacity", "fraction"]
        if self._native is None:
            raise FleetplanError("utilisation needs a plan made by Scenario.plan()")
        rows = self._native.utilisation()
        for r in rows:
            r["fraction"] = r["planned"] / r["capacity"] if r["capacity"] else 0.0
        return pd.DataFrame(rows, columns=columns)

    def replicas_by_cluster(self) -> pd.Series:
        """Placed replicas per cluster."""
        return self.placements.groupby("cluster")["replicas"].sum()

    def replicas_by_region(self) -> pd.Series:
        """Placed replicas per region."""
        return self.placements.groupby("region")["replicas"].sum()

    def _repr_html_(self) -> str:
        s = self.summary
        head = (f"<p><b>fleetplan plan</b>: {s['placed']} of {s['target']} replicas placed, "
                f"{s['unplaced']} unplaced, {s['kept']} kept, {s['removed']} removed")
        if "costPerHour" in s:
            head += f"; {s['costPerHour']:.4f}/h"
        head += "</p>"
        body = self.placements.to_html(index=False)
        if s["unplaced"]:
            body += "<p><b>Unplaced</b></p>" + self.unplaced.to_html(index=False)
        return head + body


class Timeline:
    """A what-if timeline: step 0 is the initial plan, then one entry per step with its
    operations, plan, changes, lost and moved counts, and actions (``to_dict()`` is
    ``fleetplan simulate -o json``)."""

    def __init__(self, document: dict[str, Any]):
        self._doc = document

    def to_dict(self) -> dict[str, Any]:
        """The timeline document as a dict."""
        return self._doc

    def __len__(self) -> int:
        return len(self._doc["steps"])

    def plan(self, step: int) -> Plan:
        """The whole plan after ``step`` (0: the initial plan; -1: the last)."""
        return Plan(document=self._doc["steps"][step]["plan"])

    @property
    def summary(self) -> pd.DataFrame:
        """One row per step: step, operations, placed, unplaced, lost, moved, cost_per_hour."""
        rows = []
        for i, s in enumerate(self._doc["steps"]):
            summary = s["plan"]["summary"]
            rows.append({
                "step": i, "operations": ", ".join(s["operations"]) or "(initial plan)",
                "placed": summary["placed"], "unplaced": summary["unplaced"],
                "lost": s["lost"], "moved": s["moved"], "cost_per_hour": summary.get("costPerHour"),
            })
        return pd.DataFrame(rows, columns=["step", "operations", "placed", "unplaced", "lost", "moved",
                                           "cost_per_hour"])

    @property
    def changes(self) -> pd.DataFrame:
        """One row per change of a step, with its step number and the change's fields."""
        rows = [{"step": i, **c} for i, s in enumerate(self._doc["steps"]) for c in s["changes"]]
        return pd.DataFrame(rows)

    def _repr_html_(self) -> str:
        return ("<p><b>fleetplan timeline</b>: " + html.escape(f"{len(self) - 1} step(s)") + "</p>"
                + self.summary.to_html(index=False))
