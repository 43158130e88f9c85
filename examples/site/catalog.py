"""The catalogue's queries: typed results from SQLite.

Plain functions are run by the engine in a worker thread. Two parts of the product page stand for
slow services elsewhere (reviews 0.4 s, recommendations 0.9 s): they sleep on trio, so a test
under trio's MockClock sees exactly those times.

The reviewers' profiles come from a batched data source: however many reviews a product has,
their authors are read with one ``WHERE name IN (...)``, each author once. SQLite reads go
through the ``sqlite`` source, whose limit the app sets (``engine.Sources(sqlite=...)``).
"""

from __future__ import annotations

import msgspec
import trio

import engine

from .db import fetch

REVIEWS_LATENCY = 0.4
RECOMMENDATIONS_LATENCY = 0.9


class Product(msgspec.Struct, frozen=True):
    id: int
    name: str
    price: float
    description: str


class Review(msgspec.Struct, frozen=True):
    author: str
    rating: int
    text: str


class Customer(msgspec.Struct, frozen=True):
    name: str
    display_name: str
    since: int


class Rating(msgspec.Struct, frozen=True):
    average: float
    count: int


_PRODUCT = "SELECT id, name, price, description FROM product"


def products() -> list[Product]:
    return [Product(*row) for row in fetch(f"{_PRODUCT} ORDER BY id")]


def top_rated() -> list[Product]:
    """The catalogue's best: an aggregate over every review."""
    rows = fetch(
        f"{_PRODUCT} JOIN (SELECT product_id, avg(rating) AS score FROM review"
        " GROUP BY product_id) ON product_id = id ORDER BY score DESC, id LIMIT 4"
    )
    return [Product(*row) for row in rows]


def product(product_id: int) -> Product:
    """A shell query: the title needs it, and a missing product is a real 404."""
    rows = fetch(f"{_PRODUCT} WHERE id = ?", product_id)
    if not rows:
        raise engine.NotFound(f"no product {product_id}")
    return Product(*rows[0])


def related(product: Product) -> list[Product]:
    rows = fetch(f"{_PRODUCT} WHERE id != ? ORDER BY id LIMIT 8", product.id)
    return [Product(*row) for row in rows]


async def reviews(product_id: int) -> list[Review]:
    await trio.sleep(REVIEWS_LATENCY)
    rows = fetch("SELECT author, rating, text FROM review WHERE product_id = ?", product_id)
    return [Review(*row) for row in rows]


@engine.loader(source="sqlite", max_batch=500)
def customers(names: list[str]) -> dict[str, Customer]:
    """One read for every customer asked for in this request (SQLite allows 999 parameters)."""
    marks = ",".join("?" * len(names))
    rows = fetch(f"SELECT name, display_name, since FROM customer WHERE name IN ({marks})", *names)
    return {row[0]: Customer(*row) for row in rows}


async def reviewers(
    reviews: list[Review], customers: engine.RequestLoader[str, Customer]
) -> dict[str, Customer]:
    """The authors of the reviews, by name: one batched call, however many reviews."""
    names = sorted({r.author for r in reviews})
    return dict(zip(names, await customers.load_many(names), strict=True))


def rating(reviews: list[Review]) -> Rating:
    """Derived from reviews: starts the moment reviews resolves."""
    count = len(reviews)
    return Rating(round(sum(r.rating for r in reviews) / count, 1) if count else 0.0, count)


async def recommendations(product: Product) -> list[Product]:
    await trio.sleep(RECOMMENDATIONS_LATENCY)
    rows = fetch(f"{_PRODUCT} WHERE id != ? ORDER BY price DESC LIMIT 4", product.id)
    return [Product(*row) for row in rows]
