"""`python -m bot bench`: build synthetic corpora of 10k, 100k and 1M passages and measure
index build, start-up (cold and with the cached index), retrieval and whole-answer latency,
answers per second, peak memory and the longest event-loop stall while answering.

Each measurement runs in a fresh process pinned to one CPU (the targets are for one core),
so start-up and peak memory are those of a bot process, not of this one:

* ``cold``: start with an empty index cache: read, analyze and index every file, write the
  cache. "index build" is the analysis and indexing part of it.
* ``serve``: start with the cached index ("start-up, cached": process start to ready,
  interpreter and imports included), then answer the questions one after another
  (retrieval alone: `Library.query` + `Library.search` for as many passages as
  `answer_question` asks; whole answer: `answer_question` + rendering for Telegram,
  `bot.telegram.messages.answer_messages`, or `bot.console.render_answer` where that module is
  missing), then again concurrently, 4 chats at a time, from worker threads (plain
  `asyncio.to_thread`, and `bot.telegram.answer_threads` as the Telegram layer runs them) while every
  event-loop callback is timed and a coroutine on the loop measures how late its 1 ms sleeps
  wake up: the longest event-loop stall. Peak memory is that process's peak RSS.
* ``add``: the cost of adding one article to the cached corpus (and of removing it again).

Corpora and caches live under ``--workdir`` (default ``.cache/bench``); a corpus is written
once and reused. The corpus text recombines the seed corpus (see `bot.bench.synthetic_corpus`).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NotRequired, TypedDict, TypeVar

from bot.telegram.answer_threads import AnswerThreads, settle_for_serving

if TYPE_CHECKING:  # imported where used, so that a phase's start-up includes them
    from bot.answers import Answer
    from bot.retrieval.index_cache import Opened
    from bot.retrieval.library import Library

ROOT = Path(__file__).resolve().parents[2]  # the repository: bot/bench/ is two folders down
SIZES = (10_000, 100_000, 1_000_000)
CONCURRENCY = 4
TICK = 0.001


# --- the phases, each in its own process --------------------------------------------------------


class Params(TypedDict):
    """What a phase is given (as JSON on its standard input)."""

    folder: str
    cache: str
    engine: str
    questions: list[str]
    top_k: int
    min_match: float


class _Phase(TypedDict, total=False):
    """What every phase gives back (as JSON on its standard output)."""

    ready_at: float  # time.time() when the library was loaded, in phases that load one
    startup: float  # seconds from starting the process to ready_at, added by `_run_phase`


class Cold(_Phase):
    load: float
    build: float
    how: str
    passages: int
    documents: int
    terms: int
    postings: int
    peak_rss_mb: float


class Percentiles(TypedDict):
    p50: float
    p99: float
    max: float
    mean: float


class Stall(TypedDict):
    worst_ms: float
    p99_ms: float
    longest_call_ms: NotRequired[float]  # not on an idle loop
    answers_per_s: NotRequired[float]


class Serve(_Phase):
    load: float
    how: str
    engine: str
    renderer: str
    retrieval_ms: Percentiles
    answer_ms: Percentiles
    answers_per_s: float
    stall_ms: dict[str, Stall]
    rss_ready_mb: float
    rss_after_mb: float
    peak_rss_mb: float
    rss_parts_after_mb: dict[str, float]
    questions: int


class Add(_Phase):
    add_s: float
    add_how: str
    add_analyzed: int
    add_steps: dict[str, float]
    remove_s: float
    peak_rss_mb: float


Render = Callable[["Answer"], object]


_ALL_CPUS: set[int] = set(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else set()


def _pin_to_one_cpu() -> None:
    """Pin this process to one CPU: BENCH_CPU if set, else the last one it may use."""
    if hasattr(os, "sched_setaffinity"):
        allowed = sorted(os.sched_getaffinity(0))
        wanted = int(os.environ.get("BENCH_CPU", allowed[-1]))
        os.sched_setaffinity(0, {wanted if wanted in allowed else allowed[-1]})


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def _rss_parts_mb() -> dict[str, float]:
    """Resident memory split: anonymous (the heap) and file-backed (memory-mapped index pages)."""
    parts = {}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(("RssAnon:", "RssFile:")):
                parts[line.split(":")[0]] = int(line.split()[1]) / 1024
    except OSError:
        pass
    return parts


def _open(folder: Path, cache: Path, engine: str) -> tuple[Library, Opened]:
    from bot.retrieval import index_cache
    from bot.retrieval.library import Library

    opened = index_cache.open_index(folder, max_file_bytes=100_000_000, cache_dir=cache)
    library = Library(opened.index, engine=engine, weights=opened.weights)
    return library, opened


def phase_cold(params: Params) -> Cold:
    folder, cache = Path(params["folder"]), Path(params["cache"])
    shutil.rmtree(cache, ignore_errors=True)
    started = time.perf_counter()
    library, opened = _open(folder, cache, params["engine"])
    return {"ready_at": time.time(), "load": time.perf_counter() - started, "build": opened.seconds["analyze"],
            "how": opened.how, "passages": len(library.passages), "documents": len(library.documents),
            "terms": len(library.index.terms), "postings": len(library.index.posting_passage),
            "peak_rss_mb": _peak_rss_mb()}


def _renderer() -> tuple[str, Render]:
    try:
        from bot.telegram.messages import answer_messages
    except ImportError:
        from bot.console import render_answer

        return "console.render_answer", render_answer
    return "telegram_html.answer_messages", answer_messages


def phase_serve(params: Params) -> Serve:
    from bot.answers import CANDIDATES_PER_EXCERPT, answer_question

    folder, cache = Path(params["folder"]), Path(params["cache"])
    started = time.perf_counter()
    library, opened = _open(folder, cache, params["engine"])
    ready_at, load = time.time(), time.perf_counter() - started
    rss_ready = _rss_mb()
    questions = params["questions"]
    renderer, render = _renderer()
    limit, min_match = params["top_k"], params["min_match"]
    k = (limit + 1) * CANDIDATES_PER_EXCERPT

    def answer(question: str) -> object:
        return render(answer_question(library, question, limit=limit, min_match=min_match))

    for question in questions[:20]:  # warm-up: first-call costs belong to start-up
        answer(question)
    retrieval, whole = [], []
    clock = time.perf_counter
    for question in questions:
        t0 = clock()
        library.search(library.query(question), k)
        t1 = clock()
        answer(question)
        t2 = clock()
        retrieval.append(t1 - t0)
        whole.append(t2 - t1)
    stalls: dict[str, Stall] = {}
    for cpus in ("one", "all"):
        if cpus == "all":
            os.sched_setaffinity(0, _ALL_CPUS) if _ALL_CPUS else None
        stalls[f"idle_{cpus}"] = asyncio.run(_idle_lateness(2.0))
        stalls[f"to_thread_x4_{cpus}"] = asyncio.run(_stall(library, render, questions, limit, min_match,
                                                             bot_threads=False))
        settle_for_serving()  # as the Telegram service does once the library is loaded
        stalls[f"bot_{cpus}"] = asyncio.run(_stall(library, render, questions, limit, min_match, bot_threads=True))
        gc.unfreeze()
    sys.setswitchinterval(0.005)
    return {
        "ready_at": ready_at, "load": load, "how": opened.how, "engine": library.engine, "renderer": renderer,
        "retrieval_ms": _percentiles(retrieval), "answer_ms": _percentiles(whole),
        "answers_per_s": len(whole) / sum(whole), "stall_ms": stalls,
        "rss_ready_mb": rss_ready, "rss_after_mb": _rss_mb(), "peak_rss_mb": _peak_rss_mb(),
        "rss_parts_after_mb": _rss_parts_mb(),
        "questions": len(questions),
    }


async def _idle_lateness(seconds: float) -> Stall:
    """How late 1 ms sleeps wake up on an idle event loop: the machine's noise floor."""
    lateness = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t0 = time.perf_counter()
        await asyncio.sleep(TICK)
        lateness.append(time.perf_counter() - t0 - TICK)
    late = _percentiles(lateness)
    return {"worst_ms": late["max"], "p99_ms": late["p99"]}


