"""Upstream suppliers' settings: add, list, change their base URL, credentials and largest
order, pause and resume.

Credentials (client secret, refresh token, webhook secret) are stored only encrypted
(`Keys.seal_supplier_secret`) and never shown again. A supplier with a refresh token uses it
(rotating it on every refresh); one with only a client id and secret uses the client-credentials
grant. Pausing (an operator's, or a failed credential's) records `supplier.paused` on the
operator's account, resuming `supplier.resumed`; a paused supplier is sent nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from giftwell.domain.errors import Conflict, NotFound, ValidationFailed
from giftwell.domain.ids import new_id
from giftwell.domain.suppliers import (
    DEFAULT_MAX_QUANTITY,
    SupplierStatus,
    check_base_url,
    check_kind,
    check_max_quantity,
    check_name,
    check_secret,
)
from giftwell.services import audit, events
from giftwell.services.access import accounts
from giftwell.store.models import Supplier
from giftwell.store.uow import UnitOfWork

CLIENT_SECRET = "client_secret"  # noqa: S105 - the credential's name, not a secret
REFRESH_TOKEN = "refresh_token"  # noqa: S105
ACCESS_TOKEN = "access_token"  # noqa: S105
WEBHOOK_SECRET = "webhook_secret"  # noqa: S105
PAUSED_BY_OPERATOR = "paused by an operator"


@dataclass(frozen=True, slots=True)
class SupplierView:
    """A supplier as the operator sees it: never a credential, only whether each is set."""

    id: str
    name: str
    kind: str
    base_url: str
    client_id: str
    auth: str  # "refresh_token" or "client_credentials"
    webhook_secret_set: bool
    max_quantity: int
    status: str
    paused_reason: str | None
    token_version: int
    access_expires_at: datetime | None
    created_at: datetime
    updated_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "base_url": self.base_url,
            "client_id": self.client_id,
            "auth": self.auth,
            "webhook_secret_set": self.webhook_secret_set,
            "max_quantity": self.max_quantity,
            "status": self.status,
            "paused_reason": self.paused_reason,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


def view(r: Any) -> SupplierView:
    return SupplierView(
        id=r.id,
        name=r.name,
        kind=r.kind,
        base_url=r.base_url,
        client_id=r.client_id,
        auth=REFRESH_TOKEN if r.refresh_token_enc is not None else "client_credentials",
        webhook_secret_set=r.webhook_secret_enc is not None,
        max_quantity=int(r.max_quantity),
        status=r.status,
        paused_reason=r.paused_reason,
        token_version=int(r.token_version),
        access_expires_at=r.access_expires_at,
        created_at=r.created_at,
        updated_at=r.updated_at,
    )


def seal(uow: UnitOfWork, supplier_id: str, name: str, value: str) -> bytes:
    return uow.rt.keys.seal_supplier_secret(value, supplier_id=supplier_id, name=name)


def unseal(uow: UnitOfWork, supplier_id: str, name: str, blob: bytes) -> str:
    return uow.rt.keys.open_supplier_secret(blob, supplier_id=supplier_id, name=name)


async def add_supplier(
    uow: UnitOfWork,
    *,
    name: str,
    kind: str,
    base_url: str,
    client_id: str,
    client_secret: str,
    refresh_token: str | None = None,
    webhook_secret: str | None = None,
    max_quantity: int = DEFAULT_MAX_QUANTITY,
) -> SupplierView:
    """Register an upstream supplier (409 `conflict` for a name in use). `max_quantity`: the
    most cards one upstream order asks for (a larger order item is bought in several)."""
    name = check_name(name)
    kind_ = check_kind(kind)
    url = check_base_url(base_url)
    client_id = check_secret(client_id, "client_id")
    client_secret = check_secret(client_secret, "client_secret")
    max_quantity = check_max_quantity(max_quantity)
    if await uow.conn.scalar(sa.select(Supplier.id).where(Supplier.name == name)) is not None:
        raise Conflict(f"a supplier named {name!r} exists", param="name")
    sid = new_id("sup")
    optional = {REFRESH_TOKEN: refresh_token, WEBHOOK_SECRET: webhook_secret}
    sealed = {k: seal(uow, sid, k, check_secret(v, k)) if v is not None else None for k, v in optional.items()}
    await uow.conn.execute(
        sa.insert(Supplier).values(
            id=sid,
            name=name,
            kind=kind_.value,
            base_url=url,
            client_id=client_id,
            client_secret_enc=seal(uow, sid, CLIENT_SECRET, client_secret),
            refresh_token_enc=sealed[REFRESH_TOKEN],
            access_token_enc=None,
            access_expires_at=None,
            token_version=0,
            webhook_secret_enc=sealed[WEBHOOK_SECRET],
            max_quantity=max_quantity,
            status=SupplierStatus.ACTIVE.value,
            paused_reason=None,
            created_at=uow.now,
            updated_at=uow.now,
        )
    )
    await audit.record(
        uow,
        "supplier.created",
        target=("supplier", sid),
        account_id=None,
        changes={
            "name": name,
            "kind": kind_.value,
            "base_url": url,
            "client_id": client_id,
            "max_quantity": max_quantity,
        },
    )
    return await by_name(uow, name)


async def list_suppliers(uow: UnitOfWork) -> list[SupplierView]:
    rows = await uow.conn.execute(sa.select(Supplier).order_by(Supplier.name))
    return [view(r) for r in rows.all()]


async def row_by_name(uow: UnitOfWork, name: str, *, lock: bool = False) -> Any:
    q = sa.select(Supplier).where(Supplier.name == name)
    row = (await uow.conn.execute(q.with_for_update() if lock else q)).first()
    if row is None:
        raise NotFound(f"no supplier named {name!r}", param="name")
    return row


async def by_name(uow: UnitOfWork, name: str) -> SupplierView:
    return view(await row_by_name(uow, name))


async def update_supplier(
    uow: UnitOfWork,
    *,
    name: str,
    client_id: str | None = None,
    client_secret: str | None = None,
    refresh_token: str | None = None,
    webhook_secret: str | None = None,
    base_url: str | None = None,
    max_quantity: int | None = None,
    resume: bool = False,
    pause: bool = False,
) -> SupplierView:
    """Give a supplier new credentials (a new client id, client secret or refresh token also
    drops the cached access token), a new base URL or largest order. `resume` (or new credentials) makes a
    paused supplier active again; `pause` stops everything sent to it until then (an operator's
    pause, recorded like a failed credential's)."""
    new_grant = client_id is not None or client_secret is not None or refresh_token is not None
    if pause and (resume or new_grant):
        raise ValidationFailed("pause a supplier, or resume it (new credentials resume it), not both", param="paused")
    row = await row_by_name(uow, name, lock=True)
    values: dict[str, Any] = {"updated_at": uow.now}
    if base_url is not None:
        values["base_url"] = check_base_url(base_url)
    if max_quantity is not None:
        values["max_quantity"] = check_max_quantity(max_quantity)
    if client_id is not None:
        values["client_id"] = check_secret(client_id, "client_id")
    given = {CLIENT_SECRET: client_secret, REFRESH_TOKEN: refresh_token, WEBHOOK_SECRET: webhook_secret}
    for key, value in given.items():
        if value is not None:
            values[f"{key}_enc"] = seal(uow, row.id, key, check_secret(value, key))
    if new_grant:
        values.update(access_token_enc=None, access_expires_at=None, token_version=Supplier.token_version + 1)
    if resume or new_grant:
        if row.status != SupplierStatus.ACTIVE.value:
            await _record(uow, "supplier.resumed", row.name, None)
        values.update(status=SupplierStatus.ACTIVE.value, paused_reason=None)
    if pause and row.status == SupplierStatus.ACTIVE.value:
        values.update(status=SupplierStatus.PAUSED.value, paused_reason=PAUSED_BY_OPERATOR)
        await _record(uow, "supplier.paused", row.name, PAUSED_BY_OPERATOR)
    await uow.conn.execute(sa.update(Supplier).where(Supplier.id == row.id).values(**values))
    # What changed, never the credentials themselves: a new one is named, not shown.
    changed: dict[str, Any] = {k: "replaced" for k, v in given.items() if v is not None}
    for key in ("base_url", "client_id", "max_quantity"):
        if key in values and values[key] != getattr(row, key):
            changed[key] = [getattr(row, key), values[key]]
    if resume:
        changed["resumed"] = True
    if pause:
        changed["paused"] = True
    if changed:
        await audit.record(uow, "supplier.updated", target=("supplier", row.id), account_id=None, changes=changed)
    return await by_name(uow, name)


async def pause(uow: UnitOfWork, *, supplier_id: str, reason: str) -> bool:
    """Pause a supplier whose credentials failed (a guarded update: recorded once, whoever else
    saw the same failure). True if this call paused it."""
    done = await uow.conn.execute(
        sa.update(Supplier)
        .where(Supplier.id == supplier_id, Supplier.status == SupplierStatus.ACTIVE.value)
        .values(status=SupplierStatus.PAUSED.value, paused_reason=reason[:500], updated_at=uow.now)
        .returning(Supplier.name)
    )
    row = done.first()
    if row is None:
        return False
    await _record(uow, "supplier.paused", row.name, reason[:500])
    return True


async def _record(uow: UnitOfWork, type_: str, name: str, reason: str | None) -> None:
    op = await accounts.operator_account(uow)
    await events.record(uow, account_id=op.id, type=type_, subject_id=None, data={"supplier": name, "reason": reason})


async def webhook_secret(uow: UnitOfWork, name: str) -> tuple[str, str | None]:
    """The supplier's id and its webhook secret (None until one is set)."""
    row = await row_by_name(uow, name)
    if row.webhook_secret_enc is None:
        return row.id, None
    return row.id, unseal(uow, row.id, WEBHOOK_SECRET, row.webhook_secret_enc)
