"""The signed-in user's profile and the admin's user management. Thin routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response, status

from authapi.deps import CurrentAdmin, CurrentUser, SettingsDep
from authapi.http_errors import error_responses
from authapi.users import service
from authapi.users.schemas import ProfileUpdate, UserCreate, UserOut

router = APIRouter(tags=["users"])


@router.get("/users/me", response_model=UserOut, responses=error_responses(401, 503))
def read_me(user: CurrentUser) -> UserOut:
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
    "/users/{user_id}",
    response_model=UserOut,
    responses=error_responses(401, 403, 404, 503),
    summary="Read any user (admin)",
)
def read_user(
    user_id: Annotated[str, Path(min_length=1, max_length=64)], _: CurrentAdmin
) -> UserOut:
    return UserOut.model_validate(service.get_user(user_id))
