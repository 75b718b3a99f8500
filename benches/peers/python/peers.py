"""Python peers of fleetplan's benchmark harness.

Each peer solves the model one of fleetplan's solvers solves, read from the instance
folder the harness wrote (see ``benches/INSTANCES.md``), with the library a user would
pick instead:

* ``scipy-milp``: ``milp.json`` with ``scipy.optimize.milp`` (HiGHS inside);
* ``ortools-mcf``: ``flow.json`` with OR-Tools' ``SimpleMinCostFlow``;
* ``networkx-simplex``: ``flow.json`` with ``networkx.network_simplex``;
* ``ortools-cpsat``: ``milp.json`` as an integer program for OR-Tools' CP-SAT.

Usage::

    python peers.py <peer> --instance <folder> --repeat <n> [--time-limit <seconds>]

It prints one JSON object on one line on standard output and exits 0, also when the
peer's library is missing (status ``unavailable``) or the peer failed (status
``failed``).

Every peer reads its input once, then resets the peak resident memory and times each
repetition. Repetitions stop after the first one that reaches the time limit: the rest
would only reach it again.
"""

import argparse
import ctypes
import importlib
import json
import math
import multiprocessing
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from fractions import Fraction
from importlib.metadata import PackageNotFoundError, version

try:
    import numpy as np
except ImportError:  # every peer needs numpy: `run` reports them `unavailable`
    np = None

# prctl(2): the signal a process gets when its parent dies.
PR_SET_PDEATHSIG = 1
# CP-SAT: the largest multiplier of a row, the finest unit of a continuous column, and
# the objective's scale.
MAX_MULTIPLIER = 10**6
# CP-SAT: how far a scaled value may be from an integer and still count as one.
INTEGRAL = 1e-9
# CP-SAT: the domain limit of a column whose bound is infinite and cannot be derived.
LARGE = 2**40
# CP-SAT: scaled row bounds are clipped to this (beyond it a bound cannot bind anyway).
HUGE = 2**62


@dataclass
class Solve:
    """One repetition: its wall-clock time, how it ended and what it found."""

    ms: float
    status: str
    objective: float | None = None
    note: str = ""
    rss_kib: int | None = None


@dataclass
class Flow:
    """``flow.json``: supplies per node and arcs as parallel arrays."""

    supplies: object
    tails: object
    heads: object
    capacities: object
    costs: object


@dataclass
class Milp:
    """``milp.json`` as arrays, infinite bounds as ``±inf``."""

    c: object
    constant: float
    integrality: object
    lb: object
    ub: object
    indptr: object
    indices: object
    data: object
    row_lb: object
    row_ub: object

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.row_lb), len(self.c)


@dataclass
class Outcome:
    """What a peer reports besides its name."""

    status: str
    detail: str
    times_ms: list[float] = field(default_factory=list)
    peak_rss_kib: int | None = None
    objective: float | None = None


# --------------------------------------------------------------------------------------
# Command line and output


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("peer", choices=sorted(PEERS))
    parser.add_argument("--instance", required=True, help="the instance folder")
    parser.add_argument("--repeat", type=int, default=3, help="timed repetitions")
    parser.add_argument(
        "--time-limit", type=float, default=60.0, help="seconds per repetition"
    )
    return parser.parse_args(argv)


def claim_stdout():
    """Keeps standard output for the result alone: whatever else writes to file
    descriptor 1 (a native library, say) goes to standard error instead."""
    sys.stdout.flush()
    result = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return result


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = claim_stdout()
    outcome = run(args)
    document = {
        "runner": args.peer,
        "status": outcome.status,
        "detail": outcome.detail,
        "times_ms": [round(ms, 3) for ms in outcome.times_ms],
        "peak_rss_kib": outcome.peak_rss_kib,
        "objective": outcome.objective,
        "placed": None,
        "unplaced": None,
        "moves_after_failure": None,
    }
    out.write(json.dumps(document) + "\n")
    out.flush()
    return 0


def run(args: argparse.Namespace) -> Outcome:
    peer, modules = PEERS[args.peer]
    try:
        for module in ("numpy", *modules):
            importlib.import_module(module)
    except ImportError as error:
        return Outcome("unavailable", f"{type(error).__name__}: {error}")
    try:
        return peer(args.instance, max(args.repeat, 1), args.time_limit)
    except Exception as error:  # noqa: BLE001 (every failure is reported, never raised)
        return Outcome("failed", f"{type(error).__name__}: {error}")


