"""Which update is what: a question, a command, a button press, an inline query, or nothing for us.

Messages (`route`):
- private chat: every text message (a photo's caption counts as text);
- groups: `/ask question`, `/ask@thisbot question`, messages mentioning @thisbot, and
  replies to the bot's own messages; everything else, including commands addressed to
  other bots, is ignored;
- inline mode: `@thisbot question` in any chat offers the top excerpts as results.

Buttons carry ids, never state: `<kind>:<value>` (`ShowPassage`, `MoreQuotes`, and the feedback
buttons `Vote` and `Reason`, which carry the answer's random id in the question log; `parse_button`
reads them back), so they keep working after a restart. `register` installs the handlers in the one order that works
(see there). Plain values and functions except `register`: the rules are tested without Telegram.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from telegram import Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ExtBot,
    InlineQueryHandler,
    JobQueue,
    MessageHandler,
    filters,
)

from bot.operations.question_log import FEEDBACK_REASONS, MAX_QUESTION_ID

COMMANDS = (  # the command menu Telegram shows (setMyCommands); /reload and /stats are for admins, not listed
    ("start", "What I know, with example questions"),
    ("help", "How to ask, in private and in groups"),
    ("sources", "The articles I quote from"),
    ("ask", "Ask a question (in groups: /ask your question)"),
)
MAX_MORE_OFFSET = 200  # a "More quotes" button past this many quotes is not one the bot made
_COMMAND = re.compile(r"^/([A-Za-z0-9_]+)(?:@([A-Za-z0-9_]+))?(?=\s|$)")


# --- Messages ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Question:
    """A message that asks the corpus something (`text` may be empty: "ask in words")."""

    text: str


@dataclass(frozen=True, slots=True)
class EmptyAsk:
    """`/ask` with nothing after it."""


@dataclass(frozen=True, slots=True)
class UnknownCommand:
    """A command addressed to this bot that it does not have."""

    name: str


Route = Question | EmptyAsk | UnknownCommand


def question_text(text: str, bot_username: str | None) -> str:
    """The question in a message addressed to the bot: without a leading /ask command
    (or /ask@bot) and without mentions of the bot."""
    text = text.strip()
    match = _COMMAND.match(text)
    if match and match.group(1).lower() == "ask":
        text = text[match.end() :]
    if bot_username:
        text = re.sub(rf"@{re.escape(bot_username)}\b", " ", text, flags=re.IGNORECASE)
        text = re.sub(r"[ \t]{2,}", " ", text)
    return text.strip()


def route(text: str, *, private: bool, bot_username: str | None, replying_to_bot: bool) -> Route | None:
    """What a message's text is for this bot, or None to ignore it. (The commands with their own
    handler, /start /help /sources /reload, never get here: see `register`.)"""
    stripped = text.strip()
    match = _COMMAND.match(stripped)
    if match:
        command, addressee = match.group(1).lower(), match.group(2)
        if addressee and (not bot_username or addressee.lower() != bot_username.lower()):
            return None  # a command for another bot
        if command == "ask":
            question = question_text(stripped, bot_username)
            return Question(question) if question else EmptyAsk()
        if private or addressee:
            return UnknownCommand(command)
        return None  # in a group, a bare unknown command is probably for another bot
    mentioned = bool(bot_username) and re.search(
        rf"@{re.escape(bot_username or '')}\b", stripped, flags=re.IGNORECASE
    ) is not None
    if private or mentioned or replying_to_bot:
        return Question(question_text(stripped, bot_username))
    return None


# --- Buttons -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ShowPassage:
    """"Passage n": show the whole passage whose `bot.retrieval.index_arrays.passage_key` is `key`."""

    key: str
    KIND: ClassVar[str] = "p"

    @property
    def data(self) -> str:
        return f"{self.KIND}:{self.key}"


@dataclass(frozen=True, slots=True)
class MoreQuotes:
    """"More quotes": answer the question again from quote `offset` + 1 on (the question is read
    again from the message the answer replies to)."""

    offset: int
    KIND: ClassVar[str] = "more"

    @property
    def data(self) -> str:
        return f"{self.KIND}:{self.offset}"


@dataclass(frozen=True, slots=True)
class Vote:
    """👍 (`up`) or 👎 on the answer logged as `question_id` in the question log."""

    question_id: int
    up: bool
    KIND: ClassVar[str] = "fb"

    @property
    def data(self) -> str:
        return f"{self.KIND}:{self.question_id}:{'u' if self.up else 'd'}"


@dataclass(frozen=True, slots=True)
class Reason:
    """After a 👎: what was wrong with the answer logged as `question_id`, one of FEEDBACK_REASONS."""

    question_id: int
    index: int
    KIND: ClassVar[str] = "fr"

    @property
    def data(self) -> str:
        return f"{self.KIND}:{self.question_id}:{self.index}"

    @property
    def text(self) -> str:
        return FEEDBACK_REASONS[self.index]


Button = ShowPassage | MoreQuotes | Vote | Reason


def parse_button(data: str | None) -> Button | None:
    """The button a callback query's data names, or None for data this bot never made
    (an old format, a forged or out-of-range value)."""
    kind, _, value = (data or "").partition(":")
    if kind == ShowPassage.KIND:
        return ShowPassage(value)
    # isascii: isdigit() also passes "²" and other digits int() refuses
    if kind == MoreQuotes.KIND and value.isascii() and value.isdigit() and 0 < int(value) <= MAX_MORE_OFFSET:
        return MoreQuotes(int(value))
    question, _, choice = value.partition(":")
    if not (question.isascii() and question.isdigit() and 0 < int(question) < MAX_QUESTION_ID):
        return None
    if kind == Vote.KIND and choice in ("u", "d"):
        return Vote(int(question), choice == "u")
    if kind == Reason.KIND and choice.isascii() and choice.isdigit() and int(choice) < len(FEEDBACK_REASONS):
        return Reason(int(question), int(choice))
    return None


def reason_asked_for(keyboard_data: list[str]) -> int | None:
    """The question id whose 👎 a message's buttons ask the reason for (its `Reason` buttons), if any:
    a reply to that message is the reason in the reader's words."""
    for data in keyboard_data:
        button = parse_button(data)
        if isinstance(button, Reason):
            return button.question_id
    return None


