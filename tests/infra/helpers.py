"""Readers for the infra files: YAML documents, Dockerfile instructions, image names. No cluster needed."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import yaml

import rayqe

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"
IMAGE_CPU = f"rayqe-cpu:{rayqe.__version__}"
IMAGE_GPU = f"rayqe-gpu:{rayqe.__version__}"
RAY_BASE = re.compile(r"^rayproject/ray:(?P<ray>\d+\.\d+\.\d+)-(?P<py>py\d+)(?P<gpu>-gpu|-cu\d+)?$")


def load_yaml(path: Path) -> dict:
    with open(path) as f:
        return yaml.safe_load(f)


def image_name(image: str) -> str:
    """`registry.example/team/rayqe-gpu:0.1.0` -> `rayqe-gpu:0.1.0` (the registry is the user's choice)."""
    return image.rsplit("/", 1)[-1]


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    out, pending = [], ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        op, _, args = line.partition(" ")
        out.append((op.upper(), args.strip()))
    return out


def shell_commands(command: str) -> list[list[str]]:
    """A shell line as simple commands (word lists), split at `&&`, `||`, `;` and `|` outside quotes."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    commands: list[list[str]] = [[]]
    for token in lexer:
        if token in ("&&", "||", ";", "|"):
            commands.append([])
        else:
            commands[-1].append(token)
    return [c for c in commands if c]


def pip_install_targets(command: str) -> list[str]:
    """Positional targets of every `pip install` in a shell line ('.[samples]', 'torch>=2', ...)."""
    targets = []
    for words in shell_commands(command):
        for i in range(len(words) - 1):
            if words[i].endswith("pip") and words[i + 1] == "install":
                skip_next = False
                for w in words[i + 2 :]:
                    if skip_next:
                        skip_next = False
                    elif w in ("--index-url", "-i", "--extra-index-url", "-c", "-r", "--constraint"):
                        skip_next = True
                    elif not w.startswith("-"):
                        targets.append(w)
    return targets