async def _stall(library: Library, render: Render, questions: list[str], limit: int, min_match: float, *,
                 bot_threads: bool) -> Stall:
    """Answer all questions from worker threads, CONCURRENCY chats at a time, and render each answer
    on the event loop, as the Telegram layer does. Meanwhile every callback the loop runs is timed
    (the longest call), and a coroutine sleeps 1 ms at a time: how late it wakes up is how long the
    loop could not run for any reason (its calls, the GIL held by a worker, the OS scheduler).

    `bot_threads`: False = `asyncio.to_thread` with Python's default 5 ms switch interval (the
    default executor: several threads contend for the GIL with the loop); True = the bot's own
    `bot.telegram.answer_threads.AnswerThreads` (its caller has run `settle_for_serving()`)."""
    from bot.answers import answer_question

    if not bot_threads:
        sys.setswitchinterval(0.005)
    threads = AnswerThreads() if bot_threads else None
    lateness: list[float] = []
    done = False
    started = asyncio.Event()

    async def ticker() -> None:
        started.set()
        while not done:
            t0 = time.perf_counter()
            await asyncio.sleep(TICK)
            lateness.append(time.perf_counter() - t0 - TICK)

    waiting = list(reversed(questions))

    async def chat() -> None:  # CONCURRENCY of these: questions arriving while others are answered
        while waiting:
            question = waiting.pop()
            if threads is None:
                answer = await asyncio.to_thread(answer_question, library, question, limit=limit, min_match=min_match)
            else:
                answer = await threads.run(answer_question, library, question, limit=limit, min_match=min_match)
            render(answer)

    probe = asyncio.create_task(ticker())
    await started.wait()
    t0 = time.perf_counter()
    with LoopCallTimer() as calls:
        await asyncio.gather(*(chat() for _ in range(CONCURRENCY)))
    elapsed = time.perf_counter() - t0
    done = True
    await probe
    if threads is not None:
        threads.close()
    late = _percentiles(lateness)
    return {"worst_ms": late["max"], "p99_ms": late["p99"], "longest_call_ms": calls.longest * 1000,
            "answers_per_s": len(questions) / elapsed}


