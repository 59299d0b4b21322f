"""A fake Telegram Bot API server for end-to-end tests.

``FakeTelegram`` is a real HTTP server on ``127.0.0.1`` (random free port),
running :class:`http.server.ThreadingHTTPServer` in a background daemon
thread, so it works with any event loop (or none).  It never touches the
internet.  It speaks the same wire protocol as ``api.telegram.org``: the bot
calls ``{base_url}/bot{token}/{method}`` (method names are case-insensitive)
with query-string, ``application/x-www-form-urlencoded``,
``multipart/form-data`` (what python-telegram-bot's ``HTTPXRequest`` sends;
complex fields such as ``reply_markup`` are JSON strings inside the form) or
``application/json`` bodies, and gets ``{"ok": true, "result": ...}`` or
``{"ok": false, "error_code": N, "description": "..."}`` back.

Usage with python-telegram-bot::

    from telegram.ext import ApplicationBuilder
    from fake_telegram import FakeTelegram

    async def test_answers_question():
        with FakeTelegram() as tg:
            app = (ApplicationBuilder().token(tg.token)
                   .base_url(tg.api_url).base_file_url(tg.file_url).build())
            ...  # add handlers
            async with app:
                await app.start()
                await app.updater.start_polling(poll_interval=0, timeout=1)
                tg.private_message(42, "/start")
                calls = await tg.wait_for_async("sendMessage", chat_id=42)
                assert "Hello" in calls[0].params["text"]
                await app.updater.stop()
                await app.stop()

(``telegram.Bot(tg.token, base_url=tg.api_url, base_file_url=tg.file_url)``
works the same way; ``tg.api_url == f"{tg.base_url}/bot"``.  Always pass
``base_file_url`` too: without it PTB downloads files from api.telegram.org.)
Under pytest, ``tests/`` is on ``sys.path`` (no ``__init__.py``), so import
it as ``from fake_telegram import FakeTelegram``.

IMPORTANT: when the bot runs in the *same* event loop as the test, use
``await tg.wait_for_async(...)``; the blocking ``tg.wait_for(...)`` would
freeze the loop the bot needs (it raises ``RuntimeError`` if called from a
running event loop for that reason).  ``wait_for`` is for bots running in
another thread/process.

What the fake does
------------------
* ``getMe`` returns the bot user (id 123456, ``@corpus_test_bot``).  A request
  with a wrong token gets HTTP 401 ``Unauthorized`` (PTB raises
  ``InvalidToken``); an unknown method gets 404 ``Not Found``.
* ``getUpdates`` long-polls: honours ``offset`` (updates with
  ``update_id < offset`` are confirmed and dropped; negative offsets as in
  Telegram), ``limit``, ``timeout`` (blocks, wakes as soon as an update is
  pushed, returns ``[]`` on timeout) and ``allowed_updates``.  A newer
  ``getUpdates`` terminates an older pending one with 409 ``Conflict``, and
  ``getUpdates`` while a webhook is set gets 409 as in Telegram.
  ``deleteWebhook(drop_pending_updates=True)`` drops pending updates.
* Update builders push realistic updates and return the update dict:
  :meth:`FakeTelegram.private_message`, :meth:`~FakeTelegram.group_message`,
  :meth:`~FakeTelegram.edited_message`, :meth:`~FakeTelegram.channel_post`,
  :meth:`~FakeTelegram.photo_message`, :meth:`~FakeTelegram.sticker_message`,
  :meth:`~FakeTelegram.voice_message`, :meth:`~FakeTelegram.callback_query`,
  :meth:`~FakeTelegram.inline_query`.  Text gets ``bot_command`` /
  ``mention`` / ``hashtag`` / ``url`` entities computed like Telegram does
  (offsets in UTF-16 code units), so PTB's ``CommandHandler`` and filters work.
  ``push_update(dict)`` pushes a hand-made update (assigns ``update_id``).
* Sending methods (``sendMessage``, ``editMessageText``,
  ``editMessageReplyMarkup``, ``deleteMessage``, ``answerCallbackQuery``,
  ``answerInlineQuery``, ``sendChatAction``, ``sendPhoto`` and other media
  methods, ...) are validated like Telegram (400 ``Bad Request: ...`` with
  Telegram's descriptions: empty text, text over 4096 UTF-16 code units after
  entity parsing, caption over 1024, malformed ``parse_mode="HTML"`` (strict
  tag stack, only Telegram's tags), malformed ``MarkdownV2`` (unescaped
  reserved characters, unclosed markers), ``BUTTON_DATA_INVALID`` for
  ``callback_data`` over 64 UTF-8 bytes, unparsable ``reply_markup``,
  unknown reply target, "message is not modified", ...) and answered with
  realistic objects (a full ``Message`` for sends and edits, including
  ``reply_to_message`` and the echoed inline keyboard).  With
  ``parse_mode="HTML"`` the returned/recorded message ``text`` is the plain
  text with ``entities``, as Telegram returns it; the raw HTML is in
  ``call.params["text"]``.
* Every request is recorded as a :class:`Call` in ``tg.calls`` (including
  ``getUpdates`` and failed/faulted calls).  ``tg.sent(method)`` returns the
  successful calls of one method; ``tg.failed()`` the failed ones.
  ``tg.messages(chat_id)`` is the current state of messages in a chat.
* Fault injection: ``tg.fail_next(method, fault, times=1, ...)`` with fault in
  ``"500" "502" "429" "403" "409" "migrate" "parse" "drop" "drop_after"
  "slow"`` (see :meth:`FakeTelegram.fail_next`).  ``method="*"`` matches any
  method except ``getUpdates``.  Lasting states: ``tg.block(user_id)`` (403
  "bot was blocked by the user" until ``unblock``) and
  ``tg.migrate_chat(group_id)`` (the group became a supergroup: every later
  call to the old id gets the migrate error; service messages are pushed).
* ``tg.calls`` is a snapshot list in *completion* order (a long poll appears
  when it returns); a :class:`Call` never changes once it is in the list.
  ``call.time`` is the arrival time.
* Deliberate differences from Telegram: unknown HTML entities (``&foo;``) and
  a bare ``&`` are rejected (Telegram keeps them literally) so that
  un-escaped text is caught -- ``FakeTelegram(strict_html_entities=False)``
  behaves like Telegram; unknown chats are created on first use instead of
  "chat not found"; webhooks are accepted by ``setWebhook`` but updates are
  only delivered through ``getUpdates``; no flood limits unless injected.

Thread safety: all state is guarded by one lock/condition; public methods
may be called from any thread.  ``stop()`` (or leaving the ``with`` block)
wakes blocked long polls, shuts the server down and joins its threads.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import copy
import email.parser
import email.policy
import itertools
import json
import re
import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

__all__ = [
    "ApiError",
    "Call",
    "FakeTelegram",
    "Upload",
    "check_html",
    "check_markdown_v2",
    "parse_text",
    "utf16_len",
]

DEFAULT_TOKEN = "123456:TEST-token-abcdefghijklmnopqrstuvwxyz"
BOT_ID = 123456
BOT_USERNAME = "corpus_test_bot"
MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64

FAULTS = ("500", "502", "429", "403", "409", "migrate", "parse", "drop", "drop_after", "slow")

NGINX_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n"
    "</body>\r\n</html>\r\n"
)

# Update types Telegram delivers when allowed_updates was never specified.
_DEFAULT_EXCLUDED_UPDATES = {"chat_member", "message_reaction", "message_reaction_count"}

CHAT_ACTIONS = {
    "typing", "upload_photo", "record_video", "upload_video", "record_voice",
    "upload_voice", "upload_document", "choose_sticker", "find_location",
    "record_video_note", "upload_video_note",
}


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units (what Telegram counts)."""
    return len(text.encode("utf-16-le")) // 2


class ApiError(Exception):
    """An error answer of the Bot API (raised inside method handlers)."""

    def __init__(self, code: int, description: str, parameters: dict | None = None):
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def payload(self) -> dict:
        body: dict[str, Any] = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(what: str) -> ApiError:
    return ApiError(400, f"Bad Request: {what}")


@dataclass(frozen=True)
class Upload:
    """A file uploaded in a multipart request (appears as a value in ``Call.params``)."""

    name: str
    filename: str | None
    content_type: str | None
    data: bytes

    def __repr__(self) -> str:  # keep dumps short
        return f"Upload({self.name!r}, {self.filename!r}, {len(self.data)} bytes)"


@dataclass
class Call:
    """One request received by the fake.

    ``method`` is the canonical Bot API name (``"sendMessage"``) whatever case
    the client used; ``params`` the decoded parameters (JSON-encoded form
    fields decoded, numbers as ``int``); ``time`` is ``time.time()`` at
    arrival.  ``ok``/``status``/``result``/``error`` describe the answer;
    ``fault`` names the injected fault, if any.
    """

    method: str
    params: dict
    time: float
    fault: str | None = None
    status: int | None = None
    ok: bool = False
    result: Any = None
    error: str | None = None

    def __repr__(self) -> str:
        params = dict(self.params)
        text = repr(params)
        if len(text) > 300:
            text = text[:300] + "...}"
        extra = f", fault={self.fault!r}" if self.fault else ""
        outcome = "ok" if self.ok else f"{self.status} {self.error!r}"
        return f"Call({self.method}, {text}, {outcome}{extra})"


@dataclass
class _Fault:
    kind: str
    retry_after: float = 1
    seconds: float = 1.0
    migrate_to_chat_id: int | None = None


# ---------------------------------------------------------------------------
# Text parsing / validation
# ---------------------------------------------------------------------------

_HTML_TAGS = {
    "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span",
    "tg-spoiler", "a", "code", "pre", "blockquote", "tg-emoji",
}
_TAG_ENTITY = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic",
    "u": "underline", "ins": "underline", "s": "strikethrough",
    "strike": "strikethrough", "del": "strikethrough", "span": "spoiler",
    "tg-spoiler": "spoiler", "a": "text_link", "code": "code", "pre": "pre",
    "blockquote": "blockquote", "tg-emoji": "custom_emoji",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_SPACE = " \t\n\r\f\v"
# Characters Telegram strips from both ends of a message text.
_STRIP_CHARS = "".join(
    chr(c) for c in range(0x10000) if chr(c).isspace()
) + "\u200b\u200c\u200d\u2060\ufeff\u2800\u3164"


class ParseError(Exception):
    pass


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


