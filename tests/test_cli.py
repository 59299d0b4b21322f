"""The command line, as a user runs it: ask, ask --json, chat, sources, check, eval."""

from __future__ import annotations

import io
import json
import os
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot import cli, console
from bot.answers import answer_question
from conftest import CORPUS, DEFAULTS, run_bot

SYUNIK = "Why did Russia deploy border guards in Syunik?"
SYUNIK_SENTENCE = (
    "Russia deployed soldiers and border guards in Syunik during and after the Karabakh war to help the "
    "Armenian military defend the region against possible Azerbaijani attacks."
)
AZATUTYUN_TITLE = "Putin, Pashinian Discuss Armenian-Azeri Border Crisis"
AZATUTYUN_URL = "https://www.azatutyun.am/a/31255136.html"
ANSI = re.compile(r"\x1b\[[0-9;]*m")

EXCERPT_KEYS = {
    "text": str, "doc_id": str, "title": str, "publisher": str, "published": (str, type(None)),
    "url": (str, type(None)), "passage_id": str, "passage_number": int, "score": float, "match": (float, int),
    "marks": list,
}


@pytest.fixture
def seed_env(workdir, monkeypatch):
    """Run main() from an empty working directory, on the seed corpus."""
    monkeypatch.setenv("BOT_CORPUS_DIR", str(CORPUS))
    return workdir


def main(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def corpus_texts() -> dict[str, str]:
    return {p.stem: p.read_text(encoding="utf-8") for p in CORPUS.iterdir() if p.suffix == ".md"}


# --- ask --------------------------------------------------------------------------------------


def test_ask_prints_the_quote_and_its_full_citation(seed_env, capsys):
    code, out, err = main(capsys, "ask", SYUNIK)
    assert code == 0
    first = out.split("\n\n")[0]
    assert SYUNIK_SENTENCE in first
    assert AZATUTYUN_TITLE in first and "Azatutyun" in first and "2021-05-14" in first
    assert re.search(r"passage \d+", first)
    assert AZATUTYUN_URL in first
    assert not ANSI.search(out)  # not a terminal: no bold markup
    assert "warning" not in err


def test_ask_about_something_the_corpus_lacks_says_so(seed_env, capsys):
    code, out, _ = main(capsys, "ask", "Who painted the Mona Lisa?")
    assert code == 0
    assert out.strip() == console.NOT_IN_CORPUS
    assert "“" not in out and "http" not in out


@pytest.mark.parametrize("question", ["???", "the of and", "🙂", ""])
def test_ask_without_real_words_explains_how_to_ask(seed_env, capsys, question):
    code, out, err = main(capsys, "ask", question)
    assert code == 0
    assert out.strip() == console.NO_TERMS
    assert "Traceback" not in err


def test_ask_json_has_the_documented_shape(tmp_path):
    result = run_bot("ask", "--json", SYUNIK, cwd=tmp_path, env={"BOT_CORPUS_DIR": str(CORPUS)})
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) == {"question", "answered", "hedged", "excerpts"}
    assert data["question"] == SYUNIK and data["answered"] is True and data["hedged"] is False
    assert 1 <= len(data["excerpts"]) <= DEFAULTS.top_k
    texts = corpus_texts()
    for excerpt in data["excerpts"]:
        assert set(excerpt) == set(EXCERPT_KEYS)
        for key, kind in EXCERPT_KEYS.items():
            assert isinstance(excerpt[key], kind), (key, excerpt[key])
        assert excerpt["text"] in texts[excerpt["doc_id"]]  # verbatim...
        assert not ANSI.search(excerpt["text"]) and "**" not in excerpt["text"]  # ...and without markup
        assert excerpt["passage_id"] == f"{excerpt['doc_id']}:{excerpt['passage_number']}"
        assert excerpt["score"] > 0
        for start, end in excerpt["marks"]:
            assert 0 <= start < end <= len(excerpt["text"])
    first = data["excerpts"][0]
    assert first["text"] == SYUNIK_SENTENCE or SYUNIK_SENTENCE in first["text"]
    assert (first["title"], first["published"], first["url"]) == (AZATUTYUN_TITLE, "2021-05-14", AZATUTYUN_URL)
    assert first["text"][slice(*first["marks"][0])] == "Russia"


