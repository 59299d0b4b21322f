"""Shared fixtures: the seed corpus, temporary corpora, and isolation from the developer's settings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.corpus.articles import Document
from bot.retrieval import library as library_module
from bot.retrieval.library import Library, load_library
from bot.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
QUESTIONS = ROOT / "tests" / "data" / "questions.jsonl"
DEFAULTS = Settings.model_construct()  # the shipped defaults, whatever the environment says


def questions() -> list[str]:
    """Every question in the shared question set."""
    lines = QUESTIONS.read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["question"] for line in lines if line.strip()]


@pytest.fixture(autouse=True)
def _no_bot_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's BOT_* variables (a real token, another corpus) must not change test results."""
    for name in list(os.environ):
        if name.startswith("BOT_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def library() -> Library:
    """The seed corpus, indexed once for the whole session (a Library never changes)."""
    library, problems = load_library(CORPUS, max_file_bytes=DEFAULTS.max_file_bytes)
    assert not problems, problems
    return library


@pytest.fixture
def write_corpus(tmp_path: Path) -> Callable[..., Path]:
    """write_corpus({"a.md": "text", "b.txt": b"bytes"}) -> a fresh corpus folder holding those files."""

    def write(files: dict[str, str | bytes], folder: str = "corpus") -> Path:
        directory = tmp_path / folder
        directory.mkdir(exist_ok=True)
        for name, content in files.items():
            path = directory / name
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")
        return directory

    return write


def make_library(documents: dict[str, str], engine: str | None = None) -> Library:
    """A Library over in-memory article texts (doc_id -> text; paragraphs separated by blank lines),
    ranked by `engine` when given (see `ENGINES`), else by the library's default."""
    values = [
        Document(doc_id=doc_id, title=f"Title of {doc_id}", publisher="Test Wire", published="2021-05-14",
                 url=f"https://example.org/{doc_id}", text=text)
        for doc_id, text in documents.items()
    ]
    return Library.from_documents(values) if engine is None else Library.from_documents(values, engine=engine)


# The ranking engines a Library can be built with, when it offers a choice (bot.retrieval.library.ENGINES);
# ranking properties must hold for each. [None]: the library's only engine.
ENGINES: list[str | None] = [e for e in getattr(library_module, "ENGINES", ()) if e != "auto"] or [None]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory: no .env, no config/bot.toml, unless a test writes them."""
    directory = tmp_path / "work"
    directory.mkdir()
    monkeypatch.chdir(directory)
    return directory


def run_bot(*args: str, cwd: Path, env: dict[str, str] | None = None, stdin: str | None = None
            ) -> subprocess.CompletedProcess[str]:
    """`python -m bot ARGS` in a clean environment (no inherited BOT_* variables) from `cwd`."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BOT_")}
    clean.update(env or {})
    clean["PYTHONIOENCODING"] = "utf-8"
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env=clean,
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
    )
