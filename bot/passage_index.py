"""The library's content as flat numpy arrays: documents, passages, vocabulary and postings.

One `PassageIndex` holds everything a `bot.search.Library` serves from, without
one Python object per passage: at a million passages, Passage objects and
per-passage strings would cost gigabytes, arrays cost a few bytes a passage.

* documents (D): id, metadata (a small JSON record: title, publisher, published,
  url, note) and verbatim UTF-8 text, each in a `StringTable` (one byte blob plus
  offsets), and the range of passages each document owns;
* passages (N): owning document, character span in the document's text, number
  of analyzed terms (the BM25 document length), 48-bit `passage_key`;
* vocabulary (V) and postings (P): for each term, the passages holding it (in
  increasing order) and how often (term frequency): a CSC matrix of term counts.

An index is built by `assemble`, from documents analyzed now and, for a corpus
that changed a little, documents reused from a previous index (`Reused`): their
text, passages and term counts are copied, not analyzed again. The arrays never
change once assembled; `bot.index_cache` stores them on disk.
"""

from __future__ import annotations

import hashlib
import json
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, fields

import numpy as np

from bot import analysis
from bot.corpus import Document
from bot.passages import split_passages


def passage_key(passage_id: str) -> str:
    """A short (12-character) stable key for a passage id, for places with tight limits
    such as Telegram's 64-byte button data."""
    return hashlib.blake2b(passage_id.encode(), digest_size=9).hexdigest()[:12]


def key_number(key: str) -> int | None:
    """A `passage_key` as the 48-bit number the index stores, or None if `key` is not one."""
    if len(key) != 12:
        return None
    try:
        return int(key, 16)
    except ValueError:
        return None


class StringTable:
    """Strings stored as one UTF-8 blob (uint8) plus offsets (int64, one more than strings)."""

    __slots__ = ("blob", "offsets")

    def __init__(self, blob: np.ndarray, offsets: np.ndarray) -> None:
        self.blob = blob
        self.offsets = offsets

    @classmethod
    def of(cls, strings: Iterable[str | bytes]) -> StringTable:
        encoded = [s.encode() if isinstance(s, str) else s for s in strings]
        offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum([len(b) for b in encoded], out=offsets[1:])
        blob = np.frombuffer(b"".join(encoded), dtype=np.uint8) if encoded else np.zeros(0, np.uint8)
        return cls(blob, offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def raw(self, i: int) -> bytes:
        return self.blob[self.offsets[i] : self.offsets[i + 1]].tobytes()

    def __getitem__(self, i: int) -> str:
        return self.raw(i).decode()

    def all(self) -> list[str]:
        data = self.blob.tobytes()
        bounds = self.offsets.tolist()
        return [data[a:b].decode() for a, b in zip(bounds, bounds[1:])]


@dataclass(frozen=True, slots=True, eq=False)
class PassageIndex:
    # documents (D)
    doc_ids: StringTable
    doc_meta: StringTable  # JSON [title, publisher, published, url, note]
    doc_text: StringTable  # the verbatim text
    doc_passages: np.ndarray  # int64 (D+1): document d owns passages doc_passages[d]:doc_passages[d+1]
    # passages (N)
    passage_doc: np.ndarray  # int32
    passage_start: np.ndarray  # int32, span in the document's text (characters)
    passage_end: np.ndarray  # int32
    passage_length: np.ndarray  # int32, analyzed terms (BM25 document length)
    passage_key: np.ndarray  # uint64, passage_key() as a number
    key_order: np.ndarray  # int32, passages sorted by key
    # vocabulary (V) and postings (P)
    terms: StringTable
    term_postings: np.ndarray  # int64 (V+1): term t's postings are term_postings[t]:term_postings[t+1]
    posting_passage: np.ndarray  # int32, increasing within a term
    posting_count: np.ndarray  # uint16 or uint32: the term's frequency in the passage

    @property
    def size(self) -> int:
        return len(self.passage_doc)

    @property
    def document_count(self) -> int:
        return len(self.doc_ids)

    def arrays(self) -> dict[str, np.ndarray]:
        """Every array by a stable name (StringTables give two: NAME.blob, NAME.offsets)."""
        out: dict[str, np.ndarray] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, StringTable):
                out[f"{f.name}.blob"] = value.blob
                out[f"{f.name}.offsets"] = value.offsets
            else:
                out[f.name] = value
        return out

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> PassageIndex:
        """The inverse of `arrays`; raises ValueError when they do not fit together."""
        values = {}
        for f in fields(cls):
            if f"{f.name}.blob" in arrays:
                values[f.name] = StringTable(arrays[f"{f.name}.blob"], arrays[f"{f.name}.offsets"])
            else:
                values[f.name] = arrays[f.name]
        index = cls(**values)
        index.check()
        return index

    @staticmethod
    def array_names() -> list[str]:
        names = []
        for f in fields(PassageIndex):
            if f.type == "StringTable":
                names += [f"{f.name}.blob", f"{f.name}.offsets"]
            else:
                names.append(f.name)
        return names

    def check(self) -> None:
        """Cheap consistency checks (shapes, dtypes, bounds); ValueError names the first failure."""
        d, n, v = self.document_count, self.size, len(self.terms)

        def need(condition: object, what: str) -> None:
            if not condition:
                raise ValueError(f"inconsistent index: {what}")

        for name in ("doc_ids", "doc_meta", "doc_text", "terms"):
            table = getattr(self, name)
            need(table.blob.dtype == np.uint8 and table.blob.ndim == 1, f"{name} blob")
            need(table.offsets.dtype == np.int64 and len(table.offsets) >= 1, f"{name} offsets")
            need(table.offsets[0] == 0 and table.offsets[-1] == len(table.blob), f"{name} offsets bounds")
        need(len(self.doc_meta) == d and len(self.doc_text) == d, "document tables differ in length")
        need(self.doc_passages.dtype == np.int64 and len(self.doc_passages) == d + 1, "doc_passages shape")
        need(self.doc_passages[0] == 0 and self.doc_passages[-1] == n, "doc_passages bounds")
        for name, dtype in (("passage_doc", np.int32), ("passage_start", np.int32), ("passage_end", np.int32),
                            ("passage_length", np.int32), ("passage_key", np.uint64), ("key_order", np.int32)):
            array_ = getattr(self, name)
            need(array_.dtype == dtype and array_.shape == (n,), f"{name} shape or type")
        need(self.term_postings.dtype == np.int64 and len(self.term_postings) == v + 1, "term_postings shape")
        p = len(self.posting_passage)
        need(self.term_postings[0] == 0 and self.term_postings[-1] == p, "term_postings bounds")
        need(self.posting_passage.dtype == np.int32, "posting_passage type")
        need(self.posting_count.dtype in (np.uint16, np.uint32) and len(self.posting_count) == p,
             "posting_count shape or type")
        if n:
            need(int(self.passage_doc.min()) >= 0 and int(self.passage_doc.max()) < d, "passage_doc range")
            need(int(self.key_order.min()) >= 0 and int(self.key_order.max()) < n, "key_order range")
        if p:
            need(int(self.posting_passage.min()) >= 0 and int(self.posting_passage.max()) < n,
                 "posting_passage range")

    # --- documents ---

    def document(self, d: int) -> Document:
        title, publisher, published, url, note = json.loads(self.doc_meta.raw(d))
        return Document(self.doc_ids[d], title, publisher, published, url, self.doc_text[d], note)


