"""End to end: the real Application (as `python -m bot run` builds it) long-polls a fake Bot API
server on 127.0.0.1, and the tests look at what users would see: the messages the bot sent,
as Telegram parsed them, with their buttons."""

from __future__ import annotations

import copy
import os
import re
import threading
import time
from pathlib import Path

import pytest

from bot.retrieval.library import LibrarySource, load_library
from bot.telegram import handlers
from bot.telegram import messages as th
from fake_telegram import BOT_USERNAME, FakeTelegram
from telegram_harness import EXAMPLES, QUESTION, entity_types, reply_ids, serving, texts

GROUP = -1001234567890


@pytest.fixture
async def tg():
    async with FakeTelegram() as fake:
        yield fake


def article(title: str, body: str, url: str | None = "https://example.org/{slug}") -> str:
    slug = re.sub(r"\W+", "-", title.lower()).strip("-")
    header = f"---\ntitle: {title}\npublisher: Test Wire\npublished: 2022-03-0{len(title) % 9 + 1}\n"
    if url:
        header += f"url: {url.format(slug=slug)}\n"
    return header + "---\n\n" + body + "\n"


HARVEST_WORDS = [
    "farmers in Ararat counted record crates near Artashat despite hail",
    "cooperatives exported juice through Georgia after the border reopened",
    "prices fell sharply because Russian buyers cancelled wholesale contracts",
    "drought shrank orchards around Vayots Dzor villages this dry summer",
    "students volunteered picking fruit at family plots beside Lake Sevan",
    "a winery in Areni launched sparkling wine made from red seeds",
    "traders complained about trucks stuck for days at Upper Lars",
    "officials promised subsidies for irrigation pipes and cold storage",
    "tourists joined festival dances under old trees in Goris town",
]


@pytest.fixture
def harvest_corpus(tmp_path: Path) -> Path:
    """Nine articles that all answer 'pomegranate harvest', so answers have more than one page."""
    folder = tmp_path / "harvest"
    folder.mkdir()
    for n, words in enumerate(HARVEST_WORDS):
        (folder / f"harvest-{n}.md").write_text(
            article(f"Harvest report {n}", f"The pomegranate harvest story: {words}."), encoding="utf-8"
        )
    return folder


def load(folder: Path):
    return load_library(folder, max_file_bytes=10**7)[0]


# --- Commands ------------------------------------------------------------------------------------


async def test_start_help_and_sources_describe_the_corpus(tg, library):
    async with serving(tg, library) as bot:
        start, help_, sources = (tg.private_message(7, c) for c in ("/start", "/help", "/sources"))
        [start_reply] = await bot.replies_to(start)
        [help_reply] = await bot.replies_to(help_)
        [sources_reply] = await bot.replies_to(sources)
    start_text = start_reply.result["text"]
    dates = sorted(d.published for d in library.documents.values() if d.published)
    assert f"{len(library.documents)} articles" in start_text
    assert dates[0] in start_text and dates[-1] in start_text
    assert all(title in start_text for title in (d.title for d in library.documents.values()))
    assert sum(example in start_text for example in EXAMPLES) == 3
    help_text = help_reply.result["text"]
    assert "/ask" in help_text and f"@{BOT_USERNAME}" in help_text and "groups" in help_text
    listed = sources_reply.result["text"]
    for document in library.documents.values():
        assert document.title in listed and document.publisher in listed
    links = {e["url"] for e in sources_reply.result["entities"] if e["type"] == "text_link"}
    assert links == {d.url for d in library.documents.values() if d.url}
    for call in (start_reply, help_reply, sources_reply):
        assert call.params["parse_mode"] == "HTML" and call.params["link_preview_options"] == {"is_disabled": True}
    commands = tg.sent("setMyCommands")[-1].params["commands"]
    assert {c["command"] for c in commands} >= {"start", "help", "sources", "ask"}


# --- Questions in private chats --------------------------------------------------------------------


