"""Telegram handlers: what the bot does with each kind of update. Each takes what it needs from
the update, asks the core (in an answer thread), renders with `bot.telegram.messages` and sends
with `bot.telegram.sending`.

Which update reaches which handler, and what a message or button press means, is
`bot.telegram.routing`; how a reply reaches Telegram, and what to do when Telegram objects, is
`bot.telegram.sending`. Every button press is answered (answerCallbackQuery).
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import logging
import time
from collections.abc import Sequence
from typing import TypeVar

from telegram import Message, Update
from telegram.constants import ChatType
from telegram.ext import ContextTypes

from bot.answers import Answer, answer_question
from bot.corpus.articles import CorpusError
from bot.operations.instruments import Instruments
from bot.operations.question_log import DOWN, UP, Asked, QuestionLogError, VoteResult, outcome_of
from bot.operations.statistics import DEFAULT_DAYS, read_statistics, report
from bot.retrieval.library import Library
from bot.telegram import messages as th
from bot.telegram import routing
from bot.telegram.access import AccessPolicy, RateLimit
from bot.telegram.answer_threads import AnswerThreads
from bot.telegram.library_holder import LibraryHolder
from bot.telegram.routing import EmptyAsk, MoreQuotes, Reason, ShowPassage, UnknownCommand, Vote, question_text
from bot.telegram.sending import (
    ButtonPress,
    ErrorReporter,
    answer_inline,
    answer_inline_empty,
    answer_keyboard,
    button_data,
    drop_more_button,
    edit_html,
    reason_keyboard,
    reply,
    send_html,
    while_typing,
)

log = logging.getLogger(__name__)

INLINE_RESULTS = 5  # inline mode offers at least this many excerpts (at most 10, or top_k if more)
MORE_SHOWN_REMEMBERED = 10_000  # "More quotes" presses remembered, so that a double tap sends them once
LATE_AFTER = 3600.0  # seconds: a question older than this when its turn comes (it arrived while the bot
# was down, and waited at Telegram or in the update store) gets a note that it came in while the bot was
# down, not an answer out of the blue
INLINE_MAX_RESULTS = 10
FEEDBACK_WAIT = 2.0  # seconds a feedback press waits for the question log's verdict before thanking anyway
STATS_WAIT = 2.0  # seconds /stats waits for the question log to write what is queued (if it can)
MAX_STATS_DAYS = 3650
T = TypeVar("T")


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
        instruments: Instruments,
    ):
        self.holder = holder
        self.threads = threads  # answering runs there, off the event loop
        self.top_k = top_k
        self.min_match = min_match
        self.access = access
        self.questions = RateLimit(questions_per_minute)
        self.requests = RateLimit(questions_per_minute)  # commands and button presses, apart from questions
        self.inline_queries = RateLimit(questions_per_minute * 3)  # typing inline sends a query per pause
        self.refusals = RateLimit(1, 600.0)  # tell an unlisted person "private bot" at most every 10 min
        self.example_questions = tuple(example_questions)
        self._examples: tuple[int, tuple[str, ...]] | None = None
        self._overview: tuple[int, th.Overview] | None = None
        self._more_shown: collections.OrderedDict[tuple[int, int, int], None] = collections.OrderedDict()
        self.on_error = ErrorReporter()
        self.metrics = instruments.metrics
        self.question_log = instruments.question_log  # None: no log, no feedback buttons, no /stats

    def register(self, application: routing.BotApplication) -> None:
        routing.register(application, self)

    # --- Commands ------------------------------------------------------------------------------

    async def start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if not await self._admitted(update, context) or not await self._within_limit(update, context):
            return
        view = await self._corpus_overview()
        await reply(update, context.bot, th.start_text(view, await self._example_list(), context.bot.username))

    async def help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if not await self._admitted(update, context) or not await self._within_limit(update, context):
            return
        await reply(update, context.bot, th.help_text(context.bot.username, await self._example_list(),
                                                      feedback=self.question_log is not None))

    async def sources(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if not await self._admitted(update, context) or not await self._within_limit(update, context):
            return
        for text in th.sources_messages(await self._corpus_overview()):
            await reply(update, context.bot, text)

    async def reload(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        user = update.effective_user
        user_id = user.id if user else None
        if not self.access.is_admin(user_id):
            if await self._admitted(update, context):
                await reply(update, context.bot, th.escape(th.ADMINS_ONLY))
            return
        try:
            reloaded = await self.holder.reload()
        except (CorpusError, OSError, ValueError) as error:
            log.warning("reload requested by %s failed, keeping the current corpus: %s", user_id, error)
            await reply(update, context.bot, th.reload_failed(str(error), len(self.holder.library.documents)))
            return
        before = reloaded.previous
        library = reloaded.library
        log.info("corpus reloaded by %s: %d articles, %d passages", user_id, len(library.documents),
                 len(library.passages))
        text = th.reload_done(
            len(library.documents), len(library.passages), (len(before.documents), len(before.passages)),
            [str(p) for p in reloaded.problems],
        )
        await reply(update, context.bot, text)

    async def stats(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/stats [days]: the question log's figures, for admins."""
        user = update.effective_user
        if not self.access.is_admin(user.id if user else None):
            if await self._admitted(update, context) and await self._within_limit(update, context):
                await reply(update, context.bot, th.escape(th.ADMINS_ONLY))
            return
        if not await self._within_limit(update, context):  # each /stats reads the whole log's window
            return
        if self.question_log is None:
            await reply(update, context.bot, th.escape(th.STATS_OFF))
            return
        days = next((int(a) for a in context.args or () if a.isdigit() and 0 < int(a) <= MAX_STATS_DAYS),
                    DEFAULT_DAYS)
        log_file = self.question_log
        await asyncio.to_thread(log_file.flush, STATS_WAIT)  # include the latest questions if the log keeps up
        try:
            figures = await asyncio.to_thread(read_statistics, log_file.path, days=days)
        except QuestionLogError as error:
            await reply(update, context.bot, th.escape(th.STATS_UNREADABLE.format(reason=error)))
            return
        for text in th.stats_messages(report(figures), log_file.problem):
            await reply(update, context.bot, text)

    # --- Messages ------------------------------------------------------------------------------

    async def on_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.message
        if message is None or (message.via_bot is not None and message.via_bot.id == context.bot.id):
            return  # an inline result of this bot, sent by a user: a quote, not a question
        original = message.reply_to_message
        replying_to_bot = bool(original and original.from_user and original.from_user.id == context.bot.id)
        asked_reason = routing.reason_asked_for(button_data(original)) if replying_to_bot and original else None
        if asked_reason is not None and original is not None and self.question_log is not None \
                and (message.text or "").strip():
            if await self._admitted(update, context) and await self._within_limit(update, context):
                await self._take_reason(context, message, original, asked_reason)
            return
        decision = routing.route(
            message.text or message.caption or "",
            private=message.chat.type == ChatType.PRIVATE,
            bot_username=context.bot.username,
            replying_to_bot=replying_to_bot,
        )
        if decision is None or not await self._admitted(update, context):
            return
        if isinstance(decision, (UnknownCommand, EmptyAsk)) and not await self._within_limit(update, context):
            return
        if isinstance(decision, UnknownCommand):
            await reply(update, context.bot, th.escape(th.UNKNOWN_COMMAND))
        elif isinstance(decision, EmptyAsk):
            await reply(update, context.bot, th.empty_ask(await self._example_list()))
        elif (age := time.time() - message.date.timestamp()) > LATE_AFTER:
            log.info("update %s: a question asked %.0f s ago, while the bot was down: not answered", update.update_id,
                     age)
            await reply(update, context.bot, th.came_while_down(age))
        else:
            self.metrics.questions.labels(message.chat.type).inc()
            await self._answer(context, message.chat.id, message.from_user.id if message.from_user else None,
                               decision.text, message.message_id, offset=0, chat_type=message.chat.type)

    async def _answer(
        self, context: ContextTypes.DEFAULT_TYPE, chat_id: int, user_id: int | None, question: str,
        reply_to: int, *, offset: int, chat_type: str | None = None,
    ) -> Answer | None:
        """Answer `question` in `chat_id`; `user_id` is counted against the per-user limit (None: counted
        already). A new question (offset 0) is counted, logged and gets the feedback buttons."""
        started = time.monotonic()
        if user_id is not None:
            verdict = self.questions.check(user_id)
            if not verdict.allowed:
                if verdict.first_refusal:
                    await send_html(context.bot, chat_id, th.rate_limited(verdict.retry_in), reply_to=reply_to)
                return None
        library = self.holder.library
        answer = await while_typing(
            context.bot, chat_id,
            self.threads.run(
                answer_question, library, question, limit=self.top_k, min_match=self.min_match, offset=offset
            ),
        )
        if offset and not answer.answered:
            chunks = [th.Chunk(th.escape(th.NO_MORE))]
        else:
            examples = await self._example_list() if not answer.terms else ()  # only "ask in words" needs them
            chunks = th.answer_messages(answer, first_number=offset + 1, examples=examples)
        new_question = offset == 0
        question_id = self.question_log.new_question_id() if self.question_log and new_question else None
        for index, chunk in enumerate(chunks):
            last = index == len(chunks) - 1
            keyboard = answer_keyboard(
                chunk, next_offset=offset + len(answer.excerpts) if answer.more and last else None,
                feedback=question_id if last and answer.terms else None,  # "ask in words" is not an answer
            )
            await send_html(context.bot, chat_id, chunk.html, reply_to=reply_to, keyboard=keyboard)
        if new_question:
            self._answered(answer, question_id, chat_type, user_id, time.monotonic() - started)
        return answer

    def _answered(self, answer: Answer, question_id: int | None, chat_type: str | None, user_id: int | None,
                  latency: float) -> None:
        """Count the answer and log it (the log only queues it: nothing here waits for the disk)."""
        outcome = outcome_of(answer)
        self.metrics.answers.labels(outcome).inc()
        self.metrics.latency.observe(latency)
        if self.question_log is not None and question_id is not None:
            self.question_log.record(Asked(
                question_id, time.time(), chat_type or "unknown", user_id, answer.question, outcome,
                tuple(excerpt.passage.passage_id for excerpt in answer.excerpts), latency,
            ))

    async def on_other_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A sticker, voice note, photo without caption... in a private chat: say what works."""
        message = update.message
        if message is None or message.from_user is None or message.from_user.is_bot:
            return
        if await self._admitted(update, context):
            await reply(update, context.bot, th.escape(th.NOT_TEXT_HINT))

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
        async with ButtonPress(query) as press:
            message = query.message if isinstance(query.message, Message) else None
            if not self.access.allows(query.from_user.id, message.chat.id if message else None):
                await press.answer(th.NOT_ALLOWED, alert=True)
                return
            button = routing.parse_button(query.data)
            limited = isinstance(button, (ShowPassage, Vote, Reason))  # "More quotes" counts as a question instead
            verdict = self.requests.check(query.from_user.id) if limited else None
            if verdict is not None and not verdict.allowed:  # every press over the limit says so: none is lost quietly
                await press.answer(th.RATE_LIMITED.format(seconds=max(1, round(verdict.retry_in))), alert=True)
                return
            if message is None:
                await press.answer(th.ASK_AGAIN, alert=True)
            elif isinstance(button, ShowPassage):
                await self._show_passage(context, press, message, button)
            elif isinstance(button, MoreQuotes):
                await self._show_more(context, press, message, button)
            elif isinstance(button, Vote) and self.question_log is not None:
                await self._vote(context, press, message, button)
            elif isinstance(button, Reason) and self.question_log is not None:
                await self._reason_chosen(press, message, button)
            else:
                await press.answer(th.BUTTON_EXPIRED, alert=True)

    async def _show_passage(
        self, context: ContextTypes.DEFAULT_TYPE, press: ButtonPress, message: Message, button: ShowPassage
    ) -> None:
        library = self.holder.library
        passage = library.passage_by_key(button.key)
        if passage is None:
            await press.answer(th.PASSAGE_GONE, alert=True)
            return
        await press.answer()
        document = library.documents[passage.doc_id]
        for text in th.passage_messages(document, passage):
            await send_html(context.bot, message.chat.id, text, reply_to=message.message_id)

    async def _show_more(
        self, context: ContextTypes.DEFAULT_TYPE, press: ButtonPress, message: Message, button: MoreQuotes
    ) -> None:
        original = message.reply_to_message
        question = question_text(original.text or original.caption or "", context.bot.username) if original else ""
        if not original or not question:
            await press.answer(th.ASK_AGAIN, alert=True)
            return
        shown = (message.chat.id, message.message_id, button.offset)
        if shown in self._more_shown:  # a double tap: the quotes are there already
            await press.answer()
            return
        verdict = self.questions.check(press.query.from_user.id)
        if not verdict.allowed:
            await press.answer(th.RATE_LIMITED.format(seconds=max(1, round(verdict.retry_in))), alert=True)
            return
        await press.answer()
        await self._answer(context, message.chat.id, None, question, original.message_id, offset=button.offset)
        self._more_shown[shown] = None  # presses of one chat are handled in order: the second tap sees this
        while len(self._more_shown) > MORE_SHOWN_REMEMBERED:
            self._more_shown.popitem(last=False)
        await drop_more_button(message)

    async def _vote(self, context: ContextTypes.DEFAULT_TYPE, press: ButtonPress, message: Message, button: Vote
                    ) -> None:
        """👍/👎: one vote per person per answer, changeable; in a private chat a 👎 asks what was wrong."""
        assert self.question_log is not None
        verdict = await self._logged(self.question_log.vote(button.question_id, press.query.from_user.id,
                                                            UP if button.up else DOWN))
        verdict = verdict or VoteResult.RECORDED  # no verdict in time: queued, written when the log can
        await press.answer(th.vote_note(verdict, button.up, days=self.question_log.keep_days))
        if verdict not in (VoteResult.RECORDED, VoteResult.CHANGED):
            return
        self.metrics.feedback.labels("up" if button.up else "down").inc()
        if not button.up and message.chat.type == ChatType.PRIVATE:
            await send_html(context.bot, message.chat.id, th.escape(th.REASON_PROMPT), reply_to=message.message_id,
                            keyboard=reason_keyboard(button.question_id))

    async def _reason_chosen(self, press: ButtonPress, message: Message, button: Reason) -> None:
        assert self.question_log is not None
        if await self._logged(self.question_log.give_reason(button.question_id, press.query.from_user.id,
                                                            button.text)) is False:
            await press.answer(th.REASON_WITHOUT_VOTE, alert=True)
            return
        await press.answer()
        await edit_html(message, th.reason_noted(button.text))

    async def _take_reason(self, context: ContextTypes.DEFAULT_TYPE, message: Message, prompt: Message,
                           question_id: int) -> None:
        """A reply to "What was wrong?": the reason for the 👎, in the reader's words."""
        assert self.question_log is not None
        user_id = message.from_user.id if message.from_user else 0
        if await self._logged(self.question_log.give_reason(question_id, user_id, message.text or "")) is False:
            await send_html(context.bot, message.chat.id, th.escape(th.REASON_WITHOUT_VOTE),
                            reply_to=message.message_id)
            return
        await edit_html(prompt, th.reason_noted(" ".join((message.text or "").split())))

    @staticmethod
    async def _logged(work: concurrent.futures.Future[T]) -> T | None:
        """What the question log says of a vote or reason, or None if it cannot say within FEEDBACK_WAIT
        (the database is slow or failing: the entry stays queued and is written when it can be)."""
        try:
            return await asyncio.wait_for(asyncio.wrap_future(work), FEEDBACK_WAIT)
        except TimeoutError:
            return None
        except asyncio.CancelledError:  # the log dropped the entry (stopping, or too much waiting)
            task = asyncio.current_task()
            if task is not None and task.cancelling():  # this handler itself is being cancelled
                raise
            return None

    # --- Inline mode ---------------------------------------------------------------------------

    async def on_inline_query(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.inline_query
        if query is None:
            return
        if not self.access.allows(query.from_user.id, None):
            await answer_inline_empty(query)
            return
        text = query.query.strip()
        if not text:
            await answer_inline_empty(query, th.INLINE_HELP)
            return
        if not self.inline_queries.check(query.from_user.id).allowed:
            await answer_inline_empty(query)
            return
        self.metrics.inline_queries.inc()
        library = self.holder.library
        limit = min(INLINE_MAX_RESULTS, max(self.top_k, INLINE_RESULTS))
        answer = await self.threads.run(answer_question, library, text, limit=limit, min_match=self.min_match)
        await answer_inline(query, answer)

    # --- Shared --------------------------------------------------------------------------------

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

    async def _within_limit(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
        """Whether the sender may have another command answered this minute (as many as questions); the
        first refusal says how long to wait, later ones are silent."""
        user = update.effective_user
        verdict = self.requests.check(user.id if user else 0)
        if not verdict.allowed and verdict.first_refusal:
            await reply(update, context.bot, th.rate_limited(verdict.retry_in))
        return verdict.allowed

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
    if len(examples) < th.EXAMPLES_SHOWN:
        titles = sorted((d.title for d in library.catalog()), key=len)
        examples += [t for t in titles if t not in examples][: th.EXAMPLES_SHOWN - len(examples)]
    return tuple(examples[: th.EXAMPLES_SHOWN])

