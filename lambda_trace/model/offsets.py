"""Byte offsets of the event lines, kept per piece of 64 lines and worked out when asked.

The loader reads the file in batches of lines. Writing down every line's offset as it went cost
about 115 ns and 8 bytes an event (tests/benchmarks/bench_load.py), yet only
`EventColumns.event(i)` needs one, for the few events a screen shows. So the loader hands each
batch over and only the start of every 64th line is kept (one sum per piece of lines, in C); an
offset is worked out from its piece's bytes, read again, the first time one of them is asked for:
about 7 KB read, not the whole batch.
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Iterator
from itertools import accumulate, islice
from typing import IO

from .reader import open_trace_bytes

PIECE = 64
"""Lines a recorded start covers."""
CACHED_PIECES = 256
"""Pieces whose line offsets are kept once worked out: a screen's events are a few pieces."""


class LineOffsets:
    """`offsets[i]`: byte offset of event i's line in the (uncompressed) file."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._first = array("q")
        """Event index of each batch's first event."""
        self._end = array("q")
        """Byte offset just past each batch (its last line, and its newline if any)."""
        self._lines = array("q")
        """Lines in each batch, events or not."""
        self._first_piece = array("q")
        """Index in `_piece` of each batch's first piece."""
        self._piece = array("q")
        """Byte offset of every PIECE-th line of each batch."""
        self._kept: dict[int, array[int]] = {}
        """Batch with lines that are not events (bad lines) -> positions of its event lines."""
        self._count = 0
        self._cache: dict[int, array[int]] = {}
        self._file: IO[bytes] | None = None

    def add_batch(
        self, first: int, start: int, size: int, lines: list[bytes], rejected: list[int]
    ) -> None:
        """Record a batch of lines, the first at byte `start`, `size` bytes with their newlines,
        their events from index `first` (the lines at the `rejected` positions are not events)."""
        n = len(lines)
        events = n - len(set(rejected))
        if events <= 0:
            return
        batch = len(self._first)
        self._first.append(first)
        self._lines.append(n)
        self._first_piece.append(len(self._piece))
        sizes = [sum(map(len, lines[j : j + PIECE])) + PIECE for j in range(0, n - PIECE, PIECE)]
        self._piece.extend(accumulate(sizes, initial=start))
        self._end.append(start + size)
        if rejected:
            dropped = set(rejected)
            self._kept[batch] = array("q", (j for j in range(n) if j not in dropped))
        self._count = first + events

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, i: int) -> int:
        if i < 0:
            i += self._count
        if not 0 <= i < self._count:
            raise IndexError("event index out of range")
        batch = bisect.bisect_right(self._first, i) - 1
        line = i - self._first[batch]
        kept = self._kept.get(batch)
        if kept is not None:
            line = kept[line]
        piece, j = divmod(line, PIECE)
        return self._piece_starts(batch, piece)[j]

    def __iter__(self) -> Iterator[int]:
        for i in range(self._count):
            yield self[i]

    def _piece_starts(self, batch: int, piece: int) -> array[int]:
        """Offsets of the lines of one piece of a batch, from its bytes read again."""
        p = self._first_piece[batch] + piece
        offsets = self._cache.get(p)
        if offsets is not None:
            return offsets
        start = self._piece[p]
        last = piece == (self._lines[batch] - 1) // PIECE
        end = self._end[batch] if last else self._piece[p + 1]
        if self._file is None:
            self._file = open_trace_bytes(self.path)
        self._file.seek(start)
        lines = self._file.read(end - start).split(b"\n")
        count = min(PIECE, self._lines[batch] - piece * PIECE)
        offsets = array(
            "q", islice(accumulate(map(len, lines), lambda a, b: a + b + 1, initial=start), count)
        )
        if len(self._cache) >= CACHED_PIECES:
            self._cache.pop(next(iter(self._cache)))
        self._cache[p] = offsets
        return offsets

    def nbytes(self) -> int:
        """Bytes held (the cache of worked-out offsets aside)."""
        cols = (self._first, self._end, self._lines, self._first_piece, self._piece)
        held = sum(c.buffer_info()[1] * c.itemsize for c in cols)
        return held + sum(len(k) * k.itemsize for k in self._kept.values())

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self._cache.clear()