class _Out:
    """Accumulates plain text and tracks its UTF-16 length."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0

    def add(self, s: str) -> None:
        self.parts.append(s)
        self.length += utf16_len(s)

    def text(self) -> str:
        return "".join(self.parts)


def check_html(text: str, *, strict_entities: bool = True) -> tuple[str, list[dict]]:
    """Parse Telegram-HTML ``text`` strictly, like Telegram's server.

    Returns ``(plain_text, entities)`` (entity offsets in UTF-16 code units).
    Raises :class:`ParseError` with Telegram's wording (without the
    ``"Bad Request: can't parse entities: "`` prefix) on malformed input:
    unsupported tags, unclosed/mismatched/unexpected tags, a bare ``<``,
    unknown named entities such as ``&foo;`` and (``strict_entities``) a bare
    ``&``.  Telegram itself passes unknown ``&name;`` through literally; the
    fake is stricter so that un-escaped user text is caught in tests.
    """
    out = _Out()
    stack: list[dict] = []
    entities: list[dict] = []
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c == "&":
            decoded, j = _decode_entity(text, i)
            if decoded is None:
                m = re.match(r"&#?[A-Za-z0-9]+;", text[i:])
                if m and strict_entities:
                    raise ParseError(
                        f'Unsupported HTML entity "{m.group(0)}" at byte offset {_byte_offset(text, i)}'
                    )
                if strict_entities:
                    raise ParseError(
                        "Character '&' is reserved and must be escaped as \"&amp;\" "
                        f"at byte offset {_byte_offset(text, i)}"
                    )
                out.add("&")
                i += 1
                continue
            out.add(decoded)
            i = j
            continue
        if c != "<":
            j = i
            while j < n and text[j] not in "<&":
                j += 1
            out.add(text[i:j])
            i = j
            continue
        begin = i
        i += 1
        if i < n and text[i] == "/":
            # end tag
            if not stack:
                raise ParseError(f"Unexpected end tag at byte offset {_byte_offset(text, begin)}")
            i += 1
            j = i
            while j < n and text[j] not in _SPACE and text[j] != ">":
                j += 1
            name = text[i:j].lower()
            while j < n and text[j] in _SPACE:
                j += 1
            if j >= n or text[j] != ">":
                raise ParseError(f"Unclosed end tag at byte offset {_byte_offset(text, begin)}")
            top = stack[-1]
            if name and name != top["tag"]:
                raise ParseError(
                    f"Unmatched end tag at byte offset {_byte_offset(text, begin)}, "
                    f'expected "</{top["tag"]}>", found "</{name}>"'
                )
            stack.pop()
            i = j + 1
            ent = _make_entity(top, out.length)
            if ent is not None:
                entities.append(ent)
            continue
        # start tag
        j = i
        while j < n and text[j] not in _SPACE and text[j] != ">":
            j += 1
        if j >= n:
            raise ParseError(f"Unclosed start tag at byte offset {_byte_offset(text, begin)}")
        name = text[i:j].lower()
        if name not in _HTML_TAGS:
            raise ParseError(f'Unsupported start tag "{name}" at byte offset {_byte_offset(text, begin)}')
        attrs: dict[str, str] = {}
        i = j
        while True:
            while i < n and text[i] in _SPACE:
                i += 1
            if i >= n:
                raise ParseError(f"Unclosed start tag at byte offset {_byte_offset(text, begin)}")
            if text[i] == ">":
                i += 1
                break
            j = i
            while j < n and text[j] not in _SPACE and text[j] not in "=>/\"'":
                j += 1
            attr = text[i:j].lower()
            if not attr:
                raise ParseError(
                    f'Empty attribute name in the tag "{name}" at byte offset {_byte_offset(text, begin)}'
                )
            i = j
            while i < n and text[i] in _SPACE:
                i += 1
            if i >= n or text[i] != "=":
                if name == "blockquote" and attr == "expandable":
                    attrs["expandable"] = ""
                    continue
                raise ParseError(
                    f'Expected equal sign in declaration of an attribute of the tag "{name}" '
                    f"at byte offset {_byte_offset(text, begin)}"
                )
            i += 1
            while i < n and text[i] in _SPACE:
                i += 1
            if i >= n:
                raise ParseError(f'Unclosed start tag "{name}" at byte offset {_byte_offset(text, begin)}')
            if text[i] in "\"'":
                quote = text[i]
                j = text.find(quote, i + 1)
                if j < 0:
                    raise ParseError(f"Unclosed start tag at byte offset {_byte_offset(text, begin)}")
                value = _decode_attr(text[i + 1 : j])
                i = j + 1
            else:
                # unquoted values are "name tokens": letters, digits, '.', '-' only
                j = i
                while j < n and ((text[j].isascii() and text[j].isalnum()) or text[j] in ".-"):
                    j += 1
                value = text[i:j].lower()
                if j >= n or (text[j] not in _SPACE and text[j] != ">"):
                    raise ParseError(f"Unexpected end of name token at byte offset {_byte_offset(text, i)}")
                i = j
            attrs[attr] = value
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise ParseError(
                f'Tag "span" must have class "tg-spoiler" at byte offset {_byte_offset(text, begin)}'
            )
        if name == "tg-emoji" and not re.fullmatch(r"\d+", attrs.get("emoji-id", "")):
            raise ParseError(
                f'Tag "tg-emoji" must have attribute "emoji-id" with a valid custom emoji identifier '
                f"at byte offset {_byte_offset(text, begin)}"
            )
        if name == "a" and "href" not in attrs:
            # Telegram accepts <a> without href; it just produces no entity.
            pass
        stack.append({"tag": name, "attrs": attrs, "offset": out.length, "parent": stack[-1]["tag"] if stack else None})
    if stack:
        raise ParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1]["tag"]}"')
    return out.text(), _merge_pre_code(entities)


def _decode_entity(text: str, i: int) -> tuple[str | None, int]:
    m = _ENTITY_RE.match(text, i)
    if not m:
        return None, i
    if m.group(3):
        return _NAMED_ENTITIES[m.group(3)], m.end()
    code = int(m.group(1), 10) if m.group(1) else int(m.group(2), 16)
    if 0xD800 <= code <= 0xDFFF:
        raise ParseError("Text contains invalid Unicode characters after decoding HTML entities, "
                         "check for unmatched surrogate code units")
    if code == 0 or code > 0x10FFFF:
        return None, i
    return chr(code), m.end()


_ENTITY_RE = re.compile(
    r"&#([0-9]{1,9})(?![0-9]);?|&#[xX]([0-9a-fA-F]{1,8})(?![0-9a-fA-F]);?|&(lt|gt|amp|quot)(?![A-Za-z0-9]);?"
)


def _decode_attr(raw: str) -> str:
    out = []
    i = 0
    while i < len(raw):
        if raw[i] == "&":
            decoded, j = _decode_entity(raw, i)
            if decoded is not None:
                out.append(decoded)
                i = j
                continue
        out.append(raw[i])
        i += 1
    return "".join(out)


def _make_entity(open_tag: dict, end: int) -> dict | None:
    start = open_tag["offset"]
    if end <= start:
        return None
    tag = open_tag["tag"]
    attrs = open_tag["attrs"]
    etype = _TAG_ENTITY[tag]
    ent: dict[str, Any] = {"type": etype, "offset": start, "length": end - start}
    if tag == "a":
        href = attrs.get("href")
        if not href:
            return None
        m = re.fullmatch(r"tg://user\?id=(\d+)", href)
        if m:
            ent = {"type": "text_mention", "offset": start, "length": end - start,
                   "user": {"id": int(m.group(1)), "is_bot": False, "first_name": "User"}}
        else:
            ent["url"] = href
    elif tag == "blockquote" and "expandable" in attrs:
        ent["type"] = "expandable_blockquote"
    elif tag == "tg-emoji":
        ent["custom_emoji_id"] = attrs["emoji-id"]
    elif tag == "code":
        lang = attrs.get("class", "")
        if open_tag["parent"] == "pre" and lang.startswith("language-"):
            ent["_language"] = lang[len("language-"):]
    return ent


def _merge_pre_code(entities: list[dict]) -> list[dict]:
    """<pre><code class="language-x">..</code></pre> becomes one pre entity with language."""
    result = []
    for ent in entities:
        lang = ent.pop("_language", None)
        if lang is not None:
            for other in entities:
                if (other["type"] == "pre" and other["offset"] == ent["offset"]
                        and other["length"] == ent["length"]):
                    other["language"] = lang
                    break
            continue
        result.append(ent)
    result.sort(key=lambda e: (e["offset"], -e["length"]))
    return result


_MD2_RESERVED = set("_*[]()~`>#+-=|{}.!")


def _read_until(text: str, j: int, end: str, escapable: str | None = None) -> tuple[str, int]:
    """The text from `j` up to the character `end`, with backslash escapes resolved (only of the
    characters in `escapable`, or of any character when None), and where `end` stands (len(text)
    when it never comes)."""
    n, buf = len(text), []
    while j < n and text[j] != end:
        if text[j] == "\\" and j + 1 < n and (escapable is None or text[j + 1] in escapable):
            buf.append(text[j + 1])
            j += 2
            continue
        buf.append(text[j])
        j += 1
    return "".join(buf), j


def check_markdown_v2(text: str) -> tuple[str, list[dict]]:
    """Parse MarkdownV2 like Telegram; returns ``(plain_text, entities)``.

    Raises :class:`ParseError` with Telegram's messages for unescaped
    reserved characters and unclosed entities.
    """
    out = _Out()
    stack: list[tuple[str, int, int]] = []  # (marker, utf16 offset, index in text)
    entities: list[dict] = []
    i = 0
    n = len(text)

    def _reserved(ch: str) -> ParseError:
        return ParseError(f"Character '{ch}' is reserved and must be escaped with the preceding '\\'")

    while i < n:
        c = text[i]
        if c == "\\":
            if i + 1 < n and 1 <= ord(text[i + 1]) <= 126:
                out.add(text[i + 1])
                i += 2
                continue
            out.add(c)
            i += 1
            continue
        if c == "`":
            if text.startswith("```", i):
                end = text.find("```", i + 3)
                if end < 0:
                    raise ParseError(f"Can't find end of Pre entity at byte offset {_byte_offset(text, i)}")
                body = text[i + 3 : end]
                lang = None
                if "\n" in body:
                    first, rest = body.split("\n", 1)
                    if first and " " not in first:
                        lang, body = first, rest
                body = re.sub(r"\\([`\\])", r"\1", body)
                start = out.length
                out.add(body)
                ent = {"type": "pre", "offset": start, "length": out.length - start}
                if lang:
                    ent["language"] = lang
                if ent["length"]:
                    entities.append(ent)
                i = end + 3
                continue
            buf, j = _read_until(text, i + 1, "`", escapable="`\\")
            if j >= n:
                raise ParseError(f"Can't find end of Code entity at byte offset {_byte_offset(text, i)}")
            start = out.length
            out.add(buf)
            if out.length > start:
                entities.append({"type": "code", "offset": start, "length": out.length - start})
            i = j + 1
            continue
        marker = None
        if text.startswith("__", i):
            marker = "__"
        elif text.startswith("||", i):
            marker = "||"
        elif c in "*_~":
            marker = c
        if marker is not None:
            if stack and stack[-1][0] == marker:
                _, start, _ = stack.pop()
                if out.length > start:
                    etype = {"*": "bold", "_": "italic", "__": "underline", "~": "strikethrough",
                             "||": "spoiler"}[marker]
                    entities.append({"type": etype, "offset": start, "length": out.length - start})
            else:
                stack.append((marker, out.length, i))
            i += len(marker)
            continue
        if c == "[":
            stack.append(("[", out.length, i))
            i += 1
            continue
        if c == "]" and stack and stack[-1][0] == "[":
            _, start, begin = stack.pop()
            if i + 1 < n and text[i + 1] == "(":
                url, j = _read_until(text, i + 2, ")")
                if j >= n:
                    raise ParseError(f"Can't find end of a URL at byte offset {_byte_offset(text, i + 2)}")
                if out.length > start:
                    entities.append({"type": "text_link", "offset": start, "length": out.length - start,
                                     "url": url})
                i = j + 1
                continue
            i += 1
            continue
        if c == ">" and (i == 0 or text[i - 1] == "\n"):
            # blockquote line marker; entity creation is not modelled precisely
            i += 1
            continue
        if c in _MD2_RESERVED:
            raise _reserved(c)
        j = i
        while j < n and text[j] not in _MD2_RESERVED and text[j] != "\\" and text[j] != "|":
            j += 1
        if j == i:
            # a lone '|' (not '||') is reserved
            raise _reserved(c)
        out.add(text[i:j])
        i = j
    if stack:
        marker, _, begin = stack[-1]
        names = {"*": "Bold", "_": "Italic", "__": "Underline", "~": "Strikethrough",
                 "||": "Spoiler", "[": "TextUrl"}
        raise ParseError(
            f"Can't find end of {names[marker]} entity at byte offset {_byte_offset(text, begin)}"
        )
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return out.text(), entities


def _strip(text: str, entities: list[dict]) -> tuple[str, list[dict]]:
    """Strip leading/trailing blank characters like Telegram, shifting entities."""
    stripped_left = text.lstrip(_STRIP_CHARS)
    shift = utf16_len(text) - utf16_len(stripped_left)
    result = stripped_left.rstrip(_STRIP_CHARS)
    total = utf16_len(result)
    fixed = []
    for ent in entities:
        start = max(ent["offset"] - shift, 0)
        end = min(ent["offset"] + ent["length"] - shift, total)
        if end > start:
            e = dict(ent)
            e["offset"], e["length"] = start, end - start
            fixed.append(e)
    return result, fixed


def parse_text(
    text: Any,
    parse_mode: str | None,
    *,
    limit: int = MAX_TEXT_LENGTH,
    what: str = "text",
    strict_entities: bool = True,
) -> tuple[str, list[dict]]:
    """Validate a message text/caption like Telegram; returns ``(plain_text, entities)``.

    Raises :class:`ApiError` (400) with Telegram's descriptions.
    """
    if text is None:
        text = ""
    if not isinstance(text, str):
        text = str(text)
    mode = (parse_mode or "").lower()
    try:
        if mode == "html":
            plain, entities = check_html(text, strict_entities=strict_entities)
        elif mode == "markdownv2":
            plain, entities = check_markdown_v2(text)
        elif mode in ("", "none"):
            plain, entities = text, []
        elif mode == "markdown":
            plain, entities = _legacy_markdown(text)
        else:
            raise bad_request("unsupported parse_mode")
    except ParseError as exc:
        raise bad_request(f"can't parse entities: {exc}") from None
    plain, entities = _strip(plain, entities)
    if what == "text":
        if not plain:
            raise bad_request("message text is empty")
        if utf16_len(plain) > limit:
            raise bad_request("message is too long")
    else:
        if utf16_len(plain) > limit:
            raise bad_request("message caption is too long")
    return plain, entities


def _legacy_markdown(text: str) -> tuple[str, list[dict]]:
    out = _Out()
    entities = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in "*_`":
            end = text.find(c, i + 1)
            if end < 0:
                raise ParseError(f"Can't find end of the entity starting at byte offset {_byte_offset(text, i)}")
            start = out.length
            out.add(text[i + 1 : end])
            if out.length > start:
                entities.append({"type": {"*": "bold", "_": "italic", "`": "code"}[c],
                                 "offset": start, "length": out.length - start})
            i = end + 1
            continue
        out.add(c)
        i += 1
    return out.text(), entities


# ---------------------------------------------------------------------------
# Automatic entities for incoming (user) messages
# ---------------------------------------------------------------------------

_WORD = re.compile(r"\w", re.UNICODE)


def _is_word_char(ch: str) -> bool:
    return bool(_WORD.match(ch))


def find_entities(text: str) -> list[dict]:
    """Entities Telegram adds to a user's message: bot_command, mention, hashtag, url, email."""
    found: list[tuple[int, int, str]] = []  # python indices
    for m in re.finditer(r"/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?", text):
        s, e = m.span()
        if s > 0 and (_is_word_char(text[s - 1]) or text[s - 1] in "/<>\\"):
            continue
        if e < len(text) and (_is_word_char(text[e]) or text[e] in "/<>\\"):
            continue
        found.append((s, e, "bot_command"))
    for m in re.finditer(r"@[A-Za-z0-9_]{3,32}", text):
        s, e = m.span()
        if s > 0 and (_is_word_char(text[s - 1]) or text[s - 1] in "/@"):
            continue
        if e < len(text) and _is_word_char(text[e]):
            continue
        found.append((s, e, "mention"))
    for m in re.finditer(r"#\w*[^\W\d_]\w*", text):
        s, e = m.span()
        if s > 0 and (_is_word_char(text[s - 1]) or text[s - 1] == "#"):
            continue
        found.append((s, e, "hashtag"))
    for m in re.finditer(r"[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}", text):
        found.append((m.start(), m.end(), "email"))
    for m in re.finditer(
        r"(?i)\b(?:https?://)?(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,24}(?::\d{1,5})?(?:/[^\s]*)?",
        text,
    ):
        s, e = m.span()
        url = m.group(0).rstrip(".,;:!?)'\"")
        e = s + len(url)
        domain = r"\.(com|org|net|io|ru|de|uk|info|dev|app|me|co|edu|gov)(?:[:/]|$)"
        if "://" not in url and not re.search(domain, url, re.I):
            continue
        if s > 0 and text[s - 1] in "@./":
            continue
        found.append((s, e, "url"))
    # drop overlaps (earlier/longer wins), as Telegram entities never overlap here
    found.sort(key=lambda t: (t[0], -(t[1] - t[0])))
    result = []
    last_end = -1
    for s, e, kind in found:
        if s < last_end:
            continue
        last_end = e
        result.append({"type": kind, "offset": utf16_len(text[:s]), "length": utf16_len(text[s:e])})
    return result