def versions(*packages: str) -> str:
    def one(package: str) -> str:
        try:
            return f"{package} {version(package)}"
        except PackageNotFoundError:
            return f"{package} (version unknown)"

    return ", ".join(one(p) for p in packages)


# --------------------------------------------------------------------------------------
# Measurement


def reset_peak_rss() -> bool:
    """Resets the process's peak resident memory (``VmHWM``) to its current size."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_rss_kib(process: str = "self") -> int | None:
    """The peak resident memory of a process (this one unless a pid is given)."""
    try:
        with open(f"/proc/{process}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


# Repetitions stop once they have taken this long in all, as in the harness's own runners.
REPEAT_BUDGET_MS = 10_000.0


def repeat_solves(solve_once, repeat: int) -> list[Solve]:
    """Runs ``solve_once`` up to ``repeat`` times, stopping after one that did not end
    ``ok`` or once the repetitions have taken ``REPEAT_BUDGET_MS`` in all."""
    solves = []
    while len(solves) < repeat and sum(s.ms for s in solves) < REPEAT_BUDGET_MS:
        solves.append(solve_once())
        if solves[-1].status != "ok":
            break
    return solves


def measure(solve_once, repeat: int) -> list[Solve]:
    """Repetitions in this process, with its peak memory over all of them."""
    reset = reset_peak_rss()
    solves = repeat_solves(solve_once, repeat)
    solves[-1].rss_kib = peak_rss_kib() if reset else None
    return solves


def outcome(solves: list[Solve], detail: str) -> Outcome:
    """Sums repetitions up: the worst status, the best objective, the largest peak
    memory."""
    rank = {"ok": 0, "time-limit": 1, "failed": 2}
    status = max((s.status for s in solves), key=rank.__getitem__)
    objectives = [s.objective for s in solves if s.objective is not None]
    notes = [s.note for s in solves if s.note]
    peaks = [s.rss_kib for s in solves if s.rss_kib is not None]
    return Outcome(
        status=status,
        detail="; ".join([detail, *dict.fromkeys(notes)]),
        times_ms=[s.ms for s in solves],
        peak_rss_kib=max(peaks) if peaks else None,
        objective=min(objectives) if objectives else None,
    )


def elapsed_ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0


# --------------------------------------------------------------------------------------
# Input


def read_json(folder: str, name: str) -> dict:
    with open(os.path.join(folder, name), encoding="utf-8") as f:
        return json.load(f)


def read_flow(folder: str) -> Flow:
    document = read_json(folder, "flow.json")
    arcs = np.array(document["arcs"], dtype=np.int64).reshape(-1, 4)
    return Flow(
        supplies=np.array(document["nodes"], dtype=np.int64),
        tails=np.ascontiguousarray(arcs[:, 0]),
        heads=np.ascontiguousarray(arcs[:, 1]),
        capacities=np.ascontiguousarray(arcs[:, 2]),
        costs=np.ascontiguousarray(arcs[:, 3]),
    )


def bounds(values: list, infinity: float):
    """A bound array from JSON, ``null`` standing for ``infinity``."""
    return np.array([infinity if v is None else v for v in values], dtype=np.float64)


def read_milp(folder: str) -> Milp:
    document = read_json(folder, "milp.json")
    a = document["a"]
    milp = Milp(
        c=np.array(document["c"], dtype=np.float64),
        constant=float(document.get("constant", 0.0)),
        integrality=np.array(document["integrality"], dtype=np.int64),
        lb=bounds(document["lb"], -math.inf),
        ub=bounds(document["ub"], math.inf),
        indptr=np.array(a["indptr"], dtype=np.int64),
        indices=np.array(a["indices"], dtype=np.int64),
        data=np.array(a["data"], dtype=np.float64),
        row_lb=bounds(document["row_lb"], -math.inf),
        row_ub=bounds(document["row_ub"], math.inf),
    )
    rows, columns = milp.shape
    if len(milp.indptr) != rows + 1 or any(
        len(v) != columns for v in (milp.integrality, milp.lb, milp.ub)
    ):
        raise ValueError("milp.json: array lengths do not match")
    return milp


# --------------------------------------------------------------------------------------
# scipy-milp


def scipy_milp(folder: str, repeat: int, time_limit: float) -> Outcome:
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import csr_array

    m = read_milp(folder)
    matrix = csr_array((m.data, m.indices, m.indptr), shape=m.shape)
    constraints = [LinearConstraint(matrix, m.row_lb, m.row_ub)] if m.shape[0] else []
    options = {
        "time_limit": time_limit,
        "mip_rel_gap": 1e-6,
        "presolve": True,
        "disp": False,
    }

    def solve_once() -> Solve:
        start = time.perf_counter()
        result = milp(
            m.c,
            integrality=m.integrality,
            bounds=Bounds(m.lb, m.ub),
            constraints=constraints,
            options=options,
        )
        ms = elapsed_ms(start)
        objective = None if result.x is None else float(result.fun) + m.constant
        if result.status == 0:
            return Solve(ms, "ok", objective)
        if result.status == 1:
            return Solve(ms, "time-limit", objective, result.message)
        return Solve(ms, "failed", None, f"status {result.status}: {result.message}")

    detail = (
        f"{versions('scipy')}, HiGHS as scipy runs it (no thread option); "
        f"presolve, mip_rel_gap 1e-6; {m.shape[1]} columns, {m.shape[0]} rows; "
        "timed: the milp() call (arrays and the CSR matrix are built before timing)"
    )
    return outcome(measure(solve_once, repeat), detail)


# --------------------------------------------------------------------------------------
# ortools-mcf


def ortools_mcf(folder: str, repeat: int, time_limit: float) -> Outcome:
    from ortools.graph.python import min_cost_flow

    net = read_flow(folder)
    nodes = np.arange(len(net.supplies), dtype=np.int64)

    def solve_once() -> Solve:
        start = time.perf_counter()
        flow = min_cost_flow.SimpleMinCostFlow()
        flow.add_arcs_with_capacity_and_unit_cost(
            net.tails, net.heads, net.capacities, net.costs
        )
        flow.set_nodes_supplies(nodes, net.supplies)
        status = flow.solve()
        ms = elapsed_ms(start)
        if status == flow.OPTIMAL:
            return Solve(ms, "ok", float(flow.optimal_cost()))
        return Solve(ms, "failed", None, f"SimpleMinCostFlow ended {status.name}")

    detail = (
        f"{versions('ortools')}, SimpleMinCostFlow (no time limit: it has none); "
        f"{len(net.supplies)} nodes, {len(net.tails)} arcs; "
        "timed: creating the solver, adding arcs and supplies from numpy arrays, "
        "solving"
    )
    return outcome(measure(solve_once, repeat), detail)


# --------------------------------------------------------------------------------------
# networkx-simplex
#
# networkx has no time limit and cannot be interrupted from inside, so each repetition
# runs in a forked child process (which shares the parsed input without copying it). The
# child says when it starts its timed part, and the parent stops it when no result has
# come back `time_limit` seconds later; such a repetition counts as `time-limit` (with
# the time it had run) and ends the repetitions. The peak memory reported is the
# children's: each resets its own peak after the fork and reports it with its result, or
# the parent reads it from /proc before stopping the child.


def networkx_simplex(folder: str, repeat: int, time_limit: float) -> Outcome:
    net = read_flow(folder)
    supplies = net.supplies.tolist()
    arcs = list(
        zip(
            net.tails.tolist(),
            net.heads.tolist(),
            net.capacities.tolist(),
            net.costs.tolist(),
        )
    )

    def solve_once() -> Solve:
        return run_in_child(lambda: network_simplex(supplies, arcs), time_limit)

    detail = (
        f"{versions('networkx')}, network_simplex on a MultiDiGraph; "
        f"{len(supplies)} nodes, {len(arcs)} arcs; "
        "timed: building the graph from Python lists, and solving; "
        "each repetition in a forked child stopped at the time limit, "
        "peak memory is the children's"
    )
    return outcome(repeat_solves(solve_once, repeat), detail)


def network_simplex(supplies: list[int], arcs: list[tuple]) -> float:
    import networkx as nx

    graph = nx.MultiDiGraph()
    graph.add_nodes_from((i, {"demand": -s}) for i, s in enumerate(supplies))
    graph.add_edges_from((t, h, {"capacity": c, "weight": w}) for t, h, c, w in arcs)
    cost, _ = nx.network_simplex(graph)
    return float(cost)


def run_in_child(work, time_limit: float) -> Solve:
    """Runs ``work()`` timed in a forked child, stopped after ``time_limit`` seconds."""
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(
        target=child_main, args=(work, send, os.getpid()), daemon=True
    )
    child.start()
    send.close()
    try:
        return await_child(receive, child, time_limit)
    finally:
        if child.is_alive():
            child.terminate()
        child.join()
        receive.close()


def await_child(receive, child, time_limit: float) -> Solve:
    try:
        receive.recv()  # the child starts its timed part
        start = time.perf_counter()
        if not receive.poll(time_limit):
            note = "stopped at the time limit"
            rss = peak_rss_kib(str(child.pid))
            return Solve(elapsed_ms(start), "time-limit", None, note, rss)
        kind, ms, value, rss = receive.recv()
    except EOFError:
        child.join()
        return Solve(0.0, "failed", None, f"child exited with code {child.exitcode}")
    if kind == "error":
        return Solve(ms, "failed", None, value, rss)
    return Solve(ms, "ok", value, "", rss)


def child_main(work, send, parent: int) -> None:
    die_with_parent(parent)
    reset = reset_peak_rss()
    send.send("start")
    start = time.perf_counter()
    try:
        kind, value = "ok", work()
    except Exception as error:  # noqa: BLE001 (reported to the parent)
        kind, value = "error", f"{type(error).__name__}: {error}"
    ms = elapsed_ms(start)
    send.send((kind, ms, value, peak_rss_kib() if reset else None))
    send.close()


def die_with_parent(parent: int) -> None:
    """Has Linux kill this child when its parent dies: a harness that kills the peer at
    its deadline must not leave a repetition running."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before prctl
        os._exit(1)


