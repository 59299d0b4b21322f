"""The update store: what is received is kept until handled, survives the process, and an update
Telegram sends again is recognised."""

from __future__ import annotations

import pytest

from bot.telegram.update_store import KEEP_HANDLED, UpdateStore, UpdateStoreError


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def message(update_id: int, text: str = "question") -> dict:
    return {"update_id": update_id, "message": {"message_id": update_id, "text": text}}


async def test_what_was_admitted_and_not_handled_is_pending_after_a_restart(tmp_path):
    path = tmp_path / "state" / "updates.sqlite3"
    store = await UpdateStore.open(path, bot_id=1)
    assert await store.admit(10, message(10, "first"))
    assert await store.admit(11, message(11, "second"))
    await store.handled(10)
    # no close: as after kill -9
    again = await UpdateStore.open(path, bot_id=1)
    try:
        pending = await again.pending()
        assert [(p.update_id, p.update["message"]["text"]) for p in pending] == [(11, "second")]
        other_bot = await UpdateStore.open(path, bot_id=2)
        assert await other_bot.pending() == []  # one file, several bots: each sees its own
        await other_bot.close()
    finally:
        await again.close()
        await store.close()


async def test_an_update_sent_again_is_not_handled_twice(tmp_path):
    store = await UpdateStore.open(tmp_path / "u.sqlite3", bot_id=1)
    try:
        assert await store.admit(10, message(10))
        assert not await store.admit(10, message(10))  # being handled: Telegram sent it again
        await store.handled(10)
        assert not await store.admit(10, message(10))  # handled already
    finally:
        await store.close()
    restarted = await UpdateStore.open(tmp_path / "u.sqlite3", bot_id=1)
    try:
        assert not await restarted.admit(10, message(10))  # remembered across runs
        assert await restarted.admit(11, message(11))
    finally:
        await restarted.close()


async def test_handled_updates_are_forgotten_after_telegram_stops_resending_them(tmp_path):
    clock = Clock()
    store = await UpdateStore.open(tmp_path / "u.sqlite3", bot_id=1, clock=clock)
    await store.admit(10, message(10))
    await store.admit(11, message(11))
    await store.handled(10)
    await store.close()
    clock.now += KEEP_HANDLED + 1
    store = await UpdateStore.open(tmp_path / "u.sqlite3", bot_id=1, clock=clock)
    try:
        assert await store.admit(10, message(10))  # forgotten: a new update with a recycled id
        assert [p.update_id for p in await store.pending()] == [10, 11]  # pending ones are never dropped
    finally:
        await store.close()


@pytest.mark.parametrize("make", ["folder", "not a database"])
async def test_an_unusable_store_is_a_clear_error(tmp_path, make):
    path = tmp_path / "updates.sqlite3"
    if make == "folder":
        path.mkdir()
    else:
        path.write_bytes(b"this is not SQLite " * 100)
    with pytest.raises(UpdateStoreError, match=r"cannot use the update store .*updates\.sqlite3"):
        await UpdateStore.open(path, bot_id=1)
