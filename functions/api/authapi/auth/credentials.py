"""Persistence of a user's credentials and sign-in state, on the user item.

The user item belongs to `users.repository` (profile, role, listing, deletion); what
signing in reads and writes on it lives here, apart from the sign-in rules
(`auth.service`), as fastapi-users keeps its user database adapter apart from its
authentication strategies: the password hash, the TOTP secret and its last accepted
step, the recovery codes, the token version and the refilled failure budget.

Functions named `*_write` only prepare a `UserWrite`; the caller commits it inside
another transaction (the session's, `auth.repository.create_session`), or with
`replace_recovery_codes`. The others write at once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from authapi.core import clock
from authapi.core.db import Transaction, update_if
from authapi.core.errors import Conflict, InvalidCredentials
from authapi.users.domain import User
from authapi.users.models import UserItem, user_item
from authapi.users.repository import user_from_item


@dataclass(frozen=True)
class UserWrite:
    """A conditional update of one user item, committed inside another transaction.

    A sign-in spends its second factor (a TOTP step, a recovery code, the enrollment's
    first code) in the same transaction that opens the session, so a failed write
    leaves both undone and the user can retry with the same code (nothing half-written).
    """

    user_id: str
    actions: list[Action]
    condition: Condition

    def add_to(self, transaction: Transaction) -> None:
        """Its condition failing means the factor was spent (or the user deleted)
        meanwhile: a failed sign-in."""
        transaction.update(
            user_item(self.user_id), self.actions, self.condition, fails_as=InvalidCredentials
        )


def _budget_refill() -> list[Action]:
    """A successful sign-in refills the failure budget, including the attempt that
    `auth.attempts` reserved for it."""
    return [UserItem.login_failures.remove(), UserItem.last_login_failure_at.remove()]


def sign_in_write(second_factor: UserWrite | None, user_id: str) -> UserWrite:
    """What a sign-in writes on the user item: the second factor it spends, if any, and
    the refilled failure budget."""
    if second_factor is None:
        return UserWrite(user_id, _budget_refill(), UserItem.pk.exists())
    return replace(second_factor, actions=[*second_factor.actions, *_budget_refill()])


def totp_step_write(user: User, step: int) -> UserWrite:
    """Record `step` as the last accepted TOTP step, only if it is later than the last one.

    This condition is what makes a code single-use across every Lambda container
    (RFC 6238 §5.2, ASVS 2.8.4): of two requests with the same code, exactly one wins
    it; the other is a failed login.
    """
    return UserWrite(
        user.id,
        [UserItem.totp_last_step.set(step)],
        (UserItem.totp_last_step.does_not_exist() | (UserItem.totp_last_step < step))
        & UserItem.totp_secret.exists(),
    )


def recovery_code_write(user: User, code_hash: str) -> UserWrite:
    """Remove one recovery code; the condition makes each code usable exactly once."""
    return UserWrite(
        user.id,
        [UserItem.recovery_code_hashes.delete({code_hash})],
        UserItem.recovery_code_hashes.contains(code_hash),
    )


def enrollment_write(
    user: User, secret: str, step: int, recovery_code_hashes: list[str]
) -> UserWrite:
    """Make the pending secret the user's TOTP secret, atomically with its first code.

    Conditioned on the very secret the code was checked against, so a concurrent
    /auth/mfa/setup that replaced it makes this confirmation fail rather than
    enable a secret the user never saw.
    """
    return UserWrite(
        user.id,
        [
            UserItem.totp_secret.set(secret),
            UserItem.mfa_enabled.set(True),
            UserItem.pending_totp_secret.remove(),
            UserItem.totp_last_step.set(step),
            UserItem.recovery_code_hashes.set(set(recovery_code_hashes)),
            UserItem.updated_at.set(clock.utcnow()),
        ],
        UserItem.totp_secret.does_not_exist() & (UserItem.pending_totp_secret == secret),
    )


def start_totp_enrollment(user: User, secret: str) -> None:
    """Store a secret awaiting confirmation. Only for users without TOTP yet."""
    if not update_if(
        user_item(user.id),
        [UserItem.pending_totp_secret.set(secret)],
        UserItem.totp_secret.does_not_exist() & (UserItem.token_version == user.token_version),
    ):
        raise InvalidCredentials()


def replace_recovery_codes(user: User, code_hashes: list[str], spending: UserWrite) -> None:
    """The new set replaces the old one entirely: old codes stop working at once. In the
    same write, `spending` spends the TOTP code that authorised it (InvalidCredentials if
    that code was spent meanwhile), so a failure leaves both undone."""
    if not update_if(
        user_item(user.id),
        [*spending.actions, UserItem.recovery_code_hashes.set(set(code_hashes))],
        spending.condition,
    ):
        raise InvalidCredentials()


def set_password_hash(user: User, new_hash: str) -> None:
    """Store a rehashed password (e.g. bcrypt -> argon2id), unless it changed meanwhile
    (then the other writer's hash wins)."""
    update_if(
        user_item(user.id),
        [UserItem.password_hash.set(new_hash)],
        UserItem.password_hash == user.password_hash,
    )


def change_password(user: User, new_hash: str) -> User:
    """Store the new hash and end every existing session in the same write.

    Conditioned on the hash the caller verified, so two concurrent changes cannot both
    succeed on the strength of the same old password.
    """
    target = user_item(user.id)
    changed = update_if(
        target,
        [
            UserItem.password_hash.set(new_hash),
            UserItem.token_version.add(1),
            # Every old token is dead by its version now; the list can go.
            UserItem.revoked_sessions.set({}),
            UserItem.updated_at.set(clock.utcnow()),
        ],
        UserItem.password_hash == user.password_hash,
    )
    if not changed:
        raise Conflict()
    return user_from_item(target)


def bump_token_version(user_id: str) -> None:
    """Invalidate every access and refresh token of the user at once."""
    update_if(
        user_item(user_id),
        [UserItem.token_version.add(1), UserItem.updated_at.set(clock.utcnow())],
        UserItem.pk.exists(),  # a deleted user has no tokens left to revoke
    )
