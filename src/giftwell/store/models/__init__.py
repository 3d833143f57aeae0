"""Typed table models, one module per aggregate. Imported here so the metadata is complete."""

from giftwell.store.models.accounts import AccessToken, Account
from giftwell.store.models.audit import AuditEvent
from giftwell.store.models.base import Base
from giftwell.store.models.cards import BulkIssue, Card, CardMetadata, CardSearch
from giftwell.store.models.catalog import Product
from giftwell.store.models.choice import ChoiceLink, ChoicePick
from giftwell.store.models.delivery import Delivery, RewardLink
from giftwell.store.models.events import Event
from giftwell.store.models.funding import FundingSource, Receipt
from giftwell.store.models.idempotency import IdempotencyKey
from giftwell.store.models.jobs import Job, JobAttempt, Schedule, WorkerBeat
from giftwell.store.models.ledger import LedgerAccount, Transfer
from giftwell.store.models.oauth import OAuthClient, OAuthCode, RefreshToken
from giftwell.store.models.orders import Order, OrderCard, OrderItem, OrderMetadata
from giftwell.store.models.ratelimits import RateLimitCounter
from giftwell.store.models.rotation import KeyRotation
from giftwell.store.models.signing import SigningClient, SigningKey, UsedTokenId
from giftwell.store.models.suppliers import SuppliedCard, Supplier, SupplierOrder
from giftwell.store.models.users import User, UserLink, WebSession
from giftwell.store.models.webhooks import WebhookAttempt, WebhookDelivery, WebhookEndpoint

__all__ = [
    "AccessToken",
    "Account",
    "AuditEvent",
    "Base",
    "BulkIssue",
    "Card",
    "CardMetadata",
    "CardSearch",
    "ChoiceLink",
    "ChoicePick",
    "Delivery",
    "Event",
    "FundingSource",
    "IdempotencyKey",
    "Job",
    "JobAttempt",
    "KeyRotation",
    "LedgerAccount",
    "OAuthClient",
    "OAuthCode",
    "Order",
    "OrderCard",
    "OrderItem",
    "OrderMetadata",
    "Product",
    "RateLimitCounter",
    "Receipt",
    "RefreshToken",
    "RewardLink",
    "Schedule",
    "SigningClient",
    "SigningKey",
    "SuppliedCard",
    "Supplier",
    "SupplierOrder",
    "Transfer",
    "UsedTokenId",
    "User",
    "UserLink",
    "WebSession",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WorkerBeat",
]
