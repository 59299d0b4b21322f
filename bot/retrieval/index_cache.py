"""The index cache: a corpus's `PassageIndex` on disk, so that a restart neither reads nor
analyzes the articles again, and a changed corpus analyzes only the files that changed.

Layout, in ``CACHE_DIR/<folder name>-<hash of the folder's path>/``::

    manifest.json          what the cache holds and for what (below)
    index-<id>/NAME.npy    one array each (numpy .npy format), see PassageIndex.arrays()

The manifest names the format, a key (analyzer version, a digest of the code that parses,
splits and analyzes articles, the BM25 parameters, the file size limit), the corpus files it
was built from (name, size, modification time), the problems those files had, and each array
file's size, type, shape and CRC-32. Loading trusts nothing it has not checked: a different
key or a changed file list means a rebuild (the unchanged files' analysis is reused); a
missing, truncated, altered or foreign file (wrong size, checksum, type or shape, arrays that
do not fit together) is reported with a warning and the index is built anew. Arrays are read
with ``allow_pickle=False``: loading the cache never runs code.

Arrays are memory-mapped, read-only: the operating system pages in what queries touch. A new
index is written to a new ``index-<id>`` folder and the manifest swapped in with one
`os.replace`, so a running library never sees its files change (older folders are removed;
on POSIX a library still using them keeps them until it goes).
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import json
import logging
import mmap as mmap_module
import os
import re
import shutil
import time
import weakref
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Literal, TypedDict, TypeGuard

try:
    import fcntl
except ImportError:  # Windows has no fcntl: no lock there, the last writer wins
    fcntl = None  # type: ignore[assignment]

import numpy as np

from bot.corpus import articles, passages
from bot.corpus.articles import (
    ArticleFile,
    CorpusListing,
    CorpusProblem,
    Document,
    Noted,
    Selection,
    list_corpus,
    raise_if_unusable,
    select_articles,
)
from bot.retrieval import analysis, bm25_sparse, index_arrays
from bot.retrieval.bm25_reference import DELTA, K1, B
from bot.retrieval.index_arrays import PassageIndex, Reused

log = logging.getLogger(__name__)

FORMAT = "corpus-bot-index-cache/3"  # 3: files are also known by their status change time
MANIFEST = "manifest.json"
WEIGHTS = "posting_weight"
_GENERATION = re.compile(r"index-[0-9a-z-]{1,64}")
_CHUNK = 1 << 24


class CacheUnusable(Exception):
    """The cache on disk cannot be used; the message says why."""


@dataclass(frozen=True, slots=True)
class Opened:
    """What `open_index` produced and how."""

    index: PassageIndex
    weights: np.ndarray  # the sparse engine's posting weights
    problems: tuple[CorpusProblem, ...]
    how: str  # "cached" (loaded as it was), "updated" (some files analyzed) or "built" (all analyzed)
    analyzed: int  # documents analyzed now
    reused: int  # documents taken from the cache
    seconds: dict[str, float] = field(default_factory=dict)  # scan, load, analyze, write...


def cache_key(max_file_bytes: int) -> dict[str, object]:
    """What a cache must have been built with to be used: change any part and it is rebuilt."""
    return {
        "analyzer": analysis.ANALYZER_VERSION,
        "tables": analysis.table_versions(),
        "code": _code_digest(),
        "k1": K1,
        "b": B,
        "delta": DELTA,
        "max_file_bytes": max_file_bytes,
    }


def _code_digest() -> str:
    """A digest of the code that turns files into index arrays, so an edit to it (even without a
    bumped ANALYZER_VERSION) never serves a stale index."""
    digest = hashlib.sha256()
    for module in (analysis, articles, passages, index_arrays, bm25_sparse):
        digest.update(Path(inspect.getfile(module)).read_bytes())
    return digest.hexdigest()[:32]


def cache_place(cache_dir: Path, folder: Path) -> Path:
    """The cache folder for one corpus folder (several corpora can share one cache_dir)."""
    root = folder.resolve()
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", root.name)[:40] or "corpus"
    return cache_dir / f"{name}-{hashlib.sha256(str(root).encode()).hexdigest()[:16]}"


# --- the corpus folder -----------------------------------------------------------------------


class _FileColumns(TypedDict):
    """Files as columns (the manifest's form)."""

    name: list[str]
    size: list[int]
    mtime_ns: list[int]
    ctime_ns: list[int]


_COLUMNS = ("name", "size", "mtime_ns", "ctime_ns")


def _fingerprint(files: Iterable[ArticleFile]) -> _FileColumns:
    """Files as columns: names, sizes, modification and status change times. What the cache
    trusts: a file whose four are unchanged is unchanged. The status change time is there because
    the other three can stay the same while the file did change: an edit whose tool restores the
    modification time (and keeps the size), or `chmod` making a file readable that was left out
    for "Permission denied". A link, or a file that could not be looked at, has size and times -1:
    it is always read again (a link's target can change without the listing changing)."""
    columns: _FileColumns = {"name": [], "size": [], "mtime_ns": [], "ctime_ns": []}
    for file in files:
        known = file.size >= 0 and file.ctime_ns >= 0 and not file.is_link
        columns["name"].append(file.name)
        columns["size"].append(file.size if known else -1)
        columns["mtime_ns"].append(file.mtime_ns if known else -1)
        columns["ctime_ns"].append(file.ctime_ns if known else -1)
    return columns


# --- opening ---------------------------------------------------------------------------------


def open_index(
    folder: Path, *, max_file_bytes: int, cache_dir: Path, progress: Callable[[int, int], None] | None = None
) -> Opened:
    """The index of the corpus in `folder`, from the cache when it is current, else built (reusing
    what the cache has for unchanged files) and cached. Raises CorpusError when nothing is usable.

    Processes sharing a cache take turns (a file lock): a second bot started while the first
    builds the index waits, then finds it current instead of building it again. `progress` is
    told (articles analyzed, articles to analyze) while new and changed files are analyzed."""
    started = time.perf_counter()
    listing = list_corpus(folder)
    raise_if_unusable(listing.problems)  # no folder: nothing to cache
    scanned = time.perf_counter() - started
    place = cache_place(cache_dir, folder)
    with _locked(place):
        return _open_index(listing, place, max_file_bytes, scanned, progress)


@contextlib.contextmanager
def _locked(place: Path) -> Iterator[None]:
    """An exclusive lock on the cache folder, where the OS has file locks and the folder can be made."""
    try:
        place.mkdir(parents=True, exist_ok=True)
        lock = (place / ".lock").open("a")
    except OSError:
        yield  # an unwritable cache: nothing will be written to it either
        return
    with lock:
        if fcntl is not None:
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _open_index(
    listing: CorpusListing, place: Path, max_file_bytes: int, scanned: float,
    progress: Callable[[int, int], None] | None,
) -> Opened:
    folder = listing.folder
    timings: dict[str, float] = {"scan": scanned}
    started = time.perf_counter()
    key = cache_key(max_file_bytes)
    previous = _read(place, key)
    timings["load"] = time.perf_counter() - started
    fingerprint = _fingerprint(listing.files)
    if previous is not None and previous.files == fingerprint and -1 not in fingerprint["size"]:
        problems = tuple(CorpusProblem(str(folder / name), message) for name, message in previous.problems)
        return Opened(previous.index, previous.weights, problems, "cached", 0, previous.index.document_count,
                      timings)

    selection: Selection[Document | Reused] = select_articles(listing, _reader(folder, previous, max_file_bytes))
    raise_if_unusable(selection.problems)
    sources, problems, loaded = list(selection.sources), selection.problems, selection.files
    del selection
    analyzed = sum(isinstance(s, Document) for s in sources)
    mark = time.perf_counter()
    index = index_arrays.assemble(sources, previous.index if previous else None, progress)
    weights = bm25_sparse.posting_weights(index.term_postings, index.posting_passage, index.posting_count,
                                          index.passage_length)
    timings["analyze"] = time.perf_counter() - mark
    del sources, previous
    mark = time.perf_counter()
    documents = _fingerprint(loaded)
    stored_problems = [[Path(p.path).name, p.message] for p in problems]
    try:
        written = _write(place, key, fingerprint, documents, stored_problems, index, weights)
    except OSError as error:
        log.warning("cannot write the index cache in %s (%s); serving the index from memory", place, error)
    else:
        index, weights = written.index, written.weights  # memory-mapped: the built arrays can go
    timings["write"] = time.perf_counter() - mark
    how = "updated" if analyzed < index.document_count else "built"
    log.debug("index of %s %s: %d articles analyzed, %d reused, %d passages, in %.1f s", folder, how, analyzed,
             index.document_count - analyzed, index.size, scanned + time.perf_counter() - started)
    return Opened(index, weights, tuple(problems), how, analyzed, index.document_count - analyzed, timings)


def _reader(
    folder: Path, previous: _Cached | None, max_file_bytes: int
) -> Callable[[ArticleFile], Document | Noted[Document] | Reused | CorpusProblem]:
    """Reads an article file for `select_articles`: Reused when the cache has the file as it is
    now (same name, size, modification and status change time: `_fingerprint`), else read now
    (`read_article`)."""
    cached: dict[tuple[str, int, int, int], int] = {}
    if previous is not None:
        columns = previous.documents
        for d, file in enumerate(zip(columns["name"], columns["size"], columns["mtime_ns"], columns["ctime_ns"],
                                     strict=True)):
            if file[1] >= 0:
                cached[file] = d
    root = folder.resolve()

    def read(file: ArticleFile) -> Document | Noted[Document] | Reused | CorpusProblem:
        d = None if file.is_link else cached.get((file.name, file.size, file.mtime_ns, file.ctime_ns))
        if d is not None:
            return Reused(d)
        return articles.read_article(file, root, max_file_bytes=max_file_bytes)

    return read


# --- reading and writing ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Cached:
    index: PassageIndex
    weights: np.ndarray
    files: _FileColumns  # every article file seen
    documents: _FileColumns  # the file of each indexed document, in index order
    problems: list[list[str]]  # [file name, message]


def _read(place: Path, key: dict[str, object]) -> _Cached | None:
    manifest_path = place / MANIFEST
    if not manifest_path.exists():
        return None
    try:
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise CacheUnusable(f"{MANIFEST} is not valid JSON ({error})") from None
        if not isinstance(manifest, dict) or not str(manifest.get("format")).startswith(FORMAT.split("/")[0] + "/"):
            raise CacheUnusable(f"{MANIFEST} is not an index cache manifest")
        if manifest.get("format") != FORMAT:
            log.debug("index cache %s has another format (%s); rebuilding it", place, manifest.get("format"))
            return None
        if manifest.get("key") != key:
            log.debug("index cache %s was built by another analyzer or settings; rebuilding it", place)
            return None
        generation = manifest.get("generation")
        if not isinstance(generation, str) or not _GENERATION.fullmatch(generation):
            raise CacheUnusable(f"{MANIFEST} names no valid index folder")
        specs = manifest.get("arrays")
        if not isinstance(specs, dict):
            raise CacheUnusable(f"{MANIFEST} lists no arrays")
        arrays = {name: _load_array(place / generation, name, specs.get(name))
                  for name in [*PassageIndex.array_names(), WEIGHTS]}
        try:
            index = PassageIndex.from_arrays(arrays, thorough=False)  # the checksums vouch for the content
        except (ValueError, TypeError, IndexError) as error:
            raise CacheUnusable(str(error)) from None
        weights = arrays[WEIGHTS]
        if (not isinstance(weights, np.ndarray) or weights.dtype != np.float32
                or weights.shape != index.posting_passage.shape):
            raise CacheUnusable("posting weights do not fit the postings")
        files, documents, problems = manifest.get("files"), manifest.get("documents"), manifest.get("problems")
        if not (_columns(files) and _columns(documents) and _problem_rows(problems)):
            raise CacheUnusable(f"{MANIFEST} has malformed file lists")
        if len(documents["name"]) != index.document_count:
            raise CacheUnusable(f"{MANIFEST} lists {len(documents['name'])} files for {index.document_count} documents")
        return _Cached(index, weights, files, documents, problems)
    except (CacheUnusable, OSError) as error:
        log.warning("index cache %s is unusable and will be rebuilt: %s", place, error)
        return None


def _columns(value: object) -> TypeGuard[_FileColumns]:
    if not isinstance(value, dict) or set(value) != set(_COLUMNS):
        return False
    names, *numbers = (value[name] for name in _COLUMNS)
    return (isinstance(names, list) and all(isinstance(column, list) for column in numbers)
            and all(len(column) == len(names) for column in numbers) and all(type(x) is str for x in names)
            and all(type(x) is int for column in numbers for x in column))


def _problem_rows(value: object) -> TypeGuard[list[list[str]]]:
    """Rows of [file name, message]."""
    return isinstance(value, list) and all(
        isinstance(row, list) and len(row) == 2 and all(isinstance(x, str) for x in row) for row in value
    )


_SEQUENTIAL = {"posting_passage", WEIGHTS}  # read a whole posting list at a time: keep the kernel's read-around


def _load_array(folder: Path, name: str, spec: object) -> np.ndarray | FileBytes:
    """One array of the cache, checked against its manifest entry: memory-mapped (read-only;
    random-access ones advised so, so that a binary search does not page in its neighbours),
    or, for string blobs, a FileBytes that reads with pread (never resident in this process)."""
    if not isinstance(spec, dict):
        raise CacheUnusable(f"{MANIFEST} does not describe array {name}")
    path = folder / f"{name}.npy"
    try:
        size = path.stat().st_size
    except OSError:
        raise CacheUnusable(f"{path.name} is missing") from None
    if size != spec.get("bytes") or _crc32(path) != spec.get("crc32"):
        raise CacheUnusable(f"{path.name} is corrupt or foreign (size or checksum differs from the manifest)")
    try:
        shape = tuple(spec["shape"])
        if name.endswith(".blob"):
            array: np.ndarray | FileBytes = FileBytes.open(path)
        else:
            mmap: Literal["r"] | None = "r" if all(shape) else None  # an empty file cannot be mapped
            array = np.load(path, mmap_mode=mmap, allow_pickle=False)
    except (ValueError, KeyError, TypeError, OSError, EOFError) as error:
        raise CacheUnusable(f"{path.name} cannot be read as an array ({error})") from None
    if str(array.dtype) != spec.get("dtype") or array.shape != shape or array.ndim != 1:
        raise CacheUnusable(f"{path.name} holds {array.dtype} {array.shape}, not what the manifest says")
    if isinstance(array, np.memmap) and name not in _SEQUENTIAL and hasattr(mmap_module, "MADV_RANDOM"):
        # numpy keeps the mapping in a private attribute that its stubs do not declare
        array._mmap.madvise(mmap_module.MADV_RANDOM)  # type: ignore[attr-defined]
    return array.view(np.ndarray) if isinstance(array, np.ndarray) else array


class FileBytes:
    """The bytes of a 1-D uint8 .npy file, read on demand with os.pread (thread-safe)."""

    dtype = np.dtype(np.uint8)
    ndim = 1

    def __init__(self, file: BinaryIO, offset: int, size: int) -> None:
        self._file = file  # kept open: the data stays readable even if the folder is removed
        # ... and closed with this object (not left to the file's own finalizer, which warns of an unclosed file)
        weakref.finalize(self, file.close)
        self._offset = offset
        self._size = size
        self.shape = (size,)

    @classmethod
    def open(cls, path: Path) -> FileBytes:
        file = path.open("rb")
        try:
            version = np.lib.format.read_magic(file)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(file)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(file)
            else:
                raise ValueError(f"unsupported .npy version {version}")
            if dtype != np.uint8 or len(shape) != 1 or fortran:
                raise ValueError(f"holds {dtype} {shape}, not bytes")
            offset = file.tell()
            if offset + shape[0] != os.fstat(file.fileno()).st_size:
                raise ValueError("is not as long as its header says")
            return cls(file, offset, shape[0])
        except BaseException:
            file.close()
            raise

    def __len__(self) -> int:
        return self._size

    def read(self, start: int, stop: int) -> bytes:
        if not 0 <= start <= stop <= self._size:
            raise IndexError(f"bytes {start}:{stop} outside 0:{self._size}")
        data = os.pread(self._file.fileno(), stop - start, self._offset + start)
        if len(data) != stop - start:
            raise OSError("the index cache file became shorter while in use")
        return data


def _crc32(path: Path) -> int:
    """CRC-32 of a file, read in chunks (the pages go to the OS cache, not to this process)."""
    crc = 0
    buffer = bytearray(_CHUNK)
    view = memoryview(buffer)
    with path.open("rb", buffering=0) as file:
        while True:
            n = file.readinto(buffer)
            if not n:
                return crc
            crc = zlib.crc32(view[:n], crc)


def _write(
    place: Path,
    key: dict[str, object],
    files: _FileColumns,
    documents: _FileColumns,
    problems: list[list[str]],
    index: PassageIndex,
    weights: np.ndarray,
) -> _Cached:
    place.mkdir(parents=True, exist_ok=True)
    generation = f"index-{os.getpid()}-{time.time_ns():x}"
    target = place / generation
    target.mkdir()
    specs = {}
    try:
        for name, array in {**index.arrays(), WEIGHTS: weights}.items():
            if not isinstance(array, np.ndarray):  # a blob left in its file
                array = np.frombuffer(array.read(0, len(array)), dtype=np.uint8)
            path = target / f"{name}.npy"
            np.save(path, np.ascontiguousarray(array), allow_pickle=False)
            specs[name] = {"dtype": str(array.dtype), "shape": list(array.shape), "bytes": path.stat().st_size,
                           "crc32": _crc32(path)}
        manifest = {"format": FORMAT, "key": key, "generation": generation, "arrays": specs,
                    "files": files, "documents": documents, "problems": problems}
        temporary = place / f"{MANIFEST}.{os.getpid()}.tmp"
        try:
            temporary.write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
            os.replace(temporary, place / MANIFEST)
        except BaseException:
            temporary.unlink(missing_ok=True)  # a full disk: leave nothing half written behind
            raise
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    _remove_old(place, keep=generation)
    cached = _read(place, key)
    if cached is None:
        raise OSError(f"the index just written to {target} does not read back")
    return cached


def _remove_old(place: Path, keep: str) -> None:
    """Remove the index folders other than `keep` (under the lock: no other process is opening
    one; a library still using one keeps its open files and mappings, which POSIX allows)."""
    for folder in place.iterdir():
        if folder.name != keep and _GENERATION.fullmatch(folder.name):
            shutil.rmtree(folder, ignore_errors=True)
