"""`ray job submit --working-dir . -- python jobs/enhance.py SRC DST [options]`: enhance a batch, then report.

Takes exactly `rayqe enhance`'s arguments and options (`python jobs/enhance.py --help`). After the run, the
cost/throughput report of the batch (every run whose statistics are under the stats folder, so a resumed
batch is reported whole) is written beside the statistics: `DST/_stats/report.{md,html}` by default.
"""

from __future__ import annotations

import jobkit
import typer


def write_report(params: dict) -> None:
    """`rayqe report` on the stats folder the run wrote to (default prices; `rayqe report` for others)."""
    from rayqe.pipeline.config import EnhanceConfig
    from rayqe.report import ReportConfig, run_report
    from rayqe.storage import StorageConfig

    stats_uri = EnhanceConfig(src=params["src"], dst=params["dst"], stats=params["stats"]).stats_uri
    data, written = run_report(ReportConfig(stats_uri, storage=StorageConfig(params["s3_endpoint_url"])))
    typer.echo("report: " + "  ".join(u for u in written if not u.endswith(".png")))
    typer.echo(data.summary())


if __name__ == "__main__":
    jobkit.run(jobkit.cli_command("enhance", after=write_report))
