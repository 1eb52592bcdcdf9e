"""Persistence adapter for sessions and refresh tokens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol, cast

from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.expressions.operand import Path
from pynamodb.transactions import TransactWrite

from authapi.auth.models import (
    RefreshTokenItem,
    SessionItem,
    SpentMfaTokenItem,
    refresh_sk,
    session_sk,
    spent_mfa_token_sk,
)
from authapi.core import clock
from authapi.core.db import connection, failed_conditions, storage_errors
from authapi.core.errors import InvalidCredentials
from authapi.users.models import USER_SK, UserItem, user_pk
from authapi.users.repository import UserWrite


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


class TransactionPart(Protocol):
    """Conditional writes a sign-in adds to its session transaction (e.g. a passkey's
    signature counter): a failed condition fails the sign-in with nothing written."""

    def add_to(self, transaction: TransactWrite) -> None: ...


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
    token = RefreshTokenItem(
        user_pk(user_id),
        refresh_sk(token_digest),
        session_id=session_id,
        token_version=token_version,
        expires_at=_at(expires_at),
    )
    with storage_errors():
        try:
            with TransactWrite(connection=connection()) as transaction:
                # pynamodb sends puts before updates, each group in the order added here.
                transaction.save(session, condition=SessionItem.pk.does_not_exist())
                transaction.save(token, condition=RefreshTokenItem.pk.does_not_exist())
                if mfa_token is not None:
                    transaction.save(
                        SpentMfaTokenItem(
                            user_pk(user_id),
                            spent_mfa_token_sk(mfa_token.token_id),
                            expires_at=_at(mfa_token.expires_at),
                        ),
                        condition=SpentMfaTokenItem.pk.does_not_exist(),
                    )
                if user_write is not None:
                    user_write.add_to(transaction)
                if also is not None:
                    also.add_to(transaction)
        except TransactWriteError as exc:
            failed = failed_conditions(exc)
            if failed and failed[0]:
                # The session id is 128 random bits: only this very transaction can have
                # written it. botocore retried it after its answer was lost, and (all or
                # nothing) it had committed in full. DynamoDB's idempotency token makes
                # such a retry succeed anyway; this holds without it too.
                return
            if any(failed[2:]):  # the mfa_token's, the user write's or `also`'s condition
                raise InvalidCredentials() from exc
            raise


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
    new = RefreshTokenItem(
        user_pk(user_id),
        refresh_sk(new_digest),
        session_id=session_id,
        token_version=token_version,
        expires_at=_at(expires_at),
    )
    with storage_errors():
        try:
            with TransactWrite(connection=connection()) as transaction:
                # Sent in this order: the two checks, the put, then the update.
                transaction.condition_check(
                    SessionItem,
                    user_pk(user_id),
                    session_sk(session_id),
                    condition=SessionItem.pk.exists(),
                )
                transaction.condition_check(
                    UserItem,
                    user_pk(user_id),
                    USER_SK,
                    condition=(UserItem.token_version == token_version)
                    & (UserItem.disabled == False),  # noqa: E712 - a DynamoDB condition
                )
                transaction.save(new, condition=RefreshTokenItem.pk.does_not_exist())
                transaction.update(
                    old,
                    actions=[RefreshTokenItem.used_at.set(now)],
                    condition=RefreshTokenItem.used_at.does_not_exist()
                    & RefreshTokenItem.pk.exists(),
                )
        except TransactWriteError as exc:
            failed = failed_conditions(exc)
            if len(failed) == 4 and failed[3]:
                raise RefreshTokenReused() from exc
            if any(failed):
                raise SessionGone() from exc
            raise


def end_session(
    user_id: str, session_id: str, access_expiry: int, expired_session_ids: list[str]
) -> None:
    """End one session in one transaction: delete its refresh-token chain and mark it
    revoked on the user item, so its access tokens stop at once. Entries whose access
    tokens have expired anyway are pruned in the same write; each session is its own map
    key, so concurrent sign-outs never overwrite each other."""

    def entry(sid: str) -> Path:
        return cast(Path, UserItem.revoked_sessions[sid])  # a document path into the map

    with storage_errors(), TransactWrite(connection=connection()) as transaction:
        transaction.delete(SessionItem(user_pk(user_id), session_sk(session_id)))
        transaction.update(
            UserItem(user_pk(user_id), USER_SK),
            actions=[
                entry(session_id).set(access_expiry),
                *[entry(sid).remove() for sid in expired_session_ids if sid != session_id],
            ],
            condition=UserItem.revoked_sessions.exists(),
        )
