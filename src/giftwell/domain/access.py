"""Scopes and the principal a request acts as."""

from __future__ import annotations

from dataclasses import dataclass

from giftwell.domain.errors import InsufficientScope, ValidationFailed

SCOPES: dict[str, str] = {
    "cards:read": "Read cards and their transfers",
    "cards:write": "Issue cards, change their state and adjust them",
    "cards:redeem": "Redeem, hold, capture, void and refund",
}


def check_scopes(scopes: list[str] | tuple[str, ...], *, param: str = "scope") -> tuple[str, ...]:
    if not scopes:
        raise ValidationFailed("at least one scope is required", param=param)
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        raise ValidationFailed(f"unknown scope(s): {', '.join(unknown)}; known: {', '.join(SCOPES)}", param=param)
    return tuple(dict.fromkeys(scopes))


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: an account, through a token carrying scopes."""

    account_id: str
    token_id: str
    scopes: frozenset[str]

    def require(self, scope: str) -> None:
        if scope not in self.scopes:
            raise InsufficientScope(f"this token lacks the {scope!r} scope", param="scope", required=scope)
