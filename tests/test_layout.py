"""The package's layout: imports point downwards through the layers that
DESIGN.md lists, and no module outgrows a reader.

The layers are read from DESIGN.md itself (the code block under "Layers of
the code", top to bottom), so the picture a reader sees there is the rule
the code is held to.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "tdnumpy"
# 450 lines as the code was written by hand, 490 in ruff format's style, which
# wrapped tdnumpy/ from 17,999 to 19,507 lines (x 1.084) when it was adopted.
MAX_LINES = 490
ABOVE_ALL = {"__init__", "__main__", "_compat"}  # the package's face and entry points import anything


def design_layers() -> list[list[str]]:
    """The names on each line of DESIGN.md's layer block, top layer first."""
    text = (ROOT / "DESIGN.md").read_text()
    block = re.search(r"## Layers of the code.*?```\n(.*?)```", text, re.S).group(1)
    layers = []
    for line in block.splitlines():
        if line and not line[0].isspace():
            names = re.match(r"([\w./, ]+?)\s{2,}", line + "  ").group(1)
            layers.append([n.strip().rstrip("/").removesuffix(".py") for n in names.split(",")])
    return layers


def rank_of() -> dict[str, int]:
    """{top-level name under tdnumpy/: rank}, 0 for the bottom layer."""
    layers = design_layers()
    return {name: len(layers) - 1 - i for i, names in enumerate(layers) for name in names}


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> set[str]:
    """Absolute names of the tdnumpy modules (or names in them) that a file imports."""
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "tdnumpy")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            if target.split(".")[0] != "tdnumpy":
                continue
            found.update(f"{target}.{a.name}" for a in node.names) if node.module is None else found.add(target)
    return found


def top_level(name: str) -> str:
    """The module or folder right under tdnumpy/ that ``name`` lives in; names
    defined by the package face itself (``tdnumpy.__version__``) count as the face."""
    parts = name.split(".")
    if len(parts) == 1 or not (PACKAGE / parts[1]).with_suffix(".py").exists() and not (PACKAGE / parts[1]).is_dir():
        return "__init__"
    return parts[1]


def test_design_lists_every_top_level_module_and_folder():
    ranks = rank_of()
    present = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()
               if (p.suffix == ".py" or (p.is_dir() and (p / "__init__.py").exists()))} - ABOVE_ALL
    assert present <= set(ranks), f"DESIGN.md's layers do not list {sorted(present - set(ranks))}"


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_point_downwards(path):
    ranks = rank_of()
    own = top_level(module_name(path))
    if own in ABOVE_ALL:
        return
    upwards = sorted(name for name in imported(path)
                     if top_level(name) not in ABOVE_ALL and ranks[top_level(name)] > ranks[own])
    assert not upwards, f"{path.relative_to(ROOT)} ({own}) imports from layers above it: {upwards}"


def test_the_import_reader_sees_relative_imports():
    """The checker itself: nn/noise.py imports the masks (one layer down) and
    nn/dense.py its sibling module weighted.py."""
    assert "tdnumpy.masks" in imported(PACKAGE / "nn" / "noise.py")
    assert "tdnumpy.nn.weighted" in imported(PACKAGE / "nn" / "dense.py")
    ranks = rank_of()
    assert ranks["cli"] > ranks["experiments"] > ranks["nn"] > ranks["masks"] > ranks["_validation"]


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_is_longer_than_490_lines(path):
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines"
