"""Sending to Telegram, with Telegram's faults: HTML messages and their keyboards, the typing
indicator, button-press answers, inline results, and the error handler.

What each message says is `bot.telegram.messages`; which update gets which reply is
`bot.telegram.handlers`. Here is how it reaches the chat and what to do when Telegram objects.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Awaitable
from typing import TypeVar

from telegram import (
    Bot,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQuery,
    InlineQueryResultArticle,
    InlineQueryResultsButton,
    InputTextMessageContent,
    LinkPreviewOptions,
    Message,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatAction, ChatType, ParseMode
from telegram.error import BadRequest, ChatMigrated, Conflict, Forbidden, NetworkError, TelegramError, TimedOut
from telegram.ext import ContextTypes

from bot.answers import Answer
from bot.operations.question_log import FEEDBACK_REASONS
from bot.retrieval.library import passage_key
from bot.telegram import messages as th
from bot.telegram.routing import MoreQuotes, Reason, ShowPassage, Vote, parse_button

log = logging.getLogger(__name__)
T = TypeVar("T")

TYPING_AFTER = 0.3  # seconds of work before the typing indicator is shown (fast answers need none)
TYPING_REPEAT = 4.5  # Telegram shows "typing" for about 5 s
INLINE_CACHE_SECONDS = 60
CONFLICT_LOG_EVERY = 60.0  # seconds between two reports of a second instance polling
PASSAGE_BUTTONS_PER_ROW = 3
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
TOO_OLD = "query is too old"  # Telegram's answer to answerCallbackQuery for a press made long ago

# Whether the update being handled has delivered a message already. Each update is handled in a task
# of its own, with its own copy of the context, so this is per update; the error handler (run in the
# same task) reads it to not apologise after a reply the user has already seen.
_delivered: contextvars.ContextVar[bool] = contextvars.ContextVar("delivered", default=False)


def delivered() -> bool:
    """Whether the update being handled has delivered a message to the chat already."""
    return _delivered.get()


# --- Messages ------------------------------------------------------------------------------------


async def send_html(
    bot: Bot, chat_id: int, text: str, *, reply_to: int | None = None, keyboard: InlineKeyboardMarkup | None = None
) -> Message | None:
    """Send one HTML message (link previews off), replying to `reply_to` if it still exists.

    Telegram faults handled here: HTML it cannot parse (sent again as plain text: the first
    attempt was rejected, so nothing is sent twice), a group that became a supergroup (sent
    to the new chat), and a bot blocked by the user (logged, nothing to do). Other errors
    propagate to the error handler; timeouts and 5xx answers are not retried, since the
    message may have been delivered.
    """
    reply = ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to else None
    for _ in range(2):
        try:
            try:
                sent = await bot.send_message(
                    chat_id, text, parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW,
                    reply_parameters=reply, reply_markup=keyboard,
                )
            except BadRequest as error:
                if "can't parse entities" not in str(error).lower():
                    raise
                log.warning("Telegram could not parse a message's HTML (%s); sending it as plain text", error)
                sent = await bot.send_message(
                    chat_id, th.plain_text(text), link_preview_options=NO_PREVIEW,
                    reply_parameters=reply, reply_markup=keyboard,
                )
            _delivered.set(True)
            return sent
        except ChatMigrated as error:
            log.info("chat %s became supergroup %s; replying there", chat_id, error.new_chat_id)
            chat_id, reply = error.new_chat_id, None  # message ids of the old chat mean nothing there
        except Forbidden as error:
            log.info("cannot send to chat %s: %s", chat_id, error)
            return None
    return None


async def edit_html(message: Message, text: str) -> None:
    """Replace the text of one of the bot's messages (HTML) and take its buttons off."""
    try:
        await message.edit_text(text, parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW, reply_markup=None)
    except TelegramError as error:  # deleted meanwhile, or too old to edit: the notice is not worth more
        log.debug("could not edit message %s: %s", message.message_id, error)


