"""Progress of a key rotation (`giftwell keys rotate`): one row per (target key, table), with the
last primary key done, so an interrupted run resumes where it stopped."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from giftwell.store.models.base import Base, JsonType


class KeyRotation(Base):
    __tablename__ = "key_rotations"

    key_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    table_name: Mapped[str] = mapped_column(String(60), primary_key=True)
    # The last primary key rewritten (a list: one value per key column); None before the first batch.
    cursor: Mapped[list[Any] | None] = mapped_column(JsonType)
    rows_seen: Mapped[int]
    rows_changed: Mapped[int]
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
