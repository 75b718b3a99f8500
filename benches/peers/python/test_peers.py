"""Tests of the Python peers and the scaling plot, run as the harness runs them: as
separate processes, reading the instances under ``testdata/`` (each with its known
optimum in ``expected.json``).

Run with the peers' virtual environment::

    $HOME/.cache/fleetplan/peers-venv/bin/python -m pytest benches/peers/python
"""

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
PEERS = HERE / "peers.py"
TESTDATA = HERE / "testdata"
KEYS = [
    "runner",
    "status",
    "detail",
    "times_ms",
    "peak_rss_kib",
    "objective",
    "placed",
    "unplaced",
    "moves_after_failure",
]


def run_peer(peer: str, instance: Path, *extra: str, python: tuple = ()) -> dict:
    """Runs one peer; it must exit 0 and print exactly one JSON object on one line."""
    command = [*(python or (sys.executable,)), str(PEERS), peer]
    command += ["--instance", str(instance), *extra]
    done = subprocess.run(
        command, check=False, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1, done.stdout
    result = json.loads(lines[0])
    assert list(result) == KEYS
    assert result["runner"] == peer
    return result


def expected(instance: str) -> float:
    return json.loads((TESTDATA / instance / "expected.json").read_text())["objective"]


@pytest.mark.parametrize(
    ("peer", "instance"),
    [
        ("ortools-mcf", "transport"),
        ("networkx-simplex", "transport"),
        ("scipy-milp", "transport"),
        ("ortools-cpsat", "transport"),
        ("scipy-milp", "knapsack"),
        ("ortools-cpsat", "knapsack"),
    ],
)
def test_peer_finds_the_known_optimum(peer: str, instance: str) -> None:
    result = run_peer(peer, TESTDATA / instance, "--repeat", "2")
    assert result["status"] == "ok", result["detail"]
    assert result["objective"] == pytest.approx(expected(instance), rel=1e-9)
    assert len(result["times_ms"]) == 2
    assert all(ms >= 0 for ms in result["times_ms"])
    assert result["peak_rss_kib"] is None or result["peak_rss_kib"] > 0
    assert result["placed"] is None
    assert result["unplaced"] is None
    assert result["moves_after_failure"] is None


@pytest.mark.parametrize(
    "peer", ["scipy-milp", "ortools-mcf", "networkx-simplex", "ortools-cpsat"]
)
def test_missing_instance_fails_with_exit_code_zero(peer: str, tmp_path: Path) -> None:
    result = run_peer(peer, tmp_path / "missing")
    assert result["status"] == "failed"
    assert "No such file" in result["detail"]
    assert result["objective"] is None


def test_missing_library_is_unavailable() -> None:
    # `-S` leaves the virtual environment's packages out, so numpy cannot be imported.
    python = (sys.executable, "-S")
    result = run_peer("scipy-milp", TESTDATA / "knapsack", python=python)
    assert result["status"] == "unavailable"
    assert "numpy" in result["detail"]


def write_transport(folder: Path, sources: int, sinks: int) -> None:
    """A random transportation network with an arc from every source to every sink."""
    rng = random.Random(7)
    supply = [rng.randint(1, 20) for _ in range(sources)]
    share, rest = divmod(sum(supply), sinks)
    demand = [share + (j < rest) for j in range(sinks)]
    arcs = [
        [i, sources + j, supply[i], rng.randint(-50, 1000)]
        for i in range(sources)
        for j in range(sinks)
    ]
    folder.mkdir()
    document = {"nodes": supply + [-d for d in demand], "arcs": arcs}
    (folder / "flow.json").write_text(json.dumps(document))


def test_networkx_is_stopped_at_the_time_limit(tmp_path: Path) -> None:
    write_transport(tmp_path / "big", 3000, 20)
    result = run_peer(
        "networkx-simplex", tmp_path / "big", "--repeat", "3", "--time-limit", "0.05"
    )
    assert result["status"] == "time-limit", result["detail"]
    assert result["objective"] is None
    assert (
        len(result["times_ms"]) == 1
    )  # no repetition after one that reached the limit


def test_flow_peers_agree_on_a_random_network(tmp_path: Path) -> None:
    write_transport(tmp_path / "random", 200, 10)
    mcf = run_peer("ortools-mcf", tmp_path / "random", "--repeat", "1")
    simplex = run_peer("networkx-simplex", tmp_path / "random", "--repeat", "1")
    assert mcf["status"] == simplex["status"] == "ok"
    assert mcf["objective"] == simplex["objective"]


def test_plot_draws_a_png(tmp_path: Path) -> None:
    header = (
        "family,replicas,seed,runner,status,median_ms,min_ms,max_ms,peak_rss_mib,"
        "objective,placed,unplaced,moves_after_failure,detail"
    )
    rows = [
        "web,1000,1,fleetplan-flow,ok,1.5,1.4,1.6,12,5,,,,",
        "web,10000,1,fleetplan-flow,ok,15,14,16,40,5,,,,",
        'web,10000,1,ortools-mcf,ok,20,19,21,50,5,,,,"a, b"',
        "web,100000,1,networkx-simplex,time-limit,,,,,,,,,",
        "gpu,1000,1,scipy-milp,failed,,,,,,,,,boom",
    ]
    results = tmp_path / "results.csv"
    results.write_text("\n".join([header, *rows]) + "\n")
    out = tmp_path / "plot.png"
    command = [sys.executable, str(HERE / "plot.py"), str(results), str(out)]
    subprocess.run(command, check=True, timeout=120)
    assert out.read_bytes().startswith(b"\x89PNG")
