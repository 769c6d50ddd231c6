"""The shared list parser used by `compress --qp` and `evaluate --qps`."""

from __future__ import annotations

import pytest

from rayqe.cli_args import parse_int_list, parse_qps
from rayqe.errors import RayqeError


def test_parses_lists():
    assert parse_qps("22,27,32,37,42") == [22, 27, 32, 37, 42]
    assert parse_qps(" 22, 27 ") == [22, 27]
    assert parse_qps("0,51") == [0, 51]
    assert parse_int_list("3 1 2") == [3, 1, 2]


@pytest.mark.parametrize(
    "text,match",
    [
        ("", "expected a comma-separated"),
        ("22,a", "'a' is not an integer"),
        ("52", "outside 0..51"),
        ("-1", "outside 0..51"),
        ("22,22", "listed twice"),
        ("2.5", "not an integer"),
    ],
)
def test_rejects_bad_lists(text, match):
    with pytest.raises(RayqeError, match=match):
        parse_qps(text)
