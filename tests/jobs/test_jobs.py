"""The jobs/ entrypoints, run as a cluster runs them: `python jobs/<name>.py ...` in a subprocess, with
RAY_ADDRESS naming a Ray head started here, and once through Ray's job API (JobSubmissionClient)."""

from __future__ import annotations

import json
import re
import time

import pytest
import typer
import yaml

from rayqe.cli import app
from rayqe.pipeline import stats as S
from tests.jobs.conftest import REPO, run_job_script

CLI = typer.main.get_command(app).commands
JOBS = {  # script (and subcommand) -> the rayqe command whose options it takes
    ("enhance.py",): "enhance",
    ("evaluate.py",): "evaluate",
    ("bench.py",): "bench",
    ("train.py", "drl"): "train-drl",
    ("train.py", "enhancer"): "train",
}


def _options(command_name: str) -> set[str]:
    return {opt for p in CLI[command_name].params for opt in p.opts if opt.startswith("--")}


@pytest.mark.parametrize(
    ("script", "command"), JOBS.items(), ids=lambda v: "-".join(v) if isinstance(v, tuple) else v
)
def test_each_script_takes_the_cli_commands_options(script, command):
    proc = run_job_script(*script, "--help", timeout_s=120)
    assert proc.returncode == 0, proc.stderr
    shown = set(re.findall(r"--[a-z0-9][a-z0-9-]*", proc.stdout))
    assert _options(command) - {"--help"} <= shown


def test_user_error_is_one_line_and_exit_2(tmp_path):
    proc = run_job_script("enhance.py", str(tmp_path / "missing"), str(tmp_path / "out"), timeout_s=120)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"rayqe: error: input not found: {tmp_path / 'missing'}"


def test_evaluate_job_writes_json_and_its_tables(tmp_path):
    """No Ray involved: evaluate runs in the driver. Passthrough's ΔPSNR is exactly 0 (a self-check)."""
    from rayqe.samples import sample_clips

    out = tmp_path / "eval.json"
    args = ["--refs", str(sample_clips(["carphone_pristine"])[0]), "--qps", "37", "--frames", "2"]
    proc = run_job_script("evaluate.py", *args, "--json", str(out), timeout_s=300)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.read_text())
    assert [r["qp"] for r in result["rows"]] == [37] and result["rows"][0]["delta_psnr_db"] == 0
    tables = (tmp_path / "eval.md").read_text()
    assert "ΔPSNR" in tables and re.search(r"^\s+37\s+[\d.]+\s+\+0\.000", tables, flags=re.M)


@pytest.mark.ray
@pytest.mark.slow
def test_train_job_runs_phase_one_on_the_cluster(ray_head, tmp_path):
    from rayqe.models.checkpoint import load_checkpoint
    from tests.jobs.tiny import write_tiny_training_data

    data = write_tiny_training_data(tmp_path / "data")
    run = tmp_path / "run"
    args = ["drl", "--data", str(data), "--run", str(run), "--steps", "1", "--batch", "2", "--threads", "1"]
    proc = run_job_script("train.py", *args, ray_address=ray_head.gcs_address)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert load_checkpoint(run / "last.pt")["training_state"]["step"] == 1
    assert json.loads((run / "train_config.json").read_text())["phase"] == "drl"


@pytest.mark.ray
@pytest.mark.slow
def test_bench_job_measures_every_figure(ray_head, tiny_weights, tmp_path):
    out = tmp_path / "bench"
    args = [
        "--out",
        str(out),
        "--frames",
        "3",
        "--qps",
        "22,42",
        "--scales",
        "2",
        "--weights",
        str(tiny_weights),
    ]
    proc = run_job_script("bench.py", *args, ray_address=ray_head.gcs_address)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((out / "bench.json").read_text())
    t = result["throughput"]
    for key in ("pipeline_frames_per_s", "model_alone_frames_per_s", "decode_encode_frames_per_s"):
        assert t[key] > 0, key
    assert t["pipeline_frames"] == t["model_alone_frames"] == t["decode_encode_frames"] == 2 * 3
    assert t["pipeline_over_model"] > 0 and t["pipeline_over_decode_encode"] > 0
    runs = t["model_alone_runs_s"]  # bracketing the pipeline run; the ratio uses their mean
    assert len(runs) == 2 and min(runs) > 0 and t["model_alone_s"] == pytest.approx(sum(runs) / 2)
    routing = result["routing"]
    assert routing["on"]["wall_s"] > 0 and routing["off"]["wall_s"] > 0 and routing["off_over_on_wall"] > 0
    assert set(routing["off"]["chunks_by_pool"]) == {S.POOL_FULL}  # off: one pool
    # off with every stage: one pool, the tiny model's 4 stages on every chunk, more than termination ran
    full = routing["off_full"]
    assert set(full["chunks_by_pool"]) == {S.POOL_FULL} and full["mean_stages_run"] == 4
    assert routing["on"]["mean_stages_run"] <= 4 and routing["off_full_over_on_wall"] > 0
    assert result["warmup"]["videos"] == 1 and 0 < result["warmup"]["frames"] <= 8  # warm-up, apart
    memory = {row["scale"]: row for row in result["memory"]}
    assert sorted(memory) == [1, 2] and (memory[1]["videos"], memory[2]["videos"]) == (2, 4)
    for row in memory.values():
        assert row["driver_peak_rss_bytes"] > 0 and row["object_store_peak_bytes"] >= 0
    assert "pipeline / model alone" in proc.stdout and (out / "bench.md").read_text().startswith("```")


@pytest.mark.ray
@pytest.mark.slow
def test_enhance_job_submitted_through_the_job_api(ray_head, tiny_weights, tiny_inputs, tmp_path):
    """The README's submission: working_dir = this checkout with infra/runtime_env.yaml's excludes."""
    from ray.job_submission import JobStatus, JobSubmissionClient

    out = tmp_path / "out"
    runtime_env = {
        **yaml.safe_load((REPO / "infra" / "runtime_env.yaml").read_text()),
        "working_dir": str(REPO),
    }
    entrypoint = (
        f"python jobs/enhance.py {tiny_inputs} {out} --weights {tiny_weights} --no-progress "
        "--cpus-per-actor 0.5 --light-actors 1 --full-actors 1"
    )
    client = JobSubmissionClient(ray_head.dashboard_url)
    job_id = client.submit_job(entrypoint=entrypoint, runtime_env=runtime_env)
    deadline = time.monotonic() + 600
    while not (status := client.get_job_status(job_id)).is_terminal():
        assert time.monotonic() < deadline, "job did not finish in 10 minutes"
        time.sleep(2)
    logs = client.get_job_logs(job_id)
    assert status == JobStatus.SUCCEEDED, logs[-3000:]
    assert "2 enhanced" in logs and "report: " in logs
    assert sorted(p.name for p in out.glob("*.mp4")) == sorted(p.name for p in tiny_inputs.glob("*.mp4"))
    chunks, videos = S.read_stats(str(out / "_stats"))
    assert videos.num_rows == 2 and set(videos.column(S.STATUS).to_pylist()) == {S.STATUS_OK}
    assert chunks.num_rows >= 2 and set(chunks.column(S.STATUS).to_pylist()) == {S.STATUS_OK}
    assert (out / "_stats" / "report.md").is_file() and (out / "_stats" / "report.html").is_file()
