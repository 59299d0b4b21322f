"""The index cache: reused when current, updated file by file, rebuilt (with a warning) when
corrupt or foreign, never unpickled."""

from __future__ import annotations

import gc
import json
import logging
import os
import warnings
from pathlib import Path

import numpy as np
import pytest

from bot.corpus import articles
from bot.corpus.articles import CorpusError, load_corpus
from bot.retrieval import analysis, index_cache
from bot.retrieval.library import Library, load_library
from conftest import CORPUS, DEFAULTS, questions

LIMIT = DEFAULTS.max_file_bytes


def article(title: str, *paragraphs: str) -> str:
    return f"---\ntitle: {title}\npublisher: Test Wire\npublished: 2021-05-14\n---\n\n" + "\n\n".join(paragraphs)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    for path in sorted(CORPUS.iterdir()):
        if path.suffix == ".md":
            (folder / path.name).write_bytes(path.read_bytes())
    return folder


def open_(folder: Path, cache: Path) -> index_cache.Opened:
    return index_cache.open_index(folder, max_file_bytes=LIMIT, cache_dir=cache)


def answers(library: Library) -> list[list[tuple[str, float]]]:
    return [[(h.passage.passage_id, round(h.score, 9)) for h in library.search(library.query(q), 8)]
            for q in questions()]


def same_as_fresh(opened: index_cache.Opened, folder: Path) -> None:
    """The cached index serves what an index built now from the folder serves."""
    loaded = load_corpus(folder, max_file_bytes=LIMIT)
    fresh = Library.from_documents(loaded.documents, engine="sparse")
    cached = Library(opened.index, engine="sparse", weights=opened.weights)
    assert list(cached.passages) == list(fresh.passages)
    assert list(cached.documents.values()) == list(loaded.documents)
    assert answers(cached) == answers(fresh)
    assert dict(cached._ranker.document_frequency.items()) == dict(fresh._ranker.document_frequency.items())
    assert [str(p) for p in opened.problems] == [str(p) for p in loaded.problems]


