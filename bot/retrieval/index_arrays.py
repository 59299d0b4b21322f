"""The library's content as flat numpy arrays: documents, passages, vocabulary and postings.

One `PassageIndex` holds everything a `bot.retrieval.library.Library` serves from, without
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
change once assembled; `bot.retrieval.index_cache` stores them on disk.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import zlib
from array import array
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Protocol, TypedDict

import numpy as np

from bot.corpus.articles import Document
from bot.corpus.passages import passage_id, split_passages
from bot.retrieval import analysis


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


class BlobFile(Protocol):
    """A string blob left in a file and read on demand (`bot.retrieval.index_cache.FileBytes`)."""

    @property
    def dtype(self) -> np.dtype: ...

    @property
    def ndim(self) -> int: ...

    def __len__(self) -> int: ...

    def read(self, start: int, stop: int) -> bytes: ...


class StringTable:
    """Strings stored as one UTF-8 blob (uint8) plus offsets (int64, one more than strings).

    The blob is an array, or a `BlobFile` (`bot.retrieval.index_cache` reads article texts from the
    file that way, so they never become part of the process's resident memory)."""

    __slots__ = ("blob", "offsets", "_read")

    def __init__(self, blob: np.ndarray | BlobFile, offsets: np.ndarray) -> None:
        self.blob = blob
        self.offsets = offsets
        self._read: Callable[[int, int], bytes]
        if isinstance(blob, np.ndarray):
            in_memory = blob
            self._read = lambda a, b: in_memory[a:b].tobytes()
        else:
            self._read = blob.read

    @classmethod
    def of_pieces(cls, pieces: list[bytes], lengths: np.ndarray) -> StringTable:
        """A table from byte pieces (each holding one or more strings) and every string's length."""
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        data = b"".join(pieces)
        if len(data) != offsets[-1]:
            raise ValueError("string lengths do not add up to the bytes given")
        blob = np.frombuffer(data, dtype=np.uint8) if data else np.zeros(0, np.uint8)
        return cls(blob, offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def raw(self, i: int) -> bytes:
        return self._read(int(self.offsets[i]), int(self.offsets[i + 1]))

    def raw_range(self, i: int, j: int) -> tuple[bytes, np.ndarray]:
        """The bytes of strings i..j-1 in one piece, and their lengths."""
        return self._read(int(self.offsets[i]), int(self.offsets[j])), np.diff(self.offsets[i : j + 1])

    def __getitem__(self, i: int) -> str:
        return self.raw(i).decode()

    def all(self) -> list[str]:
        data = self._read(0, int(self.offsets[-1]))
        bounds = self.offsets.tolist()
        return [data[a:b].decode() for a, b in itertools.pairwise(bounds)]


def term_key(term: str) -> int:
    """A stable 64-bit key of a term (two CRC-32s: fast in Python, the same in every process)."""
    data = term.encode()
    return zlib.crc32(data) | (zlib.crc32(data, 0x9E3779B9) << 32)


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
    term_keys: np.ndarray  # uint64, term_key() of every term, sorted: a term is found without a dict
    key_term: np.ndarray  # int32, the term of each of term_keys
    term_postings: np.ndarray  # int64 (V+1): term t's postings are term_postings[t]:term_postings[t+1]
    posting_passage: np.ndarray  # int32, increasing within a term
    posting_count: np.ndarray  # uint16 or uint32: the term's frequency in the passage

    @property
    def size(self) -> int:
        return len(self.passage_doc)

    @property
    def document_count(self) -> int:
        return len(self.doc_ids)

    def arrays(self) -> dict[str, np.ndarray | BlobFile]:
        """Every array by a stable name (StringTables give two: NAME.blob, NAME.offsets)."""
        out: dict[str, np.ndarray | BlobFile] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, StringTable):
                out[f"{f.name}.blob"] = value.blob
                out[f"{f.name}.offsets"] = value.offsets
            else:
                out[f.name] = value
        return out

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray | BlobFile], *, thorough: bool = True) -> PassageIndex:
        """The inverse of `arrays`; raises ValueError when they do not fit together (see `check`)."""
        def column(name: str) -> np.ndarray:
            value = arrays[name]
            if not isinstance(value, np.ndarray):
                raise ValueError(f"inconsistent index: {name} is not an array")
            return value

        def table(name: str) -> StringTable:
            return StringTable(arrays[f"{name}.blob"], column(f"{name}.offsets"))

        index = cls(
            doc_ids=table("doc_ids"), doc_meta=table("doc_meta"), doc_text=table("doc_text"),
            doc_passages=column("doc_passages"), passage_doc=column("passage_doc"),
            passage_start=column("passage_start"), passage_end=column("passage_end"),
            passage_length=column("passage_length"), passage_key=column("passage_key"), key_order=column("key_order"),
            terms=table("terms"), term_keys=column("term_keys"), key_term=column("key_term"),
            term_postings=column("term_postings"), posting_passage=column("posting_passage"),
            posting_count=column("posting_count"),
        )
        index.check(thorough=thorough)
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

    def check(self, *, thorough: bool = True) -> None:
        """Consistency checks (shapes, types, bounds); ValueError names the first failure.

        `thorough=False` skips the checks that read whole arrays (value ranges), for arrays
        whose content a checksum has vouched for: reading them would page in every posting."""
        d, n, v = self.document_count, self.size, len(self.terms)

        def need(condition: object, what: str) -> None:
            if not condition:
                raise ValueError(f"inconsistent index: {what}")

        for name in ("doc_ids", "doc_meta", "doc_text", "terms"):
            table = getattr(self, name)
            need(table.blob.dtype == np.uint8 and table.blob.ndim == 1, f"{name} blob")
            need(table.offsets.ndim == 1, f"{name} offsets shape")
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
        need(self.term_keys.dtype == np.uint64 and self.term_keys.shape == (v,), "term_keys shape or type")
        need(self.key_term.dtype == np.int32 and self.key_term.shape == (v,), "key_term shape or type")
        if not thorough:
            return
        if n:
            need(int(self.passage_doc.min()) >= 0 and int(self.passage_doc.max()) < d, "passage_doc range")
            need(int(self.key_order.min()) >= 0 and int(self.key_order.max()) < n, "key_order range")
        if p:
            need(int(self.posting_passage.min()) >= 0 and int(self.posting_passage.max()) < n,
                 "posting_passage range")
        if v:
            need(bool(np.all(self.term_keys[1:] >= self.term_keys[:-1])), "term_keys order")
            need(int(self.key_term.min()) >= 0 and int(self.key_term.max()) < v, "key_term range")

    # --- documents ---

    def document(self, d: int, *, with_text: bool = True) -> Document:
        """Document `d`; without its text (empty) when only the metadata is wanted: no article is read."""
        title, publisher, published, url, note = json.loads(self.doc_meta.raw(d))
        text = self.doc_text[d] if with_text else ""
        return Document(self.doc_ids[d], title, publisher, published, url, text, note)