# --------------------------------------------------------------------------------------
# ortools-cpsat
#
# CP-SAT solves integer programs only, so the MILP is made integral:
#
# * Bounds: a column whose bound is infinite gets one derived from the rows where
#   possible: implied by a row and the other columns' bounds, or, for a column whose
#   objective coefficient does not favour growing it and whose every row only gets
#   easier as it grows (shortfalls, distances), the value from which on all its rows
#   hold whatever the other columns are (beyond it, the column only costs). Derived
#   bounds are rounded outwards. Bounds that remain infinite become -LARGE or LARGE
#   (2**40) in the column's units.
# * Rows: each row is multiplied by the smallest integer that makes its coefficients and
#   bounds integral within INTEGRAL: the least common multiple of their denominators as
#   fractions. Where that exceeds MAX_MULTIPLIER (10**6), the row is multiplied by 10**6
#   and its coefficients rounded; bounds are then rounded inwards, which is exact as the
#   row's activity is an integer. Rows that are integral already (capacities in
#   millicores and bytes, targets) stay as they are; 0.25 needs 4 where a power of ten
#   would be 100.
# * Columns: an integer column stays one. A continuous column becomes an integer column
#   counting units of 1/u, u the least common multiple of the multipliers of its rows
#   and of its own bounds' denominators (at most MAX_MULTIPLIER). Where the continuous
#   column's optimum is integral (an unplaced count, a shortfall), u is 1 and it is
#   simply an integer; next to a fractional bound (a weighted share such as 20/3) it
#   counts thirds, which keeps the optimum, where forcing it to whole units would change
#   it, and keeps domains small, which CP-SAT needs (counting millionths, it did not
#   improve on its first solution of a 50,000-column test in 4 minutes).
# * Objective: coefficients per unit of a column times MAX_MULTIPLIER, rounded; the
#   objective reported is c · x + constant of the solution, unscaled, in the MILP's
#   units.


