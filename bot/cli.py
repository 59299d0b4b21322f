"""The command line: `python -m bot COMMAND`. Settings are read here, once, and passed down."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import random
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot import console
from bot.answers import answer_question
from bot.bench import benchmark
from bot.corpus.articles import UNKNOWN_DATE, CorpusError, SkipReason, list_corpus
from bot.evaluation import QuestionFileError, Report, as_typed, evaluate, plain_bm25_asker, read_cases, with_typo
from bot.ingest import extra
from bot.ingest.sources import FILE_SUFFIXES
from bot.operations import question_log, statistics
from bot.operations.feedback_export import export_feedback
from bot.operations.log_format import configure_logging
from bot.operations.question_log import QuestionLogError
from bot.progress import ProgressBar
from bot.retrieval.library import Library, LibrarySource, load_library
from bot.settings import Settings, SettingsError, environment_warnings, load_settings

if TYPE_CHECKING:
    from bot.telegram.service import ServiceConfig

log = logging.getLogger("bot")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings(args.config)
        for warning in environment_warnings():
            print(f"warning: {warning}", file=sys.stderr)
        configure_logging(settings.log_level, settings.log_format)
        command = args.command or ("run" if settings.token else "chat")
        return COMMANDS[command](args, settings)
    except (SettingsError, CorpusError, QuestionFileError, extra.MissingExtra, QuestionLogError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        if isinstance(error, BrokenPipeError):  # the reader went away (`... | head`): nothing to say
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - so the interpreter's final flush is quiet too
            return 0
        print(f"error: {error.strerror or error}: {error.filename or ''}".rstrip(": "), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="Answer questions with verbatim, cited quotes from a corpus of news articles. "
        "Without a command: runs the Telegram bot if BOT_TOKEN is set, else a chat in this terminal.",
    )
    parser.add_argument("--config", type=Path, default=None, help="settings file (default: config/bot.toml)")
    # Every command may index the corpus (or, for add and bench, do other long work): a bar on a terminal.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--quiet", "-q", action="store_true", help="no progress bar (there is none when standard "
                        "error is not a terminal either)")
    # --config is also taken after the command (`python -m bot ask --config FILE ...`); SUPPRESS keeps
    # a subcommand that was not given it from resetting the one given before the command.
    common.add_argument("--config", type=Path, default=argparse.SUPPRESS,
                        help="settings file (default: config/bot.toml)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_with_parents(common))
    ask = sub.add_parser("ask", help="answer one question")
    ask.add_argument("question", help="the question, in quotes")
    ask.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    sub.add_parser("run", help="run the Telegram bot (long polling, or a webhook if BOT_WEBHOOK_URL is set)")
    sub.add_parser("chat", help="ask question after question in this terminal")
    sub.add_parser("sources", help="list the articles in the corpus")
    sub.add_parser("check", help="check the corpus and settings; exit non-zero on a fatal problem")
    evaluate_ = sub.add_parser("eval", help="measure answer quality on a question file (JSON lines)")
    evaluate_.add_argument("file", type=Path)
    evaluate_.add_argument("--verbose", "-v", action="store_true", help="list each question answered wrongly")
    evaluate_.add_argument("--baseline", action="store_true",
                           help="also run plain BM25 (BM25Okapi, whitespace tokens, whole passages) on the same "
                                "passages, by kind")
    evaluate_.add_argument("--ablation", action="store_true",
                           help="print the ablation table: the figures with each answer mechanism switched off")
    evaluate_.add_argument("--as-typed", action="store_true",
                           help="ask each question lower-cased, without its question mark and apostrophes, "
                                "as chat users often type")
    evaluate_.add_argument("--typos", type=int, metavar="SEED",
                           help="put one random typing error (drawn with SEED) in one long word of each question")
    stats = sub.add_parser("stats", help="usage figures from the question log: questions per day, outcomes, "
                           "feedback, latency, the most asked, disliked and refused questions")
    stats.add_argument("--days", type=_days, default=statistics.DEFAULT_DAYS,
                       help=f"the last DAYS days (default {statistics.DEFAULT_DAYS})")
    feedback = sub.add_parser("feedback", help="readers' feedback from the question log")
    feedback_actions = feedback.add_subparsers(dest="action", metavar="ACTION", required=True)
    export = feedback_actions.add_parser(
        "export", help="append the disliked and refused questions to FILE in the eval question format, answers "
        "left empty for a person to fill in (questions FILE holds already are left as they are)")
    export.add_argument("file", type=Path)
    export.add_argument("--days", type=_days, default=None, help="only the last DAYS days (default: all kept)")
    bench = sub.add_parser("bench", help="benchmark speed, start-up and memory on synthetic corpora (README: "
                           "Performance)")
    benchmark.add_arguments(bench)
    add = sub.add_parser("add", help="add articles to the corpus from web addresses, saved web pages, PDFs, RSS/Atom "
                         "feeds or folders of these (needs the ingest extra)")
    add.add_argument("sources", nargs="+", metavar="SOURCE",
                     help="a web address, an .html or .pdf file, a feed (address or file), or a folder")
    add.add_argument("--dry-run", "-n", action="store_true", help="show what would be written; write nothing")
    add.add_argument("--publisher", help="the publisher's name for every article added (instead of the site's)")
    return parser


def _with_parents(common: argparse.ArgumentParser) -> type[argparse.ArgumentParser]:
    """An ArgumentParser class whose instances (the subcommands) all take `common`'s options."""

    class SubcommandParser(argparse.ArgumentParser):
        # Any: the arguments are argparse's own, passed through unchanged.
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["parents"] = [common, *kwargs.get("parents", [])]
            super().__init__(*args, **kwargs)

    return SubcommandParser


