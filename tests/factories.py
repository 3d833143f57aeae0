"""Test data factories: accounts, tokens and cards made through the real services."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from giftwell.domain.access import ACCOUNT_SCOPES, SCOPES
from giftwell.services.access import accounts, clients, tokens, users
from giftwell.services.cards import issuing
from giftwell.services.cards.issuing import IssuedCard
from giftwell.services.runtime import Runtime

_n = 0


@dataclass
class Tenant:
    account_id: str
    name: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def tenant(
    rt: Runtime, name: str | None = None, scopes: list[str] | None = None, *, operator: bool = False
) -> Tenant:
    """An account and a token with every scope it may hold (`admin` only for the operator)."""
    global _n
    _n += 1
    name = name or f"shop-{_n}"
    default = SCOPES if operator else ACCOUNT_SCOPES
    async with rt.uow() as uow:
        acct = await accounts.create_account(uow, name=name, operator=operator)
        tok = await tokens.create_token(uow, account_id=acct.id, scopes=scopes or list(default))
        await uow.commit()
    return Tenant(acct.id, name, tok.token)


async def card(
    rt: Runtime, account_id: str, *, currency: str = "EUR", amount: int | None = 5000, **kw: Any
) -> IssuedCard:
    async with rt.uow() as uow:
        issued = await issuing.issue(uow, account_id=account_id, currency=currency, amount=amount, **kw)
        await uow.commit()
    return issued


PASSWORD = "correct horse battery staple"


async def user(
    rt: Runtime, account_id: str, *, email: str | None = None, role: str = "owner", password: str = PASSWORD
) -> users.UserInfo:
    global _n
    _n += 1
    async with rt.uow() as uow:
        info = await users.create_user(
            uow, account_id=account_id, email=email or f"user{_n}@shop.example", password=password, role=role
        )
        await uow.commit()
    return info


async def client(
    rt: Runtime,
    account_id: str,
    *,
    name: str = "Integration",
    redirect_uris: tuple[str, ...] = ("https://client.example/cb",),
    scopes: tuple[str, ...] = ("cards:read", "cards:write", "account:read"),
    grant_types: tuple[str, ...] = ("authorization_code", "refresh_token", "client_credentials"),
    public: bool = False,
) -> clients.NewClient:
    if public:
        grant_types = tuple(g for g in grant_types if g != "client_credentials")
    async with rt.uow() as uow:
        new = await clients.create_client(
            uow,
            account_id=account_id,
            name=name,
            redirect_uris=redirect_uris,
            scopes=scopes,
            grant_types=grant_types,
            public=public,
        )
        await uow.commit()
    return new


PRODUCT: dict[str, Any] = {
    "id": "acme-usd",
    "name": "Acme Gift Card",
    "brand": "Acme",
    "currency": "USD",
    "countries": ["US"],
    "categories": ["retail"],
    "image_url": None,
    "description": "",
    "denominations": {"min": 500, "max": 50000, "step": 10},
    "price": {"discount_bps": 250, "fee": 0},
    "required_fields": [],
    "expiry_months": 24,
    "supplier": "house",
    "active": True,
}


async def operator(rt: Runtime, name: str = "giftwell-operator") -> Tenant:
    return await tenant(rt, name, operator=True)


async def product(rt: Runtime, **overrides: Any) -> dict[str, Any]:
    """A product in the catalog (the operator account must exist)."""
    from giftwell.services.catalog import products

    data = {**PRODUCT, **overrides}
    async with rt.uow() as uow:
        await products.save(uow, data)
        await uow.commit()
    return data


async def fund(rt: Runtime, account_id: str, amount: int, currency: str = "USD") -> None:
    from giftwell.services.funding import balances

    async with rt.uow() as uow:
        await balances.add(uow, account_id=account_id, currency=currency, amount=amount)
        await uow.commit()


async def operator_once(rt: Runtime) -> bool:
    """The operator, unless the database has one already; whether it was made now."""
    from giftwell.services.access import accounts

    async with rt.uow() as uow:
        try:
            await accounts.operator_account(uow)
            return False
        except Exception:
            pass
    await operator(rt)
    return True


async def buyer(rt: Runtime, *, funds: int = 100_000, currency: str = "USD") -> Tenant:
    """An operator (if none yet), the acme-usd product, and a funded buyer account."""
    if await operator_once(rt):
        await product(rt)
    t = await tenant(rt)
    if funds:
        await fund(rt, t.account_id, funds, currency)
    return t


async def webhook_endpoint(
    rt: Runtime, account_id: str, url: str, *, events: list[str] | None = None, format: str = "native"
) -> tuple[str, str]:
    """A webhook endpoint through the service: (its id, its secret)."""
    from giftwell.services.webhooks import endpoints as webhook_endpoints

    async with rt.uow() as uow:
        made = await webhook_endpoints.create_endpoint(
            uow, account_id=account_id, url=url, events=events or ["*"], format=format
        )
        await uow.commit()
    return made.endpoint.id, made.secret