@dataclass
class IntegerProgram:
    """The MILP made integral for CP-SAT, with what the detail tells about it."""

    model: object
    column_unit: object
    notes: list[str]


def ortools_cpsat(folder: str, repeat: int, time_limit: float) -> Outcome:
    from ortools.sat.python import cp_model

    m = read_milp(folder)
    program = integer_program(m)
    invalid = program.model.validate()
    if invalid:
        raise ValueError(f"CP-SAT rejects the model: {invalid}")
    units = program.column_unit.astype(np.float64)

    def solve_once() -> Solve:
        solver = cp_model.CpSolver()
        solver.parameters.max_time_in_seconds = time_limit
        solver.parameters.num_workers = 1
        solver.parameters.relative_gap_limit = 1e-6
        start = time.perf_counter()
        status = solver.solve(program.model)
        ms = elapsed_ms(start)
        objective = None
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            x = np.array(solver.response_proto.solution, dtype=np.float64) / units
            objective = float(m.c @ x) + m.constant
        state, note = cpsat_status(solver, status, time_limit)
        return Solve(ms, state, objective, note)

    detail = "; ".join(
        [
            (
                f"{versions('ortools')}, CP-SAT with 1 worker (as our HiGHS runs "
                "single-threaded; this machine has 2 cores), relative_gap_limit 1e-6"
            ),
            f"{m.shape[1]} columns, {m.shape[0]} rows",
            *program.notes,
            "timed: CpSolver.solve (the model is built once before timing)",
        ]
    )
    return outcome(measure(solve_once, repeat), detail)


