"""Persistence adapter for sessions and refresh tokens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol, cast

from pynamodb.exceptions import DoesNotExist
from pynamodb.expressions.operand import Path

from authapi.auth.credentials import UserWrite
from authapi.auth.models import (
    RefreshTokenItem,
    SessionItem,
    SpentMfaTokenItem,
    refresh_sk,
    session_sk,
    spent_mfa_token_sk,
)
from authapi.core import clock
from authapi.core.db import Transaction, storage_errors, transaction
from authapi.core.errors import InvalidCredentials
from authapi.users.models import USER_SK, UserItem, user_item, user_pk


@dataclass(frozen=True)
class StoredRefreshToken:
    session_id: str
    token_version: int
    used: bool
    expires_at: int


class RefreshTokenReused(Exception):
    """A retired refresh token was presented (or lost a race for rotation)."""


class SessionGone(Exception):
    """The session was ended (logout, reuse detection) or the user's tokens were revoked."""


def _epoch(moment: datetime | None) -> int:
    return 0 if moment is None else int(moment.timestamp())


def _at(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


def _new_refresh_token(
    user_id: str, token_digest: str, session_id: str, token_version: int, expires_at: int
) -> RefreshTokenItem:
    """A refresh token of the session, unused; it ends with the session (`expires_at`)."""
    return RefreshTokenItem(
        user_pk(user_id),
        refresh_sk(token_digest),
        session_id=session_id,
        token_version=token_version,
        expires_at=_at(expires_at),
    )


class TransactionPart(Protocol):
    """Conditional writes a sign-in adds to its session transaction (e.g. a passkey's
    signature counter): a failed condition fails the sign-in with nothing written."""

    def add_to(self, transaction: Transaction) -> None: ...


@dataclass(frozen=True)
class MfaTokenSpend:
    """The mfa_token a sign-in spends: its `jti` and its expiry (epoch seconds)."""

    token_id: str
    expires_at: int


def create_session(
    user_id: str,
    session_id: str,
    token_digest: str,
    expires_at: int,
    token_version: int,
    user_write: UserWrite | None = None,
    mfa_token: MfaTokenSpend | None = None,
    also: TransactionPart | None = None,
) -> None:
    """Open a session (its first refresh token) in one transaction, together with the
    sign-in's write on the user item and the spending of its mfa_token.
    InvalidCredentials when either was spent meanwhile: a replayed code or a second
    sign-in with the same mfa_token lost the race."""
    now = int(clock.now())
    session = SessionItem(
        user_pk(user_id), session_sk(session_id), created_at=now, expires_at=_at(expires_at)
    )
    token = _new_refresh_token(user_id, token_digest, session_id, token_version, expires_at)
    with transaction() as writes:
        # The session id is 128 random bits.
        writes.save(session, SessionItem.pk.does_not_exist(), proves_committed=True)
        # The token's key is its digest (256 random bits): it fails only with the above.
        writes.save(token, RefreshTokenItem.pk.does_not_exist(), fails_as=None)
        if mfa_token is not None:
            writes.save(
                SpentMfaTokenItem(
                    user_pk(user_id),
                    spent_mfa_token_sk(mfa_token.token_id),
                    expires_at=_at(mfa_token.expires_at),
                ),
                SpentMfaTokenItem.pk.does_not_exist(),
                fails_as=InvalidCredentials,
            )
        if user_write is not None:
            user_write.add_to(writes)  # InvalidCredentials when its condition fails
        if also is not None:
            also.add_to(writes)


def get_refresh_token(user_id: str, token_digest: str) -> StoredRefreshToken | None:
    with storage_errors():
        try:
            item = RefreshTokenItem.get(
                user_pk(user_id), refresh_sk(token_digest), consistent_read=True
            )
        except DoesNotExist:
            return None
    return StoredRefreshToken(
        session_id=item.session_id,
        token_version=int(item.token_version),
        used=item.used_at is not None,
        expires_at=_epoch(item.expires_at),
    )


def rotate_refresh_token(
    user_id: str,
    session_id: str,
    old_digest: str,
    new_digest: str,
    expires_at: int,
    token_version: int,
) -> None:
    """Retire the old token and store its successor, all or nothing.

    Conditions: the old token is unused (exactly one of N parallel refreshes wins),
    its session still exists (not logged out), and the user's token version is the
    one the caller checked (no logout-all or password change in between).
    """
    now = int(clock.now())
    old = RefreshTokenItem(user_pk(user_id), refresh_sk(old_digest))
    new = _new_refresh_token(user_id, new_digest, session_id, token_version, expires_at)
    with transaction() as writes:
        writes.check(
            SessionItem,
            (user_pk(user_id), session_sk(session_id)),
            SessionItem.pk.exists(),
            fails_as=SessionGone,
        )
        writes.check(
            UserItem,
            (user_pk(user_id), USER_SK),
            (UserItem.token_version == token_version) & (UserItem.disabled == False),  # noqa: E712 - a DynamoDB condition
            fails_as=SessionGone,
        )
        writes.save(new, RefreshTokenItem.pk.does_not_exist(), fails_as=SessionGone)
        # Decisive: an old token already used is reuse, whatever else changed meanwhile.
        writes.update(
            old,
            [RefreshTokenItem.used_at.set(now)],
            RefreshTokenItem.used_at.does_not_exist() & RefreshTokenItem.pk.exists(),
            fails_as=RefreshTokenReused,
            decisive=True,
        )


def end_session(
    user_id: str, session_id: str, access_expiry: int, expired_session_ids: list[str]
) -> None:
    """End one session in one transaction: delete its refresh-token chain and mark it
    revoked on the user item, so its access tokens stop at once. Entries whose access
    tokens have expired anyway are pruned in the same write; each session is its own map
    key, so concurrent sign-outs never overwrite each other."""

    def entry(sid: str) -> Path:
        return cast(Path, UserItem.revoked_sessions[sid])  # a document path into the map

    with transaction() as writes:
        writes.delete(SessionItem(user_pk(user_id), session_sk(session_id)))
        # Present on every user item (users.repository.create_user): it fails only
        # when the user was deleted meanwhile, which is no domain error of a sign-out.
        writes.update(
            user_item(user_id),
            [
                entry(session_id).set(access_expiry),
                *[entry(sid).remove() for sid in expired_session_ids if sid != session_id],
            ],
            UserItem.revoked_sessions.exists(),
            fails_as=None,
        )
