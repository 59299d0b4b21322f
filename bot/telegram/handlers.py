"""Telegram handlers: take the text from an update, ask the core, reply with `telegram_html`.

Routing (which messages are questions):
- private chat: every text message (a photo's caption counts as text);
- groups: `/ask question`, `/ask@thisbot question`, messages mentioning @thisbot, and
  replies to the bot's own messages; everything else, including commands addressed to
  other bots, is ignored;
- inline mode: `@thisbot question` in any chat offers the top excerpts as results.

Buttons carry ids, never state: `more:<offset>` reads the question again from the
message the answer replies to, `p:<passage key>` names a passage (`bot.retrieval.library.passage_key`).
Both keep working after a restart, and every press is answered (answerCallbackQuery).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Sequence
from typing import TypeVar

from telegram import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
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
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    InlineQueryHandler,
    MessageHandler,
    filters,
)

from bot.telegram import messages as th
from bot.answers import Answer, answer_question
from bot.corpus.articles import CorpusError
from bot.telegram.answer_threads import AnswerThreads
from bot.telegram.library_holder import LibraryHolder
from bot.retrieval.library import Library, passage_key
from bot.telegram.access import AccessPolicy, RateLimit

log = logging.getLogger(__name__)
T = TypeVar("T")

TYPING_AFTER = 0.3  # seconds of work before the typing indicator is shown (fast answers need none)
TYPING_REPEAT = 4.5  # Telegram shows "typing" for about 5 s
INLINE_RESULTS = 5
INLINE_CACHE_SECONDS = 60
MAX_MORE_OFFSET = 200
CONFLICT_LOG_EVERY = 60.0  # seconds between two reports of a second instance polling
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
COMMANDS = (
    ("start", "What I know, with example questions"),
    ("help", "How to ask, in private and in groups"),
    ("sources", "The articles I quote from"),
    ("ask", "Ask a question (in groups: /ask your question)"),
)
_COMMAND = re.compile(r"^/([A-Za-z0-9_]+)(?:@([A-Za-z0-9_]+))?(?=\s|$)")


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


def route(text: str, *, private: bool, bot_username: str | None, replying_to_bot: bool) -> tuple[str, str] | None:
    """What to do with a message's text: ("question", q), ("empty_ask", ""), ("unknown_command", name),
    or None to ignore it."""
    stripped = text.strip()
    match = _COMMAND.match(stripped)
    if match:
        command, addressee = match.group(1).lower(), match.group(2)
        if addressee and (not bot_username or addressee.lower() != bot_username.lower()):
            return None  # a command for another bot
        if command == "ask":
            question = question_text(stripped, bot_username)
            return ("question", question) if question else ("empty_ask", "")
        if private or addressee:
            return ("unknown_command", command)
        return None  # in a group, a bare unknown command is probably for another bot
    mentioned = bool(bot_username) and re.search(
        rf"@{re.escape(bot_username or '')}\b", stripped, flags=re.IGNORECASE
    ) is not None
    if private or mentioned or replying_to_bot:
        return ("question", question_text(stripped, bot_username))
    return None


class CorpusBot:
    """The handlers, with what they need: the library, answer settings, access and limits."""

    def __init__(
        self,
        holder: LibraryHolder,
        *,
        threads: AnswerThreads,
        top_k: int,
        min_match: float,
        access: AccessPolicy,
        questions_per_minute: int,
        example_questions: Sequence[str] = (),
    ):
        self.holder = holder
        self.threads = threads  # answering runs there, off the event loop
        self.top_k = top_k
        self.min_match = min_match
        self.access = access
        self.questions = RateLimit(questions_per_minute)
        self.inline_queries = RateLimit(questions_per_minute * 3)  # typing inline sends a query per pause
        self.refusals = RateLimit(1, 600.0)  # tell an unlisted person "private bot" at most every 10 min
        self.example_questions = tuple(example_questions)
        self._examples: tuple[int, tuple[str, ...]] | None = None
        self._overview: tuple[int, th.Overview] | None = None
        self._last_conflict_report = float("-inf")

    def register(self, application: Application) -> None:
        message = filters.UpdateType.MESSAGE
        application.add_handler(CommandHandler("start", self.start, filters=message))
        application.add_handler(CommandHandler("help", self.help, filters=message))
        application.add_handler(CommandHandler("sources", self.sources, filters=message))
        application.add_handler(CommandHandler("reload", self.reload, filters=message))
        application.add_handler(MessageHandler(message & (filters.TEXT | filters.CAPTION), self.on_message))
        application.add_handler(MessageHandler(message & filters.ChatType.PRIVATE, self.on_other_message))
        application.add_handler(MessageHandler(filters.UpdateType.EDITED_MESSAGE, self.on_edited_message))
        application.add_handler(CallbackQueryHandler(self.on_button))
        application.add_handler(InlineQueryHandler(self.on_inline_query))
        application.add_error_handler(self.on_error)

    # --- Commands ------------------------------------------------------------------------------

    async def start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if not await self._admitted(update, context):
            return
        view = await self._corpus_overview()
        text = th.start_text(view, await self._example_list(), context.bot.username)
        await self._reply(update, context, text)

    async def help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if not await self._admitted(update, context):
            return
        await self._reply(update, context, th.help_text(context.bot.username, await self._example_list()))

    async def sources(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if not await self._admitted(update, context):
            return
        for text in th.sources_messages(await self._corpus_overview()):
            await self._reply(update, context, text)

    async def reload(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        user = update.effective_user
        if not self.access.is_admin(user.id if user else None):
            if await self._admitted(update, context):
                await self._reply(update, context, th.escape(th.ADMINS_ONLY))
            return
        try:
            reloaded = await self.holder.reload()
        except (CorpusError, OSError, ValueError) as error:
            log.warning("reload requested by %s failed, keeping the current corpus: %s", user.id, error)
            await self._reply(update, context, th.reload_failed(str(error), len(self.holder.library.documents)))
            return
        before = reloaded.previous
        library = reloaded.library
        log.info("corpus reloaded by %s: %d articles, %d passages", user.id, len(library.documents),
                 len(library.passages))
        text = th.reload_done(
            len(library.documents), len(library.passages), (len(before.documents), len(before.passages)),
            [str(p) for p in reloaded.problems],
        )
        await self._reply(update, context, text)

    # --- Questions -----------------------------------------------------------------------------

    async def on_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.message
        if message is None or (message.via_bot is not None and message.via_bot.id == context.bot.id):
            return  # an inline result of this bot, sent by a user: a quote, not a question
        text = message.text or message.caption or ""
        original = message.reply_to_message
        replying_to_bot = bool(original and original.from_user and original.from_user.id == context.bot.id)
        decision = route(
            text,
            private=message.chat.type == ChatType.PRIVATE,
            bot_username=context.bot.username,
            replying_to_bot=replying_to_bot,
        )
        if decision is None:
            return
        if not await self._admitted(update, context):
            return
        kind, value = decision
        if kind == "unknown_command":
            await self._reply(update, context, th.escape(th.UNKNOWN_COMMAND))
        elif kind == "empty_ask":
            await self._reply(update, context, th.empty_ask(await self._example_list()))
        else:
            await self._answer(context, message.chat.id, message.from_user.id if message.from_user else None,
                               value, message.message_id, offset=0)

    async def _answer(
        self, context: ContextTypes.DEFAULT_TYPE, chat_id: int, user_id: int | None, question: str,
        reply_to: int, *, offset: int,
    ) -> Answer | None:
        """Answer `question` in `chat_id`; `user_id` is counted against the per-user limit (None: counted
        already)."""
        if user_id is not None:
            verdict = self.questions.check(user_id)
            if not verdict.allowed:
                if verdict.first_refusal:
                    await send_html(context.bot, chat_id, th.rate_limited(verdict.retry_in), reply_to=reply_to)
                return None
        library = self.holder.library
        answer = await self._while_typing(
            context, chat_id,
            self.threads.run(
                answer_question, library, question, limit=self.top_k, min_match=self.min_match, offset=offset
            ),
        )
        if offset and not answer.answered:
            chunks = [th.Chunk(th.escape(th.NO_MORE))]
        else:
            examples = await self._example_list() if not answer.terms else ()  # only "ask in words" needs them
            chunks = th.answer_messages(answer, first_number=offset + 1, examples=examples)
        for index, chunk in enumerate(chunks):
            more = answer.more and index == len(chunks) - 1
            keyboard = answer_keyboard(chunk, next_offset=offset + len(answer.excerpts) if more else None)
            await send_html(context.bot, chat_id, chunk.html, reply_to=reply_to, keyboard=keyboard)
        return answer

    async def _while_typing(self, context: ContextTypes.DEFAULT_TYPE, chat_id: int, work: Awaitable[T]) -> T:
        """Await `work`; if it takes a noticeable time, show "typing…" in the chat meanwhile."""
        task = asyncio.ensure_future(work)
        try:
            delay = TYPING_AFTER
            while True:
                done, _ = await asyncio.wait({task}, timeout=delay)
                if done:
                    return task.result()
                try:
                    await context.bot.send_chat_action(chat_id, ChatAction.TYPING)
                except TelegramError as error:
                    log.debug("typing indicator not shown in %s: %s", chat_id, error)
                delay = TYPING_REPEAT
        finally:
            if not task.done():
                task.cancel()

    async def on_other_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A sticker, voice note, photo without caption... in a private chat: say what works."""
        message = update.message
        if message is None or message.from_user is None or message.from_user.is_bot:
            return
        if await self._admitted(update, context):
            await self._reply(update, context, th.escape(th.NOT_TEXT_HINT))

    async def on_edited_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.edited_message
        if message is None or message.chat.type != ChatType.PRIVATE or not (message.text or message.caption):
            return
        if await self._admitted(update, context, message=message):
            await send_html(context.bot, message.chat.id, th.escape(th.EDITED_HINT), reply_to=message.message_id)

    # --- Buttons -------------------------------------------------------------------------------

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        answered = False

        async def answer(text: str | None = None, alert: bool = False) -> None:
            nonlocal answered
            answered = True
            await query.answer(text, show_alert=alert)

        try:
            user_id = query.from_user.id
            message = query.message if isinstance(query.message, Message) else None
            chat_id = message.chat.id if message else None
            if not self.access.allows(user_id, chat_id):
                await answer(th.NOT_ALLOWED, alert=True)
                return
            kind, _, value = (query.data or "").partition(":")
            if message is None:
                await answer(th.ASK_AGAIN, alert=True)
            elif kind == "p":
                await self._show_passage(context, query, message, value, answer)
            elif kind == "more" and value.isdigit() and 0 < int(value) <= MAX_MORE_OFFSET:
                await self._show_more(context, query, message, int(value), answer)
            else:
                await answer(th.BUTTON_EXPIRED, alert=True)
        finally:
            if not answered:  # an error above (the error handler apologises): still stop the spinner
                try:
                    await query.answer()
                except TelegramError as error:
                    log.debug("could not answer callback query: %s", error)

    async def _show_passage(self, context, query: CallbackQuery, message: Message, key: str, answer) -> None:
        library = self.holder.library
        passage = library.passage_by_key(key)
        if passage is None:
            await answer(th.PASSAGE_GONE, alert=True)
            return
        await answer()
        document = library.documents[passage.doc_id]
        for text in th.passage_messages(document, passage):
            await send_html(context.bot, message.chat.id, text, reply_to=message.message_id)

    async def _show_more(self, context, query: CallbackQuery, message: Message, offset: int, answer) -> None:
        original = message.reply_to_message
        question = question_text(original.text or original.caption or "", context.bot.username) if original else ""
        if not question:
            await answer(th.ASK_AGAIN, alert=True)
            return
        verdict = self.questions.check(query.from_user.id)
        if not verdict.allowed:
            await answer(th.RATE_LIMITED.format(seconds=max(1, round(verdict.retry_in))), alert=True)
            return
        await answer()
        await self._answer(context, message.chat.id, None, question, original.message_id, offset=offset)
        await drop_more_button(message)

    # --- Inline mode ---------------------------------------------------------------------------

    async def on_inline_query(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.inline_query
        if query is None:
            return
        if not self.access.allows(query.from_user.id, None):
            await query.answer([], cache_time=0, is_personal=True)
            return
        text = query.query.strip()
        if not text:
            await query.answer([], cache_time=0, is_personal=True,
                               button=InlineQueryResultsButton(th.INLINE_HELP, start_parameter="inline"))
            return
        if not self.inline_queries.check(query.from_user.id).allowed:
            await query.answer([], cache_time=0, is_personal=True)
            return
        library = self.holder.library
        limit = min(10, max(self.top_k, INLINE_RESULTS))
        answer = await self.threads.run(answer_question, library, text, limit=limit, min_match=self.min_match)
        results = [
            InlineQueryResultArticle(
                id=f"{index}-{passage_key(excerpt.passage.passage_id)}",
                title=item.title,
                description=item.description,
                input_message_content=InputTextMessageContent(
                    item.html, parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW
                ),
            )
            for index, (excerpt, item) in enumerate(zip(answer.excerpts, th.inline_items(answer)))
        ]
        button = None if results else InlineQueryResultsButton(th.INLINE_NOTHING, start_parameter="inline")
        try:
            await query.answer(results, cache_time=INLINE_CACHE_SECONDS, is_personal=True, button=button)
        except BadRequest as error:  # the user typed on; Telegram dropped this query
            log.debug("inline query %s not answered: %s", query.id, error)

    # --- Errors --------------------------------------------------------------------------------

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        error = context.error
        if update is None:  # fetching updates, or a background task
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
        try:
            chat = update.effective_chat
            message = update.effective_message
            if chat is not None and message is not None and chat.type != ChatType.CHANNEL:
                await send_html(context.bot, chat.id, th.escape(th.APOLOGY), reply_to=message.message_id)
        except TelegramError as apology_error:
            log.warning("update %s: the apology could not be sent either: %s", update_id, describe(apology_error))

    # --- Helpers -------------------------------------------------------------------------------

    async def _admitted(
        self, update: Update, context: ContextTypes.DEFAULT_TYPE, message: Message | None = None
    ) -> bool:
        """Whether the sender may use the bot. Refusals are logged with the ids (what an operator
        adds to the allow-list) and told to the person in a private chat, once per chat in 10 minutes."""
        user = update.effective_user
        chat = update.effective_chat
        user_id, chat_id = (user.id if user else None), (chat.id if chat else None)
        if self.access.allows(user_id, chat_id):
            return True
        if not self.refusals.check(chat_id if chat_id is not None else user_id or 0).allowed:
            return False
        log.info("not on the allow-list: user %s in chat %s", user_id, chat_id)
        message = message or update.effective_message
        if chat is not None and chat.type == ChatType.PRIVATE and message is not None:
            await send_html(context.bot, chat.id, th.escape(th.NOT_ALLOWED), reply_to=message.message_id)
        return False

    async def _reply(self, update: Update, context: ContextTypes.DEFAULT_TYPE, text: str) -> None:
        message = update.effective_message
        if message is not None:
            await send_html(context.bot, message.chat.id, text, reply_to=message.message_id)

    async def _corpus_overview(self) -> th.Overview:
        """What /start and /sources show of the corpus, made once per library, off the event loop
        (it lists every article)."""
        generation = self.holder.generation
        if self._overview is None or self._overview[0] != generation:
            library = self.holder.library
            view = await self.threads.run(lambda: th.overview(library.catalog(), len(library.passages)))
            self._overview = (generation, view)
        return self._overview[1]

    async def _example_list(self) -> tuple[str, ...]:
        """The configured example questions that the current corpus answers (else article titles)."""
        generation = self.holder.generation
        if self._examples is None or self._examples[0] != generation:
            library = self.holder.library
            examples = await self.threads.run(answerable_examples, library, self.example_questions,
                                               self.min_match)
            self._examples = (generation, examples)
        return self._examples[1]


def answerable_examples(library: Library, candidates: Sequence[str], min_match: float) -> tuple[str, ...]:
    examples = [q for q in candidates if answer_question(library, q, limit=1, min_match=min_match).answered]
    if len(examples) < 3:
        titles = sorted((d.title for d in library.catalog()), key=len)
        examples += [t for t in titles if t not in examples][: 3 - len(examples)]
    return tuple(examples[:3])


def answer_keyboard(chunk: th.Chunk, *, next_offset: int | None) -> InlineKeyboardMarkup | None:
    """Under an answer: "Passage n" for each excerpt in this message, and "More quotes" on the last."""
    rows: list[list[InlineKeyboardButton]] = []
    passages = [
        InlineKeyboardButton(f"Passage {number}", callback_data=f"p:{passage_key(excerpt.passage.passage_id)}")
        for number, excerpt in chunk.excerpts
    ]
    for start in range(0, len(passages), 3):
        rows.append(passages[start : start + 3])
    if next_offset is not None:
        rows.append([InlineKeyboardButton("More quotes", callback_data=f"more:{next_offset}")])
    return InlineKeyboardMarkup(rows) if rows else None


async def drop_more_button(message: Message) -> None:
    """Take "More quotes" off an answer once pressed (its quotes are now below it)."""
    markup = message.reply_markup
    if markup is None:
        return
    rows = [
        [b for b in row if not (isinstance(b.callback_data, str) and b.callback_data.startswith("more:"))]
        for row in markup.inline_keyboard
    ]
    rows = [row for row in rows if row]
    if sum(map(len, rows)) == sum(map(len, markup.inline_keyboard)):
        return
    try:
        await message.edit_reply_markup(InlineKeyboardMarkup(rows) if rows else None)
    except TelegramError as error:
        log.debug("could not remove the More button: %s", error)


async def send_html(
    bot, chat_id: int, text: str, *, reply_to: int | None = None, keyboard: InlineKeyboardMarkup | None = None
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
                return await bot.send_message(
                    chat_id, text, parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW,
                    reply_parameters=reply, reply_markup=keyboard,
                )
            except BadRequest as error:
                if "can't parse entities" not in str(error).lower():
                    raise
                log.warning("Telegram could not parse a message's HTML (%s); sending it as plain text", error)
                return await bot.send_message(
                    chat_id, th.plain_text(text), link_preview_options=NO_PREVIEW,
                    reply_parameters=reply, reply_markup=keyboard,
                )
        except ChatMigrated as error:
            log.info("chat %s became supergroup %s; replying there", chat_id, error.new_chat_id)
            chat_id, reply = error.new_chat_id, None  # message ids of the old chat mean nothing there
        except Forbidden as error:
            log.info("cannot send to chat %s: %s", chat_id, error)
            return None
    return None


def describe(error: BaseException | None) -> str:
    return f"{type(error).__name__}: {error}" if error is not None else "unknown error"
