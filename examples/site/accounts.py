"""Accounts: who may sign in, and who is signed in.

The session itself is a cookie signed by Starlette's ``SessionMiddleware`` (see ``app.py``); it
holds only the user's name, and every request reads the user back from the database, so a
deleted account is signed out at once.
"""

from __future__ import annotations

import hmac
from urllib.parse import urlencode

import msgspec

import engine

from .db import fetch, hash_password


class User(msgspec.Struct, frozen=True):
    name: str
    display_name: str


def find(name: str) -> User | None:
    rows = fetch("SELECT name, display_name FROM user WHERE name = ?", name)
    return User(*rows[0]) if rows else None


def authenticate(name: str, password: str) -> User | None:
    """The user whose password this is, or None (scrypt: run it in a worker thread)."""
    rows = fetch("SELECT name, display_name, salt, password_hash FROM user WHERE name = ?", name)
    if not rows:
        return None
    user_name, display_name, salt, expected = rows[0]
    if not hmac.compare_digest(hash_password(password, salt), expected):
        return None
    return User(user_name, display_name)


def visitor(request: engine.Request) -> User | None:
    """Who is signed in: the account the session names, if it still exists."""
    try:
        name = request.session.get("user")
    except LookupError:  # no session middleware around the page (engine render): nobody
        return None
    return find(name) if isinstance(name, str) else None


def account(request: engine.Request) -> User:
    """The signed-in user, or a redirect to the sign-in page (a shell query: before any byte)."""
    user = visitor(request)
    if user is None:
        raise engine.Redirect(f"/signin?{urlencode({'next': request.path})}")
    return user


def session_secret() -> str:
    """The key that signs session cookies: made with the database, shared by every worker."""
    return str(fetch("SELECT value FROM secret WHERE name = 'session'")[0][0])


class SignInForm(msgspec.Struct, frozen=True):
    next: str
    problem: str


def safe_next(next: str) -> str:
    """Where to go after signing in: a path on this site, never another origin."""
    return next if next.startswith("/") and not next.startswith(("//", "/\\")) else "/"


def sign_in_form(next: str = "/", failed: str = "") -> SignInForm:
    return SignInForm(safe_next(next), "Wrong name or password." if failed else "")