@dataclass(frozen=True, slots=True)
class Reused:
    """Document `index` of a previous PassageIndex, to be carried over without analysis."""

    index: int


@dataclass(slots=True)
class _Analyzed:
    document: Document
    spans: list[tuple[int, int]]
    lengths: list[int]
    counts: list[Counter[str]]


def analyze(document: Document) -> _Analyzed:
    """Split a document into passages and count each passage's terms."""
    passages = split_passages(document)
    spans, lengths, counts = [], [], []
    for passage in passages:
        passage_terms = analysis.terms(passage.text)
        spans.append((passage.start, passage.end))
        lengths.append(len(passage_terms))
        counts.append(Counter(passage_terms))
    return _Analyzed(document, spans, lengths, counts)


def assemble(
    sources: Sequence[Document | Reused], previous: PassageIndex | None = None
) -> PassageIndex:
    """An index of `sources` in order: Documents are analyzed now, `Reused(i)` copies
    document i of `previous` (its text, passages and term counts) as it is."""
    doc_ids: list[bytes] = []
    metas: list[bytes] = []
    texts: list[bytes] = []
    doc_passages = [0]
    # Per passage, pieces to concatenate: arrays from `previous` or lists from analysis.
    passage_doc: list[np.ndarray] = []
    starts: list[np.ndarray] = []
    ends: list[np.ndarray] = []
    lengths: list[np.ndarray] = []
    keys: list[np.ndarray] = []
    # Triplets (term id, passage number, count) from analysis; ids index `vocabulary`.
    vocabulary: dict[str, int] = {}
    new_terms = array("i")
    new_passages = array("i")
    new_counts = array("I")
    # Old passages kept, and where they go.
    old_keep: list[np.ndarray] = []
    old_target: list[np.ndarray] = []
    if previous is not None:
        vocabulary = {term: i for i, term in enumerate(previous.terms.all())}
    n = 0
    for d, source in enumerate(sources):
        if isinstance(source, Reused):
            if previous is None:
                raise ValueError("a Reused document needs the previous index")
            i = source.index
            doc_ids.append(previous.doc_ids.raw(i))
            metas.append(previous.doc_meta.raw(i))
            texts.append(previous.doc_text.raw(i))
            first, last = int(previous.doc_passages[i]), int(previous.doc_passages[i + 1])
            count = last - first
            passage_doc.append(np.full(count, d, dtype=np.int32))
            starts.append(previous.passage_start[first:last])
            ends.append(previous.passage_end[first:last])
            lengths.append(previous.passage_length[first:last])
            keys.append(previous.passage_key[first:last])
            old_keep.append(np.arange(first, last, dtype=np.int64))
            old_target.append(np.arange(n, n + count, dtype=np.int64))
        else:
            analyzed = analyze(source)
            document = analyzed.document
            doc_ids.append(document.doc_id.encode())
            metas.append(_meta_json(document))
            texts.append(document.text.encode())
            count = len(analyzed.spans)
            passage_doc.append(np.full(count, d, dtype=np.int32))
            starts.append(np.array([s for s, _ in analyzed.spans], dtype=np.int32))
            ends.append(np.array([e for _, e in analyzed.spans], dtype=np.int32))
            lengths.append(np.array(analyzed.lengths, dtype=np.int32))
            keys.append(np.array(
                [int(passage_key(f"{document.doc_id}:{number}"), 16) for number in range(1, count + 1)],
                dtype=np.uint64,
            ))
            for offset, passage_counts in enumerate(analyzed.counts):
                for term, tf in passage_counts.items():
                    term_id = vocabulary.get(term)
                    if term_id is None:
                        term_id = vocabulary[term] = len(vocabulary)
                    new_terms.append(term_id)
                    new_passages.append(n + offset)
                    new_counts.append(tf)
        n += count
        doc_passages.append(n)

    # Postings: old ones of kept passages (renumbered) plus new ones, sorted by (term, passage).
    term_parts = [np.frombuffer(new_terms, dtype=np.int32).astype(np.int64)]
    passage_parts = [np.frombuffer(new_passages, dtype=np.int32).astype(np.int64)]
    count_parts = [np.frombuffer(new_counts, dtype=np.uint32)]
    if previous is not None and old_keep:
        target = np.full(previous.size, -1, dtype=np.int64)
        target[np.concatenate(old_keep)] = np.concatenate(old_target)
        old_term = np.repeat(np.arange(len(previous.terms), dtype=np.int64), np.diff(previous.term_postings))
        moved = target[previous.posting_passage]
        kept = moved >= 0
        term_parts.append(old_term[kept])
        passage_parts.append(moved[kept])
        count_parts.append(previous.posting_count[kept].astype(np.uint32))
    term_of = np.concatenate(term_parts)
    passage_of = np.concatenate(passage_parts)
    count_of = np.concatenate(count_parts)
    order = np.argsort(term_of * max(n, 1) + passage_of)  # keys are unique
    term_of, passage_of, count_of = term_of[order], passage_of[order], count_of[order]

    # Drop terms no passage holds any more (documents removed) and renumber the rest.
    names = sorted(vocabulary, key=vocabulary.__getitem__)
    frequency = np.bincount(term_of, minlength=len(names))
    alive = np.flatnonzero(frequency)
    term_postings = np.zeros(len(alive) + 1, dtype=np.int64)
    np.cumsum(frequency[alive], out=term_postings[1:])
    count_type = np.uint16 if count_of.size == 0 or int(count_of.max()) <= np.iinfo(np.uint16).max else np.uint32

    passage_key_ = np.concatenate(keys) if keys else np.zeros(0, np.uint64)
    index = PassageIndex(
        doc_ids=StringTable.of(doc_ids),
        doc_meta=StringTable.of(metas),
        doc_text=StringTable.of(texts),
        doc_passages=np.array(doc_passages, dtype=np.int64),
        passage_doc=_cat(passage_doc, np.int32),
        passage_start=_cat(starts, np.int32),
        passage_end=_cat(ends, np.int32),
        passage_length=_cat(lengths, np.int32),
        passage_key=passage_key_,
        key_order=np.argsort(passage_key_, kind="stable").astype(np.int32),
        terms=StringTable.of(names[i] for i in alive.tolist()),
        term_postings=term_postings,
        posting_passage=passage_of.astype(np.int32),
        posting_count=count_of.astype(count_type),
    )
    index.check()
    return index


def _cat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype=dtype)


def _meta_json(document: Document) -> bytes:
    record = [document.title, document.publisher, document.published, document.url, document.note]
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode()


def build(documents: Sequence[Document]) -> PassageIndex:
    """A fresh index of `documents`, every one analyzed."""
    return assemble(documents)


def iter_passage_terms(index: PassageIndex) -> Iterator[list[str]]:
    """Each passage's analyzed terms, in order (re-analyzed from the text: for small corpora)."""
    text_of: dict[int, str] = {}
    for i in range(index.size):
        d = int(index.passage_doc[i])
        if d not in text_of:
            text_of.clear()
            text_of[d] = index.doc_text[d]
        yield analysis.terms(text_of[d][int(index.passage_start[i]) : int(index.passage_end[i])])
