"""Parsing helpers shared by CLI commands (kept out of cli.py so commands stay a few lines each)."""

from __future__ import annotations

from rayqe.errors import RayqeError


def parse_int_list(
    text: str, *, name: str = "value", lo: int | None = None, hi: int | None = None, unique: bool = True
) -> list[int]:
    """ "22,27,32" -> [22, 27, 32]: comma/space separated ints, each within [lo, hi], no duplicates unless
    `unique` is False (counts per position, e.g. --depth 1,2,2).

    Raises RayqeError naming the option (`name`) and the bad item, so the CLI prints one clear line.
    """
    items = [item for item in text.replace(" ", ",").split(",") if item]
    if not items:
        raise RayqeError(f"{name}: expected a comma-separated list of integers, got {text!r}")
    values = []
    for item in items:
        try:
            value = int(item)
        except ValueError:
            raise RayqeError(f"{name}: {item!r} is not an integer") from None
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise RayqeError(f"{name}: {value} is outside {lo}..{hi}")
        if unique and value in values:
            raise RayqeError(f"{name}: {value} is listed twice")
        values.append(value)
    return values


def parse_qps(text: str) -> list[int]:
    """QP list for compress/evaluate: integers in the H.264/HEVC range 0..51."""
    return parse_int_list(text, name="QP", lo=0, hi=51)
