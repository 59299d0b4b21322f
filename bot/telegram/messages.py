"""Every message the Telegram bot sends, as Telegram HTML (parse_mode=HTML).

All corpus and user text goes through `escape` (or `escape_attribute` inside an
attribute); only the tags written here reach Telegram: <b>, <i>, <a href>,
<blockquote> and <blockquote expandable>, all supported by the Bot API.

Telegram refuses a message longer than 4096 UTF-16 code units. Long output is
split between blocks (an excerpt with its citation, an article in /sources),
never inside markup; the length checked is that of the HTML source, which is
never shorter than the text Telegram counts after parsing. A single block too
long for a message (a giant sentence, a long passage) is cut between words of
the raw text and each piece is escaped on its own, so no entity or tag is ever
split either.

Nothing here imports `telegram`: these are plain strings, tested on their own.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from bot.answers import HEDGED_NOTE, Answer, Excerpt
from bot.corpus import articles
from bot.corpus.articles import UNKNOWN_DATE, Document
from bot.corpus.passages import Passage
from bot.operations.question_log import VoteResult

MAX_MESSAGE = 4096  # Telegram's limit, in UTF-16 code units
MAX_ENTITIES = 100  # Telegram ignores formatting (bold, links, quotes) past the 100th entity of a message
LINK_URL_CHARS = 2000  # an article address longer than this is not linked: the title is shown plain
EXPANDABLE_FROM = 350  # quotes longer than this (characters) are shown collapsed, expandable
BLOCK_SEPARATOR = "\n\n"
ELLIPSIS = "…"

# How much of a text a message shows (characters; longer texts are cut with '…').
TITLE_CHARS = 300  # an article's title, in a citation or a listing
PUBLISHER_CHARS = 120  # a publisher's name
EXAMPLE_CHARS = 300  # an example question suggested in a hint
LISTED_CHARS = 200  # a title or example question in /start's short lists
PROBLEM_CHARS = 300  # one corpus problem in /reload's report
REASON_CHARS = 2000  # why a reload failed
INLINE_TITLE_CHARS = 90  # inline results: the quote shown as the result's title
INLINE_QUESTION_CHARS = 200  # inline results: the question repeated above the quote

# How many of a list a message shows.
MAX_TITLES_IN_START = 5  # /start names this many articles, then points to /sources
PUBLISHERS_IN_START = 4  # /start names this many publishers, then says how many more
EXAMPLES_SHOWN = 3  # example questions in /start
PROBLEMS_SHOWN = 10  # corpus problems in /reload's report
SOURCES_LISTED = 50  # /sources lists this many articles, newest first

NO_TERMS_START = "Ask me a question in words"
NOT_IN_CORPUS = (
    "I found nothing on that in my articles. Try other words, or see /sources for what I cover."
)
RATE_LIMITED = "You're asking faster than I can keep up. Please wait {seconds} s and ask again."
APOLOGY = "Sorry, something went wrong with that one. Please try again in a moment."
NOT_ALLOWED = "Sorry, this bot only answers the people and chats it was set up for."
ADMINS_ONLY = "Only the bot's admins can do that."
UNKNOWN_COMMAND = "I don't know that command. Send a question, or see /help."
EDITED_HINT = "I only read new messages. Send your corrected question as a new message."
NOT_TEXT_HINT = "I can only read text. Type your question, or see /help."
ASK_AGAIN = "I can't see your original question any more. Please ask it again."
BUTTON_EXPIRED = "This button no longer works. Please ask again."
PASSAGE_GONE = "That passage is no longer in the corpus (it changed since). Please ask again."
NO_MORE = "That's all I have on this question."
EMPTY_ASK = "Put your question after the command, like this: /ask {example}"
CAME_WHILE_DOWN = (
    "Your question came in while I was down, {age} ago, so I did not answer it then. "
    "Send it again if you still want the answer."
)
INLINE_NOTHING = "Nothing in my articles on that"
INLINE_HELP = "Type a question after my name"
DEFAULT_EXAMPLE = "Who met in Moscow?"  # when the corpus answers none of the configured examples
VOTE_NOTED = "Thanks! Noted: {vote}"
VOTE_CHANGED = "Changed to {vote}. Thanks!"
VOTE_SAME = "You gave this answer {vote} already."
VOTE_TOO_OLD = "This answer is older than {days} days and no longer kept, so feedback on it can't be recorded."
REASON_PROMPT = "Thanks for the 👎. What was wrong? Pick one, or reply to this message with a line of your own."
REASON_NOTED = "Thanks, noted: {reason}."
REASON_WITHOUT_VOTE = "I have no 👎 from you on that answer to add this to."
STATS_OFF = "The question log is off (BOT_LOG_QUESTIONS=false), so I have no statistics."
STATS_UNREADABLE = "I can't read the question log: {reason}"
STATS_LOG_PROBLEM = "Note: the question log cannot be written right now: {problem}"
UP_BUTTON, DOWN_BUTTON = "👍", "👎"


SOURCES_LISTED = 50  # /sources lists this many articles, newest first


@dataclass(frozen=True, slots=True)
class Overview:
    """What the corpus holds, for /start and /sources."""

    articles: int
    passages: int
    first_date: str | None
    last_date: str | None
    publishers: tuple[str, ...]  # most articles first
    documents: tuple[Document, ...]  # newest first, undated last


def overview(documents: Iterable[Document], passages: int) -> Overview:
    documents = tuple(documents)
    dates = sorted(d.published for d in documents if d.published)
    counts: dict[str, int] = {}
    for document in documents:
        counts[document.publisher] = counts.get(document.publisher, 0) + 1
    publishers = tuple(sorted(counts, key=lambda p: (-counts[p], p)))
    dated = sorted((d for d in documents if d.published), key=lambda d: d.published or "", reverse=True)
    undated = [d for d in documents if not d.published]
    return Overview(
        len(documents), passages, dates[0] if dates else None, dates[-1] if dates else None, publishers,
        tuple(dated + undated),
    )


# --- Escaping and measuring -------------------------------------------------------------------


def escape(text: str) -> str:
    """Text for the body of a Telegram HTML message: & < > become entities."""
    return html.escape(text, quote=False)


def escape_attribute(text: str) -> str:
    """Text for a double-quoted attribute value (href)."""
    return escape(text).replace('"', "&quot;")


def utf16_length(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units (an emoji outside the BMP counts 2)."""
    return len(text.encode("utf-16-le")) // 2