def cpsat_status(solver, status, time_limit: float) -> tuple[str, str]:
    from ortools.sat.python import cp_model

    name = solver.status_name(status)
    if status == cp_model.OPTIMAL:
        return "ok", ""
    if status == cp_model.FEASIBLE:
        return "time-limit", "stopped at the time limit with a solution"
    if status == cp_model.UNKNOWN and solver.wall_time >= 0.99 * time_limit:
        return "time-limit", "stopped at the time limit without a solution"
    return "failed", f"CP-SAT ended {name}"


def integer_program(m: Milp) -> IntegerProgram:
    from ortools.sat.python import cp_model

    rows, _ = m.shape
    row_of = np.repeat(np.arange(rows), np.diff(m.indptr))
    lb, ub, implied, dominated = derived_bounds(m, row_of)
    column_unit = column_units(m, row_of)
    data = m.data / column_unit[m.indices]
    row_multiplier, rounded = row_multipliers(data, row_of, m.row_lb, m.row_ub)
    coefficients = np.rint(data * row_multiplier[row_of]).astype(np.int64)
    low, high, large = column_domains(lb, ub, column_unit)
    model = cp_model.CpModel()
    columns = [model.new_int_var(lo, hi, "") for lo, hi in zip(low, high)]
    add_rows(model, m, columns, coefficients, row_multiplier)
    objective = np.rint(m.c * MAX_MULTIPLIER / column_unit).astype(np.int64)
    model.minimize(cp_model.LinearExpr.weighted_sum(columns, objective.tolist()))
    continuous = m.integrality == 0
    notes = [
        (
            f"continuous columns made integer: {int(continuous.sum())}, "
            f"{int((column_unit > 1).sum())} of them counting fractions 1/u "
            f"(u <= 10^6, what their rows need)"
        ),
        (
            f"rows multiplied by their least common denominator, "
            f"{int(rounded.sum())} rounded at 10^6"
        ),
        (
            f"infinite bounds: {implied} implied by rows, {dominated} where only cost "
            f"lies beyond, {large} set to +-2^40"
        ),
        "objective x10^6 rounded, reported unscaled",
    ]
    return IntegerProgram(model, column_unit, notes)


def add_rows(model, m: Milp, columns: list, coefficients, row_multiplier) -> None:
    from ortools.sat.python import cp_model

    scale = row_multiplier.astype(np.float64)
    low = scaled_row_bounds(m.row_lb * scale, np.ceil, cp_model.INT_MIN)
    high = scaled_row_bounds(m.row_ub * scale, np.floor, cp_model.INT_MAX)
    indices = m.indices.tolist()
    values = coefficients.tolist()
    for i, (start, end) in enumerate(
        zip(m.indptr[:-1].tolist(), m.indptr[1:].tolist())
    ):
        terms = [
            (columns[j], a) for j, a in zip(indices[start:end], values[start:end]) if a
        ]
        expression = cp_model.LinearExpr.weighted_sum(
            [t[0] for t in terms], [t[1] for t in terms]
        )
        model.add_linear_constraint(expression, low[i], high[i])


def scaled_row_bounds(values, inwards, infinity: int) -> list[int]:
    """Scaled row bounds as integers: integral ones rounded, others ``inwards``."""
    finite = np.isfinite(values)
    values = np.where(finite, values, 0.0)
    nearest = np.rint(values)
    integral = np.abs(values - nearest) <= INTEGRAL
    rounded = np.where(integral, nearest, inwards(values))
    clipped = np.clip(rounded, -HUGE, HUGE).astype(np.int64)
    return [
        int(v) if f else infinity for v, f in zip(clipped.tolist(), finite.tolist())
    ]