# ---------------------------------------------------------------------------
# Request decoding
# ---------------------------------------------------------------------------

# Fields whose values are strings in the Bot API even when they look like JSON numbers.
_STRING_FIELDS = {
    "text", "caption", "parse_mode", "caption_parse_mode", "query", "data", "url",
    "callback_query_id", "inline_query_id", "next_offset", "switch_pm_text",
    "switch_pm_parameter", "description", "short_description", "name", "title",
    "emoji", "action", "secret_token", "language_code", "ip_address", "message_effect_id",
    "business_connection_id", "file_id", "photo", "document", "audio", "voice", "video",
    "video_note", "sticker", "animation", "thumbnail", "question", "address",
    "first_name", "last_name", "phone_number", "vcard", "provider_token", "payload",
    "currency", "start_parameter", "custom_title", "invite_link", "inline_message_id",
    "certificate", "sticker_set_name", "explanation", "quote", "foursquare_id",
    "google_place_id", "format", "shipping_query_id", "pre_checkout_query_id",
    "web_app_query_id", "error_message", "message",
}


def _decode_value(key: str, value: str) -> Any:
    if key in _STRING_FIELDS:
        return value
    if key == "chat_id" or key == "from_chat_id":
        if re.fullmatch(r"-?\d+", value):
            return int(value)
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _decode_params(pairs: Iterable[tuple[str, Any]]) -> dict:
    params: dict[str, Any] = {}
    for key, value in pairs:
        params[key] = _decode_value(key, value) if isinstance(value, str) else value
    return params


def _parse_multipart(content_type: str, body: bytes) -> list[tuple[str, Any]]:
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    pairs: list[tuple[str, Any]] = []
    if not msg.is_multipart():
        return pairs
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name is None:
            continue
        filename = part.get_filename()
        payload = part.get_payload(decode=True) or b""
        if filename is not None:
            pairs.append((name, Upload(name, filename, part.get_content_type(), payload)))
        else:
            charset = part.get_content_charset() or "utf-8"
            pairs.append((name, payload.decode(charset, errors="replace")))
    return pairs


# ---------------------------------------------------------------------------
# Method table
# ---------------------------------------------------------------------------

_KNOWN_METHODS = [
    "getMe", "logOut", "close", "getUpdates", "setWebhook", "deleteWebhook", "getWebhookInfo",
    "sendMessage", "forwardMessage", "copyMessage", "sendPhoto", "sendAudio", "sendDocument",
    "sendVideo", "sendAnimation", "sendVoice", "sendVideoNote", "sendSticker", "sendMediaGroup",
    "sendLocation", "sendContact", "sendPoll", "sendDice", "sendChatAction", "setMessageReaction",
    "getFile", "getChat", "getChatMember", "getChatMemberCount", "getChatAdministrators",
    "leaveChat", "pinChatMessage", "unpinChatMessage", "unpinAllChatMessages",
    "answerCallbackQuery", "answerInlineQuery", "setMyCommands", "getMyCommands",
    "deleteMyCommands", "setMyName", "getMyName", "setMyDescription", "getMyDescription",
    "setMyShortDescription", "getMyShortDescription", "setChatMenuButton", "getChatMenuButton",
    "setMyDefaultAdministratorRights", "getMyDefaultAdministratorRights",
    "editMessageText", "editMessageCaption", "editMessageReplyMarkup", "editMessageMedia",
    "deleteMessage", "deleteMessages", "getUserProfilePhotos",
]
_CANONICAL = {m.lower(): m for m in _KNOWN_METHODS}

_MEDIA_METHODS = {
    "sendphoto": "photo", "sendaudio": "audio", "senddocument": "document",
    "sendvideo": "video", "sendanimation": "animation", "sendvoice": "voice",
    "sendvideonote": "video_note", "sendsticker": "sticker",
}

