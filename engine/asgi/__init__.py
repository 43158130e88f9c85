"""Serve pages over ASGI: natively on trio (Hypercorn's trio worker) and inside asyncio servers."""

from engine.asgi._guest import TrioASGI, in_trio

__all__ = ["TrioASGI", "in_trio"]