def test_ask_json_refusal_and_unknown_url(seed_env, capsys):
    code, out, _ = main(capsys, "ask", "--json", "Who painted the Mona Lisa?")
    assert code == 0
    assert json.loads(out) == {"question": "Who painted the Mona Lisa?", "answered": False, "hedged": False,
                               "excerpts": []}
    code, out, _ = main(capsys, "ask", "--json", "Hikmet Hajiyev declined to comment")
    afp = [e for e in json.loads(out)["excerpts"] if e["doc_id"].startswith("afp-")]
    assert afp and afp[0]["url"] is None and afp[0]["published"] == "2020-10-31"


def test_ask_json_keeps_non_ascii_text_readable(seed_env, capsys):
    _, out, _ = main(capsys, "ask", "--json", "Pashinian office border Azerbaijan Syunik")
    assert "’" in out or "“" in out  # printed as is, not as \\u2019 escapes
    assert "\\u2019" not in out


def test_top_k_setting_limits_the_excerpts(seed_env, monkeypatch, capsys):
    monkeypatch.setenv("BOT_TOP_K", "1")
    _, out, _ = main(capsys, "ask", "--json", "Pashinian")
    assert len(json.loads(out)["excerpts"]) == 1


# --- the terminal rendering -------------------------------------------------------------------


def test_colour_marks_question_words_in_bold_and_nothing_else(library):
    answer = answer_question(library, SYUNIK, limit=3, min_match=DEFAULTS.min_match)
    plain = console.render_answer(answer)
    coloured = console.render_answer(answer, color=True)
    assert not ANSI.search(plain)
    assert ANSI.sub("", coloured) == plain
    bold = re.findall(r"\x1b\[1m(.*?)\x1b\[0m", coloured)
    assert {"Russia", "deployed", "border", "guards", "Syunik"} <= set(bold)


# --- chat -------------------------------------------------------------------------------------


def test_chat_answers_each_question_read_from_stdin(tmp_path):
    stdin = f"{SYUNIK}\n\nWho painted the Mona Lisa?\n???\n"
    result = run_bot("chat", cwd=tmp_path, env={"BOT_CORPUS_DIR": str(CORPUS)}, stdin=stdin)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.index(SYUNIK_SENTENCE) < out.index(console.NOT_IN_CORPUS) < out.index(console.NO_TERMS)
    assert out.count(console.NOT_IN_CORPUS) == 1
    assert "Traceback" not in result.stderr


def test_chat_in_process_with_piped_input(seed_env, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("Gumri military base\nChoucha\n"))
    code, out, _ = main(capsys, "chat")
    assert code == 0
    assert "Gumri" in out and "Gyumri" in out  # either spelling of the city is found
    assert "Choucha" in out


def test_no_command_without_a_token_is_chat(seed_env, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO(SYUNIK + "\n"))
    code, out, _ = main(capsys)
    assert code == 0 and SYUNIK_SENTENCE in out


# --- sources and check ------------------------------------------------------------------------


def test_sources_lists_every_article_with_its_metadata(seed_env, capsys):
    code, out, _ = main(capsys, "sources")
    assert code == 0
    for title, detail in [
        (AZATUTYUN_TITLE, AZATUTYUN_URL),
        ("Russian, Armenian Defense Chiefs Again Discuss Border Crisis", "2021-05-17"),
        ("Armenia Asks Putin for Military Aid in Azerbaijan Border Dispute", "Bloomberg"),
        ("Russia ready to help Yerevan if fighting spreads to Armenian territory", "2020-10-31"),
        ("Putin-Pashinyan meeting: border tensions and speculations about Russian peacekeepers' deployment",
         "JAMnews"),
    ]:
        assert title in out and detail in out
    assert re.search(r"\d+ passages", out)
    assert "no address known" in out  # the AFP story has no URL


def test_check_passes_on_the_seed_corpus(tmp_path):
    result = run_bot("check", cwd=tmp_path, env={"BOT_CORPUS_DIR": str(CORPUS)})
    assert result.returncode == 0, result.stderr
    assert "5 articles" in result.stdout
    assert "2020-10-31" in result.stdout and "2021-07-07" in result.stdout
    assert result.stderr == ""


