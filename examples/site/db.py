"""The site's SQLite database: created and filled on first use, in a writable place.

``SITE_DB`` names the file; by default it lives in the user's cache folder, so the site runs
from a read-only checkout too. The file is built under a temporary name and renamed into place,
so several workers starting at once never see half a database, and the first one wins.
"""

from __future__ import annotations

import hashlib
import os
import random
import secrets
import sqlite3
import threading
from contextlib import closing
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 3
"""Bumped whenever the tables or the sample data change: an older file is rebuilt."""

_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
DB_PATH = Path(os.environ.get("SITE_DB") or _CACHE / "engine-example-site" / "acme.db")

SCHEMA = """
CREATE TABLE product (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, price REAL NOT NULL, description TEXT NOT NULL
);
CREATE TABLE review (
    product_id INTEGER NOT NULL REFERENCES product, author TEXT NOT NULL,
    rating INTEGER NOT NULL, text TEXT NOT NULL
);
CREATE INDEX review_product ON review (product_id);
CREATE TABLE customer (name TEXT PRIMARY KEY, display_name TEXT NOT NULL, since INTEGER NOT NULL);
CREATE TABLE user (
    name TEXT PRIMARY KEY, display_name TEXT NOT NULL,
    salt BLOB NOT NULL, password_hash BLOB NOT NULL
);
CREATE TABLE purchase (
    id INTEGER PRIMARY KEY, user_name TEXT NOT NULL REFERENCES user,
    product_id INTEGER NOT NULL REFERENCES product, quantity INTEGER NOT NULL, placed TEXT NOT NULL
);
CREATE TABLE secret (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE cart_item (
    cart TEXT NOT NULL, product_id INTEGER NOT NULL REFERENCES product,
    quantity INTEGER NOT NULL CHECK (quantity BETWEEN 1 AND 99), PRIMARY KEY (cart, product_id)
);
"""

DEMO_USERS = {"ann": ("Ann Example", "ann-password"), "bob": ("Bob Sample", "bob-password")}
"""Accounts created with the database; the sign-in page shows them."""

_NAMES = ["Widget", "Gadget", "Gizmo", "Doohickey", "Sprocket", "Flange", "Whatsit", "Gubbins"]
_ADJECTIVES = ["Pro", "Mini", "Max", "Classic", "Ultra", "Eco", "Plus", "Lite"]
_FIRST_NAMES = ["Ada", "Bram", "Chen", "Dana", "Emeka", "Farah", "Gus", "Hana", "Ivo", "Jun"]
_REVIEWS = [
    "Does exactly what it says.",
    "Sturdy, but the manual is thin.",
    "Bought two. Then a third.",
    "Arrived quickly & works <perfectly>.",
    "Not bad for the price.",
]


def hash_password(password: str, salt: bytes) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)


def fetch(sql: str, *args: Any) -> list[tuple[Any, ...]]:
    """Run one read on a short-lived connection (SQLite opens a local file in microseconds)."""
    with closing(_open()) as db:
        return db.execute(sql, args).fetchall()


def execute(sql: str, *args: Any) -> None:
    """Run one write in a transaction of its own (SQLite serialises writers across workers)."""
    with closing(_open()) as db, db:
        db.execute(sql, args)


def path() -> Path:
    """The database file, created on first use."""
    _open().close()
    return DB_PATH


_creating = threading.Lock()


def _open() -> sqlite3.Connection:
    if not DB_PATH.exists():
        with _creating:
            _create()
    db = sqlite3.connect(DB_PATH)
    if db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
        db.close()
        with _creating:
            DB_PATH.unlink(missing_ok=True)  # made by an older version of the site
            _create()
        db = sqlite3.connect(DB_PATH)
    return db


def _create() -> None:
    if DB_PATH.exists():
        return
    try:
        DB_PATH.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RuntimeError(
            f"cannot create the site's database in {DB_PATH.parent} ({exc.strerror});"
            " set SITE_DB to a writable file path"
        ) from None
    building = DB_PATH.with_name(f"{DB_PATH.name}.{os.getpid()}.tmp")
    building.unlink(missing_ok=True)
    with closing(sqlite3.connect(building)) as db:
        db.executescript(SCHEMA)
        _fill(db, random.Random(42))
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        db.commit()
    try:
        os.link(building, DB_PATH)  # atomic, and fails if another process got there first
    except FileExistsError:
        pass
    finally:
        building.unlink()


def _fill(db: sqlite3.Connection, rng: random.Random) -> None:
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
    for name, (display_name, password) in DEMO_USERS.items():
        salt = secrets.token_bytes(16)
        db.execute(
            "INSERT INTO user VALUES (?, ?, ?, ?)",
            (name, display_name, salt, hash_password(password, salt)),
        )
        purchases = [
            (name, rng.randint(1, 48), rng.randint(1, 3), f"2026-{m:02}-{rng.randint(1, 28):02}")
            for m in range(1, rng.randint(4, 9))
        ]
        db.executemany(
            "INSERT INTO purchase (user_name, product_id, quantity, placed) VALUES (?, ?, ?, ?)",
            purchases,
        )
    db.execute("INSERT INTO secret VALUES ('session', ?)", (secrets.token_urlsafe(32),))
    # Every reviewer's profile (an rng of its own: the data above stays as it was).
    names = random.Random(7)
    reviewers = sorted({author for _, author, _, _ in reviews})
    db.executemany(
        "INSERT INTO customer VALUES (?, ?, ?)",
        [
            (
                name,
                f"{names.choice(_FIRST_NAMES)} {names.choice('BCDFGHKLMNPRSTW')}.",
                names.randint(2012, 2026),
            )
            for name in reviewers
        ],
    )
