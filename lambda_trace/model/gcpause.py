"""Pause Python's cyclic garbage collector while the model builds many acyclic objects.

Loading a trace or diffing two creates hundreds of thousands of containers (rows, lists, tuples)
that never form cycles; each few hundred of them start a collection, and the older generations'
collections walk everything already loaded (two loaded 100k-event traces: a third of a diff's
time, measured with gc.callbacks). Nothing collectable is made meanwhile, so the pause only moves
that walk to a later, rarer collection.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """No automatic collection inside; the collector is left as it was found (another thread
    may have paused it too)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