class TermLookup:
    """term -> term id over the index's sorted term keys, without a dict of all terms (a
    million terms in a dict cost ~150 MB). A 2 MB bitset of the keys' low bits answers most
    misses (the spelling corrector's candidates) in well under a microsecond; a hit is
    confirmed by binary search and by comparing the stored term."""

    BITS = 1 << 24

    def __init__(self, index: PassageIndex) -> None:
        self._terms = index.terms
        self._keys = index.term_keys
        self._key_term = index.key_term
        bits = np.zeros(self.BITS // 8, dtype=np.uint8)
        low = (np.asarray(self._keys) & np.uint64(self.BITS - 1)).astype(np.int64)
        np.bitwise_or.at(bits, low >> 3, np.left_shift(1, low & 7).astype(np.uint8))
        self._bits = bits.tobytes()

    def __len__(self) -> int:
        return len(self._keys)

    def id(self, term: str) -> int | None:
        data = term.encode()
        low = zlib.crc32(data)
        bit = low & (self.BITS - 1)
        if not (self._bits[bit >> 3] >> (bit & 7)) & 1:
            return None
        key = low | (zlib.crc32(data, 0x9E3779B9) << 32)
        at = int(np.searchsorted(self._keys, np.uint64(key)))
        while at < len(self._keys) and int(self._keys[at]) == key:
            term_id = int(self._key_term[at])
            if self._terms.raw(term_id) == data:
                return term_id
            at += 1
        return None

    def terms(self) -> Iterator[str]:
        return iter(self._terms.all())


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
    sources: Sequence[Document | Reused],
    previous: PassageIndex | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> PassageIndex:
    """An index of `sources` in order: Documents are analyzed now, `Reused(i)` copies
    document i of `previous` (its text, passages and term counts) as it is. `progress` is told
    (documents analyzed, documents to analyze) as analysis goes (`bot.progress` draws it).

    Reused documents are copied in runs (consecutive documents of `previous`) with array
    operations, and their postings, still sorted, are merged with the new ones rather than
    sorted again: adding one article to a large index costs array copies, not a rebuild.

    Four steps: the documents and passages in order (`_Contents`), the postings of the documents
    analyzed now (`_NewPostings`), those merged with the postings kept from `previous`
    (`_merge_postings`), and the vocabulary of what is left (`_vocabulary`)."""
    contents = _Contents()
    new = _NewPostings(previous)
    kept: list[_KeptPassages] = []
    to_analyze = sum(1 for source in sources if not isinstance(source, Reused))
    analyzed_so_far = 0
    if progress is not None:
        progress(0, to_analyze)
    for run in _runs(sources):
        if isinstance(run, range):  # documents run.start..run.stop-1 of `previous`
            if previous is None:
                raise ValueError("a Reused document needs the previous index")
            kept.append(contents.copy(previous, run))
        else:
            analyzed = analyze(run)
            new.add(analyzed, first_passage=contents.add(analyzed))
            analyzed_so_far += 1
            if progress is not None:
                progress(analyzed_so_far, to_analyze)
    postings = _merge_postings(new, kept, previous, contents.passages)
    vocabulary = _vocabulary(postings.term, new, previous)
    index = PassageIndex(
        **contents.arrays(), **vocabulary, posting_passage=postings.passage.astype(np.int32),
        posting_count=postings.count.astype(_count_type(postings.count)),
    )
    index.check()
    return index


@dataclass(frozen=True, slots=True)
class _KeptPassages:
    """Passages first..last-1 of the previous index, which become passages from `target` on."""

    first: int
    last: int
    target: int


class _Contents:
    """The documents' and passages' arrays, in pieces, as the sources are added in order."""

    def __init__(self) -> None:
        self.doc_pieces: dict[str, list[bytes]] = {"ids": [], "meta": [], "text": []}
        self.doc_lengths: dict[str, list[np.ndarray]] = {"ids": [], "meta": [], "text": []}
        self.doc_passage_counts: list[np.ndarray] = []
        self.passage_doc: list[np.ndarray] = []
        self.starts: list[np.ndarray] = []
        self.ends: list[np.ndarray] = []
        self.lengths: list[np.ndarray] = []
        self.keys: list[np.ndarray] = []
        self.passages = 0  # so far
        self.documents = 0

    def copy(self, previous: PassageIndex, run: range) -> _KeptPassages:
        """Documents `run` of `previous`, as they are; returns where their passages went."""
        i, j = run.start, run.stop
        for name, table in (("ids", previous.doc_ids), ("meta", previous.doc_meta), ("text", previous.doc_text)):
            data, sizes = table.raw_range(i, j)
            self.doc_pieces[name].append(data)
            self.doc_lengths[name].append(sizes)
        bounds = np.asarray(previous.doc_passages[i : j + 1])
        first, last = int(bounds[0]), int(bounds[-1])
        self.doc_passage_counts.append(np.diff(bounds))
        self.passage_doc.append((np.asarray(previous.passage_doc[first:last]) - i + self.documents).astype(np.int32))
        self.starts.append(previous.passage_start[first:last])
        self.ends.append(previous.passage_end[first:last])
        self.lengths.append(previous.passage_length[first:last])
        self.keys.append(previous.passage_key[first:last])
        kept = _KeptPassages(first, last, self.passages)
        self.passages += last - first
        self.documents += j - i
        return kept

    def add(self, analyzed: _Analyzed) -> int:
        """A document analyzed now; returns the number of its first passage."""
        document = analyzed.document
        for name, data in (("ids", document.doc_id.encode()), ("meta", _meta_json(document)),
                           ("text", document.text.encode())):
            self.doc_pieces[name].append(data)
            self.doc_lengths[name].append(np.array([len(data)], dtype=np.int64))
        count = len(analyzed.spans)
        self.doc_passage_counts.append(np.array([count], dtype=np.int64))
        self.passage_doc.append(np.full(count, self.documents, dtype=np.int32))
        self.starts.append(np.array([s for s, _ in analyzed.spans], dtype=np.int32))
        self.ends.append(np.array([e for _, e in analyzed.spans], dtype=np.int32))
        self.lengths.append(np.array(analyzed.lengths, dtype=np.int32))
        self.keys.append(np.array(
            [int(passage_key(passage_id(document.doc_id, number)), 16) for number in range(1, count + 1)],
            dtype=np.uint64,
        ))
        first = self.passages
        self.passages += count
        self.documents += 1
        return first

    def arrays(self) -> _ContentFields:
        """The document and passage fields of a PassageIndex."""
        def table(name: str) -> StringTable:
            return StringTable.of_pieces(self.doc_pieces[name], _cat(self.doc_lengths[name], np.int64))

        passage_key_ = _cat(self.keys, np.uint64)
        return {
            "doc_ids": table("ids"),
            "doc_meta": table("meta"),
            "doc_text": table("text"),
            "doc_passages": np.concatenate([[0], np.cumsum(_cat(self.doc_passage_counts, np.int64))]).astype(np.int64),
            "passage_doc": _cat(self.passage_doc, np.int32),
            "passage_start": _cat(self.starts, np.int32),
            "passage_end": _cat(self.ends, np.int32),
            "passage_length": _cat(self.lengths, np.int32),
            "passage_key": passage_key_,
            "key_order": np.argsort(passage_key_, kind="stable").astype(np.int32),
        }


class _ContentFields(TypedDict):
    doc_ids: StringTable
    doc_meta: StringTable
    doc_text: StringTable
    doc_passages: np.ndarray
    passage_doc: np.ndarray
    passage_start: np.ndarray
    passage_end: np.ndarray
    passage_length: np.ndarray
    passage_key: np.ndarray
    key_order: np.ndarray


class _NewPostings:
    """The postings of the documents analyzed now, as triplets (term id, passage, count). Term
    ids are those of `previous` (found with its TermLookup), then new terms numbered on."""

    def __init__(self, previous: PassageIndex | None) -> None:
        self.old_terms = len(previous.terms) if previous is not None else 0
        self._lookup = TermLookup(previous) if previous is not None and self.old_terms else None
        self._ids: dict[str, int] = {}
        self.new_names: list[str] = []  # the terms `previous` does not have, by id - old_terms
        self._terms = array("i")
        self._passages = array("i")
        self._counts = array("I")

    def add(self, analyzed: _Analyzed, *, first_passage: int) -> None:
        for offset, passage_counts in enumerate(analyzed.counts):
            for term, tf in passage_counts.items():
                term_id = self._ids.get(term)
                if term_id is None:
                    term_id = self._lookup.id(term) if self._lookup is not None else None
                    if term_id is None:
                        term_id = self.old_terms + len(self.new_names)
                        self.new_names.append(term)
                    self._ids[term] = term_id
                self._terms.append(term_id)
                self._passages.append(first_passage + offset)
                self._counts.append(tf)

    def sorted_keys(self, scale: int) -> tuple[np.ndarray, np.ndarray]:
        """The postings as sorted keys term * scale + passage, and their counts."""
        key = np.frombuffer(self._terms, dtype=np.int32).astype(np.int64) * scale + np.frombuffer(
            self._passages, dtype=np.int32)
        order = np.argsort(key)
        return key[order], np.frombuffer(self._counts, dtype=np.uint32)[order]


@dataclass(frozen=True, slots=True)
class _Postings:
    """Every posting, sorted by term, then passage (term ids as numbered by `_NewPostings`)."""

    term: np.ndarray
    passage: np.ndarray
    count: np.ndarray


def _merge_postings(
    new: _NewPostings, kept: list[_KeptPassages], previous: PassageIndex | None, passages: int
) -> _Postings:
    """The new postings merged with those of the passages kept from `previous` (moved to their new
    numbers); both are sorted already, so they are merged, not sorted together."""
    scale = max(passages, 1)
    new_key, new_count = new.sorted_keys(scale)
    if previous is not None and kept:
        target = np.full(previous.size, -1, dtype=np.int64)
        for run in kept:
            target[run.first : run.last] = np.arange(run.target, run.target + run.last - run.first)
        old_term = np.repeat(np.arange(len(previous.terms), dtype=np.int64), np.diff(previous.term_postings))
        moved = target[previous.posting_passage]
        alive = moved >= 0
        old_key = old_term[alive] * scale + moved[alive]
        old_count = np.asarray(previous.posting_count)[alive].astype(np.uint32)
        del old_term, moved, alive, target
        if old_key.size > 1 and not bool(np.all(old_key[1:] > old_key[:-1])):  # documents reordered
            order = np.argsort(old_key)
            old_key, old_count = old_key[order], old_count[order]
        at = np.searchsorted(old_key, new_key)
        key_of = np.insert(old_key, at, new_key)
        count_of = np.insert(old_count, at, new_count)
    else:
        key_of, count_of = new_key, new_count
    term_of, passage_of = np.divmod(key_of, scale)
    return _Postings(term_of, passage_of, count_of)


class _VocabularyFields(TypedDict):
    terms: StringTable
    term_keys: np.ndarray
    key_term: np.ndarray
    term_postings: np.ndarray


def _vocabulary(term_of: np.ndarray, new: _NewPostings, previous: PassageIndex | None) -> _VocabularyFields:
    """The vocabulary fields of a PassageIndex: the terms some posting still holds (terms of removed
    documents go), renumbered in order; the old terms' bytes and keys are carried over, not decoded
    and computed again."""
    old_terms, new_names = new.old_terms, new.new_names
    frequency = np.bincount(term_of, minlength=old_terms + len(new_names))
    alive = np.flatnonzero(frequency)
    term_postings = np.zeros(len(alive) + 1, dtype=np.int64)
    np.cumsum(frequency[alive], out=term_postings[1:])
    alive_old = alive[alive < old_terms]
    alive_new = [new_names[i] for i in (alive[alive >= old_terms] - old_terms).tolist()]
    term_pieces: list[bytes] = []
    term_lengths: list[np.ndarray] = []
    key_parts: list[np.ndarray] = []
    if previous is not None and old_terms:
        data, sizes = previous.terms.raw_range(0, old_terms)
        if len(alive_old) < old_terms:
            keep = np.zeros(old_terms, dtype=bool)
            keep[alive_old] = True
            data = np.frombuffer(data, dtype=np.uint8)[np.repeat(keep, sizes)].tobytes()
            sizes = sizes[alive_old]
        term_pieces.append(data)
        term_lengths.append(sizes)
        key_of_old = np.empty(old_terms, dtype=np.uint64)
        key_of_old[np.asarray(previous.key_term)] = previous.term_keys
        key_parts.append(key_of_old[alive_old])
    encoded = [t.encode() for t in alive_new]
    term_pieces += encoded
    term_lengths.append(np.array([len(b) for b in encoded], dtype=np.int64))
    key_parts.append(np.array([term_key(t) for t in alive_new], dtype=np.uint64))
    term_keys = _cat(key_parts, np.uint64)
    key_order = np.argsort(term_keys, kind="stable")
    return {
        "terms": StringTable.of_pieces(term_pieces, _cat(term_lengths, np.int64)),
        "term_keys": term_keys[key_order],
        "key_term": key_order.astype(np.int32),
        "term_postings": term_postings,
    }


def _count_type(counts: np.ndarray) -> type:
    """uint16 when every count fits (most do: half the memory), else uint32."""
    return np.uint16 if counts.size == 0 or int(counts.max()) <= np.iinfo(np.uint16).max else np.uint32


def _runs(sources: Sequence[Document | Reused]) -> Iterator[Document | range]:
    """Documents one by one, and consecutive Reused(i), Reused(i+1)... as one range."""
    run: range | None = None
    for source in sources:
        if isinstance(source, Reused):
            if run is not None and source.index == run.stop:
                run = range(run.start, run.stop + 1)
                continue
            if run is not None:
                yield run
            run = range(source.index, source.index + 1)
        else:
            if run is not None:
                yield run
                run = None
            yield source
    if run is not None:
        yield run


def _cat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype=dtype)


def _meta_json(document: Document) -> bytes:
    record = [document.title, document.publisher, document.published, document.url, document.note]
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode()


def build(documents: Sequence[Document], progress: Callable[[int, int], None] | None = None) -> PassageIndex:
    """A fresh index of `documents`, every one analyzed."""
    return assemble(documents, progress=progress)


def iter_passage_terms(index: PassageIndex) -> Iterator[list[str]]:
    """Each passage's analyzed terms, in order (re-analyzed from the text: for small corpora)."""
    text_of: dict[int, str] = {}
    for i in range(index.size):
        d = int(index.passage_doc[i])
        if d not in text_of:
            text_of.clear()
            text_of[d] = index.doc_text[d]
        yield analysis.terms(text_of[d][int(index.passage_start[i]) : int(index.passage_end[i])])
