"""Push over GraphQL: the inbox, its live subscription, push rules, webhook subscriptions
with their delivery log, and bulletins."""

from resolvers.notifications.bulletins import Bulletin, BulletinMutations, BulletinQueries
from resolvers.notifications.inbox import (
    InboxMutations,
    InboxQueries,
    InboxSubscriptions,
    Notification,
)
from resolvers.notifications.rules import PushRuleMutations, PushRuleQueries

__all__ = [
    "Bulletin",
    "BulletinMutations",
    "BulletinQueries",
    "InboxMutations",
    "InboxQueries",
    "InboxSubscriptions",
    "Notification",
    "PushRuleMutations",
    "PushRuleQueries",
]
