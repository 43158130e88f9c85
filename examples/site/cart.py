"""The cart: one per visitor, in the site's SQLite database, keyed by a random cart id.

The id is a cookie of its own (``acme_cart``: HttpOnly, SameSite=Lax, 256 random bits, so a
visitor cannot guess another's), not a value in the signed session: signing in clears the
session, and the cart should survive it. The lines live in SQLite rather than in the cookie, so
adding from two tabs at once adds both (one atomic upsert each, not a cookie that the later
response overwrites), and the prices always come from the catalogue.

Queries read the id through their declared ``cookie`` parameter; actions read it from the
request, and the first ``add_to_cart`` sets it.
"""

from __future__ import annotations

import re
import secrets
from typing import Annotated

import msgspec

import engine

from .db import execute, fetch

CART_COOKIE = "acme_cart"
CART_DAYS = 30
_CART_ID = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32)

Quantity = Annotated[int, msgspec.Meta(ge=1, le=99)]


class CartCount(msgspec.Struct, frozen=True):
    """What the nav bar shows (exposed: the client store gets it and its binding updates)."""

    items: int


class CartLine(msgspec.Struct, frozen=True):
    product_id: int
    name: str
    price: float
    quantity: int
    total: float


class Cart(msgspec.Struct, frozen=True):
    lines: list[CartLine]
    items: int
    total: float


class AddToCart(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The product page's form: how many. Which product is the page's path, not a field."""

    quantity: Quantity = 1


class ChangeQuantity(msgspec.Struct, kw_only=True):
    product: int
    quantity: Quantity


class RemoveLine(msgspec.Struct, kw_only=True):
    """Sent by the line's form, which also carries its quantity field: ignored here."""

    product: int


def _cart_id(value: str | None) -> str | None:
    """A well-formed cart id, or None (no cart yet, or a cookie this site did not set)."""
    return value if value is not None and _CART_ID.fullmatch(value) else None


def count(acme_cart: str = "") -> CartCount:
    """How many items the visitor's cart holds (a layout shell query: on every page)."""
    cart_id = _cart_id(acme_cart)
    if cart_id is None:
        return CartCount(0)
    rows = fetch("SELECT coalesce(sum(quantity), 0) FROM cart_item WHERE cart = ?", cart_id)
    return CartCount(rows[0][0])


def cart(acme_cart: str = "") -> Cart:
    """The cart's lines, with today's prices from the catalogue."""
    cart_id = _cart_id(acme_cart)
    if cart_id is None:
        return Cart([], 0, 0.0)
    rows = fetch(
        "SELECT product.id, name, price, quantity, round(quantity * price, 2)"
        " FROM cart_item JOIN product ON product.id = product_id"
        " WHERE cart = ? ORDER BY name, product.id",
        cart_id,
    )
    lines = [CartLine(*row) for row in rows]
    return Cart(
        lines, sum(line.quantity for line in lines), round(sum(line.total for line in lines), 2)
    )


def add_to_cart(data: AddToCart, request: engine.Request, response: engine.Response) -> None:
    """Add to the product page's product (its shell query, a guard, has found it already)."""
    cart_id = _cart_id(request.cookies.get(CART_COOKIE)) or secrets.token_urlsafe(32)
    execute(
        "INSERT INTO cart_item VALUES (?, ?, ?) ON CONFLICT (cart, product_id)"
        " DO UPDATE SET quantity = min(99, quantity + excluded.quantity)",
        cart_id,
        int(request.path_params["product_id"]),
        data.quantity,
    )
    response.set_cookie(CART_COOKIE, cart_id, max_age=CART_DAYS * 24 * 3600)


def update(data: ChangeQuantity, request: engine.Request) -> None:
    """Set a line's quantity (a product not in the visitor's cart is left alone)."""
    cart_id = _cart_id(request.cookies.get(CART_COOKIE))
    if cart_id is not None:
        execute(
            "UPDATE cart_item SET quantity = ? WHERE cart = ? AND product_id = ?",
            data.quantity,
            cart_id,
            data.product,
        )


def remove(data: RemoveLine, request: engine.Request) -> None:
    cart_id = _cart_id(request.cookies.get(CART_COOKIE))
    if cart_id is not None:
        execute("DELETE FROM cart_item WHERE cart = ? AND product_id = ?", cart_id, data.product)