class LoopCallTimer:
    """Times every callback the event loop runs (asyncio.Handle._run: task steps, timers, thread
    results), without asyncio's debug mode and its costs; `longest` is the longest, in seconds.
    With `cpu=True` it also keeps each callback's CPU time in the loop's thread (`cpu_times`):
    the work the callback did, without the time the OS gave other processes or another thread
    held the GIL, which on a shared machine can be most of the wall time."""

    def __init__(self, *, cpu: bool = False) -> None:
        self.longest = 0.0
        self.cpu_times: list[float] | None = [] if cpu else None
        self._original = asyncio.events.Handle._run

    def __enter__(self) -> LoopCallTimer:
        original, clock, timer, cpu_times = self._original, time.perf_counter, self, self.cpu_times
        thread_time = time.thread_time

        def timed(self: asyncio.events.Handle) -> None:  # replaces the method Handle._run, hence `self`
            t0 = clock()
            original(self)
            took = clock() - t0
            if took > timer.longest:
                timer.longest = took

        replacement: Callable[[asyncio.events.Handle], None] = timed
        if cpu_times is not None:
            kept = cpu_times

            def timed_with_cpu(handle: asyncio.events.Handle) -> None:
                c0 = thread_time()
                timed(handle)
                kept.append(thread_time() - c0)

            replacement = timed_with_cpu
        asyncio.events.Handle._run = replacement  # type: ignore[method-assign,assignment]
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.events.Handle._run = self._original  # type: ignore[method-assign]


def phase_add(params: Params) -> Add:
    from bot.retrieval import index_cache

    folder, cache = Path(params["folder"]), Path(params["cache"])
    source = sorted(folder.glob("syn-*.md"))[0]
    added = folder / "zz-added-article.md"
    added.write_text(source.read_text(encoding="utf-8").replace("title: ", "title: Added: ", 1), encoding="utf-8")
    try:
        t0 = time.perf_counter()
        opened = index_cache.open_index(folder, max_file_bytes=100_000_000, cache_dir=cache)
        add = time.perf_counter() - t0
        add_how, add_analyzed, add_steps = opened.how, opened.analyzed, opened.seconds
    finally:
        added.unlink()
    t0 = time.perf_counter()
    opened = index_cache.open_index(folder, max_file_bytes=100_000_000, cache_dir=cache)
    return {"add_s": add, "add_how": add_how, "add_analyzed": add_analyzed, "add_steps": add_steps,
            "remove_s": time.perf_counter() - t0, "peak_rss_mb": _peak_rss_mb()}


