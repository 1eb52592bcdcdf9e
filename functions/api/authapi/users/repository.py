"""Persistence adapter for users: the only code that knows how users are stored.

Profiles, roles, listing, deletion and the MFA reset; what signing in reads and writes
on the user item (credentials, the failure budget, token versions) is in
`auth.credentials`.

Uniqueness of usernames and emails is enforced by claim items written in the same
transaction as the user, each with `attribute_not_exists`, so two concurrent
requests can never both get the same name (no read-then-write).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from authapi.core import clock
from authapi.core.db import TableItem, Transaction, storage_errors, transaction, update_if
from authapi.core.errors import Conflict, DomainError, EmailTaken, LastAdmin, UsernameTaken
from authapi.passkeys.models import PASSKEY_PREFIX, lookup_key
from authapi.security.throttle import FailureRecord
from authapi.users.domain import NewUser, Role, User, UserBase, UserChanges, UserSummary
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
    user_item,
    user_pk,
    username_claim_pk,
    users_order_key,
)

_MAX_TRANSACTION_ITEMS = 100


# The item attribute of each UserBase field, where the names differ.
_ATTRIBUTE_OF = {"id": "user_id"}
_BASE_FIELDS = [base_field.name for base_field in fields(UserBase)]


def _listed_fields(item: UserItem) -> dict[str, Any]:
    """What every view of a user holds (domain.UserBase), from the item."""
    stored = {name: getattr(item, _ATTRIBUTE_OF.get(name, name)) for name in _BASE_FIELDS}
    return {**stored, "role": Role(item.role), "disabled": bool(item.disabled)}


def user_from_item(item: UserItem) -> User:
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
    return None if item is None else user_from_item(item)


def _claim(claim_pk: str) -> ClaimItem | None:
    try:
        return ClaimItem.get(claim_pk, CLAIM_SK, consistent_read=True)
    except DoesNotExist:
        return None


def username_taken(username: str) -> bool:
    """Whether an account holds this (normalised) username: one consistent read."""
    with storage_errors():
        return _claim(username_claim_pk(username)) is not None


def email_taken(email: str) -> bool:
    """Whether an account holds this email address (any case): one consistent read."""
    with storage_errors():
        return _claim(email_claim_pk(email)) is not None


def find_for_login(username: str) -> User | None:
    """The account behind a username: the claim, then the user (consistent reads).

    For a name with no account, the sign-in reads the name's own failure budget instead
    of the user (`auth.attempts.read`), so both cost two reads and neither the answer nor
    the database round trips tell an attacker which names exist (OWASP Authentication
    Cheat Sheet, ASVS 5.0 6.3.8).
    """
    with storage_errors():
        claim = _claim(username_claim_pk(username))
        if claim is None:
            return None
        item = _get_item(claim.user_id)
    return None if item is None else user_from_item(item)


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


def _admin_count_change(writes: Transaction, delta: int) -> None:
    """Keep the enabled-admin count in step, inside the caller's transaction. Removing
    one is conditioned on another remaining, so two admins demoting each other at the
    same moment cannot both succeed (DynamoDB serialises the transactions)."""
    counter = CounterItem(ENABLED_ADMINS_PK, COUNTER_SK)
    if delta > 0:
        writes.update(counter, [CounterItem.value.add(delta)])
    elif delta < 0:
        writes.update(
            counter,
            [CounterItem.value.add(delta)],
            CounterItem.value > -delta,
            fails_as=LastAdmin,
        )


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
    with transaction() as writes:
        # The user item's key holds a random id.
        writes.save(item, UserItem.pk.does_not_exist(), proves_committed=True)
        claims = (
            (username_claim_pk(new.username), UsernameTaken),
            (email_claim_pk(new.email), EmailTaken),
        )
        for claim_pk, taken in claims:
            writes.save(
                ClaimItem(claim_pk, CLAIM_SK, user_id=new.id),
                ClaimItem.pk.does_not_exist(),
                fails_as=taken,
            )
        _admin_count_change(writes, int(new.role is Role.ADMIN and not new.disabled))
    return user_from_item(item)


@dataclass(frozen=True)
class _ClaimMove:
    """A username or email claim that moves, and the error when the new one is taken."""

    old_pk: str
    new_pk: str
    taken: type[DomainError]


@dataclass
class _UserUpdate:
    """What `update_user` writes: the user item's actions, conditioned on the values
    they replace, the claims that move, and the role and disabled flag it leaves."""

    actions: list[Action]
    condition: Condition
    role: Role
    disabled: bool
    moves: list[_ClaimMove]

    def move_names(self, user: User, changes: UserChanges) -> None:
        """A new username or email moves its uniqueness claim in the same transaction."""
        if changes.username is not None and changes.username != user.username:
            self.actions.append(UserItem.username.set(changes.username))
            self.condition &= UserItem.username == user.username
            self.moves.append(
                _ClaimMove(
                    username_claim_pk(user.username),
                    username_claim_pk(changes.username),
                    UsernameTaken,
                )
            )
        if changes.email is not None and changes.email.lower() != user.email.lower():
            self.actions.append(UserItem.email.set(changes.email))
            self.condition &= UserItem.email == user.email
            self.moves.append(
                _ClaimMove(email_claim_pk(user.email), email_claim_pk(changes.email), EmailTaken)
            )
        elif changes.email is not None and changes.email != user.email:
            # Same address in a different case: the claim (lower-case) stays where it is.
            self.actions.append(UserItem.email.set(changes.email))


def _planned_update(user: User, changes: UserChanges, now: datetime) -> _UserUpdate:
    plan = _UserUpdate(
        actions=[UserItem.updated_at.set(now)],
        condition=UserItem.pk.exists(),
        role=user.role if changes.role is None else changes.role,
        disabled=user.disabled if changes.disabled is None else changes.disabled,
        moves=[],
    )
    if changes.full_name is not None:
        plan.actions.append(
            UserItem.full_name.set(changes.full_name)
            if changes.full_name
            else UserItem.full_name.remove()
        )
    plan.move_names(user, changes)
    if (plan.role, plan.disabled) != (user.role, user.disabled):
        plan.actions += [
            UserItem.role.set(plan.role.value),
            UserItem.disabled.set(plan.disabled),
            UserItem.token_version.add(1),
        ]
        plan.condition &= (UserItem.role == user.role.value) & (UserItem.disabled == user.disabled)
    return plan


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
    plan = _planned_update(user, changes, now)
    admin_delta = int(plan.role is Role.ADMIN and not plan.disabled) - int(user.is_enabled_admin)
    target = user_item(user.id)
    if not plan.moves and not admin_delta:
        if not update_if(target, plan.actions, plan.condition):
            raise Conflict()
        return user_from_item(target)  # update() loaded the item as written
    with transaction() as writes:
        for move in plan.moves:
            writes.delete(ClaimItem(move.old_pk, CLAIM_SK), ClaimItem.user_id == user.id)
        for move in plan.moves:
            writes.save(
                ClaimItem(move.new_pk, CLAIM_SK, user_id=user.id),
                ClaimItem.pk.does_not_exist(),
                fails_as=move.taken,
            )
        _admin_count_change(writes, admin_delta)
        writes.update(target, plan.actions, plan.condition)
    # The transaction's conditions pinned every field it changed, so the result is known
    # without reading it back (a failed read must not turn a stored change into a 503).
    role_changed = (plan.role, plan.disabled) != (user.role, user.disabled)
    return replace(
        user,
        username=changes.username or user.username,
        email=changes.email or user.email,
        full_name=user.full_name if changes.full_name is None else (changes.full_name or None),
        role=plan.role,
        disabled=plan.disabled,
        token_version=user.token_version + int(role_changed),
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
    with transaction() as writes:
        for item in first:
            writes.delete(item)
        for claim_pk in (username_claim_pk(user.username), email_claim_pk(user.email)):
            writes.delete(ClaimItem(claim_pk, CLAIM_SK), ClaimItem.user_id == user.id)
        writes.delete(
            user_item(user.id),
            (UserItem.role == user.role.value) & (UserItem.disabled == user.disabled),
        )
        _admin_count_change(writes, -1 if user.is_enabled_admin else 0)
    with storage_errors():
        for item in rest:
            item.delete()


def reset_mfa(user: User) -> None:
    """Remove TOTP, recovery codes and passkeys and end every session: the next login
    goes through setup. Sessions are deleted; the token version makes every token void."""
    update_if(
        user_item(user.id),
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
