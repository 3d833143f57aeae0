"""Users of an account: email rules, the password policy and the lockout rule (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from giftwell.domain.errors import ValidationFailed

MIN_PASSWORD = 12
MAX_PASSWORD = 1024  # argon2 takes any length; a bound keeps a request from costing seconds


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise ValidationFailed(f"password must be at least {MIN_PASSWORD} characters", param="password")
    if len(password) > MAX_PASSWORD:
        raise ValidationFailed(f"password must be at most {MAX_PASSWORD} characters", param="password")
    return password


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    """After `max_failures` failed sign-ins in a row a user is locked for `lock_for`; a success
    resets the count, and so does tripping the lock (the next round starts from zero)."""

    max_failures: int = 5
    lock_for: timedelta = timedelta(minutes=15)

    def trips(self, failures: int) -> bool:
        return failures >= self.max_failures

    def locked_until(self, now: datetime) -> datetime:
        return now + self.lock_for

    @staticmethod
    def is_locked(locked_until: datetime | None, now: datetime) -> bool:
        return locked_until is not None and locked_until > now
