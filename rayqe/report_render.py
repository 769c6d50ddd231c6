"""ReportData -> report.md (plots beside it as PNG files) and report.html (self-contained, plots inlined).

Both come from one list of blocks (heading, paragraph, table, image), so the two files always say the same.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass

from rayqe import storage
from rayqe.report import (
    MAX_STAGES_GIVEN,
    MAX_STAGES_MODEL,
    MAX_STAGES_OBSERVED,
    SECONDS_PER_HOUR,
    ReportData,
)

PLOTS_DIR = "plots"
MD_NAME, HTML_NAME = "report.md", "report.html"
CSS = (
    "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}"
    "table{border-collapse:collapse;margin:.5rem 0 1rem}td,th{border:1px solid #ccc;padding:.25rem .6rem;"
    "text-align:right}th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}"
    "img{max-width:100%}p.note{color:#555;font-size:.9em}"
)


@dataclass(frozen=True)
class Block:
    kind: str  # "h1" | "h2" | "p" | "note" | "table" | "img"
    text: str = ""
    header: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()


def _n(x: float | None, digits: int = 3) -> str:
    """A number for people: 3 significant digits, thousands grouped, '–' when unknown."""
    if x is None:
        return "–"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.{digits}g}"


def _usd(x: float | None) -> str:
    return "–" if x is None else f"{x:,.2f} USD" if abs(x) >= 1 else f"{x:.4f} USD"


def _pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "–"


def _table(header: list[str], rows: list[list[str]]) -> Block:
    return Block("table", header=tuple(header), rows=tuple(tuple(r) for r in rows))


def blocks(data: ReportData, plot_names: set[str]) -> list[Block]:
    """The report's content in order; images only for the plots that were made."""
    p = data.prices
    videos = sum(r.videos for r in data.runs)
    out = [
        Block("h1", "rayqe report"),
        Block(
            "p",
            f"{len(data.runs)} run(s), {videos} video(s), {data.frames:,} frames enhanced "
            f"= {_n(data.video_hours)} h of input video.",
        ),
        *(Block("note", n) for n in data.notes),
        Block("h2", "Throughput"),
        _table(
            ["frames", "video (s)", "wall (s)", "frames/s", "realtime factor"],
            [
                [
                    f"{data.frames:,}",
                    _n(data.video_s),
                    _n(data.wall_s),
                    _n(data.frames_per_s),
                    _n(data.realtime_factor),
                ]
            ],
        ),
        Block(
            "note",
            "Wall time: the union of the runs' [start, end] intervals. Realtime factor: seconds of input "
            "video per wall-clock second (> 1: faster than real time).",
        ),
        _table(
            [
                "pool",
                "chunks",
                "frames",
                "mean stages",
                "frames/s (wall, while busy)",
                "frames/s per worker",
                "realtime factor per worker",
            ],
            [
                [
                    q.pool,
                    str(q.chunks),
                    f"{q.frames:,}",
                    _n(q.mean_stages_run),
                    _n(q.frames_per_wall_s),
                    _n(q.frames_per_busy_s),
                    _n(q.realtime_factor_per_worker),
                ]
                for q in data.pools
            ],
        ),
        _table(
            ["step", "busy s (all)", "share", *(f"{q.pool} s" for q in data.pools)],
            [
                [
                    step,
                    _n(getattr(data.steps, f"{step}_s")),
                    _pct(getattr(data.steps, f"{step}_s"), data.steps.total_s),
                    *(_n(getattr(q.steps, f"{step}_s")) for q in data.pools),
                ]
                for step in ("decode", "classify", "enhance", "encode")
            ],
        ),
        Block("img", "time_split"),
        _table(
            ["run", "videos ok/all", "chunks ok/error/skipped", "frames", "wall (s)", "frames/s"],
            [
                [
                    r.run_id,
                    f"{r.videos_ok}/{r.videos}",
                    f"{r.chunks_ok}/{r.chunks_error}/{r.chunks_skipped}",
                    f"{r.frames:,}",
                    _n(r.wall_s),
                    _n(r.frames / r.wall_s if r.wall_s else None),
                ]
                for r in data.runs
            ],
        ),
    ]
    t = data.termination
    out.append(Block("h2", "Termination"))
    if t is None:
        out.append(Block("p", "No chunk recorded its stages."))
    else:
        source = {
            MAX_STAGES_GIVEN: "given with --max-stages",
            MAX_STAGES_MODEL: "the model's stage count, recorded with each chunk",
            MAX_STAGES_OBSERVED: "the most stages seen in these stats, which predate the model's stage "
            "count column (pass --max-stages to set it)",
        }[t.max_stages_source]
        out += [
            _table(
                ["input codec", "level (nearest half)", "stages run", "chunks", "frames"],
                [
                    [codec or "unknown", "unknown" if lv is None else f"{lv:g}", str(st), str(n), f"{f:,}"]
                    for codec, lv, st, n, f in t.rows
                ],
            ),
            Block("img", "stages_by_level"),
            Block(
                "p",
                f"Enhancer compute saved by termination: **{100 * t.saved_fraction:.1f} %** "
                f"({t.stage_frames_run:,} stage-frames run of {t.stage_frames_full:,} with all "
                f"{t.max_stages} stages on every chunk).",
            ),
            Block(
                "note",
                f"Full = {t.max_stages} stages: {source}. Stage-frames = frames fed to the model (margins "
                "included) × stages run; assumes every stage costs the same per frame.",
            ),
        ]
    out += [
        Block("h2", "Cost"),
        _table(
            ["GPU-hours", "CPU-hours", "cost", "video hours", "cost per hour of video"],
            [
                [
                    _n(data.usage.gpu_hours),
                    _n(data.usage.cpu_hours),
                    _usd(data.cost_usd),
                    _n(data.video_hours),
                    _usd(data.cost_per_video_hour_usd),
                ]
            ],
        ),
        Block(
            "note",
            f"Prices: {p.gpu_hour_usd} USD per GPU-hour, {p.cpu_hour_usd} USD per CPU-hour. Busy "
            "accounting: each chunk's step seconds × the GPUs and CPUs its enhance actor reserved (classify "
            "seconds included at that rate, failed chunks included). Idle nodes are not counted: divide by "
            "your cluster's utilisation.",
        ),
    ]
    scale = data.archive_scale
    if scale:
        out.append(
            _table(
                [
                    "projection",
                    "GPU-hours",
                    "CPU-hours",
                    "cost",
                    "wall hours (same cluster)",
                ],
                [
                    [
                        f"{_n(p.archive_hours)} h of video",
                        _n(data.usage.gpu_hours * scale),
                        _n(data.usage.cpu_hours * scale),
                        _usd(data.cost_usd * scale),
                        _n(data.archive_wall_hours),
                    ]
                ],
            )
        )
    if data.video_s:
        out.append(
            _table(
                ["scenario", "GPU-hours", "CPU-hours", "cost per hour of video", "vs as run", "how"],
                [
                    [
                        s.name,
                        _n(s.usage.gpu_hours),
                        _n(s.usage.cpu_hours),
                        _usd(
                            s.usage.cost_usd(p.gpu_hour_usd, p.cpu_hour_usd) * SECONDS_PER_HOUR / data.video_s
                        ),
                        _pct(s.usage.cost_usd(p.gpu_hour_usd, p.cpu_hour_usd), data.cost_usd),
                        s.how,
                    ]
                    for s in data.scenarios
                ],
            )
        )
        out.append(Block("img", "cost"))
    out.append(Block("h2", "Failures"))
    errors = sum(c.chunk_rows for c in data.causes), sum(c.video_rows for c in data.causes)
    out.append(
        Block(
            "p",
            f"{errors[0]} chunk error row(s), {errors[1]} video error row(s); "
            f"{data.unresolved_chunks} chunk(s) still failed in their latest run.",
        )
    )
    if data.causes:
        out += [
            _table(
                ["cause", "chunk rows", "video rows", "example"],
                [[c.cause, str(c.chunk_rows), str(c.video_rows), c.example[:160]] for c in data.causes],
            ),
            Block("img", "failures"),
        ]
    return [b for b in out if b.kind != "img" or b.text in plot_names]