def short(text: str, limit: int) -> str:
    """`text` on one line (white space runs made one space), cut to at most `limit` characters."""
    return cut(" ".join(text.split()), limit)


def cut(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, with '…' when cut."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + ELLIPSIS


def entity_count(message_html: str) -> int:
    """How many entities (bold, italic, link, quote...) Telegram makes of this HTML: one per tag
    (the text between tags is escaped, so every `<` opens one)."""
    return len(_ENTITY_TAG.findall(message_html))


_ENTITY_TAG = re.compile(r"<(?:b|strong|i|em|u|ins|s|strike|del|a|code|pre|blockquote|tg-spoiler|span)[\s>]")


def _link(url: str | None, label_html: str) -> str:
    if url and len(url) <= LINK_URL_CHARS and re.match(r"https?://[^\s<>\"]+$", url):
        return f'<a href="{escape_attribute(url)}">{label_html}</a>'
    return label_html


# --- Answers -----------------------------------------------------------------------------------


def citation(document: Document, passage_number: int, number: int | None = None) -> str:
    """`[n] Title. Publisher, date, passage k` (`bot.corpus.articles.citation`), the title linked
    to the article."""
    prefix = f"[{number}] " if number is not None else ""
    return prefix + articles.citation(
        document, passage_number, title=lambda title: _link(document.url, escape(short(title, TITLE_CHARS))),
        text=lambda text: escape(short(text, PUBLISHER_CHARS)),
    )


def citation_text(document: Document, passage_number: int) -> str:
    """The citation as plain text (inline result descriptions)."""
    return articles.citation(document, passage_number, title=lambda title: short(title, TITLE_CHARS),
                             text=lambda text: short(text, PUBLISHER_CHARS))


def _clean_marks(marks: Sequence[tuple[int, int]], length: int) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for start, end in sorted(marks):
        start, end = max(0, start), min(length, end)
        if start >= end:
            continue
        if spans and start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(end, spans[-1][1]))
        else:
            spans.append((start, end))
    return spans


