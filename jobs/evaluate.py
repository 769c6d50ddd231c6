"""`ray job submit --working-dir . -- python jobs/evaluate.py [options]`: the per-QP evaluation tables.

Takes exactly `rayqe evaluate`'s options. With `--json OUT.json`, the printed tables are also written
beside it as OUT.md, so the job leaves its numbers and a readable report next to each other.
"""

from __future__ import annotations

import json
from pathlib import Path

import jobkit
import typer


def write_tables(params: dict) -> None:
    """OUT.json -> OUT.md: the same tables `rayqe evaluate` prints, read back from what it wrote."""
    from rayqe.evaluate import format_table

    if not params["json_out"]:
        return
    path = Path(params["json_out"])
    results = json.loads(path.read_text())
    tables = [format_table(r) for r in (results if isinstance(results, list) else [results])]
    md = path.with_suffix(".md")
    md.write_text("".join(f"```\n{t}\n```\n\n" for t in tables))
    typer.echo(f"tables: {md}")


if __name__ == "__main__":
    jobkit.run(jobkit.cli_command("evaluate", after=write_tables))
