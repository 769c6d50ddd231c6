"""`ray job submit --working-dir . -- python jobs/bench.py [options]`: the pipeline benchmark.

Takes exactly `rayqe bench`'s options; writes bench.json and bench.md under `--out`. On a multi-node
cluster give `--work s3://...` so every worker reads the benchmark's inputs.
"""

from __future__ import annotations

import jobkit

if __name__ == "__main__":
    jobkit.run(jobkit.cli_command("bench"))
