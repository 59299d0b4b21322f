"""The answer threads: one thread answers; a spare helps only while a question is slow."""

import asyncio
import threading

import pytest

from bot.telegram.answer_threads import AnswerThreads


@pytest.fixture
def threads():
    pool = AnswerThreads(spare_after=0.05)
    yield pool
    pool.close()


async def test_results_and_errors_reach_the_caller(threads):
    assert await threads.run(lambda a, b=0: a + b, 2, b=3) == 5
    with pytest.raises(ZeroDivisionError):
        await threads.run(lambda: 1 / 0)


async def test_quick_questions_are_answered_by_one_thread_in_order(threads):
    names, order = [], []

    def work(n):
        names.append(threading.current_thread().name)
        order.append(n)
        return n

    assert await asyncio.gather(*(threads.run(work, n) for n in range(50))) == list(range(50))
    assert order == list(range(50))
    assert set(names) == {"answer"}  # no second thread competing for the GIL


async def test_a_slow_question_does_not_hold_up_the_next_one(threads):
    release = threading.Event()
    slow = asyncio.ensure_future(threads.run(release.wait, 10))
    quick = await asyncio.wait_for(threads.run(threading.current_thread), timeout=5)
    assert quick.name == "answer-spare"
    assert not slow.done()
    release.set()
    assert await slow is True


async def test_close_answers_what_was_given_then_refuses_more():
    pool = AnswerThreads()
    pending = [asyncio.ensure_future(pool.run(lambda n=n: n)) for n in range(5)]
    await asyncio.sleep(0)  # let the jobs be handed over
    await asyncio.to_thread(pool.close)
    assert await asyncio.gather(*pending) == list(range(5))
    with pytest.raises(RuntimeError, match="closed"):
        await pool.run(lambda: None)