def test_check_fails_when_the_corpus_folder_is_missing(tmp_path):
    result = run_bot("check", cwd=tmp_path, env={"BOT_CORPUS_DIR": str(tmp_path / "no-such-folder")})
    assert result.returncode != 0
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert "no-such-folder" in result.stderr and "BOT_CORPUS_DIR" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_lists_problem_files_but_passes_when_some_load(write_corpus, workdir, monkeypatch, capsys):
    folder = write_corpus({"good.md": "---\ntitle: Good\n---\n\nArmenia and Russia talked.\n", "bad.md": b"\xff\n"})
    monkeypatch.setenv("BOT_CORPUS_DIR", str(folder))
    code, out, err = main(capsys, "check")
    assert code == 0
    assert "1 articles" in out or "1 article" in out
    assert "bad.md" in err and "UTF-8" in err


# --- eval -------------------------------------------------------------------------------------


def write_questions(directory: Path, lines: list[str]) -> Path:
    path = directory / "questions.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_eval_prints_every_measure(seed_env, capsys):
    file = write_questions(seed_env, [
        json.dumps({"question": SYUNIK, "answers": ["to help the Armenian military defend the region"]}),
        json.dumps({"question": "Who painted the Mona Lisa?", "answers": None}),
        "",
        json.dumps({"question": "What is the exchange rate of the euro?", "answers": None, "kind": "extra key"}),
    ])
    code, out, _ = main(capsys, "eval", str(file))
    assert code == 0
    assert "questions: 3 (1 answerable, 2 not)" in out
    assert re.search(r"hit@1: 100\.0%", out)
    assert re.search(r"hit@3: 100\.0%", out)
    assert re.search(r"MRR: 1\.000", out)
    assert "correct refusals: 2/2" in out
    assert "wrong refusals: 0/1" in out


def test_eval_verbose_lists_the_misses(seed_env, capsys):
    file = write_questions(seed_env, [
        json.dumps({"question": SYUNIK, "answers": ["a string no excerpt holds"]}),
        json.dumps({"question": "Who painted the Mona Lisa?", "answers": ["Leonardo"]}),
    ])
    code, out, _ = main(capsys, "eval", "-v", str(file))
    assert code == 0
    assert "hit@1: 0.0%" in out and "wrong refusals: 1/2" in out
    assert SYUNIK in out and "Who painted the Mona Lisa?" in out and "refused" in out


def test_eval_as_typed_asks_each_question_lower_cased_without_punctuation(seed_env, capsys):
    file = write_questions(seed_env, [
        json.dumps({"question": "Who painted the Mona Lisa?", "answers": ["Leonardo"]}),
    ])
    code, out, _ = main(capsys, "eval", "-v", "--as-typed", str(file))
    assert code == 0
    assert "who painted the mona lisa" in out and "Mona Lisa" not in out  # the question as it was asked


def test_eval_typos_puts_one_seeded_typing_error_in_a_long_word_of_each_question(seed_env, capsys):
    question = "Who painted the famous portrait in Florence?"
    file = write_questions(seed_env, [json.dumps({"question": question, "answers": ["Leonardo"]})])
    asked = []
    for _ in range(2):
        code, out, _ = main(capsys, "eval", "-v", "--typos", "7", str(file))
        assert code == 0
        [line] = [line for line in out.splitlines() if "the famous" in line or "painted" in line]
        asked.append(line)
    assert asked[0] == asked[1] and question not in asked[0]  # one error, the same for the same seed
    typed = next(w for w in asked[0].split() if w.strip("?\"'") not in question.split())
    original = next(w for w in question.split() if w not in asked[0])
    assert len(original) >= 5 and abs(len(typed.strip("?\"'")) - len(original)) <= 1


def test_eval_prints_figures_by_kind_beside_plain_bm25(seed_env, capsys):
    file = write_questions(seed_env, [
        json.dumps({"question": SYUNIK, "answers": ["to help the Armenian military defend the region"],
                    "kind": "lookup"}),
        json.dumps({"question": "Why did Russia deploy border gards in Syunik?",
                    "answers": ["to help the Armenian military defend the region"], "kind": "misspelling"}),
        json.dumps({"question": "Who painted the Mona Lisa?", "answers": None, "kind": "off-topic"}),
    ])
    code, out, _ = main(capsys, "eval", "--baseline", str(file))
    assert code == 0
    assert "plain BM25" in out.splitlines()[0]
    rows = {line.split()[0]: line for line in out.splitlines()[1:5]}
    assert set(rows) == {"lookup", "misspelling", "off-topic", "all"}
    assert re.match(r"lookup\s+1\s+100%\s+100%\s+0\s+0\s+\|\s+\d+%\s+\d+%$", rows["lookup"])
    assert re.match(r"off-topic\s+1\s+-\s+-\s+1\s+0$", rows["off-topic"])  # refused, no baseline: it never refuses


