"""The dashboard's data: ~300,000 sales in SQLite, generated on first run, and its queries.

The panels are cheap indexed lookups; the breakdown is a full scan with a GROUP BY, plus a
median per region computed in Python: real work, hundreds of milliseconds, run by the engine
in a worker thread (the query is a plain sync function). Deferring exactly that subtree is
what lets the rest of the page show at once.
"""

from __future__ import annotations

import os
import random
import sqlite3
import statistics
import threading
from collections import defaultdict
from pathlib import Path

import msgspec

DB_PATH = Path(os.environ.get("DASHBOARD_DB", Path(__file__).with_name("dashboard.db")))
ROWS = int(os.environ.get("DASHBOARD_ROWS", "300000"))
DAYS = 90
REGIONS = ["North", "South", "East", "West", "Central", "Islands"]
PRODUCTS = ["Widget", "Gadget", "Gizmo", "Doohickey", "Sprocket", "Flange", "Whatsit"]


class Sale(msgspec.Struct, frozen=True):
    id: int
    day: int
    region: str
    product: str
    amount: float


class Totals(msgspec.Struct, frozen=True):
    sales: int
    revenue: float
    last_day: int
    last_day_revenue: float


class DayTotal(msgspec.Struct, frozen=True):
    day: int
    revenue: float


class Line(msgspec.Struct, frozen=True):
    region: str
    product: str
    sales: int
    revenue: float
    average: float
    median: float


_generating = threading.Lock()


def connect() -> sqlite3.Connection:
    """Open the database, generating it on first use.

    The page's queries run in concurrent worker threads, and ``--workers`` adds processes:
    a lock serialises threads, and each process writes its own file and renames it in place.
    """
    with _generating:
        if not DB_PATH.exists():
            _generate(DB_PATH)
    return sqlite3.connect(DB_PATH)


def _generate(path: Path) -> None:
    partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    rng = random.Random(7)
    db = sqlite3.connect(partial)
    db.executescript(
        """
        CREATE TABLE sale (id INTEGER PRIMARY KEY, day INTEGER, region TEXT, product TEXT,
                           amount REAL);
        CREATE TABLE daily (day INTEGER PRIMARY KEY, sales INTEGER, revenue REAL);
        """
    )
    db.executemany(
        "INSERT INTO sale VALUES (?, ?, ?, ?, ?)",
        (
            (
                i,
                i * DAYS // ROWS,
                rng.choice(REGIONS),
                rng.choice(PRODUCTS),
                round(rng.lognormvariate(3.5, 0.8), 2),
            )
            for i in range(ROWS)
        ),
    )
    # The rollup the fast panels read; the breakdown deliberately scans the raw table.
    db.execute(
        "INSERT INTO daily SELECT day, COUNT(*), ROUND(SUM(amount), 2) FROM sale GROUP BY day"
    )
    db.commit()
    db.close()
    os.replace(partial, path)


def totals() -> Totals:
    with connect() as db:
        sales, revenue = db.execute("SELECT SUM(sales), SUM(revenue) FROM daily").fetchone()
        day, day_revenue = db.execute(
            "SELECT day, revenue FROM daily ORDER BY day DESC LIMIT 1"
        ).fetchone()
    return Totals(sales, round(revenue, 2), day, day_revenue)


def latest() -> list[Sale]:
    with connect() as db:
        rows = db.execute("SELECT * FROM sale ORDER BY id DESC LIMIT 8").fetchall()
    return [Sale(*row) for row in rows]


def trend() -> list[DayTotal]:
    with connect() as db:
        rows = db.execute("SELECT day, revenue FROM daily ORDER BY day").fetchall()
    return [DayTotal(*row) for row in rows]


def breakdown() -> list[Line]:
    """The slow one: every row scanned, grouped, and a median per region and product."""
    with connect() as db:
        rows = db.execute("SELECT region, product, amount FROM sale").fetchall()
    groups: dict[tuple[str, str], list[float]] = defaultdict(list)
    for region, product, amount in rows:
        groups[region, product].append(amount)
    lines = [
        Line(
            region,
            product,
            len(amounts),
            round(sum(amounts), 2),
            round(sum(amounts) / len(amounts), 2),
            round(statistics.median(amounts), 2),
        )
        for (region, product), amounts in groups.items()
    ]
    return sorted(lines, key=lambda line: line.revenue, reverse=True)
