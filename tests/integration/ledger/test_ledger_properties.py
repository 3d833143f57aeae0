"""Random sequences of card money operations through the services, against a model.

A Hypothesis state machine issues cards, moves money on them in every way the services allow
(and many they must refuse), changes their states and moves the clock, on a real database (each
backend). After every step it checks that the database agrees with a plain-Python model to the
minor unit: every card's balance, available amount and status, every hold's and redemption's
state, the number of transfers written; that each refusal was the expected `GiftwellError` and
changed nothing; and that `verify` finds the ledger sound.

One database serves all examples of a run: each example is a fresh tenant with fresh cards, and
its teardown voids its holds and disables its cards, so the sweeps of later examples
(`expire_holds`, `expire_due`, which work across tenants) find nothing of it left to do.
The machine is synchronous; it drives the async services on one persistent event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)

from giftwell.app import build_runtime
from giftwell.domain.cards import CardAction, CardStatus
from giftwell.domain.errors import (
    CardBlocked,
    CardDisabled,
    CardExpired,
    CardInactive,
    CurrencyMismatch,
    GiftwellError,
    InsufficientFunds,
    InvalidState,
    ValidationFailed,
)
from giftwell.domain.ledger import TransferKind, TransferStatus
from giftwell.services.cards import expiry, issuing, lifecycle
from giftwell.services.cards import money as card_money
from giftwell.services.ledger import verify
from giftwell.services.runtime import Runtime
from giftwell.settings import Settings
from giftwell.store.models import Card as CardRow
from giftwell.store.models import LedgerAccount, Transfer
from giftwell.store.uow import UnitOfWork
from tests import factories
from tests.conftest import FakeClock

T = TypeVar("T")
CURRENCIES = ("EUR", "JPY", "KWD")
MAX_AMOUNT = 3000
DEFAULT_TTL = object()  # the hold TTL from settings (7 days)
TTLS = (DEFAULT_TTL, timedelta(hours=1), timedelta(days=1), timedelta(days=3), timedelta(days=31))
STEPS = (timedelta(minutes=30), timedelta(hours=5), timedelta(days=1), timedelta(days=4), timedelta(days=8))

amounts = st.integers(min_value=1, max_value=MAX_AMOUNT)
# An amount to take off a card: any, or exactly what is available, or one more (the boundaries).
spends = st.one_of(amounts, amounts, st.sampled_from(["all", "over"]))


@dataclass
class MCard:
    id: str
    currency: str
    balance: int
    status: CardStatus
    activated: bool
    expires_at: datetime | None
    holds: dict[str, int] = field(default_factory=dict)  # pending hold id -> amount

    @property
    def available(self) -> int:
        return self.balance - sum(self.holds.values())


@dataclass
class MHold:
    id: str
    card: str
    amount: int
    expires_at: datetime
    status: TransferStatus = TransferStatus.PENDING


@dataclass
class MRedemption:
    id: str
    card: str
    amount: int
    refunded: int = 0


Err = type[GiftwellError] | None


class LedgerMachine(RuleBasedStateMachine):
    cards = Bundle("cards")
    holds = Bundle("holds")
    redemptions = Bundle("redemptions")

    def __init__(self, runner: asyncio.Runner, rt: Runtime, clock: FakeClock) -> None:
        super().__init__()
        self.runner, self.rt, self.clock = runner, rt, clock
        self.account = self.call(factories.tenant(rt)).account_id
        self.model: dict[str, MCard] = {}
        self.model_holds: dict[str, MHold] = {}
        self.model_redemptions: dict[str, MRedemption] = {}
        self.transfers = 0  # rows the model expects in `transfers` for this tenant

    # -- driving the services ------------------------------------------------------------------

    def call(self, coro: Awaitable[T]) -> T:
        return self.runner.run(coro)  # type: ignore[arg-type]

    def op(self, fn: Callable[[UnitOfWork], Awaitable[T]]) -> T:
        async def go() -> T:
            async with self.rt.uow() as uow:
                result = await fn(uow)
                await uow.commit()
                return result

        return self.call(go())

    def expect(self, error: Err, fn: Callable[[UnitOfWork], Awaitable[T]]) -> T | None:
        """Run `fn`; it must raise exactly `error`, or succeed when `error` is None."""
        refused: GiftwellError | None = None
        try:
            result = self.op(fn)
        except GiftwellError as exc:
            refused = exc
        if refused is not None:
            assert error is not None, f"unexpected refusal {refused!r}"
            assert type(refused) is error, f"expected {error.__name__}, got {refused!r}"
            return None
        assert error is None, f"expected {error.__name__}, but it succeeded: {result!r}"
        return result

    # -- what the model says --------------------------------------------------------------------

    @property
    def now(self) -> datetime:
        return self.clock.now

    def past(self, c: MCard) -> bool:
        return c.expires_at is not None and c.expires_at <= self.now

    def unusable(self, c: MCard) -> Err:
        """Why money may not move on `c` now (the order in which the services judge it)."""
        if c.status is CardStatus.DISABLED:
            return CardDisabled
        if c.status is CardStatus.EXPIRED or self.past(c):
            return CardExpired
        if c.status is CardStatus.BLOCKED:
            return CardBlocked
        if c.status is CardStatus.INACTIVE:
            return CardInactive
        return None

    def holds_value(self, c: MCard) -> bool:
        """Refunds and adjustments are allowed on active and blocked cards."""
        return c.status in (CardStatus.ACTIVE, CardStatus.BLOCKED)

    def amount_of(self, limit: int, spend: int | str) -> int:
        if spend == "all":
            return max(limit, 1)
        if spend == "over":
            return limit + 1
        assert isinstance(spend, int)
        return spend

    def check_card(self, got: Any, c: MCard) -> None:
        assert (got.id, got.balance, got.available) == (c.id, c.balance, c.available), (got, c)

    # -- rules ----------------------------------------------------------------------------------

    @initialize(
        target=cards,
        currency=st.sampled_from(CURRENCIES),
        amounts=st.lists(st.integers(min_value=1000, max_value=5000), min_size=2, max_size=2),
        expiry_days=st.none() | st.integers(min_value=1, max_value=20),
    )
    def start_with_two_funded_cards(self, currency: str, amounts: list[int], expiry_days: int | None) -> Any:
        """Every example starts with money to move, so redemptions, holds, refunds and transfers
        succeed often enough for their later steps (captures, refunds, over-refunds) to matter."""
        return multiple(*(self.issue(currency, amount, expiry_days) for amount in amounts))

    @rule(
        target=cards,
        # Same-currency pairs and funded cards often enough for transfers and redemptions to succeed.
        currency=st.sampled_from((*CURRENCIES, "EUR")),
        amount=st.one_of(st.just(0), *[st.integers(min_value=1, max_value=5000)] * 3),
        expiry_days=st.none() | st.integers(min_value=1, max_value=20),
    )
    def issue(self, currency: str, amount: int, expiry_days: int | None) -> str:
        expires = None if expiry_days is None else self.now + timedelta(days=expiry_days)
        issued = self.op(
            lambda u: issuing.issue(u, account_id=self.account, currency=currency, amount=amount, expires_at=expires)
        )
        c = MCard(
            issued.card.id, currency, amount, CardStatus.ACTIVE if amount else CardStatus.INACTIVE, amount > 0, expires
        )
        self.model[c.id] = c
        self.transfers += 1 if amount else 0
        self.check_card(issued.card, c)
        assert (issued.card.status, issued.card.currency, issued.card.expires_at) == (c.status, currency, expires)
        return c.id

    @rule(card=cards, amount=amounts)
    def activate(self, card: str, amount: int) -> None:
        c = self.model[card]
        error: Err = {
            CardStatus.ACTIVE: InvalidState,
            CardStatus.BLOCKED: CardBlocked,
            CardStatus.DISABLED: CardDisabled,
            CardStatus.EXPIRED: CardExpired,
        }.get(c.status)
        if error is None and self.past(c):
            error = CardExpired
        m = self.expect(error, lambda u: card_money.activate(u, account_id=self.account, card_id=card, amount=amount))
        if m is None:
            return
        c.status, c.activated, c.balance = CardStatus.ACTIVE, True, c.balance + amount
        self.transfers += 1
        self.check_card(m.card, c)
        assert (m.transfer.kind, m.transfer.amount) == (TransferKind.ACTIVATE, amount)

    @rule(card=cards, amount=amounts)
    def reload(self, card: str, amount: int) -> None:
        c = self.model[card]
        m = self.expect(
            self.unusable(c), lambda u: card_money.reload(u, account_id=self.account, card_id=card, amount=amount)
        )
        if m is None:
            return
        c.balance += amount
        self.transfers += 1
        self.check_card(m.card, c)
        assert (m.transfer.kind, m.transfer.status, m.transfer.amount) == (
            TransferKind.RELOAD,
            TransferStatus.POSTED,
            amount,
        )

    @rule(target=redemptions, card=cards, spend=spends)
    def redeem(self, card: str, spend: int | str) -> Any:
        c = self.model[card]
        amount = self.amount_of(c.available, spend)
        error = self.unusable(c) or (InsufficientFunds if c.available < amount else None)
        m = self.expect(error, lambda u: card_money.redeem(u, account_id=self.account, card_id=card, amount=amount))
        if m is None:
            return multiple()
        c.balance -= amount
        self.transfers += 1
        self.model_redemptions[m.transfer.id] = MRedemption(m.transfer.id, card, amount)
        self.check_card(m.card, c)
        assert (m.transfer.kind, m.transfer.status, m.transfer.amount) == (
            TransferKind.REDEEM,
            TransferStatus.POSTED,
            amount,
        )
        return m.transfer.id

    @rule(target=holds, card=cards, spend=spends, ttl=st.sampled_from(TTLS))
    def hold(self, card: str, spend: int | str, ttl: object) -> Any:
        c = self.model[card]
        amount = self.amount_of(c.available, spend)
        hold_ttl = None if ttl is DEFAULT_TTL else ttl
        assert hold_ttl is None or isinstance(hold_ttl, timedelta)
        error = self.unusable(c)
        if error is None and hold_ttl is not None and hold_ttl > timedelta(days=30):
            error = ValidationFailed
        if error is None and c.available < amount:
            error = InsufficientFunds
        m = self.expect(
            error,
            lambda u: card_money.redeem(
                u, account_id=self.account, card_id=card, amount=amount, capture=False, hold_ttl=hold_ttl
            ),
        )
        if m is None:
            return multiple()
        h = MHold(m.transfer.id, card, amount, self.now + (hold_ttl or timedelta(days=7)))
        self.model_holds[h.id] = h
        c.holds[h.id] = amount
        self.transfers += 1
        self.check_card(m.card, c)
        t = m.transfer
        assert (t.kind, t.status, t.amount, t.hold_amount, t.expires_at) == (
            TransferKind.REDEEM,
            TransferStatus.PENDING,
            amount,
            amount,
            h.expires_at,
        )
        return h.id

    @rule(target=redemptions, hold=holds, spend=st.none() | spends)
    def capture(self, hold: str, spend: int | str | None) -> Any:
        h = self.model_holds[hold]
        amount = None if spend is None else self.amount_of(h.amount, spend)
        c = self.model[h.card]
        error: Err = None
        if h.status is not TransferStatus.PENDING or h.expires_at <= self.now:
            error = InvalidState
        elif amount is not None and amount > h.amount:
            error = ValidationFailed
        m = self.expect(
            error, lambda u: card_money.capture(u, account_id=self.account, transfer_id=hold, amount=amount)
        )
        if m is None:
            return multiple()
        captured = h.amount if amount is None else amount
        h.status = TransferStatus.POSTED
        del c.holds[hold]
        c.balance -= captured
        self.model_redemptions[hold] = MRedemption(hold, c.id, captured)
        self.check_card(m.card, c)
        assert (m.transfer.status, m.transfer.amount, m.transfer.hold_amount) == (
            TransferStatus.POSTED,
            captured,
            h.amount,
        )
        return hold

    @rule(hold=holds)
    def void(self, hold: str) -> None:
        h = self.model_holds[hold]
        c = self.model[h.card]
        error = None if h.status is TransferStatus.PENDING else InvalidState
        m = self.expect(error, lambda u: card_money.void(u, account_id=self.account, transfer_id=hold))
        if m is None:
            return
        h.status = TransferStatus.VOIDED
        del c.holds[hold]
        self.check_card(m.card, c)
        assert m.transfer.status is TransferStatus.VOIDED

    def _refund(self, transfer_id: str, card_id: str, how: str, data: st.DataObject) -> None:
        c = self.model[card_id]
        r = self.model_redemptions.get(transfer_id)
        left = 0 if r is None else r.amount - r.refunded
        amount: int | None
        if how == "rest":
            amount = None
        elif how == "over":
            amount = left + 1
        elif how == "part":
            amount = data.draw(st.integers(min_value=1, max_value=max(left, 1)), label="part")
        else:
            amount = data.draw(amounts, label="any")
        error: Err = None
        if not self.holds_value(c):
            error = self.unusable(c)
        elif r is None or left <= 0 or (amount is not None and amount > left):
            error = ValidationFailed  # not a posted redemption, or more than is left of it
        elif self.past(c):
            error = CardExpired
        m = self.expect(
            error, lambda u: card_money.refund(u, account_id=self.account, transfer_id=transfer_id, amount=amount)
        )
        if m is None:
            return
        assert r is not None
        got = left if amount is None else amount
        r.refunded += got
        c.balance += got
        self.transfers += 1
        self.check_card(m.card, c)
        assert (m.transfer.kind, m.transfer.amount, m.transfer.refund_of) == (TransferKind.REFUND, got, transfer_id)

    @rule(redemption=redemptions, how=st.sampled_from(["rest", "over", "part", "any"]), data=st.data())
    def refund(self, redemption: str, how: str, data: st.DataObject) -> None:
        self._refund(redemption, self.model_redemptions[redemption].card, how, data)

    @rule(hold=holds, how=st.sampled_from(["rest", "any"]), data=st.data())
    def refund_a_hold(self, hold: str, how: str, data: st.DataObject) -> None:
        """A pending or voided hold is not a redemption (a captured one is)."""
        self._refund(hold, self.model_holds[hold].card, how, data)

    @rule(src=cards, dst=cards, spend=spends)
    def transfer(self, src: str, dst: str, spend: int | str) -> None:
        a, b = self.model[src], self.model[dst]
        amount = self.amount_of(a.available, spend)
        error: Err
        if src == dst:
            error = ValidationFailed
        elif a.currency != b.currency:
            error = CurrencyMismatch
        else:
            error = self.unusable(a) or self.unusable(b) or (InsufficientFunds if a.available < amount else None)
        m = self.expect(
            error,
            lambda u: card_money.transfer(u, account_id=self.account, card_id=src, to_card=dst, amount=amount),
        )
        if m is None:
            return
        a.balance -= amount
        b.balance += amount
        self.transfers += 1
        self.check_card(m.card, a)
        assert (m.transfer.kind, m.transfer.amount, m.transfer.counterparty_card_id) == (
            TransferKind.TRANSFER,
            amount,
            dst,
        )

    @rule(card=cards, spend=spends, negative=st.booleans())
    def adjust(self, card: str, spend: int | str, negative: bool) -> None:
        c = self.model[card]
        amount = self.amount_of(c.available, spend)
        signed = -amount if negative else amount
        error: Err = None
        if not self.holds_value(c):
            error = self.unusable(c)
        elif self.past(c):
            error = CardExpired
        elif c.available + signed < 0:
            error = InsufficientFunds
        m = self.expect(
            error,
            lambda u: card_money.adjust(u, account_id=self.account, card_id=card, amount=signed, reason="model"),
        )
        if m is None:
            return
        c.balance += signed
        self.transfers += 1
        self.check_card(m.card, c)
        assert (m.transfer.kind, m.transfer.amount, m.transfer.reason) == (TransferKind.ADJUST, amount, "model")

    @rule(card=cards, action=st.sampled_from([CardAction.BLOCK, CardAction.UNBLOCK]))
    def block_or_unblock(self, card: str, action: CardAction) -> None:
        self._change_status(card, action)

    # Disabling is final: a rule of its own, and only once an example has a few cards, so that it
    # does not end most cards before anything else happens to them.
    @precondition(lambda self: len(self.model) >= 4)
    @rule(card=cards)
    def disable(self, card: str) -> None:
        self._change_status(card, CardAction.DISABLE)

    def _change_status(self, card: str, action: CardAction) -> None:
        c = self.model[card]
        outcome: dict[CardStatus, CardStatus | type[GiftwellError]] = {
            CardAction.BLOCK: {
                CardStatus.INACTIVE: CardStatus.BLOCKED,
                CardStatus.ACTIVE: CardStatus.BLOCKED,
                CardStatus.BLOCKED: CardBlocked,
                CardStatus.DISABLED: CardDisabled,
                CardStatus.EXPIRED: CardExpired,
            },
            CardAction.UNBLOCK: {
                CardStatus.INACTIVE: CardInactive,
                CardStatus.ACTIVE: InvalidState,
                CardStatus.BLOCKED: CardStatus.ACTIVE if c.activated else CardStatus.INACTIVE,
                CardStatus.DISABLED: CardDisabled,
                CardStatus.EXPIRED: CardExpired,
            },
            CardAction.DISABLE: {
                CardStatus.INACTIVE: CardStatus.DISABLED,
                CardStatus.ACTIVE: CardStatus.DISABLED,
                CardStatus.BLOCKED: CardStatus.DISABLED,
                CardStatus.DISABLED: CardDisabled,
                CardStatus.EXPIRED: CardExpired,
            },
        }[action]
        target = outcome[c.status]
        error = None if isinstance(target, CardStatus) else target
        got = self.expect(
            error, lambda u: lifecycle.change_status(u, account_id=self.account, card_id=card, action=action)
        )
        if got is None:
            return
        assert isinstance(target, CardStatus)
        c.status = target
        assert got.status is target
        self.check_card(got, c)

    @rule(step=st.sampled_from(STEPS))
    def advance_clock(self, step: timedelta) -> None:
        self.clock.advance(seconds=step.total_seconds())

    @rule()
    def expire_holds(self) -> None:
        due = [h for h in self.model_holds.values() if h.status is TransferStatus.PENDING and h.expires_at <= self.now]
        n = self.op(expiry.expire_holds)
        assert n == len(due)
        for h in due:
            h.status = TransferStatus.VOIDED
            del self.model[h.card].holds[h.id]

    @rule()
    def expire_due(self) -> None:
        due = [
            c
            for c in self.model.values()
            if c.status in (CardStatus.INACTIVE, CardStatus.ACTIVE, CardStatus.BLOCKED) and self.past(c)
        ]
        n = self.op(expiry.expire_due)
        assert n == len(due)
        for c in due:
            for hid in c.holds:
                self.model_holds[hid].status = TransferStatus.VOIDED
            c.holds.clear()
            self.transfers += 1 if c.balance else 0
            c.balance = 0
            c.status = CardStatus.EXPIRED

    # -- after every step -----------------------------------------------------------------------

    @invariant()
    def database_matches_the_model_and_the_ledger_is_sound(self) -> None:
        async def read(uow: UnitOfWork) -> tuple[verify.Report, list[Any], list[Any]]:
            report = await verify.verify(uow)
            card_rows = (
                await uow.conn.execute(
                    sa.select(CardRow.id, CardRow.status, LedgerAccount.balance, LedgerAccount.pending_out)
                    .join(LedgerAccount, LedgerAccount.id == CardRow.ledger_account_id)
                    .where(CardRow.account_id == self.account)
                )
            ).all()
            transfer_rows = (
                await uow.conn.execute(
                    sa.select(Transfer.id, Transfer.status, Transfer.amount, Transfer.refunded_amount).where(
                        Transfer.account_id == self.account
                    )
                )
            ).all()
            return report, card_rows, transfer_rows

        report, card_rows, transfer_rows = self.op(read)
        assert report.ok, report.problems
        got_cards = {r.id: (CardStatus(r.status), r.balance, r.balance - r.pending_out) for r in card_rows}
        assert got_cards == {c.id: (c.status, c.balance, c.available) for c in self.model.values()}
        assert len(transfer_rows) == self.transfers
        got = {r.id: (r.status, r.amount, r.refunded_amount) for r in transfer_rows}
        for h in self.model_holds.values():
            if h.status is not TransferStatus.POSTED:
                assert got[h.id] == (h.status.value, h.amount, 0), h
        for r in self.model_redemptions.values():
            assert got[r.id] == ("posted", r.amount, r.refunded), r

    def teardown(self) -> None:
        """Leave nothing for the sweeps of later examples: void open holds, disable live cards."""

        async def clean(uow: UnitOfWork) -> None:
            pending = await uow.conn.execute(
                sa.select(Transfer.id).where(
                    Transfer.account_id == self.account, Transfer.status == TransferStatus.PENDING.value
                )
            )
            for (tid,) in pending.all():
                await card_money.void(uow, account_id=self.account, transfer_id=tid)
            live = await uow.conn.execute(
                sa.select(CardRow.id).where(
                    CardRow.account_id == self.account,
                    CardRow.status.in_([CardStatus.INACTIVE.value, CardStatus.ACTIVE.value, CardStatus.BLOCKED.value]),
                )
            )
            for (cid,) in live.all():
                await lifecycle.change_status(uow, account_id=self.account, card_id=cid, action=CardAction.DISABLE)

        self.op(clean)


MACHINE_SETTINGS = hyp_settings(
    max_examples=25,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# A passing run takes well under a minute per backend. A failing one then shrinks its example,
# replaying many sequences on the database: give it time to report a minimal one rather than
# being cut off by the suite's default timeout mid-shrink.
@pytest.mark.timeout(900)
def test_random_operation_sequences_keep_the_ledger_exact(settings: Settings, clock: FakeClock) -> None:
    async def start() -> Runtime:
        return build_runtime(settings, clock=clock)

    with asyncio.Runner() as runner:
        rt = runner.run(start())
        try:
            run_state_machine_as_test(lambda: LedgerMachine(runner, rt, clock), settings=MACHINE_SETTINGS)
        finally:
            runner.run(rt.close())