def column_domains(lb, ub, column_unit):
    """Integer domains of the scaled columns, and how many infinite bounds became
    ±LARGE."""
    low = np.ceil(lb * column_unit - INTEGRAL)
    high = np.floor(ub * column_unit + INTEGRAL)
    large = int((~np.isfinite(low)).sum() + (~np.isfinite(high)).sum())
    low = np.clip(np.where(np.isfinite(low), low, -LARGE), -HUGE, HUGE)
    high = np.clip(np.where(np.isfinite(high), high, LARGE), -HUGE, HUGE)
    return low.astype(np.int64).tolist(), high.astype(np.int64).tolist(), large


def denominators(values):
    """Per value, the smallest positive integer that makes it integral within INTEGRAL,
    0 when none is at most MAX_MULTIPLIER."""
    result = np.ones(len(values), dtype=np.int64)
    fractional = np.abs(values - np.rint(values)) > INTEGRAL
    unique, where = np.unique(values[fractional], return_inverse=True)
    found = np.array([denominator(v) for v in unique.tolist()], dtype=np.int64)
    result[fractional] = found[where]
    return result


def denominator(value: float) -> int:
    d = Fraction(value).limit_denominator(MAX_MULTIPLIER).denominator
    return d if abs(value * d - round(value * d)) <= INTEGRAL else 0


def lcm_per_owner(numbers, owners, count: int):
    """Per owner, the least common multiple of its numbers (1 when it has none), and
    whether it exceeds MAX_MULTIPLIER or one of them is 0 (then it is MAX_MULTIPLIER).
    """
    result = [1] * count
    failed = np.zeros(count, dtype=bool)
    interesting = numbers != 1
    for owner, number in zip(
        owners[interesting].tolist(), numbers[interesting].tolist()
    ):
        multiple = math.lcm(result[owner], number) if number else 0
        if not 0 < multiple <= MAX_MULTIPLIER:
            failed[owner] = True
        result[owner] = multiple if 0 < multiple <= MAX_MULTIPLIER else MAX_MULTIPLIER
    return np.array(result, dtype=np.int64), failed


def row_multipliers(data, row_of, row_lb, row_ub):
    """Per row, the smallest integer that makes its coefficients and finite bounds
    integral (MAX_MULTIPLIER where none is small enough), and whether it is an
    approximation."""
    rows = np.arange(len(row_lb))
    values = np.concatenate([data, row_lb, row_ub])
    owners = np.concatenate([row_of, rows, rows])
    finite = np.isfinite(values)
    return lcm_per_owner(denominators(values[finite]), owners[finite], len(row_lb))


def column_units(m: Milp, row_of):
    """Per column, how many of its CP-SAT units make one: 1 for integer columns; for
    continuous ones, a multiple of the multipliers of its rows and of its own bounds'
    denominators."""
    row_multiplier, _ = row_multipliers(m.data, row_of, m.row_lb, m.row_ub)
    continuous = m.integrality == 0
    in_rows = continuous[m.indices]
    columns = np.arange(len(m.c))
    bounds = np.concatenate([m.lb, m.ub])
    own = np.concatenate([continuous, continuous]) & np.isfinite(bounds)
    numbers = np.concatenate(
        [row_multiplier[row_of[in_rows]], denominators(bounds[own])]
    )
    owners = np.concatenate(
        [m.indices[in_rows], np.concatenate([columns, columns])[own]]
    )
    unit, _ = lcm_per_owner(numbers, owners, len(m.c))
    return unit


# Bound derivation. Everything is stated for upper bounds; lower bounds are the upper
# bounds of the negated columns.


def derived_bounds(m: Milp, row_of):
    """Column bounds with infinite ones replaced by derived ones where possible, and how
    many were implied by rows and how many bound by dominance."""
    lb, ub = m.lb.copy(), m.ub.copy()
    implied = dominated = 0
    for _ in range(5):
        before = int(np.isfinite(lb).sum() + np.isfinite(ub).sum())
        for negate in (False, True):
            lb, ub, found = implied_bounds(m, row_of, lb, ub, negate)
            implied += found
            lb, ub, found = dominance_bounds(m, row_of, lb, ub, negate)
            dominated += found
        if int(np.isfinite(lb).sum() + np.isfinite(ub).sum()) == before:
            break
    return lb, ub, implied, dominated


def oriented(m: Milp, lb, ub, negate: bool):
    """Coefficients, objective and bounds with columns negated when ``negate``."""
    if negate:
        return -m.data, -m.c, -ub, -lb
    return m.data, m.c, lb, ub