def to_markdown(content: list[Block]) -> str:
    def cell(s: str) -> str:
        return s.replace("|", "\\|").replace("\n", " ")

    lines = []
    for b in content:
        if b.kind in ("h1", "h2"):
            lines += [("# " if b.kind == "h1" else "## ") + b.text, ""]
        elif b.kind in ("p", "note"):
            lines += [b.text if b.kind == "p" else f"*{b.text}*", ""]
        elif b.kind == "table":
            lines += ["| " + " | ".join(map(cell, b.header)) + " |", "|" + "---|" * len(b.header)]
            lines += ["| " + " | ".join(map(cell, r)) + " |" for r in b.rows] + [""]
        elif b.kind == "img":
            lines += [f"![{b.text}]({PLOTS_DIR}/{b.text}.png)", ""]
    return "\n".join(lines)


def to_html(content: list[Block], pngs: dict[str, bytes]) -> str:
    def inline(s: str) -> str:
        parts = html.escape(s).split("**")
        return "".join(f"<b>{x}</b>" if i % 2 else x for i, x in enumerate(parts))

    body = []
    for b in content:
        if b.kind in ("h1", "h2"):
            body.append(f"<{b.kind}>{html.escape(b.text)}</{b.kind}>")
        elif b.kind in ("p", "note"):
            body.append(f'<p class="{b.kind}">{inline(b.text)}</p>')
        elif b.kind == "table":
            head = "".join(f"<th>{html.escape(h)}</th>" for h in b.header)
            rows = "".join(
                "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in b.rows
            )
            body.append(f"<table><tr>{head}</tr>{rows}</table>")
        elif b.kind == "img":
            data = base64.b64encode(pngs[b.text]).decode("ascii")
            body.append(f'<img alt="{html.escape(b.text)}" src="data:image/png;base64,{data}">')
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><title>rayqe report</title>'
        f"<style>{CSS}</style></head><body>{''.join(body)}</body></html>\n"
    )


def write_report(data: ReportData, out_uri: str, config: storage.StorageConfig | None = None) -> list[str]:
    """Write report.md, its PNG plots and report.html under `out_uri` (local folder or s3://); return URIs."""
    from rayqe.report_plots import all_plots

    pngs = all_plots(data)
    content = blocks(data, set(pngs))
    written = []
    for name, png in pngs.items():
        written.append(storage.join(out_uri, PLOTS_DIR, f"{name}.png"))
        storage.put_bytes(written[-1], png, config)
    for name, text in ((MD_NAME, to_markdown(content)), (HTML_NAME, to_html(content, pngs))):
        written.append(storage.join(out_uri, name))
        storage.put_bytes(written[-1], text.encode("utf-8"), config)
    return written
