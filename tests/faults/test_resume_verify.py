"""Resume trusts an output only when it carries this input's fingerprint and every frame (no Ray)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from rayqe.pipeline import stats as S
from rayqe.pipeline.config import EnhanceConfig
from rayqe.pipeline.resume import is_complete
from tests.faults import inputs as I
from tests.pipeline.test_enhance import run_in_process

pytestmark = pytest.mark.faults


@pytest.mark.parametrize("output_format", ["video", "parquet"])
def test_only_fingerprinted_complete_outputs_count_as_done(tmp_path, output_format):
    src = I.make_video(tmp_path / "a.mp4")
    config = EnhanceConfig(
        src=str(tmp_path), dst=str(tmp_path / "out"), chunk_frames=4, output_format=output_format,
        work_uri=str(tmp_path / "w"),
    )  # fmt: skip
    video, _ = run_in_process(config, src)
    out, tag = video[S.OUTPUT_URI], video["fingerprint"]
    assert video[S.STATUS] == S.STATUS_OK and is_complete(out, 8, config, tag)
    assert not is_complete(out, 8, config, "made-from-another-input")
    assert not is_complete(out, 9, config, tag)  # a different frame count
    other = replace(config, crf=30)  # other settings change the fingerprint the probe expects
    assert run_in_process(other, src)[0]["fingerprint"] != tag
    with open(out, "r+b") as f:  # damage the file in place: unreadable is not done
        f.truncate(200)
    assert not is_complete(out, 8, config, tag)