def _percentiles(seconds: list[float]) -> Percentiles:
    import numpy as np

    values = np.array(seconds) * 1000
    return {"p50": float(np.percentile(values, 50)), "p99": float(np.percentile(values, 99)),
            "max": float(values.max()), "mean": float(values.mean())}


PHASES: dict[str, Callable[[Params], _Phase]] = {"cold": phase_cold, "serve": phase_serve, "add": phase_add}
Result = TypeVar("Result", bound=_Phase)


def _run_phase(phase: Callable[[Params], Result], params: Params) -> Result:
    """`phase` run in a new process (`python -m bot.bench.benchmark NAME`, NAME as in PHASES)."""
    name = phase.__name__.removeprefix("phase_")
    started = time.time()
    process = subprocess.run(
        [sys.executable, "-m", "bot.bench.benchmark", name],
        input=json.dumps(params), capture_output=True, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    if process.returncode != 0:
        raise RuntimeError(f"benchmark phase {name} failed:\n{process.stderr[-3000:]}")
    result: Result = json.loads(process.stdout.strip().splitlines()[-1])  # what `phase` returned there
    if "ready_at" in result:
        result["startup"] = result["ready_at"] - started
    return result


# --- the whole benchmark -------------------------------------------------------------------------


@dataclass
class Row:
    passages: int
    engine: str
    cold: Cold
    serve: Serve
    add: Add | None


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(s.replace("_", "")) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected passage counts separated by commas, like 10000,100000; got {text!r}"
        ) from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"expected positive passage counts, like 10000,100000; got {text!r}")
    return sizes


