"""Orders, read through aiosqlite: an asyncio driver.

``@engine.on_asyncio`` runs the query as a task on the asyncio loop that hosts the engine (the
one uvicorn or Hypercorn's asyncio worker runs, or the one ``engine render`` starts), so the
driver's awaits just work; a client that goes away cancels the task like any other query.
"""

from __future__ import annotations

import aiosqlite
import msgspec

import engine

from . import db
from .accounts import User


class Order(msgspec.Struct, frozen=True):
    placed: str
    product_id: int
    product: str
    quantity: int
    total: float


@engine.on_asyncio
async def orders(account: User) -> list[Order]:
    async with (
        aiosqlite.connect(db.path()) as conn,
        conn.execute(
            "SELECT placed, product.id, product.name, quantity, round(quantity * price, 2)"
            " FROM purchase JOIN product ON product.id = purchase.product_id"
            " WHERE user_name = ? ORDER BY placed DESC, purchase.id DESC",
            (account.name,),
        ) as cursor,
    ):
        rows = await cursor.fetchall()
    return [Order(*row) for row in rows]
