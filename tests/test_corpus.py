"""Loading the corpus folder: the documented file format, and every way a file can be unusable."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot import cli
from bot.corpus.articles import (
    TITLE_MAX_CHARS,
    CorpusError,
    Document,
    SkipReason,
    is_heading,
    list_corpus,
    load_corpus,
    parse_document,
)
from bot.retrieval.library import load_library

LIMIT = 100_000

FULL = """---
title: Putin, Pashinian Discuss Armenian-Azeri Border Crisis
publisher: Azatutyun (RFE/RL Armenian Service)
published: 2021-05-14
url: https://www.azatutyun.am/a/31255136.html
note: Checked against the web page.
---

Prime Minister Nikol Pashinian telephoned Russian President Vladimir Putin late on Thursday.

Pashinian’s office said he briefed Putin on the situation at volatile sections of the border.
"""

GOOD = "---\ntitle: A good article\n---\n\nArmenia and Azerbaijan discussed the border on Friday.\n"


def load(folder: Path, max_file_bytes: int = LIMIT):
    return load_corpus(folder, max_file_bytes=max_file_bytes)


# --- the documented format -------------------------------------------------------------------


def test_full_header_gives_every_field_and_the_text_after_it_verbatim():
    document = parse_document("azatutyun-1", FULL)
    assert document == Document(
        doc_id="azatutyun-1",
        title="Putin, Pashinian Discuss Armenian-Azeri Border Crisis",
        publisher="Azatutyun (RFE/RL Armenian Service)",
        published="2021-05-14",
        url="https://www.azatutyun.am/a/31255136.html",
        text=FULL.split("---\n\n", 1)[1].rstrip(),
        note="Checked against the web page.",
    )
    assert document.text.startswith("Prime Minister Nikol Pashinian telephoned")
    assert "title:" not in document.text and "---" not in document.text


def test_every_header_line_is_optional():
    document = parse_document("only-title", "---\ntitle: Just a title\n---\n\nSome article text.\n")
    assert document.title == "Just a title"
    assert document.published is None
    assert document.url is None
    assert document.note is None
    assert document.publisher  # a readable placeholder, never empty
    assert document.text == "Some article text."


def test_header_tolerates_blank_lines_comments_key_case_and_an_empty_header():
    text = "---\n# a comment\n\nTitle: Mixed Case Key\nURL: https://example.org/a\n---\nBody text.\n"
    document = parse_document("x", text)
    assert (document.title, document.url, document.text) == ("Mixed Case Key", "https://example.org/a", "Body text.")
    empty = parse_document("empty-header", "---\n---\n\nThe article text, long enough to be a body.\n\nMore.\n")
    assert "article text" in empty.text + empty.title


def test_windows_line_endings_and_a_byte_order_mark_are_read():
    raw = "\ufeff---\r\ntitle: Windows file\r\npublished: 2021-05-17\r\n---\r\n\r\nFirst paragraph.\r\n\r\nSecond.\r\n"
    document = parse_document("win", raw)
    assert document.title == "Windows file"
    assert document.published == "2021-05-17"
    assert document.text.startswith("First paragraph.")
    assert document.text in raw


def test_blank_lines_before_the_header_do_not_turn_it_into_article_text():
    document = parse_document("slip", "\n  \n---\ntitle: Real title\nurl: https://example.org/x\n---\n\nBody text.\n")
    assert (document.title, document.url, document.text) == ("Real title", "https://example.org/x", "Body text.")


def test_plain_file_without_header_takes_its_title_from_the_first_line():
    document = parse_document("plain", "# Russia ready to help Yerevan\n\nRussia said on Saturday it was ready.\n")
    assert document.title == "Russia ready to help Yerevan"
    assert document.text == "Russia said on Saturday it was ready."
    assert document.published is None and document.url is None


def test_plain_file_with_a_long_first_line_is_titled_by_its_file_name():
    first = "Russia said on Saturday it was ready to provide assistance to Armenia " * 4
    document = parse_document("russia-ready_to-help", first + "\n\nSecond paragraph.\n")
    assert document.title == "russia ready to help"
    assert document.text.startswith(first.strip())  # the first line is article text, not lost


@pytest.mark.parametrize("first", ["He said:", "Armenia (photo)", "It is over.", "Really?"])
def test_a_first_line_that_ends_like_a_sentence_is_text_not_the_title(first):
    """The title rule is the heading rule passages use (`is_heading`): closing punctuation, a colon
    or a bracket at the end means the line belongs to the text."""
    assert not is_heading(first)
    document = parse_document("plain-file", f"{first}\n\nArmenia asked Russia for help.\n")
    assert document.title == "plain file" and document.text.startswith(first)


def test_a_title_line_may_be_as_long_as_a_headline_but_a_heading_in_the_text_is_short():
    headline = "Putin-Pashinyan meeting: border tensions and speculations about Russian peacekeepers' deployment"
    assert 80 < len(headline) <= 150
    assert parse_document("jam", f"{headline}\n\nThe leaders met in Moscow.\n").title == headline
    assert is_heading(headline, max_chars=TITLE_MAX_CHARS) and not is_heading(headline)


def test_single_line_file_keeps_its_line_as_text():
    document = parse_document("one-liner", "Armenia asked Russia for help.\n")
    assert document.text == "Armenia asked Russia for help."
    assert document.title == "one liner"


def test_folder_loads_md_and_txt_files_in_name_order_with_ids_from_file_names(write_corpus):
    folder = write_corpus({
        "b-article.txt": "Plain title\n\nPlain text article body.\n",
        "a-article.md": FULL,
        "notes.pdf": "not an article",
        ".hidden.md": GOOD,
        "README": "not an article",
    })
    (folder / "sub").mkdir()
    (folder / "sub" / "nested.md").write_text(GOOD, encoding="utf-8")
    loaded = load(folder)
    assert [d.doc_id for d in loaded.documents] == ["a-article", "b-article"]
    assert loaded.problems == ()
    assert loaded.documents[1].title == "Plain title"
    # what is not an article is noted, not a problem: hidden files pass without a note
    assert [(Path(s.path).name, s.reason) for s in loaded.skipped] == [
        ("README", SkipReason.UNSUPPORTED_TYPE), ("notes.pdf", SkipReason.UNSUPPORTED_TYPE),
        ("sub", SkipReason.SUBFOLDER)]
    assert str(loaded.skipped[-1]).endswith("sub: skipped, a subfolder: only the files directly in the corpus "
                                            "folder are read")


def test_a_file_whose_name_is_not_utf8_is_skipped_with_a_warning_naming_it(write_corpus):
    folder = write_corpus({"good.md": GOOD})
    try:
        (folder / os.fsdecode(b"caf\xe9.md")).write_text(GOOD, encoding="utf-8")
    except (OSError, UnicodeError):
        pytest.skip("this file system accepts only UTF-8 names")
    loaded = load(folder)
    assert [d.doc_id for d in loaded.documents] == ["good"]
    (note,) = loaded.skipped
    assert note.reason is SkipReason.UNREADABLE_NAME
    (warning,) = loaded.problems  # a warning, like every other file that cannot be used
    assert not warning.fatal and "caf\ufffd.md" in str(warning) and "rename" in str(warning)
    str(warning).encode("utf-8")  # printable and storable as it is


def test_listing_names_the_article_files_in_order_with_what_the_cache_compares(write_corpus):
    folder = write_corpus({"b.txt": "B\n\nText b.\n", "a.md": GOOD, "c.jpg": b"\xff"})
    listing = list_corpus(folder)
    assert [(f.name, f.doc_id) for f in listing.files] == [("a.md", "a"), ("b.txt", "b")]
    assert listing.files[0].size == len(GOOD.encode()) and listing.files[0].mtime_ns > 0
    assert [Path(s.path).name for s in listing.skipped] == ["c.jpg"] and listing.problems == ()
    assert list_corpus(folder / "missing").problems[0].fatal


def test_upper_case_suffix_is_an_article_too(write_corpus):
    loaded = load(write_corpus({"SHOUT.MD": GOOD}))
    assert [d.doc_id for d in loaded.documents] == ["SHOUT"]


def test_text_is_stored_exactly_as_written(write_corpus):
    body = "  Indented “quotes” — dashes…\n\nTabs\tand  double  spaces stay.\n\n\nThree lines apart."
    folder = write_corpus({"exact.md": "---\ntitle: Exact\n---\n\n" + body + "\n"})
    (document,) = load(folder).documents
    raw = (folder / "exact.md").read_text(encoding="utf-8")
    assert document.text in raw
    assert "Tabs\tand  double  spaces stay.\n\n\nThree lines apart." in document.text


# --- unusable files: a problem naming the file and what to do; the good files still load ------


def _symlink_outside(folder: Path) -> None:
    outside = folder.parent / "outside.md"
    outside.write_text(GOOD, encoding="utf-8")
    os.symlink(outside, folder / "bad.md")


def _broken_link(folder: Path) -> None:
    os.symlink(folder / "missing-target.md", folder / "bad.md")


def _directory(folder: Path) -> None:
    (folder / "bad.md").mkdir()


BAD_FILES = {
    "not UTF-8": (b"Caf\xe9 in Yerevan, written in Latin-1.\n", ["UTF-8"]),
    "UTF-16": ("UTF-16 text about Armenia.\n".encode("utf-16"), ["UTF-8"]),
    "empty": (b"", ["empty"]),
    "whitespace only": (" \n\t\n   \n", ["white space"]),
    "NUL bytes": (b"Armenia\x00\x00\x00 binary", ["NUL"]),
    "header never closed": ("---\ntitle: Unclosed\n\nText.\n", ["never closed", "---"]),
    "header line without colon": ("---\ntitle: Fine\nthis is not a key value line\n---\n\nText.\n",
                                  ["line 3", "key: value"]),
    "bad date": ("---\ntitle: T\npublished: May 14, 2021\n---\n\nText.\n", ["May 14, 2021", "YYYY-MM-DD"]),
    "impossible date": ("---\ntitle: T\npublished: 2021-02-30\n---\n\nText.\n", ["YYYY-MM-DD"]),
    "header but no text": ("---\ntitle: Nothing follows\n---\n\n  \n", ["no article text"]),
    "link outside the folder": (_symlink_outside, ["outside the corpus folder", "copy"]),
    "broken link": (_broken_link, ["broken link", "remove"]),
    "directory named like an article": (_directory, ["not a regular file"]),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_file_is_reported_by_name_and_the_good_file_still_loads(write_corpus, case):
    content, words = BAD_FILES[case]
    folder = write_corpus({"good.md": GOOD})
    if callable(content):
        content(folder)
    else:
        (folder / "bad.md").write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))

    loaded = load(folder)

    assert [d.doc_id for d in loaded.documents] == ["good"]
    (problem,) = loaded.problems
    assert not problem.fatal
    assert Path(problem.path).name == "bad.md"
    assert "bad.md" in str(problem)
    for word in words:
        assert word in problem.message, (word, problem.message)
    # ...and what to do about it: every message carries an instruction after the diagnosis.
    assert any(verb in problem.message for verb in ("add", "remove", "save", "copy", "write", "fix", "delete")), (
        problem.message
    )


def test_an_unknown_header_key_is_a_warning_and_the_article_loads(write_corpus):
    """`author:` and other keys the bot does not read used to reject the whole file."""
    folder = write_corpus({"good.md": GOOD, "signed.md": "---\ntitle: Signed\nauthor: Jane Doe\n---\n\nText.\n"})
    loaded = load(folder)
    assert sorted(d.doc_id for d in loaded.documents) == ["good", "signed"]
    signed = next(d for d in loaded.documents if d.doc_id == "signed")
    assert signed.title == "Signed" and signed.text == "Text."
    (note,) = loaded.problems
    assert not note.fatal and Path(note.path).name == "signed.md"
    assert "'author'" in note.message and "the article is loaded" in note.message


def test_file_over_the_size_limit_is_skipped_with_the_limit_named(write_corpus):
    folder = write_corpus({"good.md": GOOD, "huge.md": "---\ntitle: Huge\n---\n\n" + "Armenia. " * 300})
    loaded = load(folder, max_file_bytes=1_000)
    assert [d.doc_id for d in loaded.documents] == ["good"]
    (problem,) = loaded.problems
    assert "huge.md" in str(problem)
    assert "1,000" in problem.message and "BOT_MAX_FILE_BYTES" in problem.message


def test_link_to_a_file_inside_the_folder_loads(write_corpus):
    folder = write_corpus({"good.md": GOOD})
    (folder / "archive").mkdir()
    (folder / "archive" / "real.md").write_text(GOOD.replace("A good article", "Linked"), encoding="utf-8")
    os.symlink(folder / "archive" / "real.md", folder / "linked.md")
    loaded = load(folder)
    assert [d.title for d in loaded.documents] == ["A good article", "Linked"]
    assert loaded.problems == ()


def test_two_files_with_the_same_id_are_not_both_loaded(write_corpus):
    """a.md and a.txt would both be article 'a': their passage ids would clash and excerpts mix texts."""
    folder = write_corpus({"a.md": GOOD, "a.txt": "Other title\n\nGyumri hosts a Russian military base.\n"})
    loaded = load(folder)
    assert [d.doc_id for d in loaded.documents] == ["a"]
    (problem,) = loaded.problems
    assert "a.txt" in str(problem) and "a.md" in problem.message and "rename" in problem.message


def test_several_bad_files_are_all_reported(write_corpus):
    folder = write_corpus({"good.md": GOOD, "empty.md": b"", "latin.txt": b"caf\xe9\n", "space.md": "\n\n"})
    loaded = load(folder)
    assert len(loaded.documents) == 1
    assert sorted(Path(p.path).name for p in loaded.problems) == ["empty.md", "latin.txt", "space.md"]


# --- nothing usable: a fatal problem, CorpusError, and a one-line CLI error -------------------


def test_missing_folder_is_fatal_and_says_what_to_do(tmp_path):
    loaded = load(tmp_path / "nope")
    assert not loaded.usable
    (problem,) = loaded.problems
    assert problem.fatal and "nope" in str(problem)
    assert "does not exist" in problem.message and "BOT_CORPUS_DIR" in problem.message


def test_a_file_instead_of_a_folder_is_fatal(tmp_path):
    (tmp_path / "corpus.md").write_text(GOOD, encoding="utf-8")
    (problem,) = load(tmp_path / "corpus.md").problems
    assert problem.fatal and "not a folder" in problem.message


def test_empty_folder_is_fatal_and_points_at_the_format(write_corpus):
    folder = write_corpus({"photo.jpg": b"\xff\xd8"})
    (problem,) = load(folder).problems
    assert problem.fatal and ".md or .txt" in problem.message


@pytest.mark.parametrize(
    "files",
    [{}, {"empty.md": b""}, {"latin.txt": b"caf\xe9\n", "open.md": "---\ntitle: x\n"}],
    ids=["empty folder", "one empty file", "only bad files"],
)
def test_load_library_raises_one_line_corpus_error_naming_the_problem(write_corpus, files):
    folder = write_corpus(files)
    with pytest.raises(CorpusError) as raised:
        load_library(folder, max_file_bytes=LIMIT)
    message = str(raised.value)
    assert "\n" not in message
    assert str(folder) in message
    for name in files:  # the bad files are named, not just "the files named above"
        assert name in message


def test_load_library_raises_for_a_missing_folder(tmp_path):
    with pytest.raises(CorpusError, match="does not exist"):
        load_library(tmp_path / "missing", max_file_bytes=LIMIT)


@pytest.mark.parametrize("command", [["ask", "Why did Russia deploy border guards?"], ["sources"], ["check"]])
def test_cli_with_nothing_usable_prints_one_error_line_and_exits_2(write_corpus, workdir, monkeypatch, capsys,
                                                                    command):
    folder = write_corpus({"empty.md": b"", "latin.txt": b"caf\xe9\n"})
    monkeypatch.setenv("BOT_CORPUS_DIR", str(folder))
    assert cli.main(command) == 2
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "empty.md" in err and "latin.txt" in err
    assert "Traceback" not in out + err


def test_cli_warns_about_a_bad_file_by_name_and_still_answers(write_corpus, workdir, monkeypatch, capsys):
    folder = write_corpus({"good.md": GOOD, "bad.md": b"caf\xe9\n"})
    monkeypatch.setenv("BOT_CORPUS_DIR", str(folder))
    assert cli.main(["ask", "What did Armenia and Azerbaijan discuss?"]) == 0
    out, err = capsys.readouterr()
    assert "warning:" in err and "bad.md" in err and "UTF-8" in err
    assert "Armenia and Azerbaijan discussed the border on Friday." in out
