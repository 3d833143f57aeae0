"""`/v1/transfers`: read a transfer; capture or void a hold; refund a redemption."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from giftwell.api.deps import TxDep
from giftwell.api.v1.schemas.cards import OptionalAmountIn
from giftwell.api.v1.schemas.common import Text
from giftwell.api.v1.schemas.transfers import MovementOut, TransferOut, movement_json
from giftwell.http.deps import CardsRead, CardsRedeem, RuntimeDep
from giftwell.http.tx import json_response
from giftwell.services.cards import money as card_money
from giftwell.services.ledger import transfers

router = APIRouter(prefix="/v1/transfers", tags=["transfers"])


@router.get("/{transfer_id}", response_model=TransferOut, summary="Get a transfer")
async def get_transfer(transfer_id: Text, p: CardsRead, rt: RuntimeDep) -> Response:
    async with rt.reader() as uow:
        t = await transfers.get(uow, account_id=p.account_id, transfer_id=transfer_id)
    return json_response(TransferOut.of(t))


@router.post("/{transfer_id}/capture", response_model=MovementOut, summary="Capture a hold, in full or in part")
async def capture(transfer_id: Text, p: CardsRedeem, tx: TxDep, body: OptionalAmountIn | None = None) -> Response:
    amount = body.amount if body else None
    return await tx.run(
        p,
        lambda uow: card_money.capture(uow, account_id=p.account_id, transfer_id=transfer_id, amount=amount),
        movement_json,
    )


@router.post("/{transfer_id}/void", response_model=MovementOut, summary="Release a hold")
async def void(transfer_id: Text, p: CardsRedeem, tx: TxDep) -> Response:
    return await tx.run(
        p, lambda uow: card_money.void(uow, account_id=p.account_id, transfer_id=transfer_id), movement_json
    )


@router.post("/{transfer_id}/refund", response_model=MovementOut, summary="Refund a redemption, in full or in part")
async def refund(transfer_id: Text, p: CardsRedeem, tx: TxDep, body: OptionalAmountIn | None = None) -> Response:
    amount = body.amount if body else None
    return await tx.run(
        p,
        lambda uow: card_money.refund(uow, account_id=p.account_id, transfer_id=transfer_id, amount=amount),
        movement_json,
    )