async def test_a_question_gets_one_reply_with_quotes_citations_and_marked_terms(tg, library):
    async with serving(tg, library) as bot:
        question = tg.private_message(7, QUESTION)
        [reply] = await bot.replies_to(question)
        await bot.drain()
    assert reply_ids(tg, 7) == [question["message"]["message_id"]]  # one reply, to the question
    shown = reply.result["text"]
    types = entity_types(reply)
    quotes = types.count("blockquote") + types.count("expandable_blockquote")
    assert quotes >= 1 and types.count("text_link") >= 1 and "bold" in types
    assert "[1] " in shown and "passage " in shown
    assert "Russia deployed soldiers and border guards in Syunik" in shown  # verbatim from the article
    bold = [shown[e["offset"] : e["offset"] + e["length"]] for e in reply.result["entities"] if e["type"] == "bold"]
    assert {"Syunik", "guards"} <= set(bold)
    assert reply.params["link_preview_options"] == {"is_disabled": True}
    buttons = [b for row in reply.params["reply_markup"]["inline_keyboard"] for b in row]
    assert [b["text"] for b in buttons][:quotes] == [f"Passage {n}" for n in range(1, quotes + 1)]
    assert all(len(b["callback_data"].encode()) <= 64 for b in buttons)


async def test_a_question_that_came_in_while_the_bot_was_down_long_ago_gets_a_note_not_an_answer(tg, library):
    """A question asked three hours before the bot handles it (Telegram or the update store kept it
    while the bot was down) is not answered out of the blue: the asker is told what happened. One
    asked a few minutes ago is answered as usual."""
    async with serving(tg, library) as bot:
        old = tg.private_message(7, QUESTION, date=int(time.time()) - 3 * 3600)
        recent = tg.private_message(8, QUESTION, date=int(time.time()) - 5 * 60)
        [note] = await bot.replies_to(old)
        [answer] = await bot.replies_to(recent)
        await bot.drain()
    assert note.result["text"] == th.CAME_WHILE_DOWN.format(age="3 hours")
    assert "[1] " in answer.result["text"]


async def test_an_article_with_a_4000_character_url_is_quoted_and_listed(tg, tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "long.md").write_text(article("Orchard report", "The pomegranate harvest grew this year.",
                                            url="https://example.org/" + "x" * 4000), encoding="utf-8")
    (folder / "short.md").write_text(article("Other report", "Apricots ripened early."), encoding="utf-8")
    async with serving(tg, load(folder)) as bot:
        question = tg.private_message(7, "pomegranate harvest")
        [answer] = await bot.replies_to(question)
        sources = tg.private_message(7, "/sources")
        [listing] = await bot.replies_to(sources)
        await bot.drain()
    assert "The pomegranate harvest grew this year." in answer.result["text"]
    assert "Orchard report" in listing.result["text"] and "Other report" in listing.result["text"]
    assert not tg.failed("sendMessage") and not tg.sent("sendMessage", text=th.APOLOGY)


async def test_not_in_the_corpus_is_short_and_friendly(tg, library):
    async with serving(tg, library) as bot:
        question = tg.private_message(7, "Who painted the Mona Lisa?")
        [reply] = await bot.replies_to(question)
    assert reply.result["text"] == th.NOT_IN_CORPUS
    assert "reply_markup" not in reply.params