_SENDING_METHODS = {
    "sendMessage", "forwardMessage", "copyMessage", "sendPhoto", "sendAudio", "sendDocument",
    "sendVideo", "sendAnimation", "sendVoice", "sendVideoNote", "sendSticker", "sendMediaGroup",
    "sendLocation", "sendContact", "sendPoll", "sendDice",
}


# ---------------------------------------------------------------------------
# HTTP plumbing
# ---------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # listen backlog; socketserver's default of 5 resets bursts of connections

    def __init__(self, fake: FakeTelegram) -> None:
        self.fake = fake
        self._handler_threads: set[threading.Thread] = set()
        self._threads_lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        super().__init__(("127.0.0.1", 0), _Handler)

    def process_request(self, request, client_address):  # type: ignore[override]
        t = threading.Thread(
            target=self._run, args=(request, client_address), daemon=True,
            name=f"FakeTelegram-handler-{client_address[1]}",
        )
        with self._threads_lock:
            self._handler_threads.add(t)
            self._connections.add(request)
        t.start()

    def _run(self, request, client_address) -> None:
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self._threads_lock:
                self._handler_threads.discard(threading.current_thread())
                self._connections.discard(request)

    def handle_error(self, request, client_address) -> None:  # pragma: no cover - noise
        pass

    def abort_connections(self) -> None:
        with self._threads_lock:
            conns = list(self._connections)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def join_handlers(self, timeout: float) -> list[threading.Thread]:
        deadline = time.monotonic() + timeout
        while True:
            with self._threads_lock:
                threads = list(self._handler_threads)
            if not threads:
                return []
            for t in threads:
                t.join(max(0.0, deadline - time.monotonic()))
            if time.monotonic() >= deadline:
                with self._threads_lock:
                    return [t for t in self._handler_threads if t.is_alive()]