def test_eval_ablation_prints_a_row_per_mechanism(seed_env, capsys):
    file = write_questions(seed_env, [
        json.dumps({"question": SYUNIK, "answers": ["to help the Armenian military defend the region"],
                    "kind": "lookup"}),
        json.dumps({"question": "Who painted the Mona Lisa?", "answers": None, "kind": "off-topic"}),
    ])
    code, out, _ = main(capsys, "eval", "--ablation", str(file))
    assert code == 0
    rows = [line for line in out.splitlines() if line.startswith("| ") and not line.startswith("| |")]
    assert rows[0].startswith("| plain BM25") and rows[1].startswith("| the bot | **100.0% / 100.0%**")
    assert len(rows) >= 8 and all(row.endswith("of 1 |") for row in rows)


def test_eval_on_the_shared_question_set_runs(tmp_path):
    questions = Path(__file__).parent / "data" / "questions.jsonl"
    result = run_bot("eval", str(questions), cwd=tmp_path, env={"BOT_CORPUS_DIR": str(CORPUS)})
    assert result.returncode == 0, result.stderr
    for measure in ("hit@1:", "hit@3:", "MRR:", "correct refusals:", "wrong refusals:"):
        assert measure in result.stdout


@pytest.mark.parametrize(
    ("content", "where"),
    [
        ('{"question": "ok", "answers": null}\nnot json\n', ":2:"),
        ('{"answers": ["x"]}\n', ":1:"),
        ('{"question": 5, "answers": null}\n', ":1:"),
        ('{"question": "q", "answers": "a string, not a list"}\n', ":1:"),
        ('{"question": "q", "answers": [1, 2]}\n', ":1:"),
        ('["question", "answers"]\n', ":1:"),
        ('{"question": "q", "answer": ["typo in the key"]}\n', ":1:"),
        ('{"question": "q", "answers": []}\n', ":1:"),
        ('{"question": "q", "answers": [""]}\n', ":1:"),
        ('{"question": " ", "answers": null}\n', ":1:"),
        ("\n\n", "no questions"),
        (b"\xff\xfe{}", "cannot read"),
        ("[" * 100_000 + "\n", ":1:"),
    ],
    ids=["bad json", "no question", "question not text", "answers not a list", "answers not text", "not an object",
         "answers key missing", "no answer strings", "empty answer string", "blank question", "empty",
         "not UTF-8", "nested too deep"],
)
def test_eval_with_a_malformed_question_file_gives_one_error_line(seed_env, capsys, content, where):
    path = seed_env / "bad.jsonl"
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    code, _out, err = main(capsys, "eval", str(path))
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1
    assert "bad.jsonl" in err and where in err
    assert "Traceback" not in err


def test_eval_with_a_missing_question_file(seed_env, capsys):
    code, _, err = main(capsys, "eval", "missing.jsonl")
    assert code == 2 and "missing.jsonl" in err and err.startswith("error: ")


# --- the command line itself ------------------------------------------------------------------


def test_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    for command in ("ask", "chat", "sources", "check", "eval"):
        assert command in out


def test_unknown_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["frobnicate"])
    assert exited.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_check_lists_what_it_skipped_in_the_corpus_folder_and_why(write_corpus, workdir, monkeypatch, capsys):
    folder = write_corpus({"a.md": "# A\n\nSome text about Syunik.", "report.pdf": b"%PDF-1.4", "photo.jpg": b"\xff"})
    (folder / "old").mkdir()
    (folder / ".hidden").write_text("editors leave these")
    monkeypatch.setenv("BOT_CORPUS_DIR", str(folder))
    code, out, _err = main(capsys, "check")
    assert code == 0
    listed = out.split("skipped 3 entries of the corpus folder, not read as articles:\n")[1].splitlines()
    assert listed == [
        f"  {folder / 'old'}: skipped, a subfolder: only the files directly in the corpus folder are read",
        f"  {folder / 'photo.jpg'}: skipped, not an article file: only .md and .txt files are read",
        f"  {folder / 'report.pdf'}: skipped, not an article file: only .md and .txt files are read; to add its "
        f"article: python -m bot add {folder / 'report.pdf'}",
    ]