def _count(text: str) -> int:
    """A positive whole number (questions per corpus: percentiles of no question mean nothing)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, like 2000; got {text!r}")
    return value


def run(sizes: list[int], *, workdir: Path, questions: int, seed: int, reference_up_to: int, top_k: int,
        min_match: float, say: Callable[[str], object] = print,
        progress: Callable[[int, int], None] | None = None) -> list[Row]:
    """Benchmark each size; questions are answered with `top_k` and `min_match` (the settings).
    `progress` is told (steps done, steps) after each corpus written and each phase run
    (`python -m bot bench` draws it as a bar)."""
    from bot.bench import synthetic_corpus

    rows = []
    # per size: the corpus; sparse: cold, serve, add; rank-bm25 (up to reference_up_to): cold, serve
    steps = sum(1 + 3 + (2 if size <= reference_up_to else 0) for size in sizes)
    done = 0

    def step() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, steps)

    if progress is not None:
        progress(0, steps)
    for size in sizes:
        t0 = time.perf_counter()
        folder = synthetic_corpus.write_corpus(workdir / f"corpus-{size}", size, seed=seed,
                                               seed_corpus=ROOT / "corpus")
        say(f"# {size:,} passages: corpus ready in {time.perf_counter() - t0:.1f} s ({folder})")
        step()
        asked = synthetic_corpus.questions(folder, questions, seed=seed,
                                           seed_questions=ROOT / "tests" / "data" / "questions.jsonl")
        engines = ["sparse"] + (["rank-bm25"] if size <= reference_up_to else [])
        for engine in engines:
            cache = workdir / f"cache-{size}-{engine}"
            params: Params = {"folder": str(folder), "cache": str(cache), "engine": engine, "questions": asked,
                      "top_k": top_k, "min_match": min_match}
            cold = _run_phase(phase_cold, params)
            step()
            say(f"#   {engine}: cold start {cold['startup']:.2f} s (build {cold['build']:.2f} s), "
                f"{cold['documents']:,} articles, {cold['terms']:,} terms, {cold['postings']:,} postings")
            if engine == "rank-bm25":  # slow per question: fewer of them
                params["questions"] = asked[: max(20, min(len(asked), 200_000_000 // (size * 100)))]
            serve = _run_phase(phase_serve, params)
            step()
            if serve["how"] != "cached":
                say(f"#   WARNING: the serving process found no current cache ({serve['how']}): did the analyzer "
                    "or index code change during the run? Its start-up figure includes a rebuild.")
            say(f"#   {engine}: {json.dumps(serve)}")
            add = _run_phase(phase_add, params) if engine == "sparse" else None
            if add:
                step()
            if add:
                say(f"#   {engine}: add one article {add['add_s']:.2f} s ({json.dumps(add['add_steps'])}), "
                    f"remove it {add['remove_s']:.2f} s")
            rows.append(Row(size, engine, cold, serve, add))
    return rows


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import numpy

    return (f"{os.cpu_count()} CPUs ({model}), Python {platform.python_version()}, numpy {numpy.__version__}, "
            f"{platform.system()} {platform.release()}; each phase pinned to one CPU")


def table(rows: list[Row]) -> str:
    header = ("| passages | engine | index build | start-up cold | start-up cached | retrieval p50 / p99 | "
              "whole answer p50 / p99 | answers/s | peak RSS serving | event loop with asyncio.to_thread ×4: "
              "longest call; wake-up delay worst (p99) | "
              "event loop as the bot runs it (`bot/telegram/answer_threads.py`): "
              "longest call; wake-up delay worst (p99) | idle event loop: wake-up delay worst (p99) | "
              "add one article |")
    lines = [header, "|" + "|".join(["---"] * 13) + "|"]
    for row in rows:
        s = row.serve
        stall = s["stall_ms"]
        lines.append(
            f"| {row.passages:,} | {row.engine} | {row.cold['build']:.2f} s | {row.cold['startup']:.2f} s | "
            f"{s['startup']:.2f} s | {s['retrieval_ms']['p50']:.2f} / {s['retrieval_ms']['p99']:.2f} ms | "
            f"{s['answer_ms']['p50']:.2f} / {s['answer_ms']['p99']:.2f} ms | {s['answers_per_s']:.0f} | "
            f"{s['peak_rss_mb']:.0f} MB | {_stall_cell(stall['to_thread_x4_one'])} | "
            f"{_stall_cell(stall['bot_one'])} | {_stall_cell(stall['idle_one'])} | "
            + (f"{row.add['add_s']:.2f} s |" if row.add else "– |")
        )
    return "\n".join(lines)


def _stall_cell(figures: Stall) -> str:
    call = f"{figures['longest_call_ms']:.1f} ms; " if "longest_call_ms" in figures else ""
    return f"{call}{figures['worst_ms']:.1f} ({figures['p99_ms']:.1f}) ms"


def main(argv: list[str] | None = None) -> int:
    """`python -m bot.bench.benchmark ARGS` is `python -m bot bench ARGS`: the command line reads the
    settings (top_k, min_match) the questions are answered with."""
    from bot import cli

    return cli.main(["bench", *(sys.argv[1:] if argv is None else argv)])


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sizes", type=_sizes, default=",".join(map(str, SIZES)),
                        help="corpus sizes in passages, comma-separated (default: %(default)s)")
    parser.add_argument("--questions", type=_count, default=2000, help="questions per corpus (default: %(default)s)")
    parser.add_argument("--workdir", type=Path, default=ROOT / ".cache" / "bench",
                        help="where corpora and caches go (default: .cache/bench)")
    parser.add_argument("--seed", type=int, default=1, help="random seed of corpora and questions")
    parser.add_argument("--reference-up-to", type=int, default=100_000,
                        help="also measure the rank-bm25 reference up to this size (default: %(default)s)")
    parser.add_argument("--json", type=Path, default=None, help="also write all figures to this JSON file")
    parser.add_argument("--cpu", type=int, default=None, help="the CPU to pin each phase to (default: the last one)")


def run_from_args(args: argparse.Namespace, *, top_k: int, min_match: float,
                  say: Callable[[str], None] | None = None,
                  progress: Callable[[int, int], None] | None = None) -> int:
    """`python -m bot bench`: answers as the bot would with `top_k` and `min_match` (from the settings)."""
    if args.cpu is not None:
        os.environ["BENCH_CPU"] = str(args.cpu)
    sizes = args.sizes
    rows = run(sizes, workdir=args.workdir, questions=args.questions, seed=args.seed,
               reference_up_to=args.reference_up_to, top_k=top_k, min_match=min_match,
               say=say or (lambda line: print(line, flush=True)), progress=progress)
    print()
    print(f"Machine: {machine()}")
    print()
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps([row.__dict__ for row in rows], indent=1))
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 2 and sys.argv[1] in PHASES:
        _pin_to_one_cpu()
        print(json.dumps(PHASES[sys.argv[1]](json.loads(sys.stdin.read()))))
    else:
        sys.exit(main())
