"""The transform generation (``contracts.generation``): a positive whole number whose history,
in the module's docstring, says what each generation up to the current one changed. That its
bump follows the transform's output is ``tests/stream_processor/test_transform_golden.py``."""

from __future__ import annotations

import re

from contracts import generation


def test_the_generation_is_a_whole_number_from_one():
    assert type(generation.GENERATION) is int and generation.GENERATION >= 1


def test_the_history_names_every_generation_once_in_order_up_to_the_current_one():
    history = generation.__doc__.split("History:", 1)[1]
    named = [int(n) for n in re.findall(r"(?:^|;)\s*(\d+),", history)]
    assert named == list(range(1, generation.GENERATION + 1))
