"""The shop's fragment renderers: plain functions of typed query results."""

from __future__ import annotations

from markupsafe import Markup

import engine

from .data import Product, Rating, Review


def _card(p: Product) -> Markup:
    return engine.html(
        '<li class="card"><a href="/product/{{ p.id }}"><span class="thumb"></span>'
        '<span class="name">{{ p.name }}</span><span class="price">${{ price }}</span></a></li>',
        p=p,
        price=f"{p.price:.2f}",
    )


def grid(grid: list[Product]) -> str:
    return Markup('<ul class="grid">{}</ul>').format(Markup("").join(_card(p) for p in grid))


def reviews(reviews: list[Review]) -> str:
    items = Markup("").join(
        engine.html(
            '<li class="review"><b>{{ r.author }}</b> <span class="stars">{{ stars }}</span>'
            "<p>{{ r.text }}</p></li>",
            r=r,
            stars="★" * r.rating + "☆" * (5 - r.rating),
        )
        for r in reviews
    )
    return Markup('<?marker name="rating"><ul class="reviews">{}</ul>').format(items)


def rating(rating: Rating) -> str:
    return engine.html(
        '<p class="rating">{{ r.average }} / 5 from {{ r.count }} reviews</p>', r=rating
    )


def recommendations(recommendations: list[Product]) -> str:
    return grid(recommendations)