async def test_more_quotes_and_full_passage_buttons(tg, harvest_corpus):
    async with serving(tg, load(harvest_corpus)) as bot:
        question = tg.private_message(7, "Tell me about the pomegranate harvest")
        [first] = await bot.replies_to(question)
        keyboard = first.params["reply_markup"]["inline_keyboard"]
        assert keyboard[-1] == [{"text": "More quotes", "callback_data": "more:3"}]
        assert re.findall(r"^\[(\d)\]", first.result["text"], re.M) == ["1", "2", "3"]

        tg.callback_query(7, "more:3", first)
        [_, second] = await bot.replies_to(question, 2)
        assert re.findall(r"^\[(\d)\]", second.result["text"], re.M) == ["4", "5", "6"]
        # the pressed "More" is gone from the first answer; its passage buttons stay
        await tg.wait_for_async("editMessageReplyMarkup", chat_id=7)
        edited = tg.get_message(7, first.result["message_id"])
        assert all(b["callback_data"].startswith("p:") for row in edited["reply_markup"]["inline_keyboard"]
                   for b in row)

        tg.callback_query(7, "more:9", first)  # past the last excerpt
        [*_, nothing_more] = await bot.replies_to(question, 3)
        assert nothing_more.result["text"] == th.NO_MORE

        passage_button = second.params["reply_markup"]["inline_keyboard"][0][0]
        tg.callback_query(7, passage_button["callback_data"], second)
        [full] = await bot.replies_to(second.result)
        assert full.result["text"].startswith("Full passage:\nThe pomegranate harvest story:")
        assert "Test Wire" in full.result["text"]
        await bot.drain()
    assert len(tg.sent("answerCallbackQuery")) == 3  # every press answered
    all_quotes = "\n".join(texts(tg.sent("sendMessage", chat_id=7)))
    assert sum(words in all_quotes for words in HARVEST_WORDS) == 6  # six different excerpts, no repeats


async def test_a_late_button_press_still_sends_the_passage_and_the_quotes(tg, harvest_corpus):
    """Presses made while the bot was down arrive when it is back; Telegram then refuses to take an
    answer to them ("query is too old"), but the user still gets what they asked for."""
    async with serving(tg, load(harvest_corpus)) as bot:
        question = tg.private_message(7, "pomegranate harvest")
        [answer] = await bot.replies_to(question)
        passage = answer.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
        tg.callback_query(7, passage, answer, too_old=True)
        tg.callback_query(7, "more:3", answer, too_old=True)
        [full] = await bot.replies_to(answer.result)
        [_, more] = await bot.replies_to(question, 2)
        await bot.drain()
    assert full.result["text"].startswith("Full passage:")
    assert re.findall(r"^\[(\d)\]", more.result["text"], re.M) == ["4", "5", "6"]
    assert not tg.sent("sendMessage", text=th.APOLOGY)
    assert len(tg.failed("answerCallbackQuery")) == 2  # Telegram refused both answers


async def test_a_double_tap_on_more_quotes_sends_them_once(tg, harvest_corpus):
    async with serving(tg, load(harvest_corpus)) as bot:
        question = tg.private_message(7, "pomegranate harvest")
        [answer] = await bot.replies_to(question)
        tg.callback_query(7, "more:3", answer)
        tg.callback_query(7, "more:3", answer)  # Telegram sent both before the button was removed
        await tg.wait_for_async("answerCallbackQuery", 2)
        await bot.drain()
    assert len(reply_ids(tg, 7)) == 2  # the answer and one set of further quotes
    assert [c.params.get("text") for c in tg.sent("answerCallbackQuery")] == [None, None]


async def test_buttons_keep_working_after_a_restart(tg, harvest_corpus):
    library = load(harvest_corpus)
    async with serving(tg, library) as bot:
        question = tg.private_message(7, "pomegranate harvest")
        [answer] = await bot.replies_to(question)
    # a new process: nothing in memory survives, only what the buttons carry
    async with serving(tg, load(harvest_corpus)) as bot:
        tg.callback_query(7, "more:3", answer)
        passage = answer.params["reply_markup"]["inline_keyboard"][0][1]["callback_data"]
        tg.callback_query(7, passage, answer)
        replies = await bot.replies_to(question, 2)
        [full] = await bot.replies_to(answer.result)
        await bot.drain()
    assert re.findall(r"^\[(\d)\]", replies[1].result["text"], re.M) == ["4", "5", "6"]
    assert full.result["text"].startswith("Full passage:")
    assert len(tg.sent("answerCallbackQuery")) == 2


