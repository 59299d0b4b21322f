"""Tests of the fake Telegram Bot API server (tests/fake_telegram.py).

They talk to it over real HTTP on 127.0.0.1 with httpx and with python-telegram-bot's own
``telegram.Bot``; nothing here reaches the internet.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
    ReplyParameters,
    Update,
)
from telegram.error import BadRequest, ChatMigrated, Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter
from telegram.ext import (
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    InlineQueryHandler,
    MessageHandler,
    filters,
)

from fake_telegram import (
    DEFAULT_TOKEN,
    ApiError,
    FakeTelegram,
    ParseError,
    check_html,
    check_markdown_v2,
    parse_text,
    utf16_len,
)


@pytest.fixture
def tg() -> Iterator[FakeTelegram]:
    with FakeTelegram() as fake:
        yield fake


pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

HTTP = httpx.Client(timeout=10, trust_env=False)  # one client: creating one per request costs ~20 ms


def api(tg: FakeTelegram, method: str, token: str | None = None, **params) -> httpx.Response:
    """POST form data the way PTB does (complex values JSON-encoded)."""
    data = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
    return HTTP.post(f"{tg.base_url}/bot{token or tg.token}/{method}", data=data)


def error_of(response: httpx.Response) -> tuple[int, str]:
    body = response.json()
    assert body["ok"] is False and body["error_code"] == response.status_code
    return response.status_code, body["description"]


# --- basics ---------------------------------------------------------------------------------------


def test_get_me_and_token(tg: FakeTelegram) -> None:
    assert tg.base_url.startswith("http://127.0.0.1:")
    assert tg.token == DEFAULT_TOKEN
    me = api(tg, "getMe").json()
    assert me["ok"] is True
    assert me["result"] == {**me["result"], "id": 123456, "is_bot": True, "first_name": "Corpus Bot",
                            "username": "corpus_test_bot", "can_join_groups": True,
                            "can_read_all_group_messages": False, "supports_inline_queries": True}
    assert api(tg, "GETME").json()["ok"] is True  # method names are case-insensitive
    assert HTTP.get(f"{tg.base_url}/bot{tg.token}/getMe").json()["ok"] is True
    wrong = api(tg, "getMe", token="654321:WRONG-token")
    assert error_of(wrong) == (401, "Unauthorized")
    assert error_of(api(tg, "noSuchMethod")) == (404, "Not Found")
    for method in ("deleteWebhook", "close", "logOut"):
        assert api(tg, method).json() == {"ok": True, "result": True}
    assert api(tg, "getWebhookInfo").json()["result"]["url"] == ""
    assert api(tg, "setMyCommands", commands=[{"command": "ask", "description": "Ask"}]).json()["ok"]
    assert api(tg, "getMyCommands").json()["result"] == [{"command": "ask", "description": "Ask"}]
    assert [c.method for c in tg.calls][:3] == ["getMe", "getMe", "getMe"]


def test_json_and_multipart_bodies(tg: FakeTelegram) -> None:
    r = HTTP.post(f"{tg.base_url}/bot{tg.token}/sendMessage", json={"chat_id": 7, "text": "hi",
                   "reply_markup": {"inline_keyboard": [[{"text": "a", "callback_data": "b"}]]}})
    assert r.json()["result"]["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "b"
    r = HTTP.post(f"{tg.base_url}/bot{tg.token}/sendPhoto", data={"chat_id": "7", "caption": "pic"},
                   files={"photo": ("p.jpg", b"\xff\xd8jpeg", "image/jpeg")})
    result = r.json()["result"]
    assert result["caption"] == "pic" and len(result["photo"]) == 3
    call = tg.sent("sendPhoto")[0]
    assert call.params["chat_id"] == 7 and call.params["photo"].data == b"\xff\xd8jpeg"


async def test_real_ptb_bot(tg: FakeTelegram) -> None:
    async with Bot(tg.token, base_url=tg.api_url) as bot:
        assert bot.username == "corpus_test_bot"
        update = tg.private_message(42, "/start now")
        [received] = await bot.get_updates(timeout=1)
        assert received.update_id == update["update_id"]
        assert received.message.text == "/start now"
        assert received.message.entities[0].type == "bot_command"
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("More", callback_data="more:1")]])
        sent = await bot.send_message(
            42, "<b>Answer</b> &lt;quoted&gt;", parse_mode="HTML", reply_markup=keyboard,
            reply_parameters=ReplyParameters(received.message.message_id),
        )
        assert sent.text == "Answer <quoted>"
        assert sent.entities[0].type == "bold" and sent.entities[0].length == 6
        assert sent.reply_to_message.text == "/start now"
        assert sent.reply_markup == keyboard
        assert sent.from_user.id == 123456 and sent.chat.id == 42
        call = tg.sent("sendMessage")[0]
        assert call.params["text"] == "<b>Answer</b> &lt;quoted&gt;"
        assert call.params["reply_markup"] == keyboard.to_dict()

        with pytest.raises(BadRequest, match="Message text is empty"):
            await bot.send_message(42, "  \n ")
        with pytest.raises(BadRequest, match="unsupported start tag"):
            await bot.send_message(42, "<script>x</script>", parse_mode="HTML")

        tg.callback_query(42, "more:1", sent.to_dict())
        [cq_update] = await bot.get_updates(offset=received.update_id + 1, timeout=1)
        query = cq_update.callback_query
        assert query.data == "more:1"
        assert query.message.reply_to_message.text == "/start now"
        assert await query.answer("ok") is True
        with pytest.raises(BadRequest, match=r"(?i)query is too old"):
            await query.answer("twice")
        edited = await query.edit_message_text("Edited", reply_markup=keyboard)
        assert edited.text == "Edited" and edited.edit_date is not None
        with pytest.raises(BadRequest, match="Message is not modified"):
            await query.edit_message_text("Edited", reply_markup=keyboard)
        assert (await bot.edit_message_reply_markup(42, sent.message_id)).reply_markup is None
        assert await bot.send_chat_action(42, "typing") is True
        assert await bot.delete_message(42, sent.message_id) is True
        with pytest.raises(BadRequest, match="Message to delete not found"):
            await bot.delete_message(42, sent.message_id)


async def test_ptb_invalid_token(tg: FakeTelegram) -> None:
    bot = Bot("654321:WRONG-token-abc", base_url=tg.api_url)
    with pytest.raises(InvalidToken):
        await bot.initialize()


# --- long polling ---------------------------------------------------------------------------------


def test_long_poll_wakes_up_on_push(tg: FakeTelegram) -> None:
    threading.Timer(0.2, tg.private_message, args=(1, "wake up")).start()
    start = time.monotonic()
    result = api(tg, "getUpdates", timeout=5).json()["result"]
    assert 0.15 < time.monotonic() - start < 2
    assert result[0]["message"]["text"] == "wake up"


def test_long_poll_timeout_offset_and_limit(tg: FakeTelegram) -> None:
    start = time.monotonic()
    assert api(tg, "getUpdates", timeout=0.3).json()["result"] == []
    assert time.monotonic() - start >= 0.28
    ids = [tg.private_message(5, f"m{i}")["update_id"] for i in range(3)]
    assert ids == sorted(ids) and len(set(ids)) == 3
    first = api(tg, "getUpdates", limit=2).json()["result"]
    assert [u["update_id"] for u in first] == ids[:2]
    again = api(tg, "getUpdates").json()["result"]  # unconfirmed updates come back
    assert [u["update_id"] for u in again] == ids
    rest = api(tg, "getUpdates", offset=ids[1] + 1).json()["result"]
    assert [u["update_id"] for u in rest] == ids[2:]
    assert api(tg, "getUpdates", offset=ids[2] + 1).json()["result"] == []
    assert tg.pending_updates() == []
    pushed = tg.push_update({"message": {"message_id": 1, "date": 1, "chat": {"id": 9, "type": "private"},
                                         "text": "raw"}})
    assert pushed["update_id"] == ids[2] + 1


def test_stop_wakes_blocked_long_poll() -> None:
    tg = FakeTelegram().start()
    outcome: list = []

    def poll() -> None:
        try:
            outcome.append(api(tg, "getUpdates", timeout=30).json())
        except httpx.HTTPError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=poll)
    thread.start()
    tg.wait_for(lambda: tg.calls or tg._poll_generation, timeout=5)
    time.sleep(0.05)
    start = time.monotonic()
    tg.stop()
    thread.join(5)
    assert not thread.is_alive() and time.monotonic() - start < 3
    assert not [t for t in threading.enumerate() if t.name.startswith("FakeTelegram")]


def test_newer_get_updates_terminates_older(tg: FakeTelegram) -> None:
    results: list = []
    thread = threading.Thread(target=lambda: results.append(api(tg, "getUpdates", timeout=5)))
    thread.start()
    tg.wait_for(lambda: tg._poll_generation >= 1, timeout=5)
    assert api(tg, "getUpdates", timeout=0).json()["result"] == []
    thread.join(5)
    assert error_of(results[0])[0] == 409


# --- validation -----------------------------------------------------------------------------------


def test_utf16_length_limit(tg: FakeTelegram) -> None:
    assert utf16_len("😀") == 2 and utf16_len("é") == 1
    assert api(tg, "sendMessage", chat_id=1, text="😀" * 2048).json()["ok"]
    assert error_of(api(tg, "sendMessage", chat_id=1, text="😀" * 2048 + "x")) == (
        400, "Bad Request: message is too long")
    # measured after entity parsing: tags and entity escapes do not count
    html = "<b>" + "&amp;" * 4096 + "</b>"
    assert api(tg, "sendMessage", chat_id=1, text=html, parse_mode="HTML").json()["ok"]
    assert error_of(api(tg, "sendMessage", chat_id=1, text="a" * 4097)) == (
        400, "Bad Request: message is too long")
    assert error_of(api(tg, "sendPhoto", chat_id=1, photo="AgAC-file", caption="c" * 1025)) == (
        400, "Bad Request: message caption is too long")


@pytest.mark.parametrize("text", ["", " ", "\n\t ", "<b> </b>"])
def test_empty_text(tg: FakeTelegram, text: str) -> None:
    assert error_of(api(tg, "sendMessage", chat_id=1, text=text, parse_mode="HTML")) == (
        400, "Bad Request: message text is empty")


@pytest.mark.parametrize("html", [
    "<b>bold</b> <strong>s</strong> <i>i</i> <em>e</em> <u>u</u> <ins>i</ins> <s>s</s> <strike>s</strike>",
    "<del>d</del> <span class=\"tg-spoiler\">sp</span> <tg-spoiler>sp</tg-spoiler>",
    "<a href=\"https://example.org/?a=1&amp;b=2\">link</a> <code>x &lt; y</code>",
    "<pre><code class=\"language-python\">print(1 &gt; 0)</code></pre>",
    "<blockquote>quote</blockquote>",
    "<blockquote expandable>long quote</blockquote>",
    "<b>bold <i>italic bold</i></b> &lt;b&gt; &quot;q&quot; &#169; &#x1F600;",
    "<tg-emoji emoji-id=\"5368324170671202286\">👍</tg-emoji>",
    "a > b",
    "<B>upper</B>",
])
def test_valid_html_accepted(tg: FakeTelegram, html: str) -> None:
    response = api(tg, "sendMessage", chat_id=1, text=html, parse_mode="HTML")
    assert response.json()["ok"], response.json()


@pytest.mark.parametrize(("html", "reason"), [
    ("<b>x", "Can't find end tag corresponding to start tag \"b\""),
    ("<b>x</i>", "Unmatched end tag at byte offset 4, expected \"</b>\", found \"</i>\""),
    ("x</b>", "Unexpected end tag at byte offset 1"),
    ("<script>alert(1)</script>", "Unsupported start tag \"script\" at byte offset 0"),
    ("<p>para</p>", "Unsupported start tag \"p\" at byte offset 0"),
    ("a < b", "Unsupported start tag \"\" at byte offset 2"),
    ("a <b", "Unclosed start tag at byte offset 2"),
    ("&foo; bar", "Unsupported HTML entity \"&foo;\" at byte offset 0"),
    ("fish & chips", "Character '&' is reserved"),
    ("<span>x</span>", "Tag \"span\" must have class \"tg-spoiler\""),
    ("<a href=\"x>y</a>", "Unclosed start tag at byte offset 0"),
    ("<a href=x/y>l</a>", "Unexpected end of name token at byte offset 8"),
    ("<blockquote foo>x</blockquote>", "Expected equal sign"),
])
def test_malformed_html_rejected(tg: FakeTelegram, html: str, reason: str) -> None:
    status, description = error_of(api(tg, "sendMessage", chat_id=1, text=html, parse_mode="HTML"))
    assert status == 400
    assert description.startswith("Bad Request: can't parse entities: ")
    assert reason in description


# Error messages exactly as in tdlib's own unit tests (td/test/message_entities.cpp); offsets are UTF-8 bytes.
@pytest.mark.parametrize(("html", "message"), [
    ("🏟 🏟&lt;<abacaba", "Unclosed start tag at byte offset 13"),
    ("🏟 🏟&lt;<abac aba>", 'Unsupported start tag "abac" at byte offset 13'),
    ("🏟 🏟&lt;<i   =aba>", 'Empty attribute name in the tag "i" at byte offset 13'),
    ("🏟 🏟&lt;<i    aba>", 'Expected equal sign in declaration of an attribute of the tag "i" at byte offset 13'),
    ("🏟 🏟&lt;<i    aba  =  ", 'Unclosed start tag "i" at byte offset 13'),
    ("🏟 🏟&lt;<i    aba  =  190azAz-.,", "Unexpected end of name token at byte offset 27"),
    ('🏟 🏟&lt;<i    aba  =  "&lt;&gt;&quot;>', "Unclosed start tag at byte offset 13"),
    ("🏟 🏟&lt;</", "Unexpected end tag at byte offset 13"),
    ("🏟 🏟&lt;<b></b></", "Unexpected end tag at byte offset 20"),
    ("🏟 🏟&lt;<i>a</i   ", "Unclosed end tag at byte offset 17"),
    ("🏟 🏟&lt;<i>a</em   >", 'Unmatched end tag at byte offset 17, expected "</i>", found "</em>"'),
    ("&#57311;", "Text contains invalid Unicode characters after decoding HTML entities, "
                 "check for unmatched surrogate code units"),
])
def test_html_errors_match_tdlib(html: str, message: str) -> None:
    with pytest.raises(ParseError) as info:
        check_html(html)
    assert str(info.value) == message


@pytest.mark.parametrize(("html", "text", "entities"), [
    ("🏟 🏟<i>🏟 &lt🏟</i>", "🏟 🏟🏟 <🏟", [("italic", 5, 6)]),
    ("🏟 🏟<i>🏟 &gt;<b aba   =   caba>&lt🏟</b></i>", "🏟 🏟🏟 ><🏟", [("italic", 5, 7), ("bold", 9, 3)]),
    ("🏟 🏟&lt;<i    aba  =  '&lt;&gt;&quot;'>a</>", "🏟 🏟<a", [("italic", 6, 1)]),
    ("🏟 🏟&lt;<i>a</    >", "🏟 🏟<a", [("italic", 6, 1)]),
    ("🏟 🏟&lt;<b></b>", "🏟 🏟<", []),
])
def test_html_parsing_matches_tdlib(html: str, text: str, entities: list) -> None:
    plain, found = check_html(html)
    assert plain == text
    assert [(e["type"], e["offset"], e["length"]) for e in found] == entities


def test_lenient_entities_like_real_telegram() -> None:
    # Real Telegram keeps unknown entities and bare '&' literally; the fake rejects them unless asked not to.
    assert check_html("&ge; AT&T", strict_entities=False)[0] == "&ge; AT&T"
    with FakeTelegram(strict_html_entities=False) as tg:
        assert api(tg, "sendMessage", chat_id=1, text="AT&T &foo;", parse_mode="HTML").json()["ok"]


@pytest.mark.parametrize(("markdown", "error"), [
    ("🏟 🏟_abacaba", "Can't find end of Italic entity at byte offset 9"),
    ("🏟 🏟_abac * asd ", "Can't find end of Bold entity at byte offset 15"),
    ("🏟 🏟`", "Can't find end of Code entity at byte offset 9"),
    ("[telegram\\.org](asd", "Can't find end of a URL at byte offset 16"),
    ("Done.", "Character '.' is reserved and must be escaped with the preceding '\\'"),
    ("1+1=2", "Character '+' is reserved and must be escaped with the preceding '\\'"),
])
def test_markdown_v2_errors(markdown: str, error: str) -> None:
    with pytest.raises(ParseError) as info:
        check_markdown_v2(markdown)
    assert str(info.value) == error


def test_html_entities_and_offsets() -> None:
    text, entities = check_html("😀 <b>bold</b> <a href='https://x.org'>l</a>")
    assert text == "😀 bold l"
    assert entities == [{"type": "bold", "offset": 3, "length": 4},
                        {"type": "text_link", "offset": 8, "length": 1, "url": "https://x.org"}]
    text, entities = check_html('<pre><code class="language-py">x</code></pre><blockquote expandable>q</blockquote>')
    assert entities == [{"type": "pre", "offset": 0, "length": 1, "language": "py"},
                        {"type": "expandable_blockquote", "offset": 1, "length": 1}]
    with pytest.raises(ApiError, match=r"Character '\.' is reserved"):
        parse_text("Hello.", "MarkdownV2")
    assert parse_text("*bold* and \\. _it_", "MarkdownV2") == (
        "bold and . it", [{"type": "bold", "offset": 0, "length": 4}, {"type": "italic", "offset": 11, "length": 2}])


def test_reply_markup_validation(tg: FakeTelegram) -> None:
    ok_markup = {"inline_keyboard": [[{"text": "b", "callback_data": "x" * 64}]]}
    assert api(tg, "sendMessage", chat_id=1, text="t", reply_markup=ok_markup).json()["ok"]
    long_markup = {"inline_keyboard": [[{"text": "b", "callback_data": "é" * 33}]]}  # 66 bytes
    assert error_of(api(tg, "sendMessage", chat_id=1, text="t", reply_markup=long_markup)) == (
        400, "Bad Request: BUTTON_DATA_INVALID")
    bad_json = api(tg, "sendMessage", chat_id=1, text="t", reply_markup="{not json")
    assert error_of(bad_json) == (400, "Bad Request: can't parse reply keyboard markup JSON object")
    assert error_of(api(tg, "sendMessage", chat_id=1, text="t", reply_parameters={"message_id": 999})) == (
        400, "Bad Request: message to be replied not found")


def test_inline_query_answer_validation(tg: FakeTelegram) -> None:
    query_id = tg.inline_query(3, "question")["inline_query"]["id"]
    bad = [{"type": "article", "id": "1", "title": "T",
            "input_message_content": {"message_text": "<b>oops", "parse_mode": "HTML"}}]
    status, description = error_of(api(tg, "answerInlineQuery", inline_query_id=query_id, results=bad))
    assert status == 400 and description.startswith("Bad Request: can't parse entities")
    good = [{"type": "article", "id": "1", "title": "T",
             "input_message_content": {"message_text": "<b>fine</b>", "parse_mode": "HTML"}}]
    assert api(tg, "answerInlineQuery", inline_query_id=query_id, results=good).json()["ok"]


def test_blocked_user_and_bad_params(tg: FakeTelegram) -> None:
    tg.block(99)
    assert error_of(api(tg, "sendMessage", chat_id=99, text="hi")) == (403, "Forbidden: bot was blocked by the user")
    tg.unblock(99)
    assert api(tg, "sendMessage", chat_id=99, text="hi").json()["ok"]
    assert error_of(api(tg, "sendMessage", text="hi")) == (400, "Bad Request: chat_id is empty")
    assert error_of(api(tg, "sendChatAction", chat_id=1, action="dancing"))[0] == 400
    assert error_of(api(tg, "getChatMember", chat_id=1, user_id="x"))[0] == 400  # malformed -> 400, not a crash
    assert error_of(api(tg, "editMessageText", chat_id=1, message_id=77, text="x")) == (
        400, "Bad Request: message to edit not found")


# --- builders -------------------------------------------------------------------------------------


def test_group_message_entities_in_utf16() -> None:
    with FakeTelegram() as tg:
        update = tg.group_message(-100, 7, "😀 /ask@corpus_test_bot what? @corpus_test_bot")
        msg = update["message"]
        assert msg["chat"] == {"id": -100, "type": "group", "title": msg["chat"]["title"]}
        assert msg["entities"] == [{"type": "bot_command", "offset": 3, "length": 20},
                                   {"type": "mention", "offset": 30, "length": 16}]
        second = tg.group_message(-100, 8, "reply", reply_to=msg)["message"]
        assert second["message_id"] == msg["message_id"] + 1
        assert second["reply_to_message"]["text"] == msg["text"]
        assert "entities" not in tg.group_message(-100, 7, "no/cmd here and a@b")["message"]
        edited = tg.edited_message(update, "/ask again")["edited_message"]
        assert edited["message_id"] == msg["message_id"] and edited["edit_date"] >= msg["date"]
        post = tg.channel_post(-1001234567890, "news")["channel_post"]
        assert post["chat"]["type"] == "channel" and "from" not in post
        assert tg.photo_message(7, caption="/cmd")["message"]["caption_entities"][0]["type"] == "bot_command"
        assert tg.sticker_message(7)["message"]["sticker"]["emoji"]
        assert tg.voice_message(7)["message"]["voice"]["mime_type"] == "audio/ogg"
        assert tg.inline_query(7, "q")["inline_query"]["query"] == "q"


# --- faults ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("fault", "status", "description"), [
    ("500", 500, "Internal Server Error"),
    ("429", 429, "Too Many Requests: retry after 1"),
    ("403", 403, "Forbidden: bot was blocked by the user"),
    ("migrate", 400, "Bad Request: group chat was upgraded to a supergroup chat"),
    ("parse", 400, "Bad Request: can't parse entities: "),
    ("409", 409, "Conflict: terminated by other getUpdates request"),
])
def test_json_faults(tg: FakeTelegram, fault: str, status: int, description: str) -> None:
    tg.fail_next("sendmessage", fault)
    response = api(tg, "sendMessage", chat_id=-55, text="hi")
    code, desc = error_of(response)
    assert code == status and desc.startswith(description)
    if fault == "429":
        assert response.json()["parameters"] == {"retry_after": 1}
    if fault == "migrate":
        assert response.json()["parameters"]["migrate_to_chat_id"] < -10**12
    assert api(tg, "sendMessage", chat_id=-55, text="hi").json()["ok"]  # only once
    assert [c.fault for c in tg.calls] == [fault, None]
    assert len(tg.sent("sendMessage")) == 1 and len(tg.failed("sendMessage")) == 1


def test_502_drop_slow_and_times(tg: FakeTelegram) -> None:
    tg.fail_next("sendMessage", "502", times=2)
    for _ in range(2):
        response = api(tg, "sendMessage", chat_id=1, text="x")
        assert response.status_code == 502 and "<html>" in response.text
    tg.fail_next("sendMessage", "drop")
    with pytest.raises(httpx.RemoteProtocolError):
        api(tg, "sendMessage", chat_id=1, text="dropped")
    tg.fail_next("sendMessage", "drop_after")
    with pytest.raises(httpx.RemoteProtocolError):
        api(tg, "sendMessage", chat_id=1, text="delivered")
    assert [m["text"] for m in tg.messages(1)] == ["delivered"]
    tg.fail_next("*", "slow", seconds=0.3)
    start = time.monotonic()
    assert api(tg, "sendChatAction", chat_id=1, action="typing").json()["ok"]
    assert time.monotonic() - start >= 0.28
    assert [c.fault for c in tg.calls] == ["502", "502", "drop", "drop_after", "slow"]


async def test_faults_seen_by_ptb(tg: FakeTelegram) -> None:
    async with Bot(tg.token, base_url=tg.api_url) as bot:
        expected = {"500": NetworkError, "502": NetworkError, "429": RetryAfter, "403": Forbidden,
                    "migrate": ChatMigrated, "parse": BadRequest, "drop": NetworkError}
        for fault, exc in expected.items():
            tg.fail_next("sendMessage", fault)
            with pytest.raises(exc):
                await bot.send_message(-1, "x")
        tg.fail_next("getUpdates", "409")
        with pytest.raises(Conflict):
            await bot.get_updates(timeout=0)
    assert tg.sent("sendMessage") == []


# --- waiting --------------------------------------------------------------------------------------


def test_wait_for(tg: FakeTelegram) -> None:
    threading.Timer(0.1, api, args=(tg, "sendMessage"), kwargs={"chat_id": 4, "text": "late"}).start()
    [call] = tg.wait_for("sendMessage", chat_id=4, timeout=5)
    assert call.result["text"] == "late"
    assert tg.wait_for(1) == [call]
    assert tg.wait_for(lambda: tg.messages(4)) == tg.messages(4)
    with pytest.raises(AssertionError, match="timed out") as info:
        tg.wait_for("sendMessage", count=2, timeout=0.2)
    assert "late" in str(info.value)


async def test_wait_for_async_and_loop_guard(tg: FakeTelegram) -> None:
    with pytest.raises(RuntimeError, match="wait_for_async"):
        tg.wait_for("sendMessage", timeout=0.1)
    async with Bot(tg.token, base_url=tg.api_url) as bot:
        await bot.send_message(8, "async")
    calls = await tg.wait_for_async("sendMessage", text=lambda t: "sync" in t, timeout=2)
    assert calls[0].params["chat_id"] == 8


# --- a whole python-telegram-bot Application ------------------------------------------------------


async def test_application_end_to_end(tg: FakeTelegram) -> None:
    app = ApplicationBuilder().token(tg.token).base_url(tg.api_url).base_file_url(tg.file_url).build()

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("More", callback_data="more")]])
        await update.effective_message.reply_html("<b>Hello</b>", reply_markup=keyboard)

    async def more(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.callback_query.answer()
        await update.callback_query.edit_message_text("More!")

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.effective_message.reply_text(f"echo {update.effective_message.text}")

    async def inline(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.inline_query.answer([InlineQueryResultArticle(
            "1", "title", InputTextMessageContent("<i>answer</i>", parse_mode="HTML"))])

    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(more))
    app.add_handler(InlineQueryHandler(inline))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    async with app:
        await app.start()
        await app.updater.start_polling(poll_interval=0, timeout=1)
        tg.private_message(42, "/start")
        tg.group_message(-500, 7, "/start@other_bot")  # addressed to another bot: ignored
        tg.group_message(-500, 7, "/start@corpus_test_bot")
        [hello] = await tg.wait_for_async("sendMessage", chat_id=42)
        [group_hello] = await tg.wait_for_async("sendMessage", chat_id=-500)
        assert group_hello.result["reply_to_message"]["text"] == "/start@corpus_test_bot"
        tg.callback_query(42, "more", hello)
        [edit] = await tg.wait_for_async("editMessageText")
        assert edit.result["text"] == "More!" and "reply_markup" not in edit.result
        tg.private_message(42, "what is 😀?")
        await tg.wait_for_async("sendMessage", text="echo what is 😀?")
        tg.inline_query(42, "q")
        await tg.wait_for_async("answerInlineQuery")
        await app.updater.stop()
        await app.stop()
    assert len(tg.sent("sendMessage", chat_id=-500)) == 1
    assert tg.failed() == [c for c in tg.failed() if c.method == "getUpdates"]


async def test_migration_files_and_fast_retry_after(tg: FakeTelegram) -> None:
    async with Bot(tg.token, base_url=tg.api_url, base_file_url=tg.file_url) as bot:
        tg.group_message(-77, 5, "hello group")
        new_id = tg.migrate_chat(-77)
        updates = await bot.get_updates()
        assert [u.message.migrate_to_chat_id for u in updates] == [None, new_id, None]
        assert updates[2].message.migrate_from_chat_id == -77
        with pytest.raises(ChatMigrated) as info:
            await bot.send_message(-77, "still there?")
        assert info.value.new_chat_id == new_id
        assert (await bot.send_message(new_id, "moved")).chat.type == "supergroup"
        assert (await bot.get_chat(new_id)).title == "Test group -77"

        photo = tg.photo_message(5)["message"]["photo"][-1]
        file = await bot.get_file(photo["file_id"])
        assert len(await file.download_as_bytearray()) > 0

        tg.fail_next("sendMessage", "429", retry_after=0.1)
        with pytest.raises(RetryAfter) as retry:
            await bot.send_message(1, "x")
        assert retry.value._retry_after.total_seconds() == 0.1


def test_inline_button_validation(tg: FakeTelegram) -> None:
    query_id = tg.inline_query(3, "")["inline_query"]["id"]
    bad = api(tg, "answerInlineQuery", inline_query_id=query_id, results=[],
              button={"text": "Help", "start_parameter": "has space"})
    assert error_of(bad) == (400, "Bad Request: START_PARAM_INVALID")
    assert api(tg, "answerInlineQuery", inline_query_id=query_id, results=[],
               button={"text": "Help", "start_parameter": "inline"}).json()["ok"]
    again = api(tg, "answerInlineQuery", inline_query_id=query_id, results=[])
    assert "query is too old" in error_of(again)[1]


def test_concurrent_sends_get_distinct_message_ids(tg: FakeTelegram) -> None:
    tg.private_message(11, "hi")
    results: list[httpx.Response] = []
    lock = threading.Lock()

    def send(i: int) -> None:
        response = api(tg, "sendMessage", chat_id=11, text=f"answer {i}")
        with lock:
            results.append(response)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    ids = sorted(r.json()["result"]["message_id"] for r in results)
    assert ids == list(range(2, 32))  # message 1 is the user's
    assert len(tg.wait_for("sendMessage", count=30, chat_id=11)) == 30
    assert [m["message_id"] for m in tg.messages(11)] == list(range(1, 32))