async def reply(update: Update, bot: Bot, text: str) -> None:
    """Send `text` (HTML) in the update's chat, replying to its message."""
    message = update.effective_message
    if message is not None:
        await send_html(bot, message.chat.id, text, reply_to=message.message_id)


async def while_typing(bot: Bot, chat_id: int, work: Awaitable[T]) -> T:
    """Await `work`; if it takes a noticeable time, show "typing…" in the chat meanwhile."""
    task = asyncio.ensure_future(work)
    try:
        delay = TYPING_AFTER
        while True:
            done, _ = await asyncio.wait({task}, timeout=delay)
            if done:
                return task.result()
            try:
                await bot.send_chat_action(chat_id, ChatAction.TYPING)
            except TelegramError as error:
                log.debug("typing indicator not shown in %s: %s", chat_id, error)
            delay = TYPING_REPEAT
    finally:
        if not task.done():
            task.cancel()


# --- Buttons -------------------------------------------------------------------------------------


def answer_keyboard(chunk: th.Chunk, *, next_offset: int | None, feedback: int | None = None
                    ) -> InlineKeyboardMarkup | None:
    """Under an answer: "Passage n" for each excerpt in this message, "More quotes" on the last, and
    👍 👎 under the last message of an answer logged as question `feedback`."""
    passages = [
        InlineKeyboardButton(
            f"Passage {number}", callback_data=ShowPassage(passage_key(excerpt.passage.passage_id)).data
        )
        for number, excerpt in chunk.excerpts
    ]
    rows = [passages[start : start + PASSAGE_BUTTONS_PER_ROW] for start in range(0, len(passages),
                                                                                  PASSAGE_BUTTONS_PER_ROW)]
    if next_offset is not None:
        rows.append([InlineKeyboardButton("More quotes", callback_data=MoreQuotes(next_offset).data)])
    if feedback is not None:
        rows.append([InlineKeyboardButton(th.UP_BUTTON, callback_data=Vote(feedback, up=True).data),
                     InlineKeyboardButton(th.DOWN_BUTTON, callback_data=Vote(feedback, up=False).data)])
    return InlineKeyboardMarkup(rows) if rows else None


def reason_keyboard(question_id: int) -> InlineKeyboardMarkup:
    """Under "What was wrong?" after a 👎: one button for each ready-made reason."""
    return InlineKeyboardMarkup([[
        InlineKeyboardButton(text.capitalize(), callback_data=Reason(question_id, index).data)
        for index, text in enumerate(FEEDBACK_REASONS)
    ]])


def button_data(message: Message) -> list[str]:
    """The callback data of the buttons under a message."""
    markup = message.reply_markup
    if markup is None:
        return []
    return [b.callback_data for row in markup.inline_keyboard for b in row if isinstance(b.callback_data, str)]


async def drop_more_button(message: Message) -> None:
    """Take "More quotes" off an answer once pressed (its quotes are now below it)."""
    markup = message.reply_markup
    if markup is None:
        return
    rows = [
        [b for b in row if not (isinstance(b.callback_data, str) and isinstance(parse_button(b.callback_data),
                                                                                 MoreQuotes))]
        for row in markup.inline_keyboard
    ]
    rows = [row for row in rows if row]
    if sum(map(len, rows)) == sum(map(len, markup.inline_keyboard)):
        return
    try:
        await message.edit_reply_markup(InlineKeyboardMarkup(rows) if rows else None)
    except TelegramError as error:
        log.debug("could not remove the More button: %s", error)


class ButtonPress:
    """A button press, answered exactly once (Telegram shows a spinner on the button until it is).

    Use as `async with ButtonPress(query) as press:`; `await press.answer(...)` stops the spinner,
    with a notice if given. If the handler fails before answering, leaving the block answers
    without a notice (the error handler apologises in the chat)."""

    def __init__(self, query: CallbackQuery) -> None:
        self.query = query
        self.answered = False

    async def answer(self, text: str | None = None, *, alert: bool = False) -> None:
        """Stop the spinner. A press Telegram no longer takes an answer for (made while the bot was down:
        "query is too old") is still acted on: the passage or the quotes are sent all the same."""
        self.answered = True
        try:
            await self.query.answer(text, show_alert=alert)
        except BadRequest as error:
            if TOO_OLD not in str(error).lower():
                raise
            log.info("a button press answered too late for Telegram (%s); acting on it all the same", error)

    async def __aenter__(self) -> ButtonPress:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if not self.answered:
            try:
                await self.query.answer()
            except TelegramError as error:
                log.debug("could not answer callback query: %s", error)


