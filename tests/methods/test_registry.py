from __future__ import annotations

from pathlib import Path

import pytest

from rayqe.errors import RayqeError
from rayqe.methods import registry
from rayqe.methods.ffmpeg_filters import FILTER_SPECS, ffmpeg_has
from rayqe.methods.registry import available_methods, get_method


def test_available_methods_lists_passthrough_and_present_filters():
    names = available_methods()
    assert names[0] == "passthrough"
    for name, spec in FILTER_SPECS.items():
        assert (name in names) == ffmpeg_has(spec.ffmpeg_filter)
    assert {"deblock", "nlmeans"} <= set(names)  # the LGPL wheel has these


@pytest.mark.parametrize("name", ["passthrough", "deblock", "nlmeans"])
def test_get_method_by_name(name):
    method = get_method(name)
    assert method.name == name
    assert callable(method.process)


def test_unknown_method_lists_available():
    with pytest.raises(RayqeError, match=r"unknown method 'bogus'; available: passthrough"):
        get_method("bogus")


def test_weights_rejected_for_classical_methods():
    with pytest.raises(RayqeError, match="apply to drl and baseline only"):
        get_method("nlmeans", weights=Path("w.pt"))


def test_output_bits_only_for_model_methods_and_only_deeper():
    with pytest.raises(RayqeError, match="apply to drl and baseline only"):
        get_method("nlmeans", output_bits=10)
    with pytest.raises(RayqeError, match="output bits 8"):
        get_method("drl", output_bits=8)


def test_ensemble_only_for_model_methods_and_known_sizes():
    with pytest.raises(RayqeError, match="apply to drl and baseline only"):
        get_method("nlmeans", ensemble=4)
    with pytest.raises(RayqeError, match="ensemble of 3: choose one of 1, 2, 4, 8"):
        get_method("drl", ensemble=3)


def test_bad_policy():
    with pytest.raises(RayqeError, match="unknown termination policy 'sometimes'; choose one of level, gain"):
        get_method("drl", policy="sometimes")


def test_missing_filter_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(registry, "ffmpeg_has", lambda _name: False)
    with pytest.raises(RayqeError, match="lacks"):
        get_method("deblock")
    assert "deblock" not in registry.available_methods()


def test_model_methods_delegate_to_restorer(monkeypatch):
    """drl/baseline go to rayqe.models.restorer.build_model_method, or fail with one clear line."""
    calls = []

    class FakeRestorer:
        @staticmethod
        def build_model_method(name, *, weights, policy, output_bits=None):
            calls.append((name, weights, policy, output_bits))
            return "model-method"

    monkeypatch.setattr(registry, "_import_restorer", lambda: FakeRestorer)
    assert get_method("drl", weights=Path("w.pt"), policy="level") == "model-method"
    assert get_method("baseline", output_bits=10) == "model-method"
    assert calls == [("drl", Path("w.pt"), "level", None), ("baseline", None, None, 10)]

    def missing():
        err = ModuleNotFoundError("no module")
        err.name = "rayqe.models.restorer"
        raise err

    monkeypatch.setattr(registry, "_import_restorer", missing)
    with pytest.raises(RayqeError, match="model methods not available"):
        get_method("baseline")


def test_only_non_default_extras_reach_the_restorer(monkeypatch):
    seen = {}
    monkeypatch.setattr(
        registry, "_build_model_method", lambda name, weights, policy, **extra: seen.update(extra)
    )
    get_method("drl", ensemble=4)
    assert seen == {"ensemble": 4}


def test_policy_names_are_checked_without_loading_torch():
    import subprocess
    import sys

    code = (
        "import sys, rayqe.methods.registry, rayqe.pipeline.config\n"
        "from rayqe.models.termination import policy_problem\n"
        "assert policy_problem('gain') is None and policy_problem('fixed:3') is None\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
