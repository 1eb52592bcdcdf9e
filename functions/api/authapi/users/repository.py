"""Persistence adapter for users: the only code that knows how users are stored.

Uniqueness of usernames and emails is enforced by claim items written in the same
transaction as the user, each with `attribute_not_exists`, so two concurrent
requests can never both get the same name (no read-then-write).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from pynamodb.exceptions import DoesNotExist, TransactWriteError, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from authapi.core import clock
from authapi.core.db import (
    TableItem,
    connection,
    failed_conditions,
    is_condition_failure,
    storage_errors,
)
from authapi.core.errors import (
    Conflict,
    DomainError,
    EmailTaken,
    InvalidCredentials,
    LastAdmin,
    UsernameTaken,
)
from authapi.passkeys.models import PASSKEY_PREFIX, lookup_key
from authapi.security.throttle import FailureRecord
from authapi.users.domain import NewUser, Role, User, UserChanges, UserSummary
from authapi.users.models import (
    CLAIM_SK,
    COUNTER_SK,
    ENABLED_ADMINS_PK,
    USER_SK,
    USERS_KIND,
    ClaimItem,
    CounterItem,
    UserItem,
    email_claim_pk,
    user_pk,
    username_claim_pk,
    users_order_key,
)

_MAX_TRANSACTION_ITEMS = 100


def _listed_fields(item: UserItem) -> dict[str, Any]:
    """What a user and a listed user (UserSummary) have in common."""
    return {
        "id": item.user_id,
        "username": item.username,
        "email": item.email,
        "full_name": item.full_name,
        "role": Role(item.role),
        "disabled": bool(item.disabled),
        "created_at": item.created_at,
        "updated_at": item.updated_at,
    }


def _to_domain(item: UserItem) -> User:
    return User(
        **_listed_fields(item),
        password_hash=item.password_hash,
        totp_secret=item.totp_secret,
        pending_totp_secret=item.pending_totp_secret,
        totp_last_step=None if item.totp_last_step is None else int(item.totp_last_step),
        recovery_code_hashes=frozenset(item.recovery_code_hashes or ()),
        token_version=int(item.token_version or 0),
        revoked_sessions=_revoked_sessions(item),
        failures=FailureRecord(
            int(item.login_failures or 0), float(item.last_login_failure_at or 0)
        ),
        passkey_count=int(item.passkey_count or 0),
    )


def _to_summary(item: UserItem) -> UserSummary:
    """A user from the by-kind index, which holds only the listed attributes."""
    return UserSummary(**_listed_fields(item), mfa_enabled=bool(item.mfa_enabled))


def _revoked_sessions(item: UserItem) -> dict[str, int]:
    stored: Any = item.revoked_sessions  # a raw MapAttribute, or None when never set
    raw: dict[str, Any] = {} if stored is None else stored.as_dict()
    return {session_id: int(expiry) for session_id, expiry in raw.items()}


def _get_item(user_id: str) -> UserItem | None:
    try:
        return UserItem.get(user_pk(user_id), USER_SK, consistent_read=True)
    except DoesNotExist:
        return None


def get_user(user_id: str) -> User | None:
    """One consistent read."""
    with storage_errors():
        item = _get_item(user_id)
    return None if item is None else _to_domain(item)


def find_for_login(username: str) -> User | None:
    """The account behind a username: the claim, then the user (consistent reads).

    For a name with no account, the sign-in reads the name's own failure budget instead
    of the user (`auth.attempts.read`), so both cost two reads and neither the answer nor
    the database round trips tell an attacker which names exist (OWASP Authentication
    Cheat Sheet, ASVS 5.0 6.3.8).
    """
    with storage_errors():
        try:
            claim = ClaimItem.get(username_claim_pk(username), CLAIM_SK, consistent_read=True)
        except DoesNotExist:
            return None
        item = _get_item(claim.user_id)
    return None if item is None else _to_domain(item)


def list_users(
    limit: int, after: dict[str, Any] | None, role: Role | None, disabled: bool | None
) -> tuple[list[UserSummary], dict[str, Any] | None]:
    """One page of users, oldest first, and the position after its last item (None on
    the last page). A Query on the sparse by-kind index, never a Scan; role and disabled
    are filters, so the loop reads on until the page is full or the index ends."""
    condition = None
    if role is not None:
        condition = UserItem.role == role.value
    if disabled is not None:
        flag = UserItem.disabled == disabled
        condition = flag if condition is None else condition & flag
    found: list[UserItem] = []
    with storage_errors():
        results = UserItem.by_kind.query(
            USERS_KIND,
            filter_condition=condition,
            last_evaluated_key=after,
            page_size=limit + 1,
        )
        for item in results:
            found.append(item)
            if len(found) > limit:
                break
    page, more = found[:limit], len(found) > limit
    position = None
    if more and page:
        last = page[-1]
        position = {
            "pk": {"S": last.pk},
            "sk": {"S": last.sk},
            "gsi1pk": {"S": last.gsi1pk},
            "gsi1sk": {"S": last.gsi1sk},
        }
    return [_to_summary(item) for item in page], position


def _budget_refill() -> list[Action]:
    """A successful sign-in refills the failure budget, including the attempt that
    `auth.attempts` reserved for it."""
    return [UserItem.login_failures.remove(), UserItem.last_login_failure_at.remove()]


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

    def add_to(self, transaction: TransactWrite) -> None:
        item = UserItem(user_pk(self.user_id), USER_SK)
        transaction.update(item, actions=self.actions, condition=self.condition)


def sign_in_write(second_factor: UserWrite | None, user_id: str) -> UserWrite:
    """What a sign-in writes on the user item: the second factor it spends, if any, and
    the refilled failure budget."""
    if second_factor is None:
        return UserWrite(user_id, _budget_refill(), UserItem.pk.exists())
    return replace(second_factor, actions=[*second_factor.actions, *_budget_refill()])


def _admin_count_change(transaction: TransactWrite, delta: int) -> None:
    """Keep the enabled-admin count in step, inside the caller's transaction. Removing
    one is conditioned on another remaining, so two admins demoting each other at the
    same moment cannot both succeed (DynamoDB serialises the transactions)."""
    counter = CounterItem(ENABLED_ADMINS_PK, COUNTER_SK)
    if delta > 0:
        transaction.update(counter, actions=[CounterItem.value.add(delta)])
    elif delta < 0:
        transaction.update(
            counter, actions=[CounterItem.value.add(delta)], condition=CounterItem.value > -delta
        )


def _commit(
    transaction_body: Callable[[TransactWrite], list[type[DomainError]]],
    committed_if_failed: int | None = None,
) -> None:
    """Run a transaction; map a failed condition to the error registered for its slot.

    `transaction_body` adds the items and returns, in the order DynamoDB receives them
    (condition checks, deletes, puts, updates), the error each item's failed condition
    means; Conflict for any slot without a more specific meaning.

    `committed_if_failed` names a slot that puts an item under a new random key: only
    this very transaction can have written it, so its condition failing means botocore
    retried the transaction after its answer was lost, and (all or nothing) the first
    attempt had committed in full. That is a success, not a conflict.
    """
    errors: list[type[DomainError]] = []
    try:
        with TransactWrite(connection=connection()) as transaction:
            errors = transaction_body(transaction)
    except TransactWriteError as exc:
        failed = failed_conditions(exc)
        if committed_if_failed is not None and failed[
            committed_if_failed : committed_if_failed + 1
        ] == [True]:
            return
        for error, did_fail in zip(errors, failed, strict=False):
            if did_fail:
                raise error() from exc
        if any(failed):
            raise Conflict() from exc
        raise


def create_user(new: NewUser) -> User:
    now = clock.utcnow()
    item = UserItem(
        user_pk(new.id),
        USER_SK,
        gsi1sk=users_order_key(clock.isoformat(now), new.id),
        user_id=new.id,
        username=new.username,
        email=new.email,
        full_name=new.full_name,
        role=new.role.value,
        disabled=new.disabled,
        password_hash=new.password_hash,
        totp_secret=new.totp_secret,
        mfa_enabled=new.totp_secret is not None,
        recovery_code_hashes=set(new.recovery_code_hashes) or None,
        token_version=0,
        # Always present, so ending a session is one map-entry write (auth.repository).
        revoked_sessions={},
        created_at=now,
        updated_at=now,
    )

    def body(transaction: TransactWrite) -> list[type[DomainError]]:
        transaction.save(item, condition=UserItem.pk.does_not_exist())
        for claim_pk in (username_claim_pk(new.username), email_claim_pk(new.email)):
            transaction.save(
                ClaimItem(claim_pk, CLAIM_SK, user_id=new.id),
                condition=ClaimItem.pk.does_not_exist(),
            )
        _admin_count_change(transaction, int(new.role is Role.ADMIN and not new.disabled))
        return [Conflict, UsernameTaken, EmailTaken]  # the three puts, in order

    with storage_errors():
        _commit(body, committed_if_failed=0)  # the user item's key holds a random id
    return _to_domain(item)


def update_user(user: User, changes: UserChanges) -> User:
    """Change only the given fields, atomically with everything they imply.

    - Moving a username or email moves its uniqueness claim in the same transaction.
    - Role and disabled changes adjust the enabled-admin count (LAST_ADMIN) and move the
      token version on, so the user's existing tokens stop at once.
    - The user's update is conditioned on the values it replaces (field level): a
      concurrent change to *other* fields still applies, a concurrent change to the same
      ones makes this fail with CONFLICT instead of silently overwriting it.
    """
    now = clock.utcnow()
    actions: list[Action] = [UserItem.updated_at.set(now)]
    condition = UserItem.pk.exists()
    if changes.full_name is not None:
        actions.append(
            UserItem.full_name.set(changes.full_name)
            if changes.full_name
            else UserItem.full_name.remove()
        )
    # Claims to move: (old claim pk, new claim pk, the error when the new one is taken).
    moves: list[tuple[str, str, type[DomainError]]] = []
    if changes.username is not None and changes.username != user.username:
        actions.append(UserItem.username.set(changes.username))
        condition &= UserItem.username == user.username
        moves.append(
            (username_claim_pk(user.username), username_claim_pk(changes.username), UsernameTaken)
        )
    if changes.email is not None and changes.email.lower() != user.email.lower():
        actions.append(UserItem.email.set(changes.email))
        condition &= UserItem.email == user.email
        moves.append((email_claim_pk(user.email), email_claim_pk(changes.email), EmailTaken))
    elif changes.email is not None and changes.email != user.email:
        # Same address in a different case: the claim (lower-case) stays where it is.
        actions.append(UserItem.email.set(changes.email))
    role = user.role if changes.role is None else changes.role
    disabled = user.disabled if changes.disabled is None else changes.disabled
    if (role, disabled) != (user.role, user.disabled):
        actions += [
            UserItem.role.set(role.value),
            UserItem.disabled.set(disabled),
            UserItem.token_version.add(1),
        ]
        condition &= (UserItem.role == user.role.value) & (UserItem.disabled == user.disabled)
    admin_delta = int(role is Role.ADMIN and not disabled) - int(user.is_enabled_admin)

    target = UserItem(user_pk(user.id), USER_SK)

    def body(transaction: TransactWrite) -> list[type[DomainError]]:
        for old_pk, _, _ in moves:
            transaction.delete(ClaimItem(old_pk, CLAIM_SK), condition=ClaimItem.user_id == user.id)
        for _, new_pk, _ in moves:
            transaction.save(
                ClaimItem(new_pk, CLAIM_SK, user_id=user.id),
                condition=ClaimItem.pk.does_not_exist(),
            )
        _admin_count_change(transaction, admin_delta)
        transaction.update(target, actions=actions, condition=condition)
        updates = [LastAdmin] if admin_delta else []
        return [Conflict] * len(moves) + [error for _, _, error in moves] + updates

    with storage_errors():
        if not moves and not admin_delta:
            try:
                # update() returns ALL_NEW and loads it into `target`.
                target.update(actions=actions, condition=condition)
            except UpdateError as exc:
                if is_condition_failure(exc):
                    raise Conflict() from exc
                raise
            return _to_domain(target)
        _commit(body)
    # The transaction's conditions pinned every field it changed, so the result is known
    # without reading it back (a failed read must not turn a stored change into a 503).
    return replace(
        user,
        username=changes.username or user.username,
        email=changes.email or user.email,
        full_name=user.full_name if changes.full_name is None else (changes.full_name or None),
        role=role,
        disabled=disabled,
        token_version=user.token_version + int((role, disabled) != (user.role, user.disabled)),
        updated_at=now,
    )


def _owned_items(user_id: str) -> list[TableItem]:
    """Everything in the user's partition except the user item (sessions, refresh
    tokens, passkeys), and the lookup item of each passkey, found from its key. One
    Query on one partition (never a Scan)."""
    owned: list[TableItem] = []
    with storage_errors():
        for item in TableItem.query(user_pk(user_id), consistent_read=True):
            if item.sk != USER_SK:
                owned.append(TableItem(item.pk, item.sk))
            if item.sk.startswith(PASSKEY_PREFIX):
                owned.append(TableItem(*lookup_key(item.sk)))
    return owned


def delete_user(user: User) -> None:
    """Remove the user, its claims and everything it owns, with nothing orphaned.

    The user, its claims, the admin count and the first owned items go in one
    transaction (conditioned on the state the caller checked); owned items beyond
    DynamoDB's 100-item transaction limit are deleted right after. They are worthless
    by then anyway: a session whose user is gone cannot refresh.
    """
    owned = _owned_items(user.id)
    fits = _MAX_TRANSACTION_ITEMS - 4
    first, rest = owned[:fits], owned[fits:]

    def body(transaction: TransactWrite) -> list[type[DomainError]]:
        for item in first:
            transaction.delete(item)
        for claim_pk in (username_claim_pk(user.username), email_claim_pk(user.email)):
            transaction.delete(
                ClaimItem(claim_pk, CLAIM_SK), condition=ClaimItem.user_id == user.id
            )
        transaction.delete(
            UserItem(user_pk(user.id), USER_SK),
            condition=(UserItem.role == user.role.value) & (UserItem.disabled == user.disabled),
        )
        _admin_count_change(transaction, -1 if user.is_enabled_admin else 0)
        errors: list[type[DomainError]] = [Conflict] * (len(first) + 3)
        return [*errors, LastAdmin] if user.is_enabled_admin else errors

    with storage_errors():
        _commit(body)
        for item in rest:
            item.delete()


def reset_mfa(user: User) -> None:
    """Remove TOTP, recovery codes and passkeys and end every session: the next login
    goes through setup. Sessions are deleted; the token version makes every token void."""
    _update_user(
        user.id,
        [
            UserItem.totp_secret.remove(),
            UserItem.mfa_enabled.set(False),
            UserItem.pending_totp_secret.remove(),
            UserItem.totp_last_step.remove(),
            UserItem.recovery_code_hashes.remove(),
            UserItem.passkey_count.remove(),  # the passkeys go with the owned items below
            UserItem.token_version.add(1),
            UserItem.updated_at.set(clock.utcnow()),
        ],
        UserItem.pk.exists(),
    )
    with storage_errors():
        for item in _owned_items(user.id):
            item.delete()


def _update_user(user_id: str, actions: list[Action], condition: Condition) -> bool:
    """One conditional update of the user item; False when the condition did not hold."""
    with storage_errors():
        try:
            UserItem(user_pk(user_id), USER_SK).update(actions=actions, condition=condition)
        except UpdateError as exc:
            if is_condition_failure(exc):
                return False
            raise
    return True


def set_password_hash(user: User, new_hash: str) -> None:
    """Store a rehashed password (e.g. bcrypt -> argon2id), unless it changed meanwhile
    (then the other writer's hash wins)."""
    _update_user(
        user.id,
        [UserItem.password_hash.set(new_hash)],
        UserItem.password_hash == user.password_hash,
    )


def totp_step_claim(user: User, step: int) -> UserWrite:
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


def start_totp_enrollment(user: User, secret: str) -> None:
    """Store a secret awaiting confirmation. Only for users without TOTP yet."""
    if not _update_user(
        user.id,
        [UserItem.pending_totp_secret.set(secret)],
        UserItem.totp_secret.does_not_exist() & (UserItem.token_version == user.token_version),
    ):
        raise InvalidCredentials()


def enrollment_confirmation(
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


def recovery_code_use(user: User, code_hash: str) -> UserWrite:
    """Remove one recovery code; the condition makes each code usable exactly once."""
    return UserWrite(
        user.id,
        [UserItem.recovery_code_hashes.delete({code_hash})],
        UserItem.recovery_code_hashes.contains(code_hash),
    )


def change_password(user: User, new_hash: str) -> User:
    """Store the new hash and end every existing session in the same write.

    Conditioned on the hash the caller verified, so two concurrent changes cannot both
    succeed on the strength of the same old password.
    """
    target = UserItem(user_pk(user.id), USER_SK)
    with storage_errors():
        try:
            target.update(
                actions=[
                    UserItem.password_hash.set(new_hash),
                    UserItem.token_version.add(1),
                    # Every old token is dead by its version now; the list can go.
                    UserItem.revoked_sessions.set({}),
                    UserItem.updated_at.set(clock.utcnow()),
                ],
                condition=UserItem.password_hash == user.password_hash,
            )
        except UpdateError as exc:
            if is_condition_failure(exc):
                raise Conflict() from exc
            raise
    return _to_domain(target)


def replace_recovery_codes(user: User, code_hashes: list[str], spending: UserWrite) -> None:
    """The new set replaces the old one entirely: old codes stop working at once. In the
    same write, `spending` spends the TOTP code that authorised it (InvalidCredentials if
    that code was spent meanwhile), so a failure leaves both undone."""
    if not _update_user(
        user.id,
        [*spending.actions, UserItem.recovery_code_hashes.set(set(code_hashes))],
        spending.condition,
    ):
        raise InvalidCredentials()


def bump_token_version(user_id: str) -> None:
    """Invalidate every access and refresh token of the user at once."""
    _update_user(
        user_id,
        [UserItem.token_version.add(1), UserItem.updated_at.set(clock.utcnow())],
        UserItem.pk.exists(),  # a deleted user has no tokens left to revoke
    )