def test_second_start_reads_and_analyzes_no_article(folder, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    first = open_(folder, cache)
    assert (first.how, first.analyzed) == ("built", 5)
    same_as_fresh(first, folder)

    def forbidden(*args, **kwargs):
        raise AssertionError("an article was read or analyzed")

    monkeypatch.setattr(articles, "read_article", forbidden)
    monkeypatch.setattr(analysis, "terms", forbidden)
    second = open_(folder, cache)
    assert (second.how, second.analyzed, second.reused) == ("cached", 0, 5)
    assert isinstance(second.index.posting_passage.base, np.memmap) or second.index.posting_passage.base is not None


def test_adding_changing_and_removing_articles_analyzes_only_those(folder, tmp_path):
    cache = tmp_path / "cache"
    open_(folder, cache)
    (folder / "zz-new.md").write_text(article("New", "Armenia and Azerbaijan signed a new border treaty.",
                                              "A brand-new word: quuxification, and zorblatt."), encoding="utf-8")
    added = open_(folder, cache)
    assert (added.how, added.analyzed, added.reused) == ("updated", 1, 5)
    same_as_fresh(added, folder)

    changed_path = sorted(folder.glob("azatutyun-*.md"))[0]
    changed_path.write_text(article("Changed", "Only one paragraph about quuxification is left."), encoding="utf-8")
    (folder / "zz-new.md").unlink()
    changed = open_(folder, cache)
    assert (changed.how, changed.analyzed, changed.reused) == ("updated", 1, 4)
    same_as_fresh(changed, folder)
    # the term only the removed article held is gone from the vocabulary
    vocabulary = Library(changed.index, engine="sparse")._ranker.document_frequency
    assert "zorblat" not in vocabulary and vocabulary["quxif"] == 1


def test_problem_files_are_reported_as_the_loader_reports_them(folder, tmp_path):
    cache = tmp_path / "cache"
    (folder / "empty.md").write_text("", encoding="utf-8")
    (folder / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    (folder / "afp-2020-10-31-russia-ready-to-help-yerevan.txt").write_text("Same id as the .md file.\n\nText.")
    (folder / "outside.md").symlink_to(tmp_path / "elsewhere.md")
    for _ in range(3):  # built, then updated (a link is always looked at again), then updated
        opened = open_(folder, cache)
        same_as_fresh(opened, folder)
        assert len(opened.problems) == 4


def test_which_files_are_articles_is_decided_in_one_place_for_both_paths(folder, tmp_path, monkeypatch):
    """The cached path lists and selects the files as the plain loader does: change the rule once
    (here, .txt no longer counts) and both follow it."""
    (folder / "plain.txt").write_text(article("Plain", "Text about Gyumri and its base."), encoding="utf-8")
    (folder / "sub").mkdir()
    (folder / "photo.jpg").write_bytes(b"\xff\xd8")
    assert "plain" in {d.doc_id for d in load_corpus(folder, max_file_bytes=LIMIT).documents}
    monkeypatch.setattr(articles, "SUFFIXES", (".md",))
    loaded = load_corpus(folder, max_file_bytes=LIMIT)
    assert "plain" not in {d.doc_id for d in loaded.documents}
    assert {Path(s.path).name for s in loaded.skipped} == {"plain.txt", "sub", "photo.jpg"}
    opened = open_(folder, tmp_path / "cache")
    same_as_fresh(opened, folder)


def test_a_file_whose_name_is_not_utf8_does_not_break_the_cache(folder, tmp_path):
    try:
        (folder / os.fsdecode(b"caf\xe9.md")).write_text(article("Cafe", "Text."), encoding="utf-8")
    except (OSError, UnicodeError):
        pytest.skip("this file system accepts only UTF-8 names")
    for how in ("built", "cached"):
        opened = open_(folder, tmp_path / "cache")
        assert opened.how == how
        same_as_fresh(opened, folder)


def test_nothing_usable_raises_the_loaders_error(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "empty.md").write_text("", encoding="utf-8")
    with pytest.raises(CorpusError) as raised:
        open_(folder, tmp_path / "cache")
    with pytest.raises(CorpusError) as expected:
        load_library(folder, max_file_bytes=LIMIT)
    assert str(raised.value) == str(expected.value)
    with pytest.raises(CorpusError):
        open_(tmp_path / "missing", tmp_path / "cache")


def _cache_files(cache: Path) -> tuple[Path, dict]:
    (place,) = list(cache.iterdir())
    manifest = json.loads((place / "manifest.json").read_text())
    return place / manifest["generation"], manifest


def test_a_cache_of_an_older_format_is_rebuilt_without_a_warning(folder, tmp_path, caplog):
    cache = tmp_path / "cache"
    open_(folder, cache)
    generation, manifest = _cache_files(cache)
    manifest["format"] = "corpus-bot-index-cache/0"
    (generation.parent / "manifest.json").write_text(json.dumps(manifest))
    with caplog.at_level(logging.DEBUG, logger="bot.retrieval.index_cache"):
        assert open_(folder, cache).how == "built"
    assert "another format" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.parametrize("damage", ["flip", "truncate", "foreign", "delete", "manifest", "traversal", "pickle"])
def test_a_corrupt_or_foreign_cache_is_rebuilt_with_a_warning(folder, tmp_path, caplog, damage):
    cache = tmp_path / "cache"
    open_(folder, cache)
    generation, manifest = _cache_files(cache)
    postings = generation / "posting_passage.npy"
    if damage == "flip":
        data = bytearray(postings.read_bytes())
        data[-3] ^= 0x40
        postings.write_bytes(bytes(data))
    elif damage == "truncate":
        postings.write_bytes(postings.read_bytes()[:-8])
    elif damage == "foreign":
        np.save(postings, np.arange(10, dtype=np.int32))
    elif damage == "delete":
        postings.unlink()
    elif damage == "manifest":
        (generation.parent / "manifest.json").write_text("{not json")
    elif damage == "traversal":
        manifest["generation"] = "../../elsewhere"
        (generation.parent / "manifest.json").write_text(json.dumps(manifest))
    elif damage == "pickle":  # an object array whose manifest entry was forged to match: still never unpickled
        sentinel = tmp_path / "pwned"
        np.save(postings, np.array([_Exploit(str(sentinel))], dtype=object), allow_pickle=True)
        manifest["arrays"]["posting_passage"].update(
            bytes=postings.stat().st_size, crc32=index_cache._crc32(postings), dtype="object", shape=[1])
        (generation.parent / "manifest.json").write_text(json.dumps(manifest))
    with caplog.at_level(logging.WARNING, logger="bot.retrieval.index_cache"):
        opened = open_(folder, cache)
    assert opened.how == "built"
    assert any("unusable" in r.getMessage() for r in caplog.records), caplog.text
    same_as_fresh(opened, folder)
    assert not (tmp_path / "pwned").exists()
    assert open_(folder, cache).how == "cached"


class _Exploit:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (Path.touch, (Path(self.path),))


def test_a_new_analyzer_version_or_file_limit_rebuilds(folder, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    open_(folder, cache)
    monkeypatch.setattr(analysis, "ANALYZER_VERSION", analysis.ANALYZER_VERSION + "-next")
    assert open_(folder, cache).how == "built"
    assert open_(folder, cache).how == "cached"
    assert index_cache.open_index(folder, max_file_bytes=LIMIT - 1, cache_dir=cache).how == "built"


def test_new_word_tables_rebuild(folder, tmp_path, monkeypatch):
    """An update of the dictionary, spelling or demonym package changes what words become: the
    index made with the old tables would not meet questions analyzed with the new ones."""
    cache = tmp_path / "cache"
    open_(folder, cache)
    tables = analysis.table_versions()
    monkeypatch.setattr(analysis, "table_versions", lambda: {**tables, "countryinfo": "99.0"})
    assert open_(folder, cache).how == "built"
    assert open_(folder, cache).how == "cached"


def test_an_unwritable_cache_still_serves(folder, tmp_path, caplog):
    cache = tmp_path / "cache"
    cache.write_text("a file, not a folder")
    with caplog.at_level(logging.WARNING, logger="bot.retrieval.index_cache"):
        opened = open_(folder, cache)
    assert "cannot write the index cache" in caplog.text
    same_as_fresh(opened, folder)


def test_load_library_with_a_cache_answers_as_without(folder, tmp_path):
    plain, _ = load_library(folder, max_file_bytes=LIMIT)
    for _ in range(2):
        cached, problems = load_library(folder, max_file_bytes=LIMIT, cache_dir=tmp_path / "cache")
        assert not problems and cached.engine == plain.engine == "rank-bm25"
        assert answers(cached) == answers(plain)


def test_a_cached_library_closes_its_files_when_dropped(folder, tmp_path):
    """Article texts stay in their cache files, open while the library lives (a /reload drops the
    old one): they close with it, not left to Python's finalizer, which warns of an unclosed file."""
    cache = tmp_path / "cache"
    open_(folder, cache)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        library = Library(open_(folder, cache).index, engine="sparse")
        assert answers(library)
        del library
        gc.collect()
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []


def test_an_old_index_folder_stays_usable_after_a_rebuild(folder, tmp_path):
    cache = tmp_path / "cache"
    old = Library(open_(folder, cache).index, engine="sparse")
    before = answers(old)
    os.utime(next(folder.iterdir()), ns=(1, 1))  # "changed": a new index folder is written
    assert open_(folder, cache).how == "updated"
    assert answers(old) == before


def test_one_index_folder_is_kept_and_concurrent_opens_build_once(folder, tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    cache = tmp_path / "cache"
    with ThreadPoolExecutor(4) as pool:
        opened = list(pool.map(lambda _: open_(folder, cache), range(4)))
    assert sorted(o.how for o in opened) == ["built", "cached", "cached", "cached"]
    (folder / "zz-new.md").write_text(article("New", "A new paragraph about the border."), encoding="utf-8")
    assert open_(folder, cache).how == "updated"
    (place,) = cache.iterdir()
    assert len([p for p in place.iterdir() if p.name.startswith("index-")]) == 1
    for o in opened:  # libraries opened before the update still serve (their files are unlinked, not gone)
        same = Library(o.index, engine="sparse", weights=o.weights)
        assert len(answers(same)) == len(questions())


# --- what the cache trusts -------------------------------------------------------------------------
# A file is taken from the cache when its name, size, modification time and status-change time
# (ctime: set by the system on every write and permission change, and not settable by tools such as
# `touch -r`) are as the cache saw them; otherwise it is read again.


def test_a_file_made_readable_again_is_read_at_the_next_start(folder, tmp_path, monkeypatch):
    """An article left out for "Permission denied" comes in once `chmod 644` fixes it, though
    neither its size nor its modification time changed. (The refusal is simulated, so that the
    test holds for root too; the chmod is real.)"""
    extra = folder / "extra.md"
    extra.write_text(article("Extra", "Quince orchards near Meghri."), encoding="utf-8")
    real = Path.read_bytes

    def refused(self):
        if self.name == "extra.md":
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", refused)
    first = open_(folder, tmp_path / "cache")
    assert any("extra.md" in str(p) and "permissions" in str(p) for p in first.problems)
    monkeypatch.setattr(Path, "read_bytes", real)
    status = extra.stat()
    extra.chmod(0o644)  # the fix: size and modification time stay
    assert (extra.stat().st_size, extra.stat().st_mtime_ns) == (status.st_size, status.st_mtime_ns)
    second = open_(folder, tmp_path / "cache")
    assert second.how != "cached" and not second.problems
    same_as_fresh(second, folder)


def test_an_edit_that_keeps_size_and_modification_time_is_read_again(folder, tmp_path):
    """An editor or a copy that restores the modification time (touch -r, cp -p) and keeps the
    size: the cache must not serve the old text (quotes are read from the file at their offsets,
    so the bot would quote whatever now stands there)."""
    target = folder / "extra.md"
    target.write_text(article("Extra", "Quince orchards near Meghri."), encoding="utf-8")
    opened = open_(folder, tmp_path / "cache")
    assert opened.how != "cached"
    status = target.stat()
    target.write_text(article("Extra", "Apricot orchards near Meghr."), encoding="utf-8")  # same size
    os.utime(target, ns=(status.st_atime_ns, status.st_mtime_ns))
    assert target.stat().st_size == status.st_size and target.stat().st_mtime_ns == status.st_mtime_ns
    again = open_(folder, tmp_path / "cache")
    assert again.how != "cached" and again.analyzed == 1
    same_as_fresh(again, folder)


def test_a_full_disk_leaves_no_temporary_file_behind(folder, tmp_path, monkeypatch, caplog):
    real = Path.write_text

    def full(self, *args, **kwargs):
        if self.name.startswith(index_cache.MANIFEST):
            real(self, "{", encoding="utf-8")  # the disk filled up part way through
            raise OSError(28, "No space left on device")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", full)
    opened = open_(folder, tmp_path / "cache")  # served from memory, with a warning
    assert opened.index.document_count == 5
    assert "No space left on device" in caplog.text
    leftovers = [p.name for p in (tmp_path / "cache").rglob("*")
                 if p.name.endswith(".tmp") or p.name.startswith("index-")]
    assert leftovers == []