async def test_stale_and_broken_buttons_are_answered_with_a_hint(tg, harvest_corpus):
    async with serving(tg, load(harvest_corpus)) as bot:
        question = tg.private_message(7, "pomegranate harvest")
        [answer] = await bot.replies_to(question)
        # the question was deleted: Telegram no longer includes reply_to_message
        orphan = copy.deepcopy(answer.result)
        orphan.pop("reply_to_message")
        for n, data in enumerate(["more:3", "p:000000000000", "garbage", "more:-1", "more:99999", None, "more:²"]):
            update = {"id": f"9{n}", "from": {"id": 7, "is_bot": False, "first_name": "U"},
                      "message": orphan, "chat_instance": "1"}
            if data is not None:
                update["data"] = data
            tg.push_update({"callback_query": update})
        await tg.wait_for_async("answerCallbackQuery", 7)
        await bot.drain()
    notes = [c.params.get("text") for c in tg.sent("answerCallbackQuery")]
    assert notes == [th.ASK_AGAIN, th.PASSAGE_GONE] + [th.BUTTON_EXPIRED] * 5
    assert len(tg.sent("sendMessage")) == 1  # only the first answer


# --- Groups -------------------------------------------------------------------------------------------


async def test_groups_answer_only_what_is_addressed_to_the_bot(tg, library):
    async with serving(tg, library) as bot:
        answered = [
            tg.group_message(GROUP, 1, f"/ask {QUESTION}"),
            tg.group_message(GROUP, 2, f"/ask@{BOT_USERNAME} {QUESTION}"),
            tg.group_message(GROUP, 3, f"@{BOT_USERNAME} {QUESTION}"),
            tg.group_message(GROUP, 4, f"Hey @{BOT_USERNAME.upper()}, who is Russia's defense minister?"),
        ]
        [bot_message] = await bot.replies_to(answered[0])
        answered.append(tg.group_message(GROUP, 5, "And who commands the Southern Military District?",
                                         reply_to=bot_message))
        ignored = [
            tg.group_message(GROUP, 1, QUESTION),
            tg.group_message(GROUP, 1, f"/ask@other_bot {QUESTION}"),
            tg.group_message(GROUP, 1, "/start@other_bot"),
            tg.group_message(GROUP, 1, "/weather"),
            tg.group_message(GROUP, 1, "someone @corpus_test_bottle mentioned"),
        ]
        hinted = tg.group_message(GROUP, 6, "/ask")
        await bot.drain()
    replied = reply_ids(tg, GROUP)
    assert sorted(replied) == sorted(u["message"]["message_id"] for u in [*answered, hinted])
    assert not set(replied) & {u["message"]["message_id"] for u in ignored}
    hint = [c for c in tg.sent("sendMessage", chat_id=GROUP)
            if c.params["reply_parameters"]["message_id"] == hinted["message"]["message_id"]]
    assert hint[0].result["text"].startswith("Put your question after the command")


# --- Inline mode ------------------------------------------------------------------------------------


async def test_inline_mode_offers_cited_excerpts(tg, library):
    async with serving(tg, library) as bot:
        tg.inline_query(7, QUESTION)
        tg.inline_query(7, "Who painted the Mona Lisa?")
        tg.inline_query(7, "   ")
        await tg.wait_for_async("answerInlineQuery", 3)
        await bot.drain()
    found, nothing, empty = (c.params for c in tg.sent("answerInlineQuery"))
    assert found["is_personal"] is True
    results = found["results"]
    assert 1 <= len(results) <= 10
    for result in results:
        content = result["input_message_content"]
        assert content["parse_mode"] == "HTML" and "<blockquote" in content["message_text"]
        assert content["message_text"].startswith(f"<i>{QUESTION}</i>")
        assert result["description"].endswith(tuple(f"passage {n}" for n in range(1, 100)))
    assert nothing["results"] == [] and nothing["button"]["text"] == th.INLINE_NOTHING
    assert empty["results"] == [] and empty["button"]["start_parameter"] == "inline"


# --- Other kinds of updates and hostile input -------------------------------------------------------


