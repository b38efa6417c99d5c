"""The collector is paused inside `gc_paused` and left as it was found, also on errors."""

from __future__ import annotations

import gc

import pytest

from lambda_trace.model.gcpause import gc_paused


def test_paused_inside_and_restored_after() -> None:
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inner one found it paused: leaves it paused
    assert gc.isenabled()


def test_restored_when_the_body_raises() -> None:
    with pytest.raises(ValueError), gc_paused():
        raise ValueError("boom")
    assert gc.isenabled()


def test_left_disabled_if_it_was() -> None:
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
