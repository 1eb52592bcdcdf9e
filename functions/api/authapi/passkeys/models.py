"""pynamodb item types of the passkeys feature. Only `passkeys.repository` uses them
(and `users.repository`, through `lookup_key`, to delete a user's lookups with them)."""

from __future__ import annotations

from pynamodb.attributes import (
    BinaryAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
)

from authapi.core.db import TableItem

PASSKEY_PREFIX = "PASSKEY#"
LOOKUP_SK = "LOOKUP"
CHALLENGE_SK = "CHALLENGE"


def passkey_sk(passkey_id: str) -> str:
    return f"{PASSKEY_PREFIX}{passkey_id}"


def lookup_key(passkey_item_sk: str) -> tuple[str, str]:
    """The lookup item of a passkey item found in a user's partition: its partition key
    is the passkey item's sort key, so a user's lookups are found from the user's
    partition alone (deleting a user or resetting their MFA needs no Scan)."""
    return passkey_item_sk, LOOKUP_SK


def challenge_pk(challenge_digest: str) -> str:
    return f"WEBAUTHN#{challenge_digest}"


class PasskeyItem(TableItem):
    """A passkey as its user sees it (`USER#<id> / PASSKEY#<passkey id>`): listings,
    excludeCredentials and allowCredentials read these with one Query."""

    credential_id = UnicodeAttribute()  # base64url, as WebAuthn's JSON forms carry it
    name = UnicodeAttribute()
    aaguid = UnicodeAttribute()
    transports = UnicodeSetAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    last_used_at = UTCDateTimeAttribute(null=True)


class CredentialLookupItem(TableItem):
    """`PASSKEY#<passkey id> / LOOKUP`: the credential record a sign-in verifies against.

    A passwordless sign-in knows only the credential id; this one read gives the owner,
    the public key and the signature counter, so the sign-in reads this and the user and
    nothing else. Its `attribute_not_exists` put makes a credential id register once,
    across all users.
    """

    user_id = UnicodeAttribute()
    public_key = BinaryAttribute(legacy_encoding=False)  # COSE, as py_webauthn returns it
    sign_count = NumberAttribute(default=0)


class ChallengeItem(TableItem):
    """`WEBAUTHN#<digest of the challenge> / CHALLENGE`: one WebAuthn challenge handed out.

    Found again from the challenge inside the client data, consumed by one conditional
    update (`used_at`) before any signature is checked, so a challenge works once even
    under parallel requests, and only for its purpose (and user, or passkey_token).
    """

    challenge = UnicodeAttribute()  # base64url
    purpose = UnicodeAttribute()  # "register", "mfa" or "passwordless"
    user_id = UnicodeAttribute(null=True)
    # passwordless: digest of the passkey_token that must come back with the answer.
    token_digest = UnicodeAttribute(null=True)
    used_at = NumberAttribute(null=True)
    # Epoch seconds; DynamoDB's TTL removes it later, the consuming condition refuses
    # it at once.
    valid_until = NumberAttribute()
    expires_at = TTLAttribute()