async def test_media_edits_and_channel_posts_get_a_hint_or_nothing(tg, library, caplog):
    async with serving(tg, library) as bot:
        asked = tg.private_message(7, QUESTION)
        [_] = await bot.replies_to(asked)
        edited = tg.edited_message(asked, "Who is Russia's defense minister?")
        sticker = tg.sticker_message(7)
        voice = tg.voice_message(7)
        photo = tg.photo_message(7)
        captioned = tg.photo_message(7, caption=QUESTION)
        tg.sticker_message(8, chat_id=GROUP)
        tg.channel_post(-1009999, "A channel post about Syunik")
        tg.edited_message(tg.channel_post(-1009999, "post", push=True), "edited post")
        inline_result = tg.private_message(7, "“Russia deployed soldiers…” [1] Putin, Pashinian Discuss",
                                           via_bot={"id": tg.bot_id, "is_bot": True, "first_name": "Corpus Bot",
                                                    "username": BOT_USERNAME})
        last = tg.private_message(7, "Who is Russia's defense minister?")
        await bot.replies_to(last)
        await bot.drain()
    replies = [(c.params["reply_parameters"]["message_id"], c.result["text"])
               for c in tg.sent("sendMessage", chat_id=7)]
    assert (edited["edited_message"]["message_id"], th.EDITED_HINT) in replies
    by_target = dict(replies)
    for update in (sticker, voice, photo):
        assert by_target[update["message"]["message_id"]] == th.NOT_TEXT_HINT
    assert "[1] " in by_target[captioned["message"]["message_id"]]  # the caption was the question
    assert inline_result["message"]["message_id"] not in by_target  # a quote sent via the bot is no question
    assert not tg.sent("sendMessage", chat_id=GROUP) and not tg.sent("sendMessage", chat_id=-1009999)
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]


HOSTILE = [
    "   \t ",
    "\u200b\u200c\u200d",
    "🙂🔥🇦🇲",
    "<b>Putin</b> & <script>alert(1)</script> &amp; Syunik </blockquote>",
    "\u202eknuyS ni sdraug redrob\u202c Why did Russia deploy border guards in Syunik?",
    "Why\u200b did Russia deploy border\u200d guards in Syunik? \u200f",
    "/foo",
    "/foo@corpus_test_bot bar",
    "**bold** _it_ `code` [link](http://x) ||spoiler||",
    "Syunik " * 585 + "?",  # 4096 characters: as long as Telegram allows
    ("🙂" * 2000) + " Syunik",
]


async def test_hostile_input_is_answered_within_telegrams_rules(tg, library, caplog):
    async with serving(tg, library) as bot:
        updates = [tg.private_message(7, text) for text in HOSTILE]
        await bot.drain()
    assert not tg.failed("sendMessage"), tg.dump()  # the fake rejects what Telegram would reject
    replies = tg.sent("sendMessage", chat_id=7)
    assert reply_ids(tg, 7) == [u["message"]["message_id"] for u in updates]  # each answered, in order
    shown = texts(replies)
    assert th.NO_TERMS_START in shown[0] and th.NO_TERMS_START in shown[1] and th.NO_TERMS_START in shown[2]
    assert shown[3] in (th.NOT_IN_CORPUS,) or "[1] " in shown[3]  # escaped either way: the fake accepted it
    assert "[1] " in shown[4] and "[1] " in shown[5]
    assert shown[6] == shown[7] == th.UNKNOWN_COMMAND
    assert all(len(t.encode("utf-16-le")) // 2 <= 4096 for t in shown)
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]


# --- Concurrency ------------------------------------------------------------------------------------


async def test_a_slow_question_does_not_stall_other_chats_and_shows_typing(tg, library, monkeypatch):
    release = threading.Event()
    real = handlers.answer_question

    def answer(library_, question, **kwargs):
        if "slowly" in question:
            assert release.wait(15), "the test never released the slow question"
        return real(library_, question, **kwargs)

    monkeypatch.setattr(handlers, "answer_question", answer)
    async with serving(tg, library) as bot:
        slow = tg.private_message(1, "Answer slowly: why did Russia deploy border guards in Syunik?")
        await tg.wait_for_async("sendChatAction", chat_id=1, action="typing")
        quick = tg.private_message(2, QUESTION)
        await bot.replies_to(quick)
        assert not tg.sent("sendMessage", chat_id=1)  # still working on the slow one
        release.set()
        await bot.replies_to(slow)
        await bot.drain()
    assert tg.sent("sendChatAction", chat_id=1)[0].time < tg.sent("sendMessage", chat_id=1)[0].time


