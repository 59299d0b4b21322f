"""Architecture rules, checked on the source: the core does not know about Telegram, only the
ranking module touches rank_bm25, there is no grab-bag utils module, and values are immutable."""

from __future__ import annotations

import ast
import dataclasses
import os
from pathlib import Path

import pytest

from bot.answers import Answer, Excerpt
from bot.corpus import Document
from bot.passages import Passage
from bot.search import Hit, Query

from conftest import ROOT

PACKAGE = ROOT / "bot"
MODULES = sorted(PACKAGE.rglob("*.py"))
SKIP_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", "build", "dist", ".pytest_cache", ".cache"}


def imported_packages(source: str) -> set[str]:
    """Top-level names of every package a module imports, statically or by name at run time."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
        elif (
            isinstance(node, ast.Call)
            and (getattr(node.func, "id", None) == "__import__" or getattr(node.func, "attr", None) == "import_module")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.add(node.args[0].value.split(".")[0])
    return found


def imports_of(path: Path) -> set[str]:
    return imported_packages(path.read_text(encoding="utf-8"))


def relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def is_telegram_module(path: Path) -> bool:
    return path.parent == PACKAGE and path.name.startswith("telegram") and path.suffix == ".py"


# --- the detector itself (so that the rules below cannot pass by accident) --------------------


@pytest.mark.parametrize(
    "source",
    [
        "import telegram",
        "import telegram.ext",
        "import os, telegram.ext as ext",
        "from telegram import Update",
        "from telegram.ext import Application",
        "def f():\n    import telegram\n",
        "try:\n    from telegram import Bot\nexcept ImportError:\n    pass\n",
        "import importlib\nimportlib.import_module('telegram.ext')",
        "__import__('telegram')",
    ],
)
def test_detector_sees_every_way_to_import_a_package(source):
    assert "telegram" in imported_packages(source)


@pytest.mark.parametrize("source", ["import telegraph", "from bot import telegram_html", "x = 'telegram'",
                                    "from . import telegram"])
def test_detector_ignores_other_names(source):
    assert "telegram" not in imported_packages(source)


def test_the_package_is_found_and_parses():
    names = {relative(p) for p in MODULES}
    assert {"bot/corpus.py", "bot/analysis.py", "bot/ranking.py", "bot/answers.py", "bot/cli.py"} <= names
    for path in MODULES:
        ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


# --- the rules --------------------------------------------------------------------------------


def test_only_telegram_modules_import_telegram():
    offenders = [relative(p) for p in MODULES if "telegram" in imports_of(p) and not is_telegram_module(p)]
    assert not offenders, f"only bot/telegram*.py may import telegram: {offenders}"


def test_only_the_ranking_module_imports_rank_bm25():
    offenders = [relative(p) for p in MODULES if "rank_bm25" in imports_of(p) and relative(p) != "bot/ranking.py"]
    assert not offenders, f"only bot/ranking.py may import rank_bm25: {offenders}"


def test_there_is_no_utils_module():
    found = []
    for folder, subfolders, files in os.walk(ROOT):
        subfolders[:] = [d for d in subfolders if d not in SKIP_DIRS and not d.endswith(".egg-info")]
        found += [relative(Path(folder) / name) for name in files if name == "utils.py"]
    assert not found, f"give these a name that says what they hold: {found}"
    assert not (PACKAGE / "utils").is_dir()


@pytest.mark.parametrize("value_type", [Document, Passage, Hit, Excerpt, Answer, Query])
def test_value_types_are_frozen_dataclasses(value_type):
    assert dataclasses.is_dataclass(value_type), value_type
    assert value_type.__dataclass_params__.frozen, f"{value_type.__name__} must be frozen"


def test_a_value_cannot_be_changed_after_it_is_made():
    document = Document("d", "T", "P", None, None, "Text.")
    with pytest.raises(dataclasses.FrozenInstanceError):
        document.text = "Rewritten."  # type: ignore[misc]
