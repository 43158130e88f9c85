"""The cart: one per visitor, in the site's SQLite database, keyed by a random cart id that the
visitor's signed session holds.

The lines live in SQLite, not in the session cookie: adding from two tabs at once adds both (one
atomic upsert each, not a cookie that the later response overwrites), and prices always come
from the catalogue. The id lives in the session (``request.session``, the live object), so the
queries that run again after an action, in the same request, see the cart that the action has
just started; signing in keeps it (``app.py``), signing out forgets it.
"""

from __future__ import annotations

import secrets
from typing import Annotated

import msgspec

import engine

from .db import execute, fetch

SESSION_KEY = "cart"

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


def cart_id(request: engine.Request) -> str | None:
    """The visitor's cart id, or None: no cart yet (or no session middleware: engine render)."""
    try:
        value = request.session.get(SESSION_KEY)
    except LookupError:
        return None
    return value if isinstance(value, str) else None


def count(request: engine.Request) -> CartCount:
    """How many items the visitor's cart holds (a layout shell query: on every page)."""
    cart = cart_id(request)
    if cart is None:
        return CartCount(0)
    rows = fetch("SELECT coalesce(sum(quantity), 0) FROM cart_item WHERE cart = ?", cart)
    return CartCount(rows[0][0])


def lines(request: engine.Request) -> Cart:
    """The cart's lines, with today's prices from the catalogue."""
    cart = cart_id(request)
    if cart is None:
        return Cart([], 0, 0.0)
    rows = fetch(
        "SELECT product.id, name, price, quantity, round(quantity * price, 2)"
        " FROM cart_item JOIN product ON product.id = product_id"
        " WHERE cart = ? ORDER BY name, product.id",
        cart,
    )
    lines = [CartLine(*row) for row in rows]
    return Cart(
        lines, sum(line.quantity for line in lines), round(sum(line.total for line in lines), 2)
    )


def add_to_cart(data: AddToCart, request: engine.Request) -> None:
    """Add to the product page's product (its shell query, a guard, has found it already)."""
    cart = cart_id(request)
    if cart is None:
        cart = request.session[SESSION_KEY] = secrets.token_urlsafe(32)
    execute(
        "INSERT INTO cart_item VALUES (?, ?, ?) ON CONFLICT (cart, product_id)"
        " DO UPDATE SET quantity = min(99, quantity + excluded.quantity)",
        cart,
        int(request.path_params["product_id"]),
        data.quantity,
    )


def update(data: ChangeQuantity, request: engine.Request) -> None:
    """Set a line's quantity (a product not in the visitor's cart is left alone)."""
    cart = cart_id(request)
    if cart is not None:
        execute(
            "UPDATE cart_item SET quantity = ? WHERE cart = ? AND product_id = ?",
            data.quantity,
            cart,
            data.product,
        )


def remove(data: RemoveLine, request: engine.Request) -> None:
    cart = cart_id(request)
    if cart is not None:
        execute("DELETE FROM cart_item WHERE cart = ? AND product_id = ?", cart, data.product)
