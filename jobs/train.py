"""`ray job submit --working-dir . -- python jobs/train.py drl|enhancer [options]`: training on Ray Train.

`drl` is `rayqe train-drl` (phase 1, the degradation encoder), `enhancer` is `rayqe train` (phase 2, the
staged enhancer); each takes that command's options, e.g. `--workers 4 --gpu` for four GPU workers. Both
write RUN/last.pt (resumable), RUN/train_config.json and Ray Train's per-report metrics under
RUN/ray_results, so RUN must be storage every worker sees (a shared filesystem) on a multi-node cluster.
"""

from __future__ import annotations

import jobkit

if __name__ == "__main__":
    jobkit.run(jobkit.cli_group(__doc__.split("\n\n")[1], {"drl": "train-drl", "enhancer": "train"}))