def _days(text: str) -> int:
    try:
        days = int(text)
    except ValueError:
        days = 0
    if not 1 <= days <= 36500:
        raise argparse.ArgumentTypeError(f"expected a number of days from 1, got {text!r}")
    return days


def _source(settings: Settings) -> LibrarySource:
    return LibrarySource(
        settings.corpus_dir, settings.max_file_bytes, cache_dir=settings.index_cache_dir, engine=settings.engine,
        sparse_from=settings.sparse_from,
    )


def _library(settings: Settings, args: argparse.Namespace) -> Library:
    with ProgressBar("indexing", "articles", quiet=getattr(args, "quiet", False)) as bar:
        library, problems = _source(settings).load(progress=bar)
    for problem in problems:
        print(f"warning: {console.for_terminal(str(problem))}", file=sys.stderr)
    return library


def _ask(args: argparse.Namespace, settings: Settings) -> int:
    library = _library(settings, args)
    # A command line with bytes that are not UTF-8 arrives as lone surrogates: make them U+FFFD.
    question = args.question.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    answer = answer_question(library, question, limit=settings.top_k, min_match=settings.min_match)
    if args.json:
        print(json.dumps(console.answer_json(answer), ensure_ascii=False, indent=2))
    else:
        print(console.render_answer(answer, color=console.use_color(sys.stdout)))
    return 0


CHAT_HELP = """\
Type a question and press Enter: the answer quotes the articles, each quote with its source.
  /help     this help
  /sources  the articles I quote from
  /quit     leave (so do an empty line and Ctrl-D)
Arrow keys edit the line and go through earlier questions."""


