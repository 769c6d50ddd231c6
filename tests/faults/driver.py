"""A `rayqe enhance` driver with the fake (optionally slow) model, for tests that kill or interrupt the
driver process: `python -m tests.faults.driver SRC DST [--delay S] [--codec C] [--endpoint URL]`.
Connects to RAY_ADDRESS when set (the test session's Ray), else starts its own local Ray."""

from __future__ import annotations

import argparse
import logging

import ray.cloudpickle

from rayqe.pipeline.run import run_enhance
from rayqe.pipeline.summary import format_summary
from rayqe.storage import StorageConfig
from tests.faults import faulty
from tests.faults.faulty import FaultPlan, FaultyFactory
from tests.faults.runs import small_config
from tests.pipeline import fakes


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("src")
    parser.add_argument("dst")
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--codec", default="ffv1")
    parser.add_argument("--endpoint", default=None)
    parser.add_argument("--cache", default=None)
    parser.add_argument("--debug", action="store_true", help="log everything (botocore included)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO)
    for module in (fakes, faulty):  # workers may not have `tests` on sys.path
        ray.cloudpickle.register_pickle_by_value(module)
    config = small_config(
        args.src,
        args.dst,
        output_codec=args.codec,
        model_factory=FaultyFactory(FaultPlan(delay_s=args.delay)),
        storage=StorageConfig(s3_endpoint_url=args.endpoint),
        cache_dir=args.cache,
    )
    print(format_summary(run_enhance(config)), flush=True)


if __name__ == "__main__":
    main()