async def test_burst_of_200_questions_from_50_users(tg, library):
    questions = [
        QUESTION,
        "Who is the commander of Russia's Southern Military District?",
        "When did Pashinyan and Putin meet in Moscow?",
        "Who painted the Mona Lisa?",
    ]
    users = range(1001, 1051)
    async with serving(tg, library) as bot:
        pushed: dict[int, float] = {}
        started = time.monotonic()
        for round_ in range(4):
            for user in users:
                update = tg.private_message(user, f"{questions[(user + round_) % 4]} #{round_}")
                pushed[update["message"]["message_id"] * 10_000 + user] = time.time()
        await tg.wait_for_async("sendMessage", 200, timeout=60)
        elapsed = time.monotonic() - started
        await bot.drain()
    sent = tg.sent("sendMessage")
    assert len(sent) == 200 and not tg.failed("sendMessage"), tg.dump()
    latencies = []
    for user in users:
        assert reply_ids(tg, user) == [1, 2, 3, 4]  # all answered, none twice, in order per chat
        for call in tg.sent("sendMessage", chat_id=user):
            latencies.append(call.time - pushed[call.params["reply_parameters"]["message_id"] * 10_000 + user])
    print(f"\nburst: 200 questions from 50 users answered in {elapsed:.2f} s "
          f"({200 / elapsed:.1f} answers/s), max latency {max(latencies):.2f} s, "
          f"median {sorted(latencies)[100]:.2f} s")


# --- Access, limits, reload ---------------------------------------------------------------------------