def _chat(args: argparse.Namespace, settings: Settings) -> int:
    library = _library(settings, args)
    interactive = sys.stdin.isatty()
    if isinstance(sys.stdin, io.TextIOWrapper):
        sys.stdin.reconfigure(errors="replace")  # bytes that are not text become U+FFFD, not a traceback
    if interactive:
        with contextlib.suppress(ImportError):  # not on every platform
            import readline  # noqa: F401 - input() then edits the line and keeps a history
        if not settings.token:
            print("No BOT_TOKEN is set, so the bot answers here, from the local corpus. (README: 'Telegram'.)")
        print(f"{_count(len(library.documents), 'article')}, {_count(len(library.passages), 'passage')}. "
              "Ask a question; /help for help; an empty line or Ctrl-D quits.\n")
    while True:
        try:
            question = input("> " if interactive else "")
        except EOFError:
            break
        if not question.strip():
            if interactive:
                break
            continue
        command = question.strip().lower()
        if command.startswith("/"):
            if command in ("/quit", "/exit"):
                break
            if command == "/sources":
                _print_sources(library)
            else:
                print(CHAT_HELP if command == "/help" else f"Unknown command {command}.\n{CHAT_HELP}")
            print()
            continue
        answer = answer_question(library, question, limit=settings.top_k, min_match=settings.min_match)
        print(console.render_answer(answer, color=console.use_color(sys.stdout)) + "\n")
    return 0


def _sources(args: argparse.Namespace, settings: Settings) -> int:
    _print_sources(_library(settings, args))
    return 0


def _print_sources(library: Library) -> None:
    for document in library.documents.values():
        passages = len(library.passages_of(document.doc_id))
        print(console.for_terminal(f"{document.title}\n    {document.publisher}, {document.published or UNKNOWN_DATE}, "
                                   f"{passages} passages\n    {document.url or 'no address known'}"))


def _check(args: argparse.Namespace, settings: Settings) -> int:
    print(f"settings: corpus {settings.corpus_dir}, top_k {settings.top_k}, min_match {settings.min_match}, "
          f"Telegram token {'set' if settings.token else 'not set'}")
    _check_operations(settings)
    library = _library(settings, args)
    dates = sorted(d.published for d in library.documents.values() if d.published)
    words = sum(len(p.text.split()) for p in library.passages)
    print(f"corpus: {_count(len(library.documents), 'article')}, {_count(len(library.passages), 'passage')}, "
          f"{_count(words, 'word')}"
          + (f", dated {dates[0]} to {dates[-1]}" if dates else ""))
    skipped = [entry for entry in list_corpus(settings.corpus_dir).skipped
               if entry.reason is not SkipReason.UNREADABLE_NAME]  # a warning above already
    if skipped:
        print(f"skipped {len(skipped):,} {'entry' if len(skipped) == 1 else 'entries'} of the corpus folder, not read "
              "as articles:")
        for entry in skipped:
            convertible = (entry.reason is SkipReason.UNSUPPORTED_TYPE
                           and Path(entry.path).suffix.lower() in FILE_SUFFIXES)
            print(console.for_terminal(f"  {entry}" + (f"; to add its article: python -m bot add {entry.path}"
                                                       if convertible else "")))
    return 0


def _check_operations(settings: Settings) -> None:
    """The question log and the health endpoint: reported, never fatal (the bot answers without them)."""
    if settings.log_questions:
        inspection = question_log.inspect(settings.log_db, settings.log_days)
        print(inspection.summary)
        if inspection.problem:
            print(f"warning: {inspection.problem}; the bot answers without the log until this is fixed",
                  file=sys.stderr)
    else:
        print("question log: off (BOT_LOG_QUESTIONS=false): no /stats, no feedback buttons")
    if settings.health_port:
        print(f"health endpoint: http://{settings.health_listen}:{settings.health_port}/healthz and /metrics")
    else:
        print("health endpoint: off (BOT_HEALTH_PORT unset)")


def _stats(args: argparse.Namespace, settings: Settings) -> int:
    figures = statistics.read_statistics(settings.log_db, days=args.days)
    if not settings.log_questions:
        print("note: the question log is off now (BOT_LOG_QUESTIONS=false); these are the questions logged before\n")
    print("\n\n".join(statistics.report(figures)))
    return 0


