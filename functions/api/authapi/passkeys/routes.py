"""Passkey routes: the signed-in user's passkeys, the admin's view of anyone's, and
the passkey sign-ins. Thin: parse, call, return. The routes of /users/me come before
those of /users/{user_id}, so "me" is never read as a user id."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Path, Response, status

from authapi.core.lazy_imports import imported_on_first_use
from authapi.deps import Authenticated, CurrentAdmin, PasskeyServiceDep, SettingsDep
from authapi.http_errors import error_responses
from authapi.passkeys import service
from authapi.routing import DeferredAPIRoute

if TYPE_CHECKING:
    from authapi.auth import schemas as auth_schemas
    from authapi.passkeys import schemas
else:
    auth_schemas = imported_on_first_use("authapi.auth.schemas")
    schemas = imported_on_first_use("authapi.passkeys.schemas")

router = APIRouter(tags=["passkeys"], route_class=DeferredAPIRoute)

PasskeyId = Annotated[str, Path(min_length=1, max_length=128)]
UserId = Annotated[str, Path(min_length=1, max_length=64)]


@router.post(
    "/users/me/passkeys/options",
    responses=error_responses(401, 422, 429, 503),
    summary="Creation options for a new passkey (the password again)",
)
def registration_options(
    body: schemas.RegistrationOptionsRequest, request: Authenticated, passkeys: PasskeyServiceDep
) -> schemas.OptionsOut:
    return schemas.OptionsOut(publicKey=passkeys.registration_options(request, body.password))


@router.post(
    "/users/me/passkeys",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(401, 409, 422, 503),
    summary="Register the passkey the browser created with those options",
)
def register(
    body: schemas.PasskeyRegistration, request: Authenticated, passkeys: PasskeyServiceDep
) -> schemas.PasskeyOut:
    return schemas.PasskeyOut.model_validate(passkeys.register(request, body.credential, body.name))


@router.get(
    "/users/me/passkeys",
    responses=error_responses(401, 503),
    summary="The signed-in user's passkeys",
)
def list_mine(request: Authenticated, passkeys: PasskeyServiceDep) -> schemas.PasskeyList:
    return schemas.PasskeyList(
        items=[schemas.PasskeyOut.model_validate(p) for p in passkeys.list_mine(request)]
    )


@router.patch(
    "/users/me/passkeys/{passkey_id}",
    responses=error_responses(401, 404, 503),
    summary="Rename one of the signed-in user's passkeys",
)
def rename(
    passkey_id: PasskeyId,
    body: schemas.PasskeyRename,
    request: Authenticated,
    passkeys: PasskeyServiceDep,
) -> schemas.PasskeyOut:
    return schemas.PasskeyOut.model_validate(passkeys.rename(request, passkey_id, body.name))


@router.delete(
    "/users/me/passkeys/{passkey_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(401, 404, 503),
    summary="Remove one of the signed-in user's passkeys",
)
def remove_mine(passkey_id: PasskeyId, request: Authenticated, passkeys: PasskeyServiceDep) -> None:
    passkeys.remove_mine(request, passkey_id)


@router.get(
    "/users/{user_id}/passkeys",
    responses=error_responses(401, 403, 404, 503),
    summary="A user's passkeys (admin)",
)
def list_for_user(user_id: UserId, _: CurrentAdmin) -> schemas.PasskeyList:
    return schemas.PasskeyList(
        items=[schemas.PasskeyOut.model_validate(p) for p in service.list_for_user(user_id)]
    )


@router.delete(
    "/users/{user_id}/passkeys/{passkey_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(401, 403, 404, 503),
    summary="Remove a user's passkey (admin)",
)
def remove_for_user(
    user_id: UserId, passkey_id: PasskeyId, _: CurrentAdmin, settings: SettingsDep
) -> None:
    service.remove_for_user(settings, user_id, passkey_id)


@router.post(
    "/auth/mfa/passkey/options",
    responses=error_responses(401, 422, 429, 503),
    summary="Step two with a passkey: request options for the user's passkeys",
)
def mfa_options(
    body: auth_schemas.MfaTokenRequest, passkeys: PasskeyServiceDep
) -> schemas.OptionsOut:
    return schemas.OptionsOut(publicKey=passkeys.mfa_options(body.mfa_token))


@router.post(
    "/auth/passkey/options",
    responses=error_responses(503),
    summary="Passwordless sign-in: request options for a discoverable passkey",
)
def passwordless_options(
    _: schemas.PasswordlessOptionsRequest, passkeys: PasskeyServiceDep
) -> schemas.PasswordlessOptionsOut:
    options, token = passkeys.passwordless_options()
    return schemas.PasswordlessOptionsOut(publicKey=options, passkey_token=token)


@router.post(
    "/auth/passkey/verify",
    responses=error_responses(401, 422, 429, 503),
    summary="Passwordless sign-in: the passkey's answer, for tokens",
)
def verify_passwordless(
    body: schemas.PasswordlessVerifyRequest, passkeys: PasskeyServiceDep
) -> auth_schemas.TokensOut:
    return auth_schemas.TokensOut.model_validate(
        passkeys.verify_passwordless(body.passkey_token, body.credential)
    )
