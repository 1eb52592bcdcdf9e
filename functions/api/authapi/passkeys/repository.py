"""Persistence adapter for passkeys and WebAuthn challenges (see `passkeys.models`).

A passkey is two items written and deleted together in one transaction: the user's
view of it in the user's partition, and the credential record under the credential
(the lookup a passwordless sign-in starts from). The user item counts the user's
passkeys in the same transactions, so a sign-in knows the user's second factors from
the user item alone.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import NamedTuple

from pynamodb.exceptions import DoesNotExist

from authapi.auth.credentials import UserWrite
from authapi.core import clock
from authapi.core.db import Transaction, storage_errors, transaction, update_if
from authapi.core.errors import (
    InvalidCredentials,
    NotAuthenticated,
    PasskeyExists,
    PasskeyNotFound,
)
from authapi.passkeys.models import (
    CHALLENGE_SK,
    LOOKUP_SK,
    PASSKEY_PREFIX,
    ChallengeItem,
    CredentialLookupItem,
    PasskeyItem,
    challenge_pk,
    passkey_sk,
)
from authapi.users.models import UserItem, user_item, user_pk


# NamedTuples, not dataclasses: every cold start imports this module, and a dataclass
# costs code generation at import.
class Passkey(NamedTuple):
    id: str
    credential_id: str
    name: str
    aaguid: str
    transports: tuple[str, ...]
    created_at: datetime
    last_used_at: datetime | None


class Credential(NamedTuple):
    """What a sign-in verifies an assertion against."""

    passkey_id: str
    user_id: str
    public_key: bytes
    sign_count: int


class NewPasskey(NamedTuple):
    id: str
    credential_id: str
    name: str
    aaguid: str
    transports: tuple[str, ...]
    public_key: bytes
    sign_count: int


class ChallengeOwner(NamedTuple):
    """Whom a challenge was handed out to and what for: all must match to consume it."""

    purpose: str
    user_id: str | None = None
    token_digest: str | None = None  # of the passkey_token or mfa_token it belongs to


def save_challenge(digest: str, value: str, owner: ChallengeOwner, valid_until: int) -> None:
    item = ChallengeItem(
        challenge_pk(digest),
        CHALLENGE_SK,
        challenge=value,
        purpose=owner.purpose,
        user_id=owner.user_id,
        token_digest=owner.token_digest,
        valid_until=valid_until,
        expires_at=datetime.fromtimestamp(valid_until, tz=UTC),
    )
    with storage_errors():
        item.save(condition=ChallengeItem.pk.does_not_exist())


def consume_challenge(digest: str, owner: ChallengeOwner) -> bool:
    """Spend a challenge with one conditional write: it exists, is unused, still valid,
    and was handed out for this purpose to this user (or passkey_token). Of parallel
    requests with the same challenge exactly one gets True."""
    item = ChallengeItem(challenge_pk(digest), CHALLENGE_SK)
    now = clock.now()
    condition = (
        ChallengeItem.pk.exists()
        & ChallengeItem.used_at.does_not_exist()
        & (ChallengeItem.valid_until > now)
        & (ChallengeItem.purpose == owner.purpose)
    )
    if owner.user_id is not None:
        condition &= ChallengeItem.user_id == owner.user_id
    if owner.token_digest is not None:
        condition &= ChallengeItem.token_digest == owner.token_digest
    return update_if(item, [ChallengeItem.used_at.set(int(now))], condition)


def _to_passkey(item: PasskeyItem) -> Passkey:
    return Passkey(
        id=item.sk.removeprefix(PASSKEY_PREFIX),
        credential_id=item.credential_id,
        name=item.name,
        aaguid=item.aaguid,
        transports=tuple(sorted(item.transports or ())),
        created_at=item.created_at,
        last_used_at=item.last_used_at,
    )


def list_passkeys(user_id: str) -> list[Passkey]:
    """The user's passkeys, oldest first: one Query on the user's partition."""
    with storage_errors():
        items = list(
            PasskeyItem.query(
                user_pk(user_id),
                PasskeyItem.sk.startswith(PASSKEY_PREFIX),
                consistent_read=True,
            )
        )
    return sorted((_to_passkey(item) for item in items), key=lambda passkey: passkey.created_at)


def get_credential(passkey_id: str) -> Credential | None:
    """The credential record behind a credential id (one consistent read)."""
    with storage_errors():
        try:
            item = CredentialLookupItem.get(passkey_sk(passkey_id), LOOKUP_SK, consistent_read=True)
        except DoesNotExist:
            return None
    return Credential(
        passkey_id=passkey_id,
        user_id=item.user_id,
        public_key=bytes(item.public_key),
        sign_count=int(item.sign_count or 0),
    )


def add_passkey(user_id: str, token_version: int, new: NewPasskey) -> Passkey:
    """Store a verified passkey: both items and the user's count, all or nothing.
    PasskeyExists when the credential id is registered already (to anyone)."""
    created_at = clock.utcnow()
    item = PasskeyItem(
        user_pk(user_id),
        passkey_sk(new.id),
        credential_id=new.credential_id,
        name=new.name,
        aaguid=new.aaguid,
        transports=set(new.transports) or None,
        created_at=created_at,
    )
    lookup = CredentialLookupItem(
        passkey_sk(new.id),
        LOOKUP_SK,
        user_id=user_id,
        public_key=new.public_key,
        sign_count=new.sign_count,
    )
    with transaction() as writes:
        writes.save(item, PasskeyItem.pk.does_not_exist(), fails_as=PasskeyExists)
        writes.save(lookup, CredentialLookupItem.pk.does_not_exist(), fails_as=PasskeyExists)
        writes.update(
            user_item(user_id),
            [UserItem.passkey_count.add(1)],
            # The session that asked is still valid: no logout-all, no reset.
            UserItem.token_version == token_version,
            fails_as=NotAuthenticated,
        )
    return _to_passkey(item)


def remove_passkey(user_id: str, passkey_id: str) -> None:
    """Delete both items and count the passkey off, all or nothing; PasskeyNotFound
    when the user has no such passkey (another user's passkey included)."""
    with transaction() as writes:
        writes.delete(
            PasskeyItem(user_pk(user_id), passkey_sk(passkey_id)),
            PasskeyItem.pk.exists(),
            fails_as=PasskeyNotFound,
        )
        writes.delete(
            CredentialLookupItem(passkey_sk(passkey_id), LOOKUP_SK),
            CredentialLookupItem.user_id == user_id,
            fails_as=PasskeyNotFound,
        )
        writes.update(
            user_item(user_id),
            [UserItem.passkey_count.add(-1)],
            UserItem.passkey_count > 0,
            fails_as=PasskeyNotFound,
        )


def rename_passkey(user_id: str, passkey_id: str, name: str) -> Passkey:
    item = PasskeyItem(user_pk(user_id), passkey_sk(passkey_id))
    if not update_if(item, [PasskeyItem.name.set(name)], PasskeyItem.pk.exists()):
        raise PasskeyNotFound()
    return _to_passkey(item)


class PasskeyUse(NamedTuple):
    """What a passkey sign-in writes besides the session, in the session's transaction:
    the credential's new signature counter, conditioned on the one the assertion was
    checked against (of two parallel sign-ins with one counter value only one wins, and
    a deleted passkey fails), and the passkey's last use."""

    credential: Credential
    new_sign_count: int

    def add_to(self, transaction: Transaction) -> None:
        """Either condition failing means a parallel sign-in won or the passkey was
        removed meanwhile: a failed sign-in."""
        credential = self.credential
        transaction.update(
            CredentialLookupItem(passkey_sk(credential.passkey_id), LOOKUP_SK),
            [CredentialLookupItem.sign_count.set(self.new_sign_count)],
            (CredentialLookupItem.user_id == credential.user_id)
            & (CredentialLookupItem.sign_count == credential.sign_count),
            fails_as=InvalidCredentials,
        )
        transaction.update(
            PasskeyItem(user_pk(credential.user_id), passkey_sk(credential.passkey_id)),
            [PasskeyItem.last_used_at.set(clock.utcnow())],
            PasskeyItem.pk.exists(),
            fails_as=InvalidCredentials,
        )


def sign_in_check(user_id: str, token_version: int) -> UserWrite:
    """The user-item condition of a passkey sign-in: the revocation state the caller
    checked (no disable, logout-all or MFA reset in between). The session transaction
    adds the budget refill to it (`auth.credentials.sign_in_write`)."""
    return UserWrite(
        user_id,
        [],
        (UserItem.token_version == token_version) & (UserItem.disabled == False),  # noqa: E712
    )
