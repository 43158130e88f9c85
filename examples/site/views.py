"""Fragment renderers: Jinja2 templates from ``templates/``, autoescaped, strict about names."""

from __future__ import annotations

from pathlib import Path

import jinja2
from markupsafe import Markup

from .catalog import Product, Rating, Review

_templates = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


def _grid(products: list[Product]) -> str:
    return Markup(_templates.get_template("macros.html").module.grid(products))  # type: ignore[attr-defined]


def catalogue(products: list[Product]) -> str:
    return _grid(products)


def top_rated(top_rated: list[Product]) -> str:
    return _grid(top_rated)


def related(related: list[Product]) -> str:
    return _grid(related)


def recommendations(recommendations: list[Product]) -> str:
    return _grid(recommendations)


def reviews(reviews: list[Review]) -> str:
    return _templates.get_template("reviews.html").render(reviews=reviews)


def rating(rating: Rating) -> str:
    return _templates.get_template("rating.html").render(rating=rating)