# --- Inline mode ---------------------------------------------------------------------------------


async def answer_inline(query: InlineQuery, answer: Answer) -> None:
    """Offer the answer's excerpts as the results of an inline query (or say there is nothing)."""
    results = [
        InlineQueryResultArticle(
            id=f"{index}-{passage_key(excerpt.passage.passage_id)}",
            title=item.title,
            description=item.description,
            input_message_content=InputTextMessageContent(
                item.html, parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW
            ),
        )
        for index, (excerpt, item) in enumerate(zip(answer.excerpts, th.inline_items(answer), strict=True))
    ]
    button = None if results else InlineQueryResultsButton(th.INLINE_NOTHING, start_parameter="inline")
    try:
        await query.answer(results, cache_time=INLINE_CACHE_SECONDS, is_personal=True, button=button)
    except BadRequest as error:  # the user typed on; Telegram dropped this query
        log.debug("inline query %s not answered: %s", query.id, error)


async def answer_inline_empty(query: InlineQuery, hint: str | None = None) -> None:
    """No results, not cached (the next query may have some), with a button showing `hint` if given."""
    button = InlineQueryResultsButton(hint, start_parameter="inline") if hint else None
    await query.answer([], cache_time=0, is_personal=True, button=button)


# --- Errors --------------------------------------------------------------------------------------


class ErrorReporter:
    """The Application's error handler: Telegram's faults in one log line, bugs with their
    traceback, a second instance reported once a minute, and an apology in the chat."""

    def __init__(self) -> None:
        self._last_conflict_report = float("-inf")

    async def __call__(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        error = context.error
        if update is None:  # fetching updates, or a background task
            self._outside_updates(error)
            return
        update_id = update.update_id if isinstance(update, Update) else None
        if isinstance(error, Forbidden):
            log.info("update %s: Telegram refused the reply: %s", update_id, describe(error))
            return
        if isinstance(error, TelegramError):  # Telegram's side (5xx, network, ...): one line is enough
            log.warning("update %s failed: %s", update_id, describe(error))
        else:  # a bug: with the traceback
            log.error("update %s failed: %s", update_id, describe(error), exc_info=error)
        if not isinstance(update, Update) or isinstance(error, TimedOut):
            return  # a timed-out send may have been delivered: don't add to it
        if delivered():
            return  # the user has a reply already: an apology under it would only confuse
        try:
            chat = update.effective_chat
            message = update.effective_message
            if chat is not None and message is not None and chat.type != ChatType.CHANNEL:
                await send_html(context.bot, chat.id, th.escape(th.APOLOGY), reply_to=message.message_id)
        except TelegramError as apology_error:
            log.warning("update %s: the apology could not be sent either: %s", update_id, describe(apology_error))

    def _outside_updates(self, error: BaseException | None) -> None:
        if isinstance(error, Conflict):
            now = asyncio.get_running_loop().time()
            if now - self._last_conflict_report >= CONFLICT_LOG_EVERY:
                self._last_conflict_report = now
                log.error(
                    "Telegram says another program is receiving this bot's updates (409 Conflict): "
                    "a second instance is running with the same token, or a webhook is set. Stop the "
                    "other instance; this one keeps retrying."
                )
        elif isinstance(error, NetworkError):
            log.warning("cannot reach the Bot API (%s); retrying", describe(error))
        else:
            log.error("error outside any update: %s", describe(error), exc_info=error)


def describe(error: BaseException | None) -> str:
    return f"{type(error).__name__}: {error}" if error is not None else "unknown error"
