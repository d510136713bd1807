"""Slowdowns on a virtual clock: a retuned link's next transfer pays the slowed figures, one
under way keeps its own, and a restore brings the link back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from pydantic import ValidationError

from jupiter.cluster.conditions import ConditionChange, Slowdowns
from jupiter.cluster.emulator import LinkEmulator
from jupiter.cluster.links import Link


class VirtualClock:
    def __init__(self) -> None:
        self.now = 0.0

    def time(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


async def body(size: int) -> AsyncIterator[bytes]:
    yield b"x" * size


async def transfer(emulator: LinkEmulator, size: int) -> None:
    async for _ in emulator.pace(body(size)):
        pass


def seconds_of(emulator: LinkEmulator, clock: VirtualClock, size: int) -> float:
    start = clock.now
    asyncio.run(transfer(emulator, size))
    return clock.now - start


def test_a_retuned_link_costs_its_slowed_latency_and_bandwidth_then_is_restored() -> None:
    base = Link(0.05, 1_000_000.0)
    slowdowns = Slowdowns()
    clock = VirtualClock()
    emulator = LinkEmulator(base, clock=clock)
    assert seconds_of(emulator, clock, 100_000) == pytest.approx(0.05 + 0.1)
    slowdowns.set_link("b", 5)
    emulator.retune(slowdowns.link("b", base))
    assert seconds_of(emulator, clock, 100_000) == pytest.approx(0.25 + 0.5)
    slowdowns.set_link("b", 1)
    assert slowdowns.links == {}
    emulator.retune(slowdowns.link("b", base))
    assert seconds_of(emulator, clock, 100_000) == pytest.approx(0.15)


def test_slowdowns_refuse_speed_ups_and_changes_are_exactly_one() -> None:
    with pytest.raises(ValueError):
        Slowdowns().set_node(0.5)
    with pytest.raises(ValidationError, match="exactly one"):
        ConditionChange(slow="a", restore="b", factor=2)
    change = ConditionChange(slow_link=("a", "b"), factor=3)
    assert (change.node, change.to, change.value, change.describe()) == (
        "a",
        "b",
        3.0,
        "slow a->b x3",
    )
    assert ConditionChange(restore="a").value == 1.0
