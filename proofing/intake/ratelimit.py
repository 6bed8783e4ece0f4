"""Fixed-window rate limits kept in the database, so every API process counts together.

A window is ``window_s`` seconds; the counter row (key, window) is created or bumped in
one write transaction. Old windows are deleted as new ones begin.
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from proofing.intake.models import RateCounter
from proofing.review.store import ReviewStore


def hit(store: ReviewStore, key: str, limit: int, window_s: int) -> bool:
    """Count one request for ``key``; False when this one is over ``limit`` in the window."""
    try:
        return _hit(store, key, limit, window_s)
    except IntegrityError:  # another process created the window's row first: bump theirs
        return _hit(store, key, limit, window_s)


def _hit(store: ReviewStore, key: str, limit: int, window_s: int) -> bool:
    now = store.clock().timestamp()
    window = int(now // window_s)
    key = key[:200]
    with store.transaction() as s:
        row = s.execute(select(RateCounter).where(RateCounter.key == key, RateCounter.window == window)
                        .with_for_update()).scalar_one_or_none()
        if row is None:
            s.execute(delete(RateCounter).where(RateCounter.key == key, RateCounter.window < window))
            s.add(RateCounter(key=key, window=window, count=1))
            count = 1
        else:
            row.count += 1
            count = row.count
    return count <= limit