class _Drop(Exception):
    """Close the connection without answering."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "nginx/1.18.0"
    sys_version = ""
    timeout = 30  # socket timeout for reading requests

    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # silence
        pass

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            return self.rfile.read(length)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        return b""

    def _handle(self) -> None:
        self.close_connection = True
        fake = self.server.fake
        try:
            body = self._read_body()
        except (OSError, ValueError):
            return
        try:
            status, payload, content_type = fake._dispatch_http(
                self.command, self.path, self.headers.get("Content-Type", ""), body
            )
        except _Drop:
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(payload)
            self.wfile.flush()
        except OSError:
            pass  # client went away (e.g. a cancelled long poll)


# ---------------------------------------------------------------------------
# The fake
# ---------------------------------------------------------------------------


class FakeTelegram:
    """Fake Telegram Bot API server; see the module docstring."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        bot_username: str = BOT_USERNAME,
        bot_first_name: str = "Corpus Bot",
        strict_html_entities: bool = True,
        first_update_id: int = 100_000_001,
    ) -> None:
        self.token = token
        self.bot_id = int(token.split(":", 1)[0]) if token.split(":", 1)[0].isdigit() else BOT_ID
        self.bot_user: dict = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": True,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
        self.strict_html_entities = strict_html_entities
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

        self._calls: list[Call] = []
        self._updates: list[dict] = []
        self._next_update_id = first_update_id
        self._poll_generation = 0
        self._allowed_updates: list[str] | None = None
        self._webhook: dict | None = None
        self._commands: dict[str, list] = {}
        self._faults: dict[str, collections.deque[_Fault]] = collections.defaultdict(collections.deque)
        self._users: dict[int, dict] = {}
        self._chats: dict[int | str, dict] = {}
        self._message_ids: dict[int | str, itertools.count] = {}
        self._messages: dict[tuple[Any, int], dict] = {}  # (chat_id, message_id) -> message
        self._inline_messages: dict[str, dict] = {}
        self._callback_queries: dict[str, dict] = {}
        self._answered_callbacks: set[str] = set()
        self._inline_queries: dict[str, dict] = {}
        self._blocked: set[int] = set()
        self._migrated: dict[int, int] = {}
        self._files: dict[str, bytes] = {}
        self._ids = itertools.count(1)

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> FakeTelegram:
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01},
            name="FakeTelegram-server", daemon=True,
        )
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving: wake long polls, shut down, join all server threads."""
        server = self._server
        if server is None:
            return
        self._stopping.set()
        with self._cond:
            self._cond.notify_all()
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout)
        leftover = server.join_handlers(timeout / 2)
        if leftover:
            server.abort_connections()
            leftover = server.join_handlers(timeout / 2)
        self._server = None
        self._thread = None
        if leftover:  # pragma: no cover - diagnostics
            raise RuntimeError(f"FakeTelegram: handler threads did not stop: {leftover}")

    def __enter__(self) -> FakeTelegram:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    async def __aenter__(self) -> FakeTelegram:
        return self.start()

    async def __aexit__(self, *exc: Any) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.stop)

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeTelegram is not running; call start() or use 'with'")
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``; the bot calls ``{base_url}/bot{token}/{method}``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        """``{base_url}/bot`` -- what PTB's ``Bot(base_url=...)`` expects."""
        return f"{self.base_url}/bot"

    @property
    def file_url(self) -> str:
        """``{base_url}/file/bot`` -- for PTB's ``Bot(base_file_url=...)``."""
        return f"{self.base_url}/file/bot"

    # -- fault injection ----------------------------------------------------

    def fail_next(
        self,
        method: str,
        fault: str,
        times: int = 1,
        *,
        retry_after: float = 1,
        seconds: float = 1.0,
        migrate_to_chat_id: int | None = None,
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail with ``fault``.

        Faults: ``"500"`` (Internal Server Error JSON), ``"502"`` (nginx HTML
        Bad Gateway page), ``"429"`` (Too Many Requests, ``retry_after``
        seconds; Telegram always sends an int, a float such as 0.1 keeps
        tests fast and PTB accepts it), ``"403"`` (Forbidden: bot was blocked by the user),
        ``"409"`` (Conflict: terminated by other getUpdates request),
        ``"migrate"`` (group upgraded to supergroup, ``migrate_to_chat_id``,
        default derived from the request's chat_id), ``"parse"`` (can't parse
        entities), ``"drop"`` (connection closed without a response, request
        NOT executed), ``"drop_after"`` (request executed -- e.g. the message
        is delivered -- but the connection is closed before the response),
        ``"slow"`` (answer normally after ``seconds``).

        ``method`` is case-insensitive; ``"*"`` matches any method except
        ``getUpdates``.  Faults queue up in order.
        """
        fault = str(fault)
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; expected one of {FAULTS}")
        if times < 1:
            raise ValueError("times must be >= 1")
        with self._lock:
            queue = self._faults[method.lower()]
            for _ in range(times):
                queue.append(_Fault(fault, retry_after=retry_after, seconds=seconds,
                                    migrate_to_chat_id=migrate_to_chat_id))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _take_fault(self, method_lower: str) -> _Fault | None:
        with self._lock:
            queue = self._faults.get(method_lower)
            if queue:
                return queue.popleft()
            if method_lower != "getupdates":
                queue = self._faults.get("*")
                if queue:
                    return queue.popleft()
        return None

    def migrate_chat(self, chat_id: int, new_chat_id: int | None = None, *, push: bool = True) -> int:
        """Upgrade group ``chat_id`` to a supergroup, as Telegram does; returns the new id.

        From now on every call addressed to the old id answers 400 "group chat
        was upgraded to a supergroup chat" with ``migrate_to_chat_id`` (PTB
        raises ``ChatMigrated``).  With ``push`` the two service messages
        (``migrate_to_chat_id`` in the old group, ``migrate_from_chat_id`` in
        the new supergroup) are pushed as updates.
        """
        chat_id = int(chat_id)
        if new_chat_id is None:
            new_chat_id = -(1000000000000 + abs(chat_id))
        with self._lock:
            old_chat = self._chat(chat_id)
            title = old_chat.get("title")
            self._migrated[chat_id] = int(new_chat_id)
            new_chat = self._chat(int(new_chat_id), kind="supergroup", title=title)
            if push:
                actor = next(iter(self._users), 1)
                to_msg = self._user_message(old_chat, actor, None, extra={"migrate_to_chat_id": new_chat_id})
                self.push_update({"message": to_msg})
                from_msg = self._user_message(new_chat, None, None, extra={"migrate_from_chat_id": chat_id})
                from_msg["sender_chat"] = dict(old_chat)
                self.push_update({"message": from_msg})
        return int(new_chat_id)

    def block(self, user_id: int) -> None:
        """From now on, sending to ``user_id`` answers 403 "bot was blocked by the user"."""
        with self._lock:
            self._blocked.add(int(user_id))

    def unblock(self, user_id: int) -> None:
        with self._lock:
            self._blocked.discard(int(user_id))

    # -- inspection ------------------------------------------------------------

    @property
    def calls(self) -> list[Call]:
        """Snapshot (a new list) of every request received so far, in completion order."""
        with self._lock:
            return list(self._calls)

    def sent(self, method: str | None = None, *, include_failed: bool = False, **match: Any) -> list[Call]:
        """Calls of ``method`` (case-insensitive; ``None`` = every sending method).

        Only successful calls unless ``include_failed``.  ``match`` filters on
        params: ``tg.sent("sendMessage", chat_id=42)``; a callable value is a
        predicate: ``text=lambda t: "hi" in t``.
        """
        calls = self.calls
        return [c for c in calls if self._matches(c, method, include_failed, match)]

    def failed(self, method: str | None = None) -> list[Call]:
        """Calls that got an error answer or an injected fault."""
        calls = self.calls
        return [
            c for c in calls
            if (not c.ok or c.fault) and (method is None or c.method.lower() == method.lower())
        ]

    @staticmethod
    def _matches(call: Call, method: str | None, include_failed: bool, match: dict) -> bool:
        if method is None:
            if call.method not in _SENDING_METHODS:
                return False
        elif call.method.lower() != method.lower():
            return False
        if not include_failed and not call.ok:
            return False
        for key, expected in match.items():
            if key not in call.params:
                return False
            value = call.params[key]
            if callable(expected):
                if not expected(value):
                    return False
            elif value != expected and str(value) != str(expected):
                return False
        return True

    def messages(self, chat_id: int | str | None = None, *, from_bot: bool | None = None) -> list[dict]:
        """Current state (after edits, without deleted ones) of known messages, oldest first."""
        with self._lock:
            items = [copy.deepcopy(m) for (cid, _), m in self._messages.items()
                     if chat_id is None or cid == chat_id]
        if from_bot is not None:
            items = [m for m in items
                     if (m.get("from", {}).get("id") == self.bot_id) == from_bot]
        items.sort(key=lambda m: (m["date"], m["message_id"]))
        return items

    def get_message(self, chat_id: int | str, message_id: int) -> dict | None:
        with self._lock:
            msg = self._messages.get((chat_id, int(message_id)))
            return copy.deepcopy(msg) if msg else None

    def pending_updates(self) -> list[dict]:
        with self._lock:
            return copy.deepcopy(self._updates)

    def clear_calls(self) -> None:
        with self._lock:
            self._calls.clear()

    def dump(self, last: int = 40) -> str:
        """Human-readable summary of recent calls (for assertion messages)."""
        with self._lock:
            calls = list(self._calls)
            pending = len(self._updates)
        polls = [c for c in calls if c.method == "getUpdates" and c.ok and not c.result]
        shown = [c for c in calls if not (c.method == "getUpdates" and c.ok and not c.result)][-last:]
        lines = [f"FakeTelegram: {len(calls)} calls ({len(polls)} empty getUpdates hidden), "
                 f"{pending} pending updates"]
        lines += [f"  {c!r}" for c in shown]
        return "\n".join(lines)

    # -- waiting ----------------------------------------------------------------

    def _check_waited(self, what: Any, count: int, match: dict) -> Any:
        if what is None:
            what = "sendMessage"
        if isinstance(what, int) and not isinstance(what, bool):
            calls = self.sent(None, **match)
            return calls if len(calls) >= what else None
        if isinstance(what, str):
            calls = self.sent(what, **match)
            return calls if len(calls) >= count else None
        if callable(what):
            return what() or None
        raise TypeError(f"wait_for: expected a method name, a count or a predicate, got {what!r}")

    def _timeout_error(self, what: Any, count: int, match: dict, timeout: float) -> AssertionError:
        desc = getattr(what, "__name__", repr(what))
        return AssertionError(
            f"FakeTelegram.wait_for({desc}, count={count}, {match or ''}) timed out after "
            f"{timeout}s\n{self.dump()}"
        )

    def wait_for(self, what: Any = None, count: int = 1, *, timeout: float = 10.0, **match: Any) -> Any:
        """Block until a condition holds; raise ``AssertionError`` with a dump on timeout.

        * ``wait_for("sendMessage", count=1, chat_id=42, text=...)`` -- until at
          least ``count`` successful calls of that method match ``match``
          (see :meth:`sent`); returns the list of matching calls.
        * ``wait_for(3)`` -- until at least 3 successful sending calls
          (sendMessage, sendPhoto, ...); returns them.
        * ``wait_for(lambda: ...)`` -- until the predicate (no arguments)
          returns something truthy; returns that value.

        Must not be called from a running event loop (use :meth:`wait_for_async`).
        """
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise RuntimeError(
                "FakeTelegram.wait_for() would block the running event loop; "
                "use 'await tg.wait_for_async(...)'"
            )
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                result = self._check_waited(what, count, match)
                if result is not None:
                    return result
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise self._timeout_error(what, count, match, timeout)
                self._cond.wait(min(remaining, 0.05))

    async def wait_for_async(
        self, what: Any = None, count: int = 1, *, timeout: float = 10.0, **match: Any
    ) -> Any:
        """Like :meth:`wait_for` but awaits (polls every 10 ms) instead of blocking."""
        deadline = time.monotonic() + timeout
        while True:
            result = self._check_waited(what, count, match)
            if result is not None:
                return result
            if time.monotonic() >= deadline:
                raise self._timeout_error(what, count, match, timeout)
            await asyncio.sleep(0.01)

    # -- users, chats and builders ------------------------------------------------

    def add_user(self, user_id: int, **fields: Any) -> dict:
        """Register/customise a user (first_name, last_name, username, language_code, is_premium...)."""
        with self._lock:
            user = self._user(user_id)
            user.update(fields)
            self._chats.pop(int(user_id), None)  # rebuild private chat from new names
            return dict(user)

    def _user(self, user_id: int) -> dict:
        user_id = int(user_id)
        user = self._users.get(user_id)
        if user is None:
            user = {"id": user_id, "is_bot": False, "first_name": f"User{user_id}",
                    "username": f"user{user_id}", "language_code": "en"}
            self._users[user_id] = user
        return user

    def _chat(self, chat_id: int | str, *, kind: str | None = None, title: str | None = None) -> dict:
        chat = self._chats.get(chat_id)
        if chat is not None and kind is None:
            return chat
        if isinstance(chat_id, str):
            chat = {"id": -1000000000000 - len(self._chats) - 1, "type": "channel",
                    "title": chat_id.lstrip("@"), "username": chat_id.lstrip("@")}
            self._chats[chat_id] = chat
            return chat
        if kind is None:
            if chat_id > 0:
                kind = "private"
            elif chat_id <= -1000000000000:
                kind = "supergroup"
            else:
                kind = "group"
        if kind == "private":
            user = self._user(chat_id)
            chat = {"id": chat_id, "type": "private", "first_name": user["first_name"]}
            if user.get("last_name"):
                chat["last_name"] = user["last_name"]
            if user.get("username"):
                chat["username"] = user["username"]
        else:
            chat = {"id": chat_id, "type": kind, "title": title or f"Test {kind} {chat_id}"}
            if kind == "supergroup":
                chat["is_forum"] = False
        if chat is not None and self._chats.get(chat_id) is not None and title is None:
            chat.update({k: v for k, v in self._chats[chat_id].items() if k == "title"})
        self._chats[chat_id] = chat
        return chat

    def _new_message_id(self, chat_id: int | str) -> int:
        counter = self._message_ids.get(chat_id)
        if counter is None:
            counter = self._message_ids[chat_id] = itertools.count(1)
        return next(counter)

    def _store(self, msg: dict) -> None:
        self._messages[(msg["chat"]["id"], msg["message_id"])] = copy.deepcopy(msg)

    def _resolve_reply(self, chat_id: Any, reply_to: Any) -> dict | None:
        if reply_to is None:
            return None
        if not isinstance(reply_to, int):
            reply_to = _message_of(reply_to)
            stored = self._messages.get((reply_to["chat"]["id"], reply_to["message_id"]))
            msg = stored or reply_to
        else:
            msg = self._messages.get((chat_id, int(reply_to)))
            if msg is None:
                raise ValueError(f"unknown message {reply_to} in chat {chat_id}")
        msg = copy.deepcopy(msg)
        msg.pop("reply_to_message", None)
        return msg

    def _user_message(
        self, chat: dict, user_id: int | None, text: str | None, *,
        reply_to: Any = None, entities: list | None = None, extra: dict | None = None,
        entity_key: str = "entities", text_key: str = "text",
    ) -> dict:
        msg: dict[str, Any] = {"message_id": self._new_message_id(chat["id"])}
        if user_id is not None:
            msg["from"] = dict(self._user(user_id))
        else:
            msg["sender_chat"] = dict(chat)
        msg["chat"] = dict(chat)
        msg["date"] = int(time.time())
        reply = self._resolve_reply(chat["id"], reply_to)
        if reply is not None:
            msg["reply_to_message"] = reply
        if text is not None:
            msg[text_key] = text
            ents = find_entities(text) if entities is None else entities
            if ents:
                msg[entity_key] = ents
        if extra:
            msg.update(extra)
        return msg

    def push_update(self, update: dict) -> dict:
        """Queue an update for getUpdates (assigns ``update_id`` if missing); returns it.

        Messages contained in the update are recorded (so the bot can reply
        to them and callback queries can reference them).
        """
        with self._cond:
            update = copy.deepcopy(update)
            if "update_id" not in update:
                update["update_id"] = self._next_update_id
            self._next_update_id = max(self._next_update_id, int(update["update_id"])) + 1
            for key in ("message", "edited_message", "channel_post", "edited_channel_post"):
                msg = update.get(key)
                if isinstance(msg, dict) and "chat" in msg and "message_id" in msg:
                    self._store(msg)
            cq = update.get("callback_query")
            if isinstance(cq, dict) and "id" in cq:
                self._callback_queries[str(cq["id"])] = cq
            iq = update.get("inline_query")
            if isinstance(iq, dict) and "id" in iq:
                self._inline_queries[str(iq["id"])] = iq
            self._updates.append(update)
            self._cond.notify_all()
            return copy.deepcopy(update)

    def _build(self, key: str, payload: dict, push: bool) -> dict:
        update = {key: payload}
        if push:
            return self.push_update(update)
        return update

    def private_message(self, user_id: int, text: str, *, reply_to: Any = None,
                        entities: list | None = None, push: bool = True, **extra: Any) -> dict:
        """A text message from ``user_id`` in its private chat with the bot.

        ``reply_to`` is a message dict / update dict / :class:`Call` / message_id;
        ``entities`` overrides the automatic ones; ``extra`` is merged into the message.
        """
        with self._lock:
            chat = self._chat(int(user_id), kind=None if int(user_id) in self._chats else "private")
            msg = self._user_message(chat, user_id, text, reply_to=reply_to, entities=entities, extra=extra)
            return self._build("message", msg, push)

    def group_message(self, chat_id: int, user_id: int, text: str, reply_to: Any = None,
                      entities: list | None = None, *, title: str | None = None,
                      push: bool = True, **extra: Any) -> dict:
        """A text message from ``user_id`` in group ``chat_id`` (negative; <= -10**12 is a supergroup)."""
        with self._lock:
            chat_id = int(chat_id)
            if chat_id > 0:
                raise ValueError("group chat ids are negative")
            chat = self._chat(chat_id) if title is None else self._chat(chat_id, kind=(
                "supergroup" if chat_id <= -1000000000000 else "group"), title=title)
            msg = self._user_message(chat, user_id, text, reply_to=reply_to, entities=entities, extra=extra)
            return self._build("message", msg, push)

    def channel_post(self, chat_id: int, text: str, *, entities: list | None = None,
                     title: str | None = None, push: bool = True, **extra: Any) -> dict:
        """A post in channel ``chat_id`` (sender_chat set, no ``from``)."""
        with self._lock:
            chat = self._chat(int(chat_id), kind="channel", title=title)
            msg = self._user_message(chat, None, text, entities=entities, extra=extra)
            return self._build("channel_post", msg, push)

    def edited_message(self, message: dict | Call, text: str, *, entities: list | None = None,
                       push: bool = True) -> dict:
        """The user edited ``message`` (a message or update dict pushed earlier) to ``text``."""
        with self._lock:
            original = _message_of(message)
            key = (original["chat"]["id"], original["message_id"])
            msg = copy.deepcopy(self._messages.get(key, original))
            msg["text"] = text
            msg.pop("entities", None)
            ents = find_entities(text) if entities is None else entities
            if ents:
                msg["entities"] = ents
            msg["edit_date"] = int(time.time())
            kind = "edited_channel_post" if msg["chat"]["type"] == "channel" else "edited_message"
            return self._build(kind, msg, push)

    def _media_message(self, user_id: int, chat_id: int | None, caption: str | None,
                       media: dict, push: bool, reply_to: Any = None) -> dict:
        with self._lock:
            cid = int(user_id) if chat_id is None else int(chat_id)
            chat = self._chat(cid)
            msg = self._user_message(chat, user_id, caption, reply_to=reply_to,
                                     text_key="caption", entity_key="caption_entities")
            msg.update(media)
            return self._build("message", msg, push)

    def _file(self, prefix: str, size: int) -> dict:
        n = next(self._ids)
        return {"file_id": f"{prefix}-file-{n:06d}-AgACAgIAAxkBAAI", "file_unique_id": f"AQAD{n:06d}",
                "file_size": size}

    def photo_message(self, user_id: int, caption: str | None = None, *, chat_id: int | None = None,
                      push: bool = True) -> dict:
        """A photo (three PhotoSizes) from ``user_id``, optionally with a caption."""
        with self._lock:
            sizes = []
            for w, h, size in ((90, 67, 1200), (320, 240, 15000), (1280, 960, 120000)):
                f = self._file("photo", size)
                f.update(width=w, height=h)
                sizes.append(f)
        return self._media_message(user_id, chat_id, caption, {"photo": sizes}, push)

    def sticker_message(self, user_id: int, *, emoji: str = "😀", chat_id: int | None = None,
                        push: bool = True) -> dict:
        with self._lock:
            f = self._file("sticker", 24000)
        f.update(type="regular", width=512, height=512, is_animated=False, is_video=False,
                 emoji=emoji, set_name="TestStickers")
        return self._media_message(user_id, chat_id, None, {"sticker": f}, push)

    def voice_message(self, user_id: int, duration: int = 3, *, chat_id: int | None = None,
                      push: bool = True) -> dict:
        with self._lock:
            f = self._file("voice", 8000 * duration)
        f.update(duration=duration, mime_type="audio/ogg")
        return self._media_message(user_id, chat_id, None, {"voice": f}, push)

    def callback_query(self, user_id: int, data: str | None, message: dict | Call, *,
                       push: bool = True, too_old: bool = False) -> dict:
        """``user_id`` pressed a button with ``data`` under ``message``.

        ``message`` is a message the bot sent (the ``result`` of a sendMessage
        call, a :class:`Call`, or a message dict); the current recorded state
        of that message (after edits, with its reply_to_message) is used.
        ``too_old``: the press was made long ago (say, while the bot was down), so
        ``answerCallbackQuery`` gets Telegram's "query is too old" error.
        """
        with self._lock:
            msg = _message_of(message)
            stored = self._messages.get((msg["chat"]["id"], msg["message_id"]))
            msg = copy.deepcopy(stored or msg)
            cq: dict[str, Any] = {
                "id": str(4_000_000_000_000_000_000 + next(self._ids)),
                "from": dict(self._user(user_id)),
                "message": msg,
                "chat_instance": str(-((abs(int(msg["chat"]["id"])) * 7919 + 4242) % 10**18)),
            }
            if data is not None:
                cq["data"] = data
            if too_old:
                self._answered_callbacks.add(cq["id"])  # answerable no more, as after ~15 s
            return self._build("callback_query", cq, push)

    def inline_query(self, user_id: int, query: str, *, offset: str = "", chat_type: str = "sender",
                     push: bool = True) -> dict:
        with self._lock:
            iq = {"id": str(5_000_000_000_000_000_000 + next(self._ids)),
                  "from": dict(self._user(user_id)), "query": query, "offset": offset,
                  "chat_type": chat_type}
            return self._build("inline_query", iq, push)

    # -- HTTP dispatch --------------------------------------------------------------

    def _dispatch_http(self, verb: str, path: str, content_type: str, body: bytes) -> tuple[int, bytes, str]:
        url = urlsplit(path)
        url_path = unquote(url.path)
        m = re.fullmatch(r"/bot([^/]*)/([A-Za-z]+)/?", url_path)
        if m is None:
            fm = re.fullmatch(r"/file/bot([^/]*)/(.+)", url_path)
            if fm and verb == "GET":
                return self._serve_file(fm.group(1), fm.group(2))
            return _json_response(ApiError(404, "Not Found").payload(), 404)
        token, method_raw = m.group(1), m.group(2)
        if token != self.token:
            return _json_response(ApiError(401, "Unauthorized").payload(), 401)
        method = _CANONICAL.get(method_raw.lower(), method_raw)
        try:
            params = self._decode_request(url.query, content_type, body)
        except ValueError as exc:
            return _json_response(bad_request(str(exc)).payload(), 400)
        call = Call(method=method, params=params, time=time.time())
        fault = self._take_fault(method.lower())
        if fault is not None:
            call.fault = fault.kind
            if fault.kind == "slow":
                self._stopping.wait(fault.seconds)
            elif fault.kind == "drop":
                call.status, call.error = None, "connection dropped"
                self._record(call)
                raise _Drop()
            elif fault.kind != "drop_after":
                status, payload, ctype = self._fault_response(fault, params)
                call.status = status
                call.error = _describe(payload)
                self._record(call)
                return status, payload, ctype
        try:
            result = self._call_method(method, params)
        except ApiError as exc:
            call.status, call.error = exc.code, exc.description
            self._record(call)
            return _json_response(exc.payload(), exc.code)
        except (ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
            # malformed parameters the fake does not model precisely
            err = bad_request(f"invalid parameters ({type(exc).__name__}: {exc})")
            call.status, call.error = err.code, err.description
            self._record(call)
            return _json_response(err.payload(), err.code)
        call.status, call.ok, call.result = 200, True, result
        self._record(call)
        if call.fault == "drop_after":
            raise _Drop()
        return _json_response({"ok": True, "result": result}, 200)

    def _record(self, call: Call) -> None:
        with self._cond:
            self._calls.append(call)
            self._cond.notify_all()

    def _decode_request(self, query: str, content_type: str, body: bytes) -> dict:
        pairs: list[tuple[str, Any]] = parse_qsl(query, keep_blank_values=True)
        ctype = content_type.split(";", 1)[0].strip().lower()
        if body:
            if ctype == "application/json":
                try:
                    data = json.loads(body.decode("utf-8"))
                except (UnicodeDecodeError, ValueError):
                    raise ValueError("can't parse JSON request body") from None
                if not isinstance(data, dict):
                    raise ValueError("JSON request body must be an object")
                params = _decode_params(pairs)
                params.update(data)
                return params
            if ctype == "multipart/form-data":
                pairs += _parse_multipart(content_type, body)
            else:  # urlencoded (also the default)
                pairs += parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True)
        return _decode_params(pairs)

    def _fault_response(self, fault: _Fault, params: dict) -> tuple[int, bytes, str]:
        kind = fault.kind
        if kind == "500":
            return _json_response(ApiError(500, "Internal Server Error").payload(), 500)
        if kind == "502":
            return 502, NGINX_502.encode(), "text/html; charset=utf-8"
        if kind == "429":
            return _json_response(ApiError(
                429, f"Too Many Requests: retry after {fault.retry_after}",
                {"retry_after": fault.retry_after}).payload(), 429)
        if kind == "403":
            return _json_response(ApiError(403, "Forbidden: bot was blocked by the user").payload(), 403)
        if kind == "409":
            return _json_response(ApiError(
                409, "Conflict: terminated by other getUpdates request; "
                "make sure that only one bot instance is running").payload(), 409)
        if kind == "migrate":
            new_id = fault.migrate_to_chat_id
            if new_id is None:
                chat_id = params.get("chat_id")
                base = abs(chat_id) if isinstance(chat_id, int) else 1
                new_id = -(1000000000000 + base)
            return _json_response(ApiError(
                400, "Bad Request: group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": new_id}).payload(), 400)
        if kind == "parse":
            return _json_response(bad_request(
                "can't parse entities: Can't find end tag corresponding to start tag \"b\"").payload(), 400)
        raise AssertionError(kind)  # pragma: no cover

    def _serve_file(self, token: str, file_path: str) -> tuple[int, bytes, str]:
        if token != self.token:
            return _json_response(ApiError(401, "Unauthorized").payload(), 401)
        with self._lock:
            data = self._files.get(file_path)
        if data is None:
            return _json_response(ApiError(404, "Not Found").payload(), 404)
        return 200, data, "application/octet-stream"

    # -- Bot API methods ----------------------------------------------------------------

    def _call_method(self, method: str, p: dict) -> Any:
        name = method.lower()
        handler = getattr(self, f"_m_{name}", None)
        if handler is not None:
            return handler(p)
        if name in _MEDIA_METHODS:
            return self._send_media(_MEDIA_METHODS[name], p)
        if name in _TRUE_METHODS:
            return True
        raise ApiError(404, "Not Found")

    def _m_getme(self, p: dict) -> dict:
        return dict(self.bot_user)

    def _m_logout(self, p: dict) -> bool:
        return True

    def _m_close(self, p: dict) -> bool:
        return True

    def _m_setwebhook(self, p: dict) -> bool:
        url = p.get("url")
        with self._cond:
            if url:
                if not str(url).startswith("https://"):
                    raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
                self._webhook = {"url": url, "has_custom_certificate": False,
                                 "pending_update_count": len(self._updates)}
                if p.get("drop_pending_updates"):
                    self._updates.clear()
            else:
                self._webhook = None
            self._cond.notify_all()
        return True

    def _m_deletewebhook(self, p: dict) -> bool:
        with self._cond:
            self._webhook = None
            if p.get("drop_pending_updates") in (True, "true", "True", 1):
                self._updates.clear()
            self._cond.notify_all()
        return True

    def _m_getwebhookinfo(self, p: dict) -> dict:
        with self._lock:
            if self._webhook:
                info = dict(self._webhook)
                info["pending_update_count"] = len(self._updates)
                return info
            return {"url": "", "has_custom_certificate": False, "pending_update_count": len(self._updates)}

    def _m_setmycommands(self, p: dict) -> bool:
        commands = p.get("commands")
        if not isinstance(commands, list):
            raise bad_request("can't parse commands JSON object")
        if len(commands) > 100:
            raise bad_request("too many commands")
        for cmd in commands:
            if not isinstance(cmd, dict) or not re.fullmatch(r"[a-z0-9_]{1,32}", str(cmd.get("command", ""))):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(cmd.get("description", "")).strip()) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID" if cmd.get("description") else
                                  "command description is empty")
        with self._lock:
            self._commands[_scope_key(p)] = commands
        return True

    def _m_getmycommands(self, p: dict) -> list:
        with self._lock:
            return copy.deepcopy(self._commands.get(_scope_key(p), []))

    def _m_deletemycommands(self, p: dict) -> bool:
        with self._lock:
            self._commands.pop(_scope_key(p), None)
        return True

    def _m_getupdates(self, p: dict) -> list:
        try:
            offset = int(p.get("offset") or 0)
            limit = int(p.get("limit") or 100)
            timeout = float(p.get("timeout") or 0)
        except (TypeError, ValueError):
            raise bad_request("wrong parameter in getUpdates request") from None
        limit = min(max(limit, 1), 100)
        allowed = p.get("allowed_updates")
        with self._cond:
            if self._webhook is not None:
                raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active; "
                                    "use deleteWebhook to delete the webhook first")
            self._poll_generation += 1
            generation = self._poll_generation
            self._cond.notify_all()
            if isinstance(allowed, list):
                self._allowed_updates = [str(a) for a in allowed] or None
            if offset > 0:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
            elif offset < 0:
                self._updates = self._updates[offset:]
            deadline = time.monotonic() + timeout
            while True:
                if self._stopping.is_set():
                    return []
                if generation != self._poll_generation:
                    raise ApiError(409, "Conflict: terminated by other getUpdates request; "
                                        "make sure that only one bot instance is running")
                self._updates = [u for u in self._updates if self._is_allowed(u)]
                if self._updates:
                    return copy.deepcopy(self._updates[:limit])
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return []
                self._cond.wait(remaining)

    def _is_allowed(self, update: dict) -> bool:
        kinds = [k for k in update if k != "update_id"]
        if not kinds:
            return True
        kind = kinds[0]
        if self._allowed_updates is None:
            return kind not in _DEFAULT_EXCLUDED_UPDATES
        return kind in self._allowed_updates

    # chats -----------------------------------------------------------------------------

    def _target_chat(self, p: dict, *, key: str = "chat_id") -> dict:
        if key not in p or p[key] in ("", None):
            raise bad_request("chat_id is empty")
        chat_id = p[key]
        if isinstance(chat_id, str):
            if re.fullmatch(r"-?\d+", chat_id):
                chat_id = int(chat_id)
            elif not chat_id.startswith("@"):
                raise bad_request("chat not found")
        with self._lock:
            if isinstance(chat_id, int) and chat_id in self._blocked:
                raise ApiError(403, "Forbidden: bot was blocked by the user")
            if isinstance(chat_id, int) and chat_id in self._migrated:
                raise ApiError(400, "Bad Request: group chat was upgraded to a supergroup chat",
                               {"migrate_to_chat_id": self._migrated[chat_id]})
            return copy.deepcopy(self._chat(chat_id))

    def _m_getchat(self, p: dict) -> dict:
        chat = self._target_chat(p)
        chat.setdefault("accent_color_id", 0)
        chat.setdefault("max_reaction_count", 11)
        chat.setdefault("accepted_gift_types", {"unlimited_gifts": False, "limited_gifts": False,
                                                "unique_gifts": False, "premium_subscription": False,
                                                "gifts_from_channels": False})
        return chat

    def _m_getchatmember(self, p: dict) -> dict:
        self._target_chat(p)
        user_id = int(p.get("user_id") or 0)
        with self._lock:
            if user_id == self.bot_id:
                return {"status": "member", "user": dict(self.bot_user)}
            return {"status": "member", "user": dict(self._user(user_id))}

    def _m_getchatmembercount(self, p: dict) -> int:
        self._target_chat(p)
        return 2

    def _m_getchatadministrators(self, p: dict) -> list:
        self._target_chat(p)
        return []

    # sending ---------------------------------------------------------------------------

    def _check_markup(self, markup: Any) -> dict | None:
        if markup is None or markup == "":
            return None
        if isinstance(markup, str):
            try:
                markup = json.loads(markup)
            except ValueError:
                raise bad_request("can't parse reply keyboard markup JSON object") from None
        if not isinstance(markup, dict):
            raise bad_request("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            rows = markup["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise bad_request("can't parse inline keyboard button: InlineKeyboardButton must be an Object")
            if sum(len(r) for r in rows) > 100:
                raise bad_request("BUTTONS_TOO_MUCH")
            for row in rows:
                for button in row:
                    if not isinstance(button, dict):
                        raise bad_request("can't parse inline keyboard button: "
                                          "InlineKeyboardButton must be an Object")
                    if not isinstance(button.get("text"), str):
                        raise bad_request("can't parse inline keyboard button: Field \"text\" must be of type String")
                    if not button["text"].strip():
                        raise bad_request("BUTTON_TEXT_INVALID")
                    actions = [k for k in button if k not in ("text",)]
                    if not actions:
                        raise bad_request("can't parse inline keyboard button: "
                                          "Text buttons are unallowed in the inline keyboard")
                    if "callback_data" in button:
                        data = button["callback_data"]
                        if not isinstance(data, str):
                            raise bad_request("can't parse inline keyboard button: "
                                              "Field \"callback_data\" must be of type String")
                        if not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA_BYTES:
                            raise bad_request("BUTTON_DATA_INVALID")
                    if "url" in button:
                        url = button["url"]
                        allowed = r"(?i)(https?|tg)://\S+$|^[\w.-]+\.[a-z]{2,}(/\S*)?$"
                        if not isinstance(url, str) or not re.match(allowed, url):
                            raise bad_request("BUTTON_URL_INVALID")
            return markup
        if "keyboard" in markup:
            rows = markup["keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise bad_request("can't parse reply keyboard markup JSON object")
            return markup
        if markup.get("remove_keyboard") or markup.get("force_reply"):
            return markup
        raise bad_request("can't parse reply keyboard markup JSON object")

    def _reply_target(self, chat: dict, p: dict) -> dict | None:
        rp = p.get("reply_parameters")
        message_id = None
        allow_missing = bool(p.get("allow_sending_without_reply"))
        target_chat = chat["id"]
        if isinstance(rp, dict):
            message_id = rp.get("message_id")
            allow_missing = allow_missing or bool(rp.get("allow_sending_without_reply"))
            if rp.get("chat_id") not in (None, ""):
                target_chat = rp["chat_id"]
        elif rp not in (None, ""):
            raise bad_request("can't parse reply parameters JSON object")
        if message_id is None and p.get("reply_to_message_id") not in (None, ""):
            message_id = p["reply_to_message_id"]
        if message_id is None:
            return None
        try:
            message_id = int(message_id)
        except (TypeError, ValueError):
            raise bad_request("message to be replied not found") from None
        with self._lock:
            msg = self._messages.get((target_chat, message_id))
        if msg is None:
            if allow_missing:
                return None
            raise bad_request("message to be replied not found")
        msg = copy.deepcopy(msg)
        msg.pop("reply_to_message", None)
        return msg

    def _new_bot_message(self, chat: dict, p: dict, content: dict) -> dict:
        reply = self._reply_target(chat, p)
        markup = self._check_markup(p.get("reply_markup"))
        with self._lock:
            msg: dict[str, Any] = {
                "message_id": self._new_message_id(chat["id"]),
                "from": dict(self.bot_user),
                "chat": chat,
                "date": int(time.time()),
            }
            if chat["type"] == "channel":
                del msg["from"]
                msg["sender_chat"] = chat
            if reply is not None:
                msg["reply_to_message"] = reply
            msg.update(content)
            if markup is not None and "inline_keyboard" in markup:
                msg["reply_markup"] = markup
            if p.get("message_thread_id"):
                msg["message_thread_id"] = p["message_thread_id"]
            self._store(msg)
            return copy.deepcopy(msg)

    def _m_sendmessage(self, p: dict) -> dict:
        chat = self._target_chat(p)
        if p.get("text") in (None, ""):
            raise bad_request("message text is empty")
        plain, entities = self._parse(p.get("text"), p.get("parse_mode"), p)
        content: dict[str, Any] = {"text": plain}
        if entities:
            content["entities"] = entities
        lpo = p.get("link_preview_options")
        if isinstance(lpo, dict):
            content["link_preview_options"] = lpo
        return self._new_bot_message(chat, p, content)

    def _parse(self, text: Any, parse_mode: Any, p: dict, *, what: str = "text",
               entities_key: str = "entities") -> tuple[str, list[dict]]:
        plain, entities = parse_text(
            text, parse_mode, what=what, strict_entities=self.strict_html_entities,
            limit=MAX_TEXT_LENGTH if what == "text" else MAX_CAPTION_LENGTH,
        )
        explicit = p.get(entities_key)
        if explicit not in (None, "") and not parse_mode:
            if not isinstance(explicit, list):
                raise bad_request(f"can't parse {entities_key} JSON object")
            entities = explicit
        return plain, entities

    def _send_media(self, kind: str, p: dict) -> dict:
        chat = self._target_chat(p)
        source = p.get(kind)
        if source in (None, ""):
            raise bad_request(f"there is no {kind.replace('_', ' ')} in the request")
        content: dict[str, Any] = {}
        caption = p.get("caption")
        if caption not in (None, "") and kind != "sticker":
            plain, entities = self._parse(caption, p.get("parse_mode"), p, what="caption",
                                          entities_key="caption_entities")
            if plain:
                content["caption"] = plain
            if entities:
                content["caption_entities"] = entities
        data = source.data if isinstance(source, Upload) else b""
        with self._lock:
            f = self._file(kind, len(data) or 1000)
            if data:
                self._files[f"{kind}s/file_{f['file_unique_id']}"] = data
        if kind == "photo":
            sizes = []
            for w, h in ((90, 67), (320, 240), (800, 600)):
                s = dict(f)
                s.update(width=w, height=h)
                sizes.append(s)
            content["photo"] = sizes
        else:
            if kind == "sticker":
                f.update(type="regular", width=512, height=512, is_animated=False, is_video=False)
            elif kind in ("voice", "audio", "video", "video_note", "animation"):
                f["duration"] = int(p.get("duration") or 1)
                if kind in ("video", "animation"):
                    f.update(width=640, height=480)
                if kind == "video_note":
                    f["length"] = 240
            if isinstance(source, Upload) and kind in ("document", "audio", "video", "animation"):
                f["file_name"] = source.filename or "file"
                if source.content_type:
                    f["mime_type"] = source.content_type
            content[kind] = f
        return self._new_bot_message(chat, p, content)

    def _m_sendchataction(self, p: dict) -> bool:
        self._target_chat(p)
        if p.get("action") not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        return True

    def _m_getfile(self, p: dict) -> dict:
        file_id = str(p.get("file_id") or "")
        if not file_id:
            raise bad_request("file_id is empty")
        if "-file-" not in file_id:
            raise bad_request("invalid file_id")
        n = file_id.split("-file-")[1][:6]
        path = f"{file_id.split('-file-')[0]}s/file_AQAD{n}"
        with self._lock:
            data = self._files.setdefault(path, b"\x00" * 16)
        return {"file_id": file_id, "file_unique_id": f"AQAD{n}", "file_size": len(data),
                "file_path": path}

    def _lookup_own_message(self, p: dict, *, action: str) -> tuple[tuple, dict] | tuple[None, None]:
        if p.get("inline_message_id"):
            return None, None
        chat = self._target_chat(p)
        try:
            message_id = int(p.get("message_id"))
        except (TypeError, ValueError):
            raise bad_request("message identifier is not specified") from None
        key = (chat["id"], message_id)
        with self._lock:
            msg = self._messages.get(key)
        if msg is None:
            raise bad_request(f"message to {action} not found")
        return key, msg

    def _m_editmessagetext(self, p: dict) -> Any:
        key, old = self._lookup_own_message(p, action="edit")
        if p.get("text") in (None, ""):
            raise bad_request("message text is empty")
        plain, entities = self._parse(p.get("text"), p.get("parse_mode"), p)
        markup = self._check_markup(p.get("reply_markup"))
        if key is None:
            return True
        if old.get("from", {}).get("id") != self.bot_id and old["chat"]["type"] != "channel":
            raise bad_request("message can't be edited")
        if "text" not in old:
            raise bad_request("there is no text in the message to edit")
        new_markup = markup if markup and "inline_keyboard" in markup else None
        return self._edit(key, old, text=plain, entities=entities, reply_markup=new_markup)

    def _m_editmessagecaption(self, p: dict) -> Any:
        key, old = self._lookup_own_message(p, action="edit")
        plain, entities = self._parse(p.get("caption"), p.get("parse_mode"), p, what="caption",
                                      entities_key="caption_entities")
        markup = self._check_markup(p.get("reply_markup"))
        if key is None:
            return True
        new_markup = markup if markup and "inline_keyboard" in markup else None
        return self._edit(key, old, caption=plain, caption_entities=entities, reply_markup=new_markup)

    def _m_editmessagereplymarkup(self, p: dict) -> Any:
        key, old = self._lookup_own_message(p, action="edit")
        markup = self._check_markup(p.get("reply_markup"))
        if key is None:
            return True
        new_markup = markup if markup and "inline_keyboard" in markup else None
        return self._edit(key, old, reply_markup=new_markup)

    def _edit(self, key: Any, old: dict, **fields: Any) -> dict:
        """Store an edit of a recorded message: each of `fields` replaced (an empty value removes
        it), or Telegram's "not modified" error when nothing changes."""
        new = {name: value for name, value in fields.items() if value}
        if all(old.get(name) == new.get(name) for name in fields):
            raise bad_request("message is not modified: specified new message content and reply markup "
                              "are exactly the same as a current content and reply markup of the message")
        with self._lock:
            msg = copy.deepcopy(old)
            for name in fields:
                msg.pop(name, None)
            msg.update(new)
            msg["edit_date"] = int(time.time())
            self._messages[key] = msg
            return copy.deepcopy(msg)

    def _m_deletemessage(self, p: dict) -> bool:
        key, _ = self._lookup_own_message(p, action="delete")
        with self._lock:
            self._messages.pop(key, None)
        return True

    def _m_deletemessages(self, p: dict) -> bool:
        chat = self._target_chat(p)
        ids = p.get("message_ids")
        if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
            raise bad_request("message identifiers are not specified")
        with self._lock:
            for mid in ids:
                self._messages.pop((chat["id"], int(mid)), None)
        return True

    def _m_forwardmessage(self, p: dict) -> dict:
        return self._copy_or_forward(p, forward=True)

    def _m_copymessage(self, p: dict) -> dict:
        msg = self._copy_or_forward(p, forward=False)
        return {"message_id": msg["message_id"]}

    def _copy_or_forward(self, p: dict, *, forward: bool) -> dict:
        chat = self._target_chat(p)
        src_chat = self._target_chat(p, key="from_chat_id")
        try:
            mid = int(p.get("message_id"))
        except (TypeError, ValueError):
            raise bad_request("message identifier is not specified") from None
        with self._lock:
            src = self._messages.get((src_chat["id"], mid))
        if src is None:
            raise bad_request("message to forward not found" if forward else "message to copy not found")
        content = {k: copy.deepcopy(v) for k, v in src.items()
                   if k in ("text", "entities", "caption", "caption_entities", "photo", "document",
                            "voice", "sticker", "audio", "video", "animation")}
        if forward:
            origin = src.get("from") or src.get("sender_chat") or {}
            content["forward_origin"] = {"type": "user", "sender_user": origin, "date": src["date"]}
        return self._new_bot_message(chat, {k: v for k, v in p.items() if k != "reply_markup"} | (
            {"reply_markup": p["reply_markup"]} if "reply_markup" in p and not forward else {}), content)

    def _m_senddice(self, p: dict) -> dict:
        chat = self._target_chat(p)
        emoji = p.get("emoji") or "🎲"
        return self._new_bot_message(chat, p, {"dice": {"emoji": emoji, "value": 4}})

    def _m_sendlocation(self, p: dict) -> dict:
        chat = self._target_chat(p)
        return self._new_bot_message(chat, p, {"location": {"latitude": float(p.get("latitude") or 0),
                                                            "longitude": float(p.get("longitude") or 0)}})

    def _m_sendcontact(self, p: dict) -> dict:
        chat = self._target_chat(p)
        return self._new_bot_message(chat, p, {"contact": {"phone_number": str(p.get("phone_number") or ""),
                                                           "first_name": str(p.get("first_name") or "")}})

    def _m_sendmediagroup(self, p: dict) -> list:
        chat = self._target_chat(p)
        media = p.get("media")
        if not isinstance(media, list) or not 2 <= len(media) <= 10:
            raise bad_request("wrong number of messages in media group" if isinstance(media, list)
                              else "can't parse media JSON object")
        group_id = str(10**17 + next(self._ids))
        result = []
        for item in media:
            kind = item.get("type", "photo")
            sub = {kind: item.get("media"), "caption": item.get("caption"),
                   "parse_mode": item.get("parse_mode")}
            sub.update({k: v for k, v in p.items() if k in ("chat_id", "reply_parameters")})
            msg = self._send_media(kind, {k: v for k, v in sub.items() if v is not None})
            with self._lock:
                self._messages[(chat["id"], msg["message_id"])]["media_group_id"] = group_id
            msg["media_group_id"] = group_id
            result.append(msg)
        return result

    def _m_answercallbackquery(self, p: dict) -> bool:
        qid = str(p.get("callback_query_id") or "")
        with self._lock:
            if qid not in self._callback_queries or qid in self._answered_callbacks:
                raise bad_request("query is too old and response timeout expired or query ID is invalid")
            text = p.get("text")
            if text is not None and utf16_len(str(text)) > 200:
                raise bad_request("MESSAGE_TOO_LONG")
            self._answered_callbacks.add(qid)
        return True

    def _m_answerinlinequery(self, p: dict) -> bool:
        qid = str(p.get("inline_query_id") or "")
        results = p.get("results")
        if isinstance(results, str) or results is None:
            raise bad_request("can't parse JSON object")
        if not isinstance(results, list):
            raise bad_request("results must be an Array")
        if len(results) > 50:
            raise bad_request("RESULTS_TOO_MUCH")
        seen = set()
        for r in results:
            if not isinstance(r, dict):
                raise bad_request("can't parse InlineQueryResult: InlineQueryResult must be an Object")
            rid = r.get("id")
            if not isinstance(rid, str) or not 1 <= len(rid.encode()) <= 64:
                raise bad_request("RESULT_ID_INVALID")
            if rid in seen:
                raise bad_request("RESULT_ID_DUPLICATE")
            seen.add(rid)
            if r.get("type") == "article" and not str(r.get("title") or "").strip():
                raise bad_request("RESULT_TITLE_EMPTY")
            content = r.get("input_message_content")
            if isinstance(content, dict) and "message_text" in content:
                parse_text(content.get("message_text"), content.get("parse_mode"),
                           strict_entities=self.strict_html_entities)
            elif r.get("type") == "article":
                raise bad_request("can't parse InlineQueryResult: "
                                  "Field \"input_message_content\" must be of type Object")
            if "caption" in r:
                parse_text(r.get("caption"), r.get("parse_mode"), what="caption",
                           limit=MAX_CAPTION_LENGTH, strict_entities=self.strict_html_entities)
            if "reply_markup" in r:
                self._check_markup(r["reply_markup"])
        button = p.get("button")
        if button not in (None, ""):
            if not isinstance(button, dict) or not str(button.get("text") or "").strip():
                raise bad_request("can't parse InlineQueryResultsButton JSON object")
            if "start_parameter" in button and not re.fullmatch(r"[A-Za-z0-9_-]{1,64}",
                                                                str(button["start_parameter"])):
                raise bad_request("START_PARAM_INVALID")
        with self._lock:
            if qid not in self._inline_queries:
                raise bad_request("query is too old and response timeout expired or query ID is invalid")
            del self._inline_queries[qid]
        return True


