"""The audit log: who did which administrative action, when, from where, and what changed.

One call records an action, in the caller's transaction, so the record commits with the change
or not at all:

    from giftwell.services.audit import record
    await record(uow, "product.updated", target=("product", product.id), account_id=operator_id,
                 changes={"price": [old, new]})

Who and from where come from the context the action runs in (`actor.current`): the API caller's
token, account, address and request id during a request; `cli:<user>@<host>` in a `giftwell`
command; `system` in the worker. The log is append-only (triggers refuse UPDATE and DELETE) and
read with `GET /v1/audit-events` (the account's own) and `giftwell audit list` / `export` (all).
"""

from giftwell.services.audit.records import record

__all__ = ["record"]
