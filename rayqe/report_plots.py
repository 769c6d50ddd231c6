"""The report's plots as PNG bytes (matplotlib's Agg canvas, no pyplot: no global state, no display).

matplotlib is the `report` extra; it is imported here only, when a report is rendered.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from rayqe.errors import RayqeError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from rayqe.report import ReportData, Termination

FIG_SIZE_IN = (7.0, 3.6)
DPI = 110  # ~770 px wide: sharp in a browser, small enough to embed a few in one HTML file
STEP_COLOURS = {"decode": "#4e79a7", "classify": "#f28e2b", "enhance": "#59a14f", "encode": "#e15759"}


def _figure() -> Figure:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise RayqeError("the report's plots need matplotlib: pip install 'rayqe[report]'") from None
    return Figure(figsize=FIG_SIZE_IN, dpi=DPI, layout="constrained")


def _png(fig: Figure) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def time_split(data: ReportData) -> bytes:
    """Stacked bars: busy seconds per step, for all chunks and for each pool."""
    fig = _figure()
    ax = fig.add_subplot()
    groups = [("all", data.steps)] + [(p.pool, p.steps) for p in data.pools]
    labels = [name for name, _ in groups]
    left = [0.0] * len(groups)
    for step, colour in STEP_COLOURS.items():
        widths = [getattr(steps, f"{step}_s") for _, steps in groups]
        ax.barh(labels, widths, left=left, color=colour, label=step)
        left = [a + b for a, b in zip(left, widths, strict=True)]
    ax.invert_yaxis()
    ax.set_xlabel("busy seconds (summed over workers)")
    ax.set_title("Where the time went")
    ax.legend(loc="lower right", fontsize="small")
    return _png(fig)


def stages_by_level(term: Termination) -> bytes:
    """Grouped bars: chunks per stages-run count, one group per input codec and estimated level (the
    rows' order: codec, then level)."""
    fig = _figure()
    ax = fig.add_subplot()
    groups = list(dict.fromkeys((codec, lv) for codec, lv, *_ in term.rows))
    stage_counts = sorted({st for _, _, st, *_ in term.rows})
    width = 0.8 / max(len(stage_counts), 1)
    for j, st in enumerate(stage_counts):
        heights = [sum(n for c, lv, s, n, _ in term.rows if (c, lv) == g and s == st) for g in groups]
        xs = [i + (j - (len(stage_counts) - 1) / 2) * width for i in range(len(groups))]
        ax.bar(xs, heights, width=width, label=f"{st} stage{'s' if st != 1 else ''}")
    labels = [f"{codec or '?'}\n{'?' if lv is None else format(lv, 'g')}" for codec, lv in groups]
    ax.set_xticks(range(len(groups)), labels, fontsize="small")
    ax.set_xlabel("input codec and estimated degradation level")
    ax.set_ylabel("chunks")
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.set_title(f"Stages run by input codec and level (all {term.max_stages} = no termination)")
    ax.legend(fontsize="small")
    return _png(fig)


def cost_scenarios(data: ReportData) -> bytes:
    """Bars: cost per hour of input video as run and in each what-if."""
    fig = _figure()
    ax = fig.add_subplot()
    prices = data.prices
    names = [s.name for s in data.scenarios]
    costs = [
        s.usage.cost_usd(prices.gpu_hour_usd, prices.cpu_hour_usd) / data.video_hours for s in data.scenarios
    ]
    bars = ax.barh(names, costs, color=["#59a14f"] + ["#bab0ac"] * (len(names) - 1))
    ax.bar_label(bars, labels=[f"{c:.3g} USD" for c in costs], padding=3, fontsize="small")
    ax.invert_yaxis()
    ax.set_xlabel("USD per hour of input video")
    ax.set_title("Cost per hour of video (grey: estimates)")
    return _png(fig)


def failures(data: ReportData) -> bytes:
    """Horizontal bars: error rows per cause."""
    fig = _figure()
    ax = fig.add_subplot()
    causes = data.causes[:10]
    ax.barh([c.cause[:40] for c in causes], [c.chunk_rows + c.video_rows for c in causes], color="#e15759")
    ax.invert_yaxis()
    ax.set_xlabel("error rows (chunks + videos)")
    ax.set_title("Failures by cause")
    return _png(fig)


def all_plots(data: ReportData) -> dict[str, bytes]:
    """Every plot that has data, by file stem."""
    plots = {"time_split": time_split(data)}
    if data.termination and data.termination.rows:
        plots["stages_by_level"] = stages_by_level(data.termination)
    if data.video_s > 0:
        plots["cost"] = cost_scenarios(data)
    if data.causes:
        plots["failures"] = failures(data)
    return plots
