"""The signed-in user's profile and the admin's user management. Thin routes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Path, Request, Response, status

from authapi.core.lazy_imports import imported_on_first_use
from authapi.deps import (
    Authenticated,
    AuthServiceDep,
    CurrentAdmin,
    CurrentUser,
    CursorKeyDep,
    PageCursor,
    PageLimit,
    SettingsDep,
)
from authapi.http_errors import error_responses
from authapi.routing import DeferredAPIRoute

if TYPE_CHECKING:
    from authapi.auth import schemas as auth_schemas
else:
    auth_schemas = imported_on_first_use("authapi.auth.schemas")
from authapi.users import service
from authapi.users.domain import Role
from authapi.users.schemas import (
    AdminUserUpdate,
    PasswordChange,
    ProfileUpdate,
    RecoveryCodesOut,
    RecoveryCodesRequest,
    UserCreate,
    UserOut,
    UserPage,
)

router = APIRouter(tags=["users"], route_class=DeferredAPIRoute)
# Defined before the first route that names it: FastAPI resolves a route's annotations
# when the route is declared.
UserId = Annotated[str, Path(min_length=1, max_length=64)]


@router.get("/users/me", response_model=UserOut, responses=error_responses(401, 503))
async def read_me(user: CurrentUser) -> UserOut:
    # async: no I/O here (the user was read by the dependency), so no thread-pool hop.
    return UserOut.model_validate(user)


@router.patch("/users/me", response_model=UserOut, responses=error_responses(401, 409, 422, 503))
@router.put("/users/me", response_model=UserOut, responses=error_responses(401, 409, 422, 503))
def update_me(body: ProfileUpdate, user: CurrentUser) -> UserOut:
    return UserOut.model_validate(
        service.update_profile(
            user, username=body.username, email=body.email, full_name=body.full_name
        )
    )


@router.post(
    "/users/me/password",
    responses=error_responses(401, 409, 422, 429, 503),
    summary="Change the password; every other session ends, this one gets fresh tokens",
)
def change_password(
    body: PasswordChange, request: Authenticated, auth: AuthServiceDep
) -> auth_schemas.TokensOut:
    pair = auth.change_password(request, body.current_password, body.new_password)
    return auth_schemas.TokensOut.model_validate(pair)


@router.post(
    "/users/me/mfa/recovery-codes",
    response_model=RecoveryCodesOut,
    responses=error_responses(401, 422, 429, 503),
    summary="Replace the recovery codes (password and a current TOTP code required)",
)
def regenerate_recovery_codes(
    body: RecoveryCodesRequest, request: Authenticated, auth: AuthServiceDep
) -> RecoveryCodesOut:
    return RecoveryCodesOut(
        recovery_codes=auth.regenerate_recovery_codes(request, body.password, body.code)
    )


@router.post(
    "/users",
    response_model=UserOut,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(401, 403, 409, 422, 503),
    summary="Create a user (admin). The user enrolls TOTP at first login.",
)
def create_user(
    body: UserCreate, _: CurrentAdmin, settings: SettingsDep, request: Request, response: Response
) -> UserOut:
    user = service.create_user(
        settings,
        username=body.username,
        email=body.email,
        password=body.password,
        full_name=body.full_name,
        role=body.role,
    )
    response.headers["Location"] = str(request.url_for("read_user", user_id=user.id).path)
    return UserOut.model_validate(user)


@router.get(
    "/users",
    response_model=UserPage,
    responses=error_responses(401, 403, 422, 503),
    summary="List users (admin), oldest first, filtered by role and disabled",
)
def list_users(
    _: CurrentAdmin,
    cursor_key: CursorKeyDep,
    limit: PageLimit = 50,
    cursor: PageCursor = None,
    role: Role | None = None,
    disabled: bool | None = None,
) -> UserPage:
    users, next_cursor = service.list_users(
        limit=limit, cursor=cursor, role=role, disabled=disabled, cursor_key=cursor_key
    )
    return UserPage(items=[UserOut.model_validate(user) for user in users], next_cursor=next_cursor)


@router.get(
    "/users/{user_id}",
    response_model=UserOut,
    responses=error_responses(401, 403, 404, 503),
    summary="Read any user (admin)",
)
def read_user(user_id: UserId, _: CurrentAdmin) -> UserOut:
    return UserOut.model_validate(service.get_user(user_id))


@router.patch(
    "/users/{user_id}",
    response_model=UserOut,
    responses=error_responses(401, 403, 404, 409, 422, 503),
    summary="Change a user (admin): role, disabled, email, full name",
)
def update_user(
    user_id: UserId, body: AdminUserUpdate, _: CurrentAdmin, settings: SettingsDep
) -> UserOut:
    return UserOut.model_validate(
        service.admin_update(
            settings,
            user_id,
            email=body.email,
            full_name=body.full_name,
            role=body.role,
            disabled=body.disabled,
        )
    )


@router.delete(
    "/users/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(401, 403, 404, 409, 503),
    summary="Delete a user with its claims and sessions (admin)",
)
def delete_user(user_id: UserId, _: CurrentAdmin, settings: SettingsDep) -> None:
    service.delete_user(settings, user_id)


@router.post(
    "/users/{user_id}/mfa/reset",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(401, 403, 404, 503),
    summary="Remove a user's TOTP and recovery codes and end their sessions (admin)",
)
def reset_mfa(user_id: UserId, _: CurrentAdmin, settings: SettingsDep) -> None:
    service.reset_mfa(settings, user_id)
