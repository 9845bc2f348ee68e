"""The shared target helpers: change detection, create-once, run-scoped locks and memo."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from nodes.base import RecordFailed
from nodes.connectors.http import ServerError, Unreachable, ValidationFailed
from nodes.lookups._run_cache import BoundedMemo, KeyedLocks
from nodes.targets._common import create_once, same_value


@pytest.mark.parametrize(
    ("old", "new", "same"),
    [
        (12.5, "12.50", True),
        ("8.26", Decimal("8.260"), True),
        (None, "", True),
        (" Utrecht ", "Utrecht", True),
        (True, True, True),
        (1, True, False),
        ({"city": "Utrecht", "phone": "1"}, {"city": "Utrecht"}, True),
        ({"city": "Utrecht"}, {"city": "Delft"}, False),
        ([{"id": 9, "key": "a", "value": "1"}], [{"key": "a", "value": "1"}], True),
        ([{"id": 9, "key": "a", "value": "1"}], [{"key": "a", "value": "2"}], False),
        ("0612", "612", False),
    ],
)
def test_same_value(old: object, new: object, same: bool) -> None:
    assert same_value(old, new) is same


async def test_create_once_turns_a_refusal_into_a_readable_failure() -> None:
    async def create() -> dict[str, object]:
        raise ValidationFailed(
            400, "Asperion answered 400: invalid — VatCode: unknown", field_errors={"VatCode": ["x"]}
        )

    async def find() -> str | None:
        raise AssertionError("a refusal is not a lost answer")

    with pytest.raises(RecordFailed) as failure:
        await create_once(create, find, "sales invoice", {})
    assert failure.value.message == "sales invoice refused: Asperion answered 400: invalid — VatCode: unknown"
    assert failure.value.detail["errors"] == {"VatCode": ["x"]}


@pytest.mark.parametrize("lost", [Unreachable(0, "no answer in time"), ServerError(502, "bad gateway")])
async def test_create_once_fails_when_a_lost_post_did_not_arrive(lost: Exception) -> None:
    async def create() -> dict[str, object]:
        raise lost

    async def find() -> str | None:
        return None

    with pytest.raises(type(lost)):
        await create_once(create, find, "sales invoice", {})


async def test_keyed_locks_serialise_one_key_and_forget_it_afterwards() -> None:
    locks = KeyedLocks()
    inside: list[str] = []
    order: list[str] = []

    async def work(key: str, name: str) -> None:
        async with locks.hold(key):
            inside.append(name)
            assert len([n for n in inside if n.startswith(key)]) == 1
            await asyncio.sleep(0)
            order.append(name)
            inside.remove(name)

    await asyncio.gather(work("a", "a1"), work("a", "a2"), work("b", "b1"))
    assert sorted(order) == ["a1", "a2", "b1"]
    assert len(locks) == 0


def test_bounded_memo_forgets_the_least_recently_used() -> None:
    memo: BoundedMemo[int] = BoundedMemo(2)
    memo.put("a", 1)
    memo.put("b", 2)
    assert memo.get("a") == 1  # a is now the most recent
    memo.put("c", 3)
    assert "b" not in memo
    assert (memo.get("a"), memo.get("c"), len(memo)) == (1, 3, 2)