def _feedback(args: argparse.Namespace, settings: Settings) -> int:
    try:
        exported = export_feedback(settings.log_db, args.file, days=args.days)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{args.file}: {exported.added} questions added, {exported.already} already there. Fill in each "
          "\"answers\" (strings a correct excerpt contains, or null where the corpus has no answer), then run: "
          f"python -m bot eval {args.file}")
    return 0


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def _eval(args: argparse.Namespace, settings: Settings) -> int:
    library = _library(settings, args)
    cases = read_cases(args.file)
    if args.as_typed:
        cases = [as_typed(case) for case in cases]
    if args.typos is not None:
        draw = random.Random(args.typos)
        cases = [with_typo(case, draw) for case in cases]
    report = evaluate(
        cases, lambda q: answer_question(library, q, limit=settings.top_k, min_match=settings.min_match)
    )
    if args.ablation:
        from bot.bench.ablation import ablation_table  # tooling: imported only when asked for

        def build() -> Library:  # no cache: the analyzer's row indexes the corpus with other rules
            return load_library(settings.corpus_dir, max_file_bytes=settings.max_file_bytes)[0]

        print(ablation_table(cases, build, top_k=settings.top_k, min_match=settings.min_match))
        return 0
    baseline = evaluate(cases, plain_bm25_asker(library, settings.top_k)) if args.baseline else None
    print(_quality_table(report, baseline))
    if args.verbose:
        for outcome in report.failures():
            status = ("hedged" if outcome.hedged else "refused") if outcome.refused else f"rank {outcome.rank or '-'}"
            print(f"  {status:>8}  [{outcome.case.kind or '-'}] {outcome.case.question}")
    right, unanswerable = report.correct_refusals
    wrong, answerable = report.wrong_refusals
    hedged_answerable, hedged_unanswerable = report.hedged
    print(f"questions: {len(cases)} ({answerable} answerable, {unanswerable} not)")
    print(f"hit@1: {report.hit_at(1):.1%}  hit@3: {report.hit_at(3):.1%}  MRR: {report.mrr:.3f}")
    print(f"correct refusals: {right}/{unanswerable} ({hedged_unanswerable} of them hedged)  "
          f"wrong refusals: {wrong}/{answerable} (and {hedged_answerable} hedged)")
    return 0


def _quality_table(report: Report, baseline: Report | None) -> str:
    """hit@1, hit@3 and refusals by question kind (and the baseline's beside them)."""
    head = f"{'kind':<16}{'n':>4}{'hit@1':>8}{'hit@3':>8}{'refused':>9}{'hedged':>8}"
    if baseline is not None:
        head += f"  | plain BM25 {'hit@1':>6}{'hit@3':>7}"
    lines = [head]
    kinds = report.by_kind()
    base_kinds = baseline.by_kind() if baseline is not None else {}
    for kind, part in [*kinds.items(), ("all", report)]:
        answerable = part.wrong_refusals[1]
        refused = part.wrong_refusals[0] if answerable else part.correct_refusals[0]
        hedged = sum(part.hedged)
        hits = (f"{part.hit_at(1):>8.0%}{part.hit_at(3):>8.0%}" if answerable else f"{'-':>8}{'-':>8}")
        line = f"{kind or '-':<16}{len(part.outcomes):>4}{hits}{refused:>9}{hedged:>8}"
        base = baseline if kind == "all" else base_kinds.get(kind)
        if base is not None and answerable:
            line += f"  | {'':>10} {base.hit_at(1):>6.0%}{base.hit_at(3):>7.0%}"
        lines.append(line)
    lines.append("(refused: answerable questions answered with nothing at all; for unanswerable kinds, "
                 "those given no confident answer. hedged: quoted as the closest passages.)")
    return "\n".join(lines)


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from bot.telegram import service  # imported here: the other commands need no Telegram library

    bar = ProgressBar("indexing", "articles", quiet=getattr(args, "quiet", False))
    return service.run(service_config(settings, startup_progress=bar))


