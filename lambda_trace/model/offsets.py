"""Byte offsets of the event lines, kept per batch of lines and worked out when asked.

The loader reads the file in batches of lines. Writing down every line's offset as it went cost
about 115 ns and 8 bytes an event (tests/benchmarks/bench_load.py), yet only
`EventColumns.event(i)` needs one, for the few events a screen shows. So the loader records each
batch (where it starts, its size, which of its lines were not events) and an offset is computed
from the batch's bytes, read again, the first time one of its events is asked for.
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Iterator
from itertools import accumulate, compress, islice
from typing import IO

from .reader import open_trace_bytes

CACHED_BATCHES = 8
"""Batches whose line offsets are kept once worked out: a screen's events are a few batches."""


class LineOffsets:
    """`offsets[i]`: byte offset of event i's line in the (uncompressed) file."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._first = array("q")
        """Event index of each batch's first event."""
        self._start = array("q")
        """Byte offset of each batch's first line."""
        self._size = array("q")
        """Bytes of each batch: its lines and their newlines."""
        self._lines = array("q")
        """Lines in each batch, events or not."""
        self._rejected: dict[int, frozenset[int]] = {}
        """Batch -> positions of its lines that are not events (bad lines, dropped)."""
        self._count = 0
        self._cache: dict[int, array[int]] = {}
        self._file: IO[bytes] | None = None

    def add_batch(self, first: int, start: int, size: int, lines: int, rejected: list[int]) -> None:
        """Record a batch of `lines` lines at byte `start` whose events begin at index `first`."""
        events = lines - len(set(rejected))
        if events <= 0:
            return
        batch = len(self._first)
        self._first.append(first)
        self._start.append(start)
        self._size.append(size)
        self._lines.append(lines)
        if rejected:
            self._rejected[batch] = frozenset(rejected)
        self._count = first + events

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, i: int) -> int:
        if i < 0:
            i += self._count
        if not 0 <= i < self._count:
            raise IndexError("event index out of range")
        batch = bisect.bisect_right(self._first, i) - 1
        return self._batch(batch)[i - self._first[batch]]

    def __iter__(self) -> Iterator[int]:
        for batch in range(len(self._first)):
            yield from self._batch(batch)

    def _batch(self, batch: int) -> array[int]:
        """Offsets of the event lines of one batch, from its bytes read again."""
        offsets = self._cache.get(batch)
        if offsets is not None:
            return offsets
        start, n = self._start[batch], self._lines[batch]
        if self._file is None:
            self._file = open_trace_bytes(self.path)
        self._file.seek(start)
        lines = self._file.read(self._size[batch]).split(b"\n")[:n]
        starts: Iterator[int] = islice(
            accumulate((len(line) + 1 for line in lines), initial=start), n
        )
        rejected = self._rejected.get(batch)
        if rejected:
            starts = compress(starts, (j not in rejected for j in range(n)))
        offsets = array("q", starts)
        if len(self._cache) >= CACHED_BATCHES:
            self._cache.pop(next(iter(self._cache)))
        self._cache[batch] = offsets
        return offsets

    def nbytes(self) -> int:
        """Bytes held by the batch records (the cache of worked-out offsets aside)."""
        cols = (self._first, self._start, self._size, self._lines)
        return sum(c.buffer_info()[1] * c.itemsize for c in cols)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self._cache.clear()
