"""The Python package's overhead against the native call, planning the same problem.

    cargo run --release -p fleetplan-benches --bin write_problem -- /tmp/million.json
    python bindings/python/bench/overhead.py /tmp/million.json [RUNS]

The native baseline is the engine planning with the fast planner and nothing converted
(``Scenario.native_plan_seconds``); the Python call is ``Scenario.plan(solver="fast")``,
which returns a Plan that converts lazily. Also measured: ``plan().placements`` (a DataFrame
built from columns) and ``plan().to_dict()`` (the whole JSON contract as dicts and lists).
Medians of RUNS (default 9) runs each, alternated.
"""

import statistics
import sys
import time

import fleetplan


def main() -> None:
    path = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 9
    started = time.perf_counter()
    scenario = fleetplan.load_problem_json(path)
    print(f"loaded {path} in {time.perf_counter() - started:.1f} s")
    timings = {"native": [], "plan()": [], "plan().placements": [], "plan().to_dict()": []}
    calls = {
        "plan()": lambda: scenario.plan(solver="fast"),
        "plan().placements": lambda: scenario.plan(solver="fast").placements,
        "plan().to_dict()": lambda: scenario.plan(solver="fast").to_dict(),
    }
    for _ in range(runs):
        timings["native"].append(scenario.native_plan_seconds("fast"))
        for name, call in calls.items():
            started = time.perf_counter()
            call()
            timings[name].append(time.perf_counter() - started)
    plan = scenario.plan(solver="fast")
    print(f"replicas placed: {plan.summary['placed']:,} of {plan.summary['target']:,}; "
          f"placements: {len(plan.placements):,}")
    native = statistics.median(timings["native"])
    print(f"native plan: median {native * 1e3:.1f} ms")
    for name in calls:
        median = statistics.median(timings[name])
        print(f"{name}: median {median * 1e3:.1f} ms, overhead {100 * (median - native) / native:+.1f} %")


if __name__ == "__main__":
    main()