def service_config(settings: Settings, startup_progress: Callable[[int, int], None] | None = None) -> ServiceConfig:
    """The settings the Telegram service needs, as the plain values it takes (`startup_progress`:
    told how indexing goes at start, for a bar on a terminal)."""
    from bot.telegram.service import ServiceConfig

    feeds = None
    if settings.feeds:
        extra.require("BOT_FEEDS (following feeds)")
        from bot.ingest.fetching import FetchLimits
        from bot.ingest.following import FeedFollower  # its libraries load with the first check, not now

        feeds = FeedFollower(settings.feeds, corpus_dir=settings.corpus_dir, max_file_bytes=settings.max_file_bytes,
                             limits=FetchLimits(timeout=settings.fetch_timeout, max_bytes=settings.fetch_max_bytes))
    return ServiceConfig(
        token=settings.token,
        api_base_url=settings.api_base_url,
        corpus=_source(settings),
        top_k=settings.top_k,
        min_match=settings.min_match,
        allowed_chat_ids=settings.allowed_chat_ids,
        allowed_user_ids=settings.allowed_user_ids,
        admin_ids=settings.admin_ids,
        user_questions_per_minute=settings.user_questions_per_minute,
        example_questions=settings.example_questions,
        webhook_url=settings.webhook_url,
        webhook_listen=settings.webhook_listen,
        webhook_port=settings.webhook_port,
        webhook_secret=settings.webhook_secret,
        feeds=feeds,
        feed_interval=settings.feed_interval,
        startup_progress=startup_progress,
        update_store=settings.update_store,
        stop_timeout=settings.stop_timeout,
        question_log=settings.log_db if settings.log_questions else None,
        log_days=settings.log_days,
        health_listen=settings.health_listen,
        health_port=settings.health_port,
    )


COMMANDS = {"run": _run, "ask": _ask, "chat": _chat, "sources": _sources, "check": _check, "eval": _eval,
            "stats": _stats, "feedback": _feedback}  # + bench, add


def _bench(args: argparse.Namespace, settings: Settings) -> int:
    with ProgressBar("bench", "steps", quiet=args.quiet) as bar:
        return benchmark.run_from_args(args, top_k=settings.top_k, min_match=settings.min_match,
                                       say=lambda line: bar.write(line), progress=bar)


COMMANDS["bench"] = _bench


def _add(args: argparse.Namespace, settings: Settings) -> int:
    """Exit 0 when no source failed (pages without article text are reported, not failures); 1 when
    every failure may pass by itself (a host down, a timeout, a server error); 2 when one needs
    fixing (a bad address or file, an encrypted PDF...)."""
    extra.require("python -m bot add")
    from bot.ingest.adding import Importer  # the ingest libraries: only for this command
    from bot.ingest.fetching import FetchLimits

    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per source is ours to print

    counts = {"added": 0, "duplicate": 0, "no article": 0, "failed": 0}
    lasting = 0  # failures that trying again will not cure
    with ProgressBar("adding", "sources", quiet=args.quiet) as bar:
        importer = Importer(
            settings.corpus_dir,
            max_file_bytes=settings.max_file_bytes,
            limits=FetchLimits(timeout=settings.fetch_timeout, max_bytes=settings.fetch_max_bytes),
            dry_run=args.dry_run,
            publisher=args.publisher,
            progress=bar,
        )
        try:
            for outcome in importer.add(args.sources):
                counts[outcome.status] += 1
                lasting += outcome.status == "failed" and not outcome.transient
                problem = outcome.status in ("no article", "failed")
                bar.write(outcome.line(dry_run=args.dry_run), sys.stderr if problem else sys.stdout)
                if args.dry_run and outcome.article is not None:
                    bar.write(_preview(outcome.article.file_text()))
        finally:
            importer.close()
    verb = "would add" if args.dry_run else "added"
    print(f"{counts['added']} {verb}, {counts['duplicate']} already in the corpus, {counts['no article']} without "
          f"article text, {counts['failed']} failed" + ("" if args.dry_run or not counts["added"] else
          "; a running bot answers from them after /reload (or SIGHUP)"))
    return 2 if lasting else 1 if counts["failed"] else 0


def _preview(text: str, lines: int = 12) -> str:
    """The start of a file a dry run would write, indented."""
    shown = text.splitlines()
    more = f"\n    ... ({len(shown) - lines} more lines)" if len(shown) > lines else ""
    return "\n".join("    " + line for line in shown[:lines]) + more


COMMANDS["add"] = _add
