"""The scaling plot of fleetplan's benchmark harness.

Usage: ``python plot.py <results.csv> <out.png>``.

Reads the harness's results, a CSV file with a header row naming at least the columns
``family``, ``replicas``, ``runner``, ``status`` and ``median_ms`` (others are ignored),
and draws, per family (in the order the CSV first names them), the median planning time
in milliseconds against the replicas, both axes logarithmic, one line per runner. Rows
whose status is not ``ok`` or whose median is empty are left out. Where a family, size
and runner were measured on several seeds, the point is the median over the seeds.
"""

import csv
import math
import statistics
import sys
from collections import defaultdict

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

TITLE = "fleetplan and peers: median planning time"
MARKERS = "osD^v<>pPXh*"


def read_points(path: str) -> tuple[list[str], list[str], dict]:
    """Families and runners in order of appearance, and per family and runner the median
    times by replicas (every seed's median)."""
    families: dict[str, None] = {}
    runners: dict[str, None] = {}
    points = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            families.setdefault(row["family"], None)
            if row["status"] != "ok" or not row["median_ms"].strip():
                continue
            runners.setdefault(row["runner"], None)
            replicas = int(row["replicas"])
            points[row["family"]][row["runner"]][replicas].append(
                float(row["median_ms"])
            )
    return list(families), list(runners), points


def styles(runners: list[str]) -> dict[str, dict]:
    """One colour and marker per runner, the same in every subplot."""
    colours = matplotlib.colormaps["tab10" if len(runners) <= 10 else "tab20"].colors
    return {
        runner: {
            "color": colours[i % len(colours)],
            "marker": MARKERS[i % len(MARKERS)],
        }
        for i, runner in enumerate(runners)
    }


def draw_family(axes, family: str, by_runner: dict, style: dict) -> None:
    for runner, by_replicas in by_runner.items():
        replicas = sorted(by_replicas)
        medians = [statistics.median(by_replicas[r]) for r in replicas]
        axes.plot(replicas, medians, label=runner, **style[runner])
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_title(family)
    axes.set_xlabel("replicas")
    axes.set_ylabel("median time (ms)")
    axes.grid(True, which="both", alpha=0.3)
    if not by_runner:
        axes.text(0.5, 0.5, "no successful runs", ha="center", transform=axes.transAxes)


def plot(csv_path: str, out_path: str) -> None:
    families, runners, points = read_points(csv_path)
    columns = min(3, max(len(families), 1))
    rows = max(math.ceil(len(families) / columns), 1)
    figure = Figure(figsize=(5 * columns, 4 * rows + 1))
    FigureCanvasAgg(figure)
    grid = figure.subplots(rows, columns, squeeze=False)
    style = styles(runners)
    for axes, family in zip(grid.flat, families):
        draw_family(axes, family, points[family], style)
    for axes in list(grid.flat)[len(families) :]:
        axes.set_visible(False)
    handles = [Line2D([], [], label=r, **style[r]) for r in runners]
    if handles:
        figure.legend(
            handles=handles,
            loc="lower center",
            ncol=min(len(handles), 4),
            frameon=False,
        )
    figure.suptitle(TITLE)
    legend_rows = math.ceil(len(handles) / 4)
    figure.tight_layout(rect=(0, 0.05 * legend_rows / rows, 1, 1))
    figure.savefig(out_path, dpi=120)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python plot.py <results.csv> <out.png>", file=sys.stderr)
        return 2
    plot(argv[0], argv[1])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
