"""What the benchmarks share to report a run: the machine's facts, tables, JSON files and the
intake chart (a hand-written SVG: no plotting library is needed for a few bars)."""

import json
import math
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from datetime import UTC, datetime
from html import escape
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def machine_facts() -> dict:
    """Where and when a run happened: a figure means little without the cores it had, nor
    without how busy the machine already was (other engineers' runs share it)."""
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu_cores": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "load_average_at_start": [round(load, 2) for load in os.getloadavg()],
        "python": platform.python_version(),
        "postgresql": _command_output(["psql", "--version"]),
        "wrk": _command_output(["wrk", "--version"]).split(" [")[0],
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _command_output(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "not installed"
    return (done.stdout or done.stderr).strip().splitlines()[0] if done.returncode in (0, 1) else ""


def markdown_table(headers: list[str], rows: list[list]) -> str:
    """A Markdown table, its columns padded so that it also reads well in a terminal."""
    cells = [[str(cell) for cell in row] for row in [headers, *rows]]
    widths = [max(len(row[column]) for row in cells) for column in range(len(headers))]
    lines = [
        "| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) + " |"
        for row in cells
    ]
    lines.insert(1, "|" + "|".join("-" * (width + 2) for width in widths) + "|")
    return "\n".join(lines)


@contextmanager
def work_folder(prefix: str):
    """A temporary folder for a run's logs, yielded with a `keep` flag: set it, or leave the block
    with an exception, and the folder is kept and named on stderr; otherwise it is removed.

    SIGTERM stops the run as Ctrl-C does, so the processes it started are stopped too.
    """
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    keep = {"keep": False}
    try:
        yield folder, keep
    except BaseException:
        keep["keep"] = True
        raise
    finally:
        if keep["keep"]:
            print(f"logs kept in {folder}", file=sys.stderr)
        else:
            shutil.rmtree(folder)


def write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")


def milliseconds(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.0f} ms" if value >= 100 else f"{value:.1f} ms"


# --- The chart -----------------------------------------------------------------------------------

#: One colour per path; the lighter shade is its median, the darker its 99th percentile.
PALETTE = (("#9ecae1", "#2171b5"), ("#a1d99b", "#238b45"), ("#fdae6b", "#d94801"))
LEGEND_WIDTH = 280


def latency_chart_svg(
    title: str, groups: list[str], series: list[tuple[str, list[tuple[float, float]]]]
) -> str:
    """Grouped bars on a logarithmic scale of milliseconds: one group per sandbox latency, and
    in each group two bars (p50, p99) per path. `series` is [(path name, [(p50, p99) per
    group])]. A log scale, because the synchronous baseline is a hundred times slower."""
    bar, gap, group_gap = 24, 6, 46
    left, top, plot_height, bottom = 64, 48, 260, 52
    per_group = len(series) * 2 * (bar + gap)
    width = left + len(groups) * (per_group + group_gap) + LEGEND_WIDTH
    height = top + plot_height + bottom
    values = [value for _, points in series for pair in points for value in pair if value > 0]
    low = 10 ** math.floor(math.log10(min(values)))
    high = 10 ** math.ceil(math.log10(max(values)))

    def y(value: float) -> float:
        share = (math.log10(max(value, low)) - math.log10(low)) / math.log10(high / low)
        return top + plot_height * (1 - share)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{left}" y="24" font-size="15" font-weight="bold">{escape(title)}</text>',
    ]
    plot_right = width - LEGEND_WIDTH
    decade = low
    while decade <= high:
        parts.append(
            f'<line x1="{left}" x2="{plot_right}" y1="{y(decade):.1f}" y2="{y(decade):.1f}" '
            'stroke="#ddd"/>'
            f'<text x="{left - 6}" y="{y(decade) + 4:.1f}" text-anchor="end">'
            f"{_decade_label(decade)}</text>"
        )
        decade *= 10
    parts.append(
        f'<text x="16" y="{top + plot_height / 2}" transform="rotate(-90 16 '
        f'{top + plot_height / 2})" text-anchor="middle">latency, ms (log scale)</text>'
    )
    for group_index, group in enumerate(groups):
        x = left + 20 + group_index * (per_group + group_gap)
        parts.append(
            f'<text x="{x + per_group / 2:.1f}" y="{top + plot_height + 36}" '
            f'text-anchor="middle" font-weight="bold">{escape(group)}</text>'
        )
        for series_index, (_, points) in enumerate(series):
            for shade, value in enumerate(points[group_index]):
                bar_y = y(value)
                colour = PALETTE[series_index % len(PALETTE)][shade]
                parts.append(
                    f'<rect x="{x}" y="{bar_y:.1f}" width="{bar}" '
                    f'height="{top + plot_height - bar_y:.1f}" fill="{colour}"/>'
                    f'<text x="{x + bar / 2}" y="{bar_y - 4:.1f}" font-size="10" '
                    f'text-anchor="middle">{_short_ms(value)}</text>'
                    f'<text x="{x + bar / 2}" y="{top + plot_height + 14}" font-size="10" '
                    f'text-anchor="middle">{"p50" if shade == 0 else "p99"}</text>'
                )
                x += bar + gap
    legend_x = plot_right + 10
    for series_index, (name, _) in enumerate(series):
        legend_y = top + 10 + series_index * 40
        light, dark = PALETTE[series_index % len(PALETTE)]
        parts.append(
            f'<rect x="{legend_x}" y="{legend_y}" width="12" height="12" fill="{light}"/>'
            f'<rect x="{legend_x + 12}" y="{legend_y}" width="12" height="12" fill="{dark}"/>'
            f'<text x="{legend_x + 30}" y="{legend_y + 10}">{escape(name)}</text>'
            f'<text x="{legend_x + 30}" y="{legend_y + 24}" font-size="10" fill="#555">'
            "p50 · p99</text>"
        )
    parts.append(
        f'<line x1="{left}" x2="{plot_right}" y1="{top + plot_height}" '
        f'y2="{top + plot_height}" stroke="#333"/></svg>'
    )
    return "\n".join(parts) + "\n"


def _decade_label(value: float) -> str:
    return f"{value / 1000:g} s" if value >= 1000 else f"{value:g} ms"


def _short_ms(value: float) -> str:
    if value >= 1000:
        return f"{value / 1000:.2f}s"
    return f"{value:.0f}" if value >= 10 else f"{value:.1f}"