_TRUE_METHODS = {
    "setmessagereaction", "leavechat", "pinchatmessage", "unpinchatmessage", "unpinallchatmessages",
    "setmyname", "setmydescription", "setmyshortdescription", "setchatmenubutton",
    "setmydefaultadministratorrights",
}


def _scope_key(p: dict) -> str:
    scope = p.get("scope") or {"type": "default"}
    return json.dumps([scope, p.get("language_code") or ""], sort_keys=True)


def _message_of(obj: Any) -> dict:
    """Accept a message dict, an update dict wrapping one, a Call or a PTB object."""
    if isinstance(obj, Call):
        obj = obj.result
    if hasattr(obj, "to_dict"):
        obj = obj.to_dict()
    if not isinstance(obj, dict):
        raise TypeError(f"expected a message, got {obj!r}")
    if "message_id" in obj and "chat" in obj:
        return obj
    for key in ("message", "edited_message", "channel_post", "edited_channel_post"):
        if isinstance(obj.get(key), dict):
            return obj[key]
    if isinstance(obj.get("callback_query"), dict) and "message" in obj["callback_query"]:
        return obj["callback_query"]["message"]
    raise ValueError(f"not a message: {obj!r}")


def _describe(payload: bytes) -> str:
    try:
        return json.loads(payload)["description"]
    except (ValueError, KeyError, TypeError):
        m = re.search(rb"<title>(.*?)</title>", payload)
        return m.group(1).decode() if m else payload.decode("utf-8", "replace")[:60]


def _json_response(body: dict, status: int) -> tuple[int, bytes, str]:
    return status, json.dumps(body, ensure_ascii=False).encode("utf-8"), "application/json"