def restored(lb, ub, new_upper, negate: bool):
    """The bounds after a new upper bound of the (possibly negated) columns."""
    if negate:
        return -new_upper, ub
    return lb, new_upper


def activities(data, row_of, column, lo, hi, rows: int):
    """Per nonzero: the smallest and largest activity of its row without its own term
    (``-inf`` / ``inf`` where unbounded)."""
    with np.errstate(invalid="ignore"):
        low_term = np.where(data > 0, data * lo[column], data * hi[column])
        high_term = np.where(data > 0, data * hi[column], data * lo[column])
    low_term[data == 0] = 0.0
    high_term[data == 0] = 0.0
    return (
        activity_without(low_term, row_of, rows, -np.inf),
        activity_without(high_term, row_of, rows, np.inf),
    )


def activity_without(term, row_of, rows: int, infinity: float):
    """Per nonzero: the sum of its row's other terms, ``infinity`` if one of them is."""
    infinite = np.isinf(term)
    finite_term = np.where(infinite, 0.0, term)
    total = np.bincount(row_of, weights=finite_term, minlength=rows)[row_of]
    count = np.bincount(row_of, weights=infinite, minlength=rows)[row_of]
    return np.where(count - infinite > 0, infinity, total - finite_term)


def loosened(value):
    """A derived bound moved outwards a little, so that rounding never cuts a solution
    off."""
    return value + 1e-6 * np.maximum(1.0, np.abs(value))


def implied_bounds(m: Milp, row_of, lb, ub, negate: bool):
    """Infinite upper bounds implied by a row and the other columns' bounds."""
    data, _, lo, hi = oriented(m, lb, ub, negate)
    column = m.indices
    low_others, high_others = activities(data, row_of, column, lo, hi, len(m.row_lb))
    row_lb, row_ub = m.row_lb[row_of], m.row_ub[row_of]
    with np.errstate(invalid="ignore", divide="ignore"):
        limit = np.where(
            data > 0, (row_ub - low_others) / data, (row_lb - high_others) / data
        )
    wanted = ~np.isfinite(hi[column]) & np.isfinite(limit)
    new_hi = hi.copy()
    np.minimum.at(new_hi, column[wanted], loosened(limit[wanted]))
    found = int((~np.isfinite(hi) & np.isfinite(new_hi)).sum())
    return (*restored(lb, ub, new_hi, negate), found)


def dominance_bounds(m: Milp, row_of, lb, ub, negate: bool):
    """Infinite upper bounds of columns with a cost of at least zero whose rows all get
    easier as they grow: from the value on which every such row holds whatever the other
    columns are, growing further only costs, so some optimum lies below it."""
    data, c, lo, hi = oriented(m, lb, ub, negate)
    column = m.indices
    low_others, high_others = activities(data, row_of, column, lo, hi, len(m.row_lb))
    row_lb, row_ub = m.row_lb[row_of], m.row_ub[row_of]
    hurts = np.where(data > 0, np.isfinite(row_ub), np.isfinite(row_lb))
    with np.errstate(invalid="ignore", divide="ignore"):
        needed = np.where(
            data > 0, (row_lb - low_others) / data, (row_ub - high_others) / data
        )
    binding = np.where(data > 0, np.isfinite(row_lb), np.isfinite(row_ub))
    needed = np.where(binding, needed, -np.inf)
    unusable = hurts | np.isnan(needed) | (needed == np.inf)
    blocked = np.bincount(column, weights=unusable, minlength=len(c)) > 0
    cap = lo.copy()
    np.maximum.at(cap, column, needed)
    candidate = ~np.isfinite(hi) & (c >= 0) & ~blocked & np.isfinite(cap)
    new_hi = np.where(candidate, loosened(cap), hi)
    return (*restored(lb, ub, new_hi, negate), int(candidate.sum()))


# Each peer and the modules it needs besides numpy (a missing one makes it
# `unavailable`).
PEERS = {
    "scipy-milp": (scipy_milp, ("scipy.optimize", "scipy.sparse")),
    "ortools-mcf": (ortools_mcf, ("ortools.graph.python.min_cost_flow",)),
    "networkx-simplex": (networkx_simplex, ("networkx",)),
    "ortools-cpsat": (ortools_cpsat, ("ortools.sat.python.cp_model",)),
}


if __name__ == "__main__":
    sys.exit(main())