async def test_allow_lists_keep_everyone_else_out(tg, library):
    async with serving(tg, library, allowed_user_ids=(1,), allowed_chat_ids=(GROUP,)) as bot:
        allowed = [tg.private_message(1, QUESTION), tg.group_message(GROUP, 2, f"/ask {QUESTION}")]
        [answer] = await bot.replies_to(allowed[0])
        refused = [tg.private_message(3, QUESTION), tg.private_message(3, "/start"),
                   tg.group_message(-1005550000, 1 + 1, f"/ask {QUESTION}")]
        tg.inline_query(3, QUESTION)
        tg.callback_query(3, answer.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"], answer)
        await tg.wait_for_async("answerInlineQuery")
        await tg.wait_for_async("answerCallbackQuery")
        await bot.drain()
    assert len(reply_ids(tg, 1)) == 1 and len(reply_ids(tg, GROUP)) == 1
    assert texts(tg.sent("sendMessage", chat_id=3)) == [th.NOT_ALLOWED]  # told once, not answered
    assert not tg.sent("sendMessage", chat_id=-1005550000)
    assert tg.sent("answerInlineQuery")[0].params["results"] == []
    assert tg.sent("answerCallbackQuery")[0].params["text"] == th.NOT_ALLOWED
    del refused


async def test_per_user_question_limit_replies_politely_once(tg, library):
    async with serving(tg, library, user_questions_per_minute=3) as bot:
        asked = [tg.private_message(7, f"{QUESTION} {n}") for n in range(6)]
        other = tg.private_message(8, QUESTION)
        await bot.drain()
    replies = tg.sent("sendMessage", chat_id=7)
    assert len(replies) == 4
    assert all("[1] " in t for t in texts(replies[:3]))
    assert replies[3].result["text"].startswith("You're asking faster than I can keep up")
    assert replies[3].params["reply_parameters"]["message_id"] == asked[3]["message"]["message_id"]
    assert len(tg.sent("sendMessage", chat_id=8)) == 1 and other


async def test_commands_and_button_presses_have_a_per_user_limit_too(tg, library):
    async with serving(tg, library, user_questions_per_minute=3) as bot:
        question = tg.private_message(7, QUESTION)
        [answer] = await bot.replies_to(question)
        passage = answer.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
        for _ in range(5):
            tg.callback_query(7, passage, answer)
        starts = [tg.private_message(8, "/start") for _ in range(5)]
        await tg.wait_for_async("answerCallbackQuery", 5)
        await bot.drain()
    passages = [t for t in texts(tg.sent("sendMessage", chat_id=7)) if t.startswith("Full passage:")]
    assert len(passages) == 3
    notes = [c.params.get("text") for c in tg.sent("answerCallbackQuery")]
    assert notes[:3] == [None] * 3 and all(n and n.startswith("You're asking faster") for n in notes[3:])
    to_start = texts(tg.sent("sendMessage", chat_id=8))
    assert len(to_start) == 4  # three overviews, then one "please wait", then silence
    assert to_start[3].startswith("You're asking faster than I can keep up") and len(starts) == 5


async def test_no_apology_after_the_answer_was_delivered(tg, harvest_corpus, monkeypatch, caplog):
    """A step that fails after the user already has the reply (here: taking the "More quotes" button
    off the answer) is logged, but apologising under a reply that arrived would only confuse."""
    async def broken(message):
        raise RuntimeError("simulated bug after the reply")

    async with serving(tg, load(harvest_corpus)) as bot:
        question = tg.private_message(7, "pomegranate harvest")
        [answer] = await bot.replies_to(question)
        monkeypatch.setattr(handlers, "drop_more_button", broken)
        tg.callback_query(7, "more:3", answer)
        await bot.replies_to(question, 2)
        await bot.drain()
    assert not tg.sent("sendMessage", text=th.APOLOGY)
    assert any("simulated bug after the reply" in r.getMessage() for r in caplog.records if r.levelname == "ERROR")


async def test_admin_reload_swaps_the_corpus_and_keeps_it_when_loading_fails(tg, library, tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "one.md").write_text(article("Harvest report", "The pomegranate harvest was large."), "utf-8")
    async with serving(tg, load(folder), corpus=LibrarySource(folder, 10**7), admin_ids=(1,)) as bot:
        before = tg.private_message(1, "What about the apricot festival?")
        [refused] = await bot.replies_to(before)
        (folder / "two.md").write_text(article("Festival", "The apricot festival drew crowds."), "utf-8")
        not_admin = tg.private_message(2, "/reload")
        [denied] = await bot.replies_to(not_admin)
        reload_ = tg.private_message(1, "/reload")
        [done] = await bot.replies_to(reload_)
        after = tg.private_message(1, "What about the apricot festival?")
        [found] = await bot.replies_to(after)
        for path in folder.iterdir():
            path.unlink()
        broken = tg.private_message(1, "/reload")
        [failed] = await bot.replies_to(broken)
        still = tg.private_message(1, "What about the apricot festival?")
        [kept] = await bot.replies_to(still)
    assert refused.result["text"] == th.NOT_IN_CORPUS
    assert denied.result["text"] == th.ADMINS_ONLY
    assert "Reloaded the corpus: 2 articles" in done.result["text"]
    assert "apricot festival drew crowds" in found.result["text"]
    assert failed.result["text"].startswith("Reload failed:") and "previous corpus (2 articles)" in \
        failed.result["text"]
    assert "apricot festival drew crowds" in kept.result["text"]


async def test_reload_names_a_file_whose_name_is_not_utf8_and_keeps_answering(tg, tmp_path):
    """A file name that is not UTF-8 (left by unzipping an archive) used to break /reload without
    naming the file; it is skipped with a warning that names it."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "one.md").write_text(article("Harvest report", "The pomegranate harvest was large."), "utf-8")
    async with serving(tg, load(folder), corpus=LibrarySource(folder, 10**7), admin_ids=(1,)) as bot:
        try:
            (folder / os.fsdecode(b"caf\xe9.md")).write_text(article("Cafe", "Apricot tea."), "utf-8")
        except (OSError, UnicodeError):
            pytest.skip("this file system accepts only UTF-8 names")
        reload_ = tg.private_message(1, "/reload")
        [done] = await bot.replies_to(reload_)
        question = tg.private_message(1, "pomegranate harvest")
        [answer] = await bot.replies_to(question)
        await bot.drain()
    assert "Reloaded the corpus: 1 articles" in done.result["text"]
    assert "caf\ufffd.md" in done.result["text"] and "rename it" in done.result["text"]
    assert "pomegranate harvest was large" in answer.result["text"]
