"""Architecture rules, checked on the source by folder: data flows one way, corpus → retrieval →
answers → the edges (terminal, Telegram); only bot/telegram/ knows about Telegram, only the
reference ranker touches rank_bm25, there is no grab-bag utils module, and values are immutable."""

from __future__ import annotations

import ast
import dataclasses
import os
from pathlib import Path

import pytest

from bot.answers import Answer, Excerpt
from bot.corpus.articles import Document
from bot.corpus.passages import Passage
from bot.retrieval.library import Hit, Query
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


def part_of(path: Path) -> str:
    """The part of the package a module belongs to: its subfolder, or "top" for bot/*.py."""
    inside = path.relative_to(PACKAGE).parts
    return inside[0] if len(inside) > 1 else "top"


def bot_modules_imported(source: str) -> set[str]:
    """Every bot.* module a module imports (`from bot.x import y` counts bot.x and bot.x.y)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("bot.")}
        elif (isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
              and node.module.split(".")[0] == "bot"):
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def parts_imported(path: Path) -> set[str]:
    """The parts of the package (subfolder names, or the top-level module names) a module imports."""
    parts = set()
    for module in bot_modules_imported(path.read_text(encoding="utf-8")):
        names = module.split(".")
        if len(names) > 1:
            parts.add(names[1])
    return parts


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
    assert {"bot/corpus/articles.py", "bot/retrieval/analysis.py", "bot/retrieval/bm25_reference.py",
            "bot/answers.py", "bot/cli.py", "bot/telegram/handlers.py"} <= names
    for path in MODULES:
        ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def test_the_part_detector_sees_bot_imports():
    assert bot_modules_imported("from bot.retrieval.library import Library") >= {"bot.retrieval.library"}
    assert bot_modules_imported("from bot import answers") >= {"bot.answers"}
    assert bot_modules_imported("import bot.telegram.messages") == {"bot.telegram.messages"}
    assert bot_modules_imported("from telegram import Bot") == set()


# --- the rules --------------------------------------------------------------------------------

# What each folder may import from the rest of the package: data flows one way.
ALLOWED_PARTS = {
    "corpus": {"corpus"},
    "retrieval": {"corpus", "retrieval"},
    "operations": {"answers", "operations"},  # the question log, statistics, metrics, health: no Telegram
    "telegram": {"corpus", "retrieval", "answers", "operations", "telegram"},  # never settings, cli or console
    "ingest": {"corpus", "ingest"},  # it writes article files; it knows nothing of indexes or Telegram
}


@pytest.mark.parametrize("part", sorted(ALLOWED_PARTS))
def test_each_part_imports_only_the_parts_below_it(part):
    offenders = {relative(p): sorted(parts_imported(p) - ALLOWED_PARTS[part])
                 for p in MODULES if part_of(p) == part and parts_imported(p) - ALLOWED_PARTS[part]}
    assert not offenders, f"bot/{part}/ may import only {sorted(ALLOWED_PARTS[part])} of the package: {offenders}"


def test_the_core_does_not_import_the_edges_or_the_tooling():
    core = [p for p in MODULES
            if part_of(p) in {"corpus", "retrieval"} or relative(p) in {"bot/answers.py", "bot/evaluation.py"}]
    edges = {"telegram", "operations", "bench", "cli", "console", "settings"}
    offenders = [relative(p) for p in core if parts_imported(p) & edges]
    assert not offenders, offenders


def test_settings_are_read_only_at_the_entry_point():
    readers = {relative(p) for p in MODULES if "settings" in parts_imported(p)}
    assert readers <= {"bot/cli.py"}, readers


def test_only_the_telegram_folder_imports_telegram():
    offenders = [relative(p) for p in MODULES if "telegram" in imports_of(p) and part_of(p) != "telegram"]
    assert not offenders, f"only bot/telegram/ may import telegram: {offenders}"


def test_only_the_reference_ranker_imports_rank_bm25():
    offenders = [relative(p) for p in MODULES
                 if "rank_bm25" in imports_of(p) and relative(p) != "bot/retrieval/bm25_reference.py"]
    assert not offenders, f"only bot/retrieval/bm25_reference.py may import rank_bm25: {offenders}"


INGEST_LIBRARIES = {"trafilatura", "pdfminer", "feedparser", "tld", "charset_normalizer", "lxml_html_clean"}


def test_only_the_ingest_folder_imports_the_ingest_libraries():
    """They are an optional extra: the rest of the bot must run without them."""
    offenders = {relative(p): sorted(imports_of(p) & INGEST_LIBRARIES)
                 for p in MODULES if imports_of(p) & INGEST_LIBRARIES and part_of(p) != "ingest"}
    assert not offenders, offenders


def test_only_the_progress_module_imports_tqdm():
    offenders = [relative(p) for p in MODULES if "tqdm" in imports_of(p) and relative(p) != "bot/progress.py"]
    assert not offenders, offenders


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


def test_tests_import_their_helpers_one_way_so_bare_pytest_collects():
    """pytest puts tests/ on sys.path (there is no tests/__init__.py): helpers are imported as
    `fake_telegram`, never as `tests.fake_telegram`, which only works under `python -m pytest`."""
    tests = ROOT / "tests"
    helpers = {path.stem for path in tests.glob("*.py")}
    wrong = []
    for path in sorted(tests.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            wrong += [f"{path.name}: {name}" for name in names
                      if name.split(".")[0] == "tests" and name.split(".")[-1] in helpers]
    assert not wrong, wrong
