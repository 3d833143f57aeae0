"""Rate-limit and guessing counters, when they are kept in the database (several API processes).

One row per key and fixed window. Times are epoch seconds (integers) because the counters are
compared and purged by window arithmetic, not shown to anyone. On PostgreSQL the migration
creates the table UNLOGGED: an increment then writes no WAL and its commit does not wait for a
disk flush, and losing the counts in a crash only forgives a few requests.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from giftwell.store.models.base import Base


class RateLimitCounter(Base):
    __tablename__ = "rate_limit_counters"
    __table_args__ = (Index("ix_rate_limit_counters_expires", "expires_at"),)

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    window_start: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    expires_at: Mapped[int]
    count: Mapped[int]