# --- Handlers, in order --------------------------------------------------------------------------

Context = ContextTypes.DEFAULT_TYPE
# The Application `bot.telegram.service` builds: PTB's defaults, with FloodControl's rate-limit argument (int).
BotApplication = Application[
    ExtBot[int], Context, dict[Any, Any], dict[Any, Any], dict[Any, Any], JobQueue[Context]
]


class Handlers(Protocol):
    """What `register` routes updates to (`bot.telegram.handlers.CorpusBot`)."""

    async def start(self, update: Update, context: Context) -> None: ...
    async def help(self, update: Update, context: Context) -> None: ...
    async def sources(self, update: Update, context: Context) -> None: ...
    async def reload(self, update: Update, context: Context) -> None: ...
    async def stats(self, update: Update, context: Context) -> None: ...
    async def on_message(self, update: Update, context: Context) -> None: ...
    async def on_other_message(self, update: Update, context: Context) -> None: ...
    async def on_edited_message(self, update: Update, context: Context) -> None: ...
    async def on_button(self, update: Update, context: Context) -> None: ...
    async def on_inline_query(self, update: Update, context: Context) -> None: ...
    async def on_error(self, update: object, context: Context) -> None: ...  # PTB passes None for polling errors


def register(application: BotApplication, handlers: Handlers) -> None:
    """Install the handlers. PTB runs the first handler (of group 0) whose filter matches, so the
    order is part of the routing:

    1. the commands with their own handler (/reload and /stats are for admins), before the text
       handler (which would take "/start" for an unknown command);
    2. text and captions: questions, /ask and other commands (`route`);
    3. anything else in a private chat (a sticker, a voice note): after 2, so it only
       gets what has no text;
    4. edited messages, button presses and inline queries, each of its own update type.
    """
    message = filters.UpdateType.MESSAGE
    application.add_handler(CommandHandler("start", handlers.start, filters=message))
    application.add_handler(CommandHandler("help", handlers.help, filters=message))
    application.add_handler(CommandHandler("sources", handlers.sources, filters=message))
    application.add_handler(CommandHandler("reload", handlers.reload, filters=message))
    application.add_handler(CommandHandler("stats", handlers.stats, filters=message))
    application.add_handler(MessageHandler(message & (filters.TEXT | filters.CAPTION), handlers.on_message))
    application.add_handler(MessageHandler(message & filters.ChatType.PRIVATE, handlers.on_other_message))
    application.add_handler(MessageHandler(filters.UpdateType.EDITED_MESSAGE, handlers.on_edited_message))
    application.add_handler(CallbackQueryHandler(handlers.on_button))
    application.add_handler(InlineQueryHandler(handlers.on_inline_query))
    application.add_error_handler(handlers.on_error)