def marked(text: str, marks: Sequence[tuple[int, int]]) -> str:
    """`text` escaped, with the spans in `marks` in <b>."""
    pieces: list[str] = []
    position = 0
    for start, end in _clean_marks(marks, len(text)):
        pieces += [escape(text[position:start]), "<b>", escape(text[start:end]), "</b>"]
        position = end
    pieces.append(escape(text[position:]))
    return "".join(pieces)


def blockquote(inner_html: str, *, expandable: bool) -> str:
    return f"<blockquote{' expandable' if expandable else ''}>{inner_html}</blockquote>"


def _fit_quote(text: str, marks: Sequence[tuple[int, int]], budget: int) -> str:
    """The quote as a blockquote within `budget` UTF-16 units, cut between words with '…' if need be."""

    def render(cut: int) -> str:
        shown = text[:cut].rstrip()
        tail = ELLIPSIS if cut < len(text) else ""
        return blockquote(marked(shown, marks) + tail, expandable=len(shown) > EXPANDABLE_FROM)

    full = render(len(text))
    if utf16_length(full) <= budget:
        return full
    low, high = 0, len(text)  # the longest cut that fits, by bisection
    while low < high:
        middle = (low + high + 1) // 2
        if utf16_length(render(middle)) <= budget:
            low = middle
        else:
            high = middle - 1
    space = text.rfind(" ", 0, low)
    return render(space if space > low // 2 else low)


def excerpt_block(excerpt: Excerpt, number: int | None, budget: int = MAX_MESSAGE, max_marks: int | None = None) -> str:
    """One excerpt: the quote with question terms in bold (the first `max_marks` of them, if given),
    then its citation (numbered unless None)."""
    cite = citation(excerpt.document, excerpt.passage.number, number)
    marks = _clean_marks(excerpt.marks, len(excerpt.text))
    if max_marks is not None:
        marks = marks[: max(0, max_marks)]
    quote = _fit_quote(excerpt.text, marks, budget - utf16_length(cite) - 1)
    return f"{quote}\n{cite}"


def _mark_count(excerpt: Excerpt) -> int:
    return len(_clean_marks(excerpt.marks, len(excerpt.text)))


def fair_shares(wanted: Sequence[int], available: int) -> list[int]:
    """Split `available` among claims `wanted`: each gets what it wants, or an equal share of what is
    left if that is less (earlier claims get the odd units)."""
    shares = [0] * len(wanted)
    left = max(0, available)
    pending = sorted(range(len(wanted)), key=lambda i: (wanted[i], i))
    while pending:
        each, odd = divmod(left, len(pending))
        smallest = pending[0]
        if wanted[smallest] <= each:
            shares[smallest] = wanted[smallest]
            left -= wanted[smallest]
            pending.pop(0)
            continue
        for rank, i in enumerate(sorted(pending)):
            shares[i] = each + (1 if rank < odd else 0)
        break
    return shares


@dataclass(frozen=True, slots=True)
class Chunk:
    """One message of a split answer: its HTML and the excerpts (number, excerpt) it holds."""

    html: str
    excerpts: tuple[tuple[int, Excerpt], ...] = ()


def answer_messages(answer: Answer, *, first_number: int = 1, examples: Sequence[str] = ()) -> list[Chunk]:
    """An answer as one or more messages (split between excerpts)."""
    if not answer.terms:
        return [Chunk(no_terms(examples))]
    if not answer.excerpts:
        return [Chunk(escape(NOT_IN_CORPUS))]
    numbered = list(enumerate(answer.excerpts, start=first_number))
    blocks = [excerpt_block(excerpt, number) for number, excerpt in numbered]
    notes = [f"<i>{escape(HEDGED_NOTE)}</i>"] if answer.hedged and first_number == 1 else []
    blocks = notes + blocks  # the note leads the first message; it holds no excerpt
    chunks: list[Chunk] = []
    for group in pack_indices(blocks, max_entities=None):  # marks are thinned below, per message
        held = tuple(numbered[i - len(notes)] for i in group if i >= len(notes))
        parts = [blocks[i] for i in group]
        if sum(map(entity_count, parts)) > MAX_ENTITIES:
            parts = _thin_marks(parts[: len(parts) - len(held)], held)
        chunks.append(Chunk(BLOCK_SEPARATOR.join(parts), held))
    return chunks


def _thin_marks(notes: list[str], held: Sequence[tuple[int, Excerpt]]) -> list[str]:
    """The message's blocks with the bold marks cut down so that the whole keeps to MAX_ENTITIES:
    the quotes and the citation links (what the marks decorate) stay, the marks share what is left."""
    plain = [excerpt_block(excerpt, number, max_marks=0) for number, excerpt in held]
    room = MAX_ENTITIES - sum(map(entity_count, notes + plain))
    shares = fair_shares([_mark_count(excerpt) for _, excerpt in held], room)
    return notes + [excerpt_block(excerpt, number, max_marks=share)
                    for (number, excerpt), share in zip(held, shares, strict=True)]


def pack_indices(
    blocks: Sequence[str], limit: int = MAX_MESSAGE, max_entities: int | None = MAX_ENTITIES
) -> list[list[int]]:
    """Group consecutive blocks into messages of at most `limit` UTF-16 units and `max_entities`
    entities (each block must fit)."""
    groups: list[list[int]] = []
    size = entities = 0
    separator = utf16_length(BLOCK_SEPARATOR)
    for index, block in enumerate(blocks):
        length, count = utf16_length(block), entity_count(block)
        if length > limit:
            raise ValueError(f"block {index} is {length} UTF-16 units, over the {limit} limit")
        fits_entities = max_entities is None or entities + count <= max_entities
        if groups and size + separator + length <= limit and fits_entities:
            groups[-1].append(index)
            size += separator + length
            entities += count
        else:
            groups.append([index])
            size, entities = length, count
    return groups


def pack(blocks: Sequence[str], limit: int = MAX_MESSAGE) -> list[str]:
    return [BLOCK_SEPARATOR.join(blocks[i] for i in group) for group in pack_indices(blocks, limit)]


def no_terms(examples: Sequence[str]) -> str:
    text = NO_TERMS_START
    if examples:
        return f"{text}, for example:\n<i>{escape(short(examples[0], EXAMPLE_CHARS))}</i>"
    return text + "."


def empty_ask(examples: Sequence[str]) -> str:
    return escape(EMPTY_ASK.format(example=short(examples[0], EXAMPLE_CHARS) if examples else DEFAULT_EXAMPLE))


def rate_limited(seconds: float) -> str:
    return escape(RATE_LIMITED.format(seconds=max(1, round(seconds))))


def came_while_down(seconds: float) -> str:
    """The note for a question answered too long after it was asked (the bot was down meanwhile)."""
    minutes = max(1, round(seconds / 60))
    hours, days = round(minutes / 60), round(minutes / 1440)
    age = (f"{days} day{'s' if days > 1 else ''}" if minutes >= 2 * 1440
           else f"{hours} hour{'s' if hours > 1 else ''}" if minutes >= 90
           else f"{minutes} minute{'s' if minutes > 1 else ''}")
    return escape(CAME_WHILE_DOWN.format(age=age))


# --- Full passage ------------------------------------------------------------------------------


def split_text(text: str, limit: int, render: Callable[[str], str] = escape) -> list[str]:
    """Cut plain `text` into pieces whose rendering (`render(piece)`) fits in `limit` UTF-16 units,
    between paragraphs, else sentences/words, else anywhere. Returns the raw pieces."""
    pieces: list[str] = []
    rest = text.strip()
    while rest:
        if utf16_length(render(rest)) <= limit:
            pieces.append(rest)
            break
        low, high = 1, len(rest)  # longest prefix that fits
        while low < high:
            middle = (low + high + 1) // 2
            if utf16_length(render(rest[:middle])) <= limit:
                low = middle
            else:
                high = middle - 1
        cut = low
        for boundary in ("\n\n", "\n", ". ", " "):
            position = rest.rfind(boundary, 0, low)
            if position > low // 2:
                cut = position + len(boundary)
                break
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    return [p for p in pieces if p]


def passage_messages(document: Document, passage: Passage) -> list[str]:
    """The whole passage as a quote (split over messages if long), then its citation."""
    cite = citation(document, passage.number)
    head = "Full passage:\n"
    overhead = utf16_length(head) + utf16_length(blockquote("", expandable=True)) + utf16_length(cite) + 1

    def render(piece: str) -> str:
        return escape(piece)

    pieces = split_text(passage.text, MAX_MESSAGE - overhead, render)
    messages = []
    for index, piece in enumerate(pieces):
        body = blockquote(escape(piece), expandable=len(piece) > EXPANDABLE_FROM * 2)
        prefix = head if index == 0 else ""
        suffix = f"\n{cite}" if index == len(pieces) - 1 else ""
        messages.append(f"{prefix}{body}{suffix}")
    return messages


# --- Inline mode -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InlineItem:
    title: str  # plain text
    description: str  # plain text
    html: str  # the message sent when the result is chosen


def inline_items(answer: Answer) -> list[InlineItem]:
    question = cut(answer.question.strip(), INLINE_QUESTION_CHARS)
    header = f"<i>{escape(question)}</i>\n" if question else ""
    items = []
    for excerpt in answer.excerpts:
        budget = MAX_MESSAGE - utf16_length(header)
        room = MAX_ENTITIES - entity_count(header) - entity_count(excerpt_block(excerpt, None, budget, max_marks=0))
        body = excerpt_block(excerpt, None, budget, max_marks=room)  # one result: no number
        title = short(excerpt.text, INLINE_TITLE_CHARS)
        items.append(InlineItem(title, citation_text(excerpt.document, excerpt.passage.number), header + body))
    return items


# --- Commands ----------------------------------------------------------------------------------


def _period(view: Overview) -> str:
    if view.first_date and view.last_date and view.first_date != view.last_date:
        return f"from {view.first_date} to {view.last_date}"
    if view.first_date:
        return f"from {view.first_date}"
    return "undated"


def start_text(view: Overview, examples: Sequence[str], bot_username: str | None) -> str:
    articles = "article" if view.articles == 1 else "articles"
    publishers = ", ".join(escape(short(p, PUBLISHER_CHARS)) for p in view.publishers[:PUBLISHERS_IN_START])
    if len(view.publishers) > PUBLISHERS_IN_START:
        publishers += f" and {len(view.publishers) - PUBLISHERS_IN_START} more"
    lines = [
        "I answer questions with <b>verbatim quotes</b> from news articles, each quote cited with a link "
        "to its article.",
        "",
        f"I know <b>{view.articles} {articles}</b> ({_period(view)}) from {publishers}. They are about:",
    ]
    for document in view.documents[:MAX_TITLES_IN_START]:
        lines.append(f"• {escape(short(document.title, LISTED_CHARS))}")
    if view.articles > MAX_TITLES_IN_START:
        lines.append(f"• … and {view.articles - MAX_TITLES_IN_START} more: /sources")
    if examples:
        lines += ["", "Try asking:"]
        lines += [f"• <i>{escape(short(example, LISTED_CHARS))}</i>" for example in examples[:EXAMPLES_SHOWN]]
    inline = f" In any chat, type @{escape(bot_username)} and a question." if bot_username else ""
    lines += ["", "More in /help." + inline]
    return "\n".join(lines)


def help_text(bot_username: str | None, examples: Sequence[str], *, feedback: bool = False) -> str:
    name = f"@{escape(bot_username)}" if bot_username else "the bot"
    example = escape(short(examples[0], EXAMPLE_CHARS) if examples else DEFAULT_EXAMPLE)
    votes = (f" {UP_BUTTON} and {DOWN_BUTTON} tell the people who run me whether an answer helped (after a "
             f"{DOWN_BUTTON} you may say what was wrong).") if feedback else ""
    return "\n".join(
        [
            "<b>How to ask</b>",
            f"In this private chat, just send your question, e.g. <i>{example}</i>",
            "",
            "<b>In groups</b>, I only answer:",
            "• /ask followed by your question",
            f"• messages that mention {name}",
            "• replies to my messages",
            "",
            f"<b>In any chat</b>, type {name} and a question, then pick a quote to send.",
            "",
            "Each answer quotes the articles word for word, with the question's words in <b>bold</b> and "
            "a numbered citation linking to the article. Under an answer, <b>More quotes</b> shows further "
            "quotes and <b>Passage n</b> shows the whole passage of quote n." + votes,
            "",
            "/sources lists the articles; /start says what I know.",
        ]
    )


def sources_messages(view: Overview) -> list[str]:
    """The articles, newest first: at most SOURCES_LISTED of them, then how many more there are."""
    blocks = [f"<b>The {view.articles} article{'s' if view.articles != 1 else ''} I quote from</b>"]
    for number, document in enumerate(view.documents[:SOURCES_LISTED], start=1):
        link = _link(document.url, escape(short(document.title, TITLE_CHARS)))
        line = (f"{number}. {link}\n{escape(short(document.publisher, PUBLISHER_CHARS))}, "
                f"{escape(document.published or UNKNOWN_DATE)}")
        if not document.url:
            line += " (no link known)"
        blocks.append(line)
    if len(view.documents) > SOURCES_LISTED:
        blocks.append(f"… and {len(view.documents) - SOURCES_LISTED} older ones.")
    return pack(blocks)


def reload_done(articles: int, passages: int, before: tuple[int, int], problems: Sequence[str]) -> str:
    text = (
        f"Reloaded the corpus: {articles} articles, {passages} passages "
        f"(before: {before[0]} articles, {before[1]} passages)."
    )
    if problems:
        shown = "\n".join(f"• {escape(short(p, PROBLEM_CHARS))}" for p in problems[:PROBLEMS_SHOWN])
        more = f"\n… and {len(problems) - PROBLEMS_SHOWN} more" if len(problems) > PROBLEMS_SHOWN else ""
        text += f"\n\nSkipped with warnings:\n{shown}{more}"
    return text


def reload_failed(reason: str, articles: int) -> str:
    text = (
        f"Reload failed: {escape(short(reason, REASON_CHARS))}\n\nI'm still answering from the previous corpus "
        f"({articles} articles)."
    )
    return text


# --- Feedback and statistics -------------------------------------------------------------------


def vote_note(verdict: VoteResult, up: bool, *, days: int) -> str:
    """The notice a 👍/👎 press gets (plain text: a button press's notice is not parsed)."""
    vote = UP_BUTTON if up else DOWN_BUTTON
    if verdict is VoteResult.CHANGED:
        return VOTE_CHANGED.format(vote=vote)
    if verdict is VoteResult.UNCHANGED:
        return VOTE_SAME.format(vote=vote)
    if verdict is VoteResult.UNKNOWN:
        return VOTE_TOO_OLD.format(days=days)
    return VOTE_NOTED.format(vote=vote)


def reason_noted(reason: str) -> str:
    return escape(REASON_NOTED.format(reason=short(reason, 300)))


def stats_messages(sections: Sequence[str], log_problem: str | None = None) -> list[str]:
    """The statistics report (plain-text sections, `bot.operations.statistics.report`) as preformatted
    blocks, in as few messages as fit."""
    def preformatted(text: str) -> str:
        return f"<pre>{escape(text)}</pre>"

    blocks = [preformatted(piece) for section in sections for piece in split_text(section, MAX_MESSAGE, preformatted)]
    if log_problem:
        blocks.append(f"<i>{escape(STATS_LOG_PROBLEM.format(problem=short(log_problem, 500)))}</i>")
    return pack(blocks)


# --- Plain-text fallback -----------------------------------------------------------------------

_ANCHOR = re.compile(r'<a href="([^"]*)">(.*?)</a>', re.DOTALL)
_TAG = re.compile(r"</?(b|i|pre|blockquote|blockquote expandable)>")


def plain_text(message_html: str) -> str:
    """The same message without markup, for when Telegram cannot parse the HTML:
    links become 'title (address)', quotes get quotation marks."""
    text = _ANCHOR.sub(lambda m: f"{m.group(2)} ({m.group(1)})", message_html)
    text = re.sub(r"<blockquote(?: expandable)?>", "“", text).replace("</blockquote>", "”")
    text = _TAG.sub("", text)
    text = html.unescape(text)
    if utf16_length(text) > MAX_MESSAGE:  # cannot happen (markup is longer than its replacement), but be safe
        text = text[: MAX_MESSAGE // 2]
    return text or ELLIPSIS

