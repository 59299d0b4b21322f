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


class GatedCondition(threading.Condition):
    """A condition that can hold the first answer thread just after it wakes up (outside the lock,
    as a thread the OS has not scheduled yet), and tells the test what the spare saw when it went to
    sleep."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.first_may_go = threading.Event()
        self.first_may_go.set()
        self.queue_seen_by_spare: list[int] = []
        self.spare_looked = threading.Condition(threading.Lock())
        self.pool: AnswerThreads | None = None

    def saw_queued(self, count: int) -> bool:
        """Wait until the spare has gone to sleep once with `count` questions queued."""
        with self.spare_looked:
            return self.spare_looked.wait_for(lambda: count in self.queue_seen_by_spare, timeout=5)

    def wait(self, timeout=None):
        name = threading.current_thread().name
        if name == "answer-spare" and self.pool is not None:
            with self.spare_looked:
                self.queue_seen_by_spare.append(len(self.pool._jobs))
                self.spare_looked.notify_all()
        woke = super().wait(timeout)
        if name == "answer" and not self.first_may_go.is_set():
            self.release()
            self.first_may_go.wait()
            self.acquire()
        return woke


class GatedThreads(AnswerThreads):
    condition_type = GatedCondition


async def test_a_quick_question_queued_behind_a_slow_one_is_taken_by_the_spare():
    """The interleaving that made the test above fail about half the time: both questions are
    queued before the first thread wakes up, the spare looks while nobody is busy and goes to
    sleep, then the first thread takes the slow one. The spare must still take the quick one."""
    pool = GatedThreads(spare_after=0.05)
    gate: GatedCondition = pool._changed
    gate.pool = pool
    release = threading.Event()
    try:
        gate.first_may_go.clear()
        slow = asyncio.ensure_future(pool.run(release.wait, 10))
        quick = asyncio.ensure_future(pool.run(threading.current_thread))
        await asyncio.sleep(0)  # both handed over
        assert await asyncio.to_thread(gate.saw_queued, 2), "the spare never looked at the two questions"
        gate.first_may_go.set()
        answered_by = await asyncio.wait_for(quick, timeout=5)
        assert answered_by.name == "answer-spare"
        assert not slow.done()
    finally:
        release.set()
        await asyncio.to_thread(pool.close)
