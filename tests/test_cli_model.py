from typer.testing import CliRunner

from rayqe.cli import app
from rayqe.cli_model import COMMANDS
from rayqe.errors import RayqeError


def test_model_commands_are_registered_on_the_main_app():
    names = [c.name for c in app.registered_commands]
    assert set(COMMANDS) <= set(names) and len(names) == len(set(names))
    assert {"train-drl", "train", "calibrate", "probe-drl", "model-cost"} == set(COMMANDS)


def test_calibrate_refuses_a_bad_bin_width_before_reading_anything(tmp_path):
    result = CliRunner().invoke(
        app, ["calibrate", str(tmp_path / "none.pt"), "--out", str(tmp_path / "o.pt"), "--bin-width", "0"]
    )
    assert isinstance(result.exception, RayqeError) and "bin width" in str(result.exception)
    assert not (tmp_path / "o.pt").exists()


def test_calibrate_refuses_a_negative_epsilon_before_reading_anything(tmp_path):
    args = ["calibrate", str(tmp_path / "none.pt"), "--out", str(tmp_path / "o.pt"), "--epsilon-db", "-0.01"]
    result = CliRunner().invoke(app, args)
    assert isinstance(result.exception, RayqeError) and "epsilon" in str(result.exception)
    assert not (tmp_path / "o.pt").exists()


def test_train_refuses_a_malformed_depth_before_reading_anything(tmp_path):
    run = str(tmp_path / "r")
    args = ["train", "--drl-weights", str(tmp_path / "d.pt"), "--run", run, "--depth", "1,x,2"]
    result = CliRunner().invoke(app, args)
    assert isinstance(result.exception, RayqeError) and "--depth: 'x' is not an integer" in str(
        result.exception
    )
    assert not (tmp_path / "r").exists()
