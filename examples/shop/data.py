"""The shop's data: an SQLite database created on first run, and the page's queries.

Latencies are made visible on purpose: reviews come from a "slow service" (0.4 s),
recommendations from a slower one (0.9 s). The product itself is a shell query: the
first byte waits for it (the title needs it, and a missing product is a real 404).
"""

from __future__ import annotations

import os
import random
import sqlite3
import time
from pathlib import Path

import msgspec
import trio

import engine

DB_PATH = Path(os.environ.get("SHOP_DB", Path(__file__).with_name("shop.db")))


class Product(msgspec.Struct, frozen=True):
    id: int
    name: str
    price: float
    description: str


class Review(msgspec.Struct, frozen=True):
    author: str
    rating: int
    text: str


class Rating(msgspec.Struct, frozen=True):
    average: float
    count: int


_NAMES = ["Widget", "Gadget", "Gizmo", "Doohickey", "Sprocket", "Flange", "Whatsit", "Gubbins"]
_ADJECTIVES = ["Pro", "Mini", "Max", "Classic", "Ultra", "Eco", "Plus", "Lite"]
_REVIEWS = [
    "Does exactly what it says.",
    "Sturdy, but the manual is thin.",
    "Bought two. Then a third.",
    "Arrived quickly & works <perfectly>.",
    "Not bad for the price.",
]


def connect() -> sqlite3.Connection:
    """Open the database, creating and filling it on first use."""
    fresh = not DB_PATH.exists()
    db = sqlite3.connect(DB_PATH)
    if fresh:
        _create(db)
    return db


def _create(db: sqlite3.Connection) -> None:
    rng = random.Random(42)
    db.executescript(
        """
        CREATE TABLE product (id INTEGER PRIMARY KEY, name TEXT, price REAL, description TEXT);
        CREATE TABLE review (product_id INTEGER, author TEXT, rating INTEGER, text TEXT);
        """
    )
    products = [
        (
            i,
            f"Acme {rng.choice(_NAMES)} {rng.choice(_ADJECTIVES)}",
            round(rng.uniform(5, 250), 2),
            "Hand-assembled, fully tested, and shipped in recycled packaging.",
        )
        for i in range(1, 49)
    ]
    db.executemany("INSERT INTO product VALUES (?, ?, ?, ?)", products)
    reviews = [
        (p, f"customer{rng.randrange(1000)}", rng.randint(2, 5), rng.choice(_REVIEWS))
        for p in range(1, 49)
        for _ in range(rng.randint(2, 6))
    ]
    db.executemany("INSERT INTO review VALUES (?, ?, ?, ?)", reviews)
    db.commit()


def product(product_id: int) -> Product:
    """Shell query (sync, so it runs in a worker thread)."""
    with connect() as db:
        row = db.execute(
            "SELECT id, name, price, description FROM product WHERE id = ?", (product_id,)
        ).fetchone()
    if row is None:
        raise engine.NotFound(f"no product {product_id}")
    return Product(*row)


async def grid(product: Product) -> list[Product]:
    """Related products: a fast query that depends on the product."""
    await trio.sleep(0.05)
    with connect() as db:
        rows = db.execute(
            "SELECT id, name, price, description FROM product WHERE id != ? ORDER BY id LIMIT 8",
            (product.id,),
        ).fetchall()
    return [Product(*row) for row in rows]


def reviews(product_id: int) -> list[Review]:
    """A slow service: blocking, so it runs in a worker thread."""
    time.sleep(0.4)
    with connect() as db:
        rows = db.execute(
            "SELECT author, rating, text FROM review WHERE product_id = ?", (product_id,)
        ).fetchall()
    return [Review(*row) for row in rows]


def rating(reviews: list[Review]) -> Rating:
    """Derived from reviews: starts the moment reviews resolves."""
    count = len(reviews)
    return Rating(round(sum(r.rating for r in reviews) / count, 1) if count else 0.0, count)


async def recommendations(product: Product) -> list[Product]:
    """The slowest, least important part of the page."""
    await trio.sleep(0.9)
    with connect() as db:
        rows = db.execute(
            "SELECT id, name, price, description FROM product"
            " WHERE id != ? ORDER BY price DESC LIMIT 4",
            (product.id,),
        ).fetchall()
    return [Product(*row) for row in rows]