def test_check_says_nothing_of_skipping_when_nothing_was_skipped(seed_env, capsys):
    code, out, _err = main(capsys, "check")
    assert code == 0 and "skipped" not in out


# --- hostile articles, hostile input, the terminal ---------------------------------------------------

ESCAPES = "\x1b[2J\x1b]0;owned\x07\x1b[31m"  # clear the screen, retitle the window, turn red


def test_terminal_escapes_in_articles_never_reach_the_terminal(tmp_path, write_corpus):
    folder = write_corpus({"esc.md": f"---\ntitle: Orchards {ESCAPES}report\npublisher: Wire{ESCAPES}\n"
                                     "url: https://example.org/x\n---\n\n"
                                     f"Pomegranate orchards {ESCAPES} grow near Meghri.\n"})
    env = {"BOT_CORPUS_DIR": str(folder), "BOT_INDEX_CACHE_DIR": ""}
    outputs = [run_bot("ask", "pomegranate orchards", cwd=tmp_path, env=env),
               run_bot("chat", cwd=tmp_path, env=env, stdin="pomegranate orchards\n/sources\n"),
               run_bot("sources", cwd=tmp_path, env=env)]
    for result in outputs:
        assert result.returncode == 0, result.stderr
        assert "\x1b" not in result.stdout and "\x07" not in result.stdout
        assert "Orchards ␛[2J␛]0;owned␇␛[31mreport" in result.stdout  # shown, harmless


def test_no_color_turns_the_bold_marks_off(monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert console.use_color(Terminal())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not console.use_color(Terminal())


def test_chat_treats_commands_as_commands_not_questions(tmp_path):
    result = run_bot("chat", cwd=tmp_path, env={"BOT_CORPUS_DIR": str(CORPUS)}, stdin="/help\n/sources\n/quit\n"
                     f"{SYUNIK}\n")
    assert result.returncode == 0, result.stderr
    assert "/help     this help" in result.stdout and console.NO_TERMS not in result.stdout
    assert "Azatutyun" in result.stdout  # /sources
    assert SYUNIK_SENTENCE not in result.stdout  # /quit quit before the question


def test_chat_reads_bytes_that_are_not_utf8_without_a_traceback(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOT_")}
    env.update(BOT_CORPUS_DIR=str(CORPUS), PYTHONIOENCODING="utf-8")  # strict UTF-8 on stdin
    result = subprocess.run([sys.executable, "-m", "bot", "chat"], cwd=tmp_path, env=env, capture_output=True,
                            input=b"Why did Russia deploy border guards in \xff\xfe Syunik?\n", timeout=60)
    assert result.returncode == 0, result.stderr.decode()
    assert b"Traceback" not in result.stderr and SYUNIK_SENTENCE.encode() in result.stdout


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a pseudo-terminal")
def test_chat_on_a_terminal_edits_the_line(tmp_path):
    """On a terminal, the arrow keys edit the question (readline): "/hep", left arrow, "l" is /help."""
    import pty

    env = {k: v for k, v in os.environ.items() if not k.startswith("BOT_")}
    env.update(BOT_CORPUS_DIR=str(CORPUS), TERM="xterm", PYTHONIOENCODING="utf-8")
    controller, terminal = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "bot", "chat"], cwd=tmp_path, env=env, stdin=terminal,
                               stdout=terminal, stderr=terminal, close_fds=True)
    os.close(terminal)
    seen = b""

    def read_until(text: bytes) -> None:
        nonlocal seen
        deadline = time.monotonic() + 30
        while text not in seen:
            ready, _, _ = select.select([controller], [], [], max(0.0, deadline - time.monotonic()))
            assert ready, f"{text!r} never appeared: {seen[-2000:]!r}"
            try:
                seen += os.read(controller, 4096)
            except OSError:  # the other end closed
                raise AssertionError(f"{text!r} never appeared: {seen[-2000:]!r}") from None

    try:
        read_until(b"> ")
        os.write(controller, b"/hep\x1b[Dl\r")
        read_until(b"this help")
        os.write(controller, b"/quit\r")
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(controller)
    assert b"Unknown command" not in seen


def test_bench_with_no_questions_is_a_usage_error(tmp_path):
    result = run_bot("bench", "--questions", "0", cwd=tmp_path)
    assert result.returncode == 2
    assert "expected a positive whole number" in result.stderr and "Traceback" not in result.stderr
