"""Expiry policies: the shortest lifetime a card may be issued with, for an account or a product,
and the rule it comes from (US federal law, 15 U.S.C. 1693l-1, and Ireland's Consumer Protection
(Gift Vouchers) Act 2019 both require five years for most gift cards). Checked at issue; the
error names the rule."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from giftwell.domain.errors import ValidationFailed

MAX_DAYS = 36600  # a hundred years
MAX_RULE = 200


@dataclass(frozen=True, slots=True)
class ExpiryPolicy:
    """No card may expire sooner than `min_days` after its issue. `rule` names why (shown in the
    error), such as "US CARD Act: 5 years"."""

    min_days: int
    rule: str

    def as_dict(self) -> dict[str, Any]:
        return {"min_days": self.min_days, "rule": self.rule}


def check_policy(value: object, *, param: str = "expiry_policy") -> ExpiryPolicy | None:
    """A policy from its JSON shape `{"min_days", "rule"}`, or None (no policy)."""
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) - {"min_days", "rule"}:
        raise ValidationFailed(f"{param} must be {{min_days, rule}} or null", param=param)
    days, rule = value.get("min_days"), value.get("rule")
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise ValidationFailed(f"{param}.min_days must be 1 to {MAX_DAYS} days", param=f"{param}.min_days")
    if not isinstance(rule, str) or not rule.strip() or len(rule) > MAX_RULE:
        raise ValidationFailed(f"{param}.rule must name the rule (1 to {MAX_RULE} characters)", param=f"{param}.rule")
    return ExpiryPolicy(days, rule.strip())


def check_lifetime(
    policy: ExpiryPolicy | None, expires_at: datetime | None, now: datetime, *, whose: str, param: str = "expires_at"
) -> None:
    """Refuse an expiry sooner than the policy allows; a card that never expires always passes.
    `whose` says where the policy is set ("account", "product acme-usd")."""
    if policy is None or expires_at is None:
        return
    earliest = now + timedelta(days=policy.min_days)
    if expires_at < earliest:
        raise ValidationFailed(
            f"expires_at is sooner than the {whose}'s expiry policy allows: at least {policy.min_days} days "
            f"from issue ({policy.rule})",
            param=param,
            rule="expiry_policy",
            policy=policy.rule,
            min_days=policy.min_days,
            earliest=earliest.isoformat(),
        )
