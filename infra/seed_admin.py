"""Create the first admin, already enrolled in TOTP.

    python -m infra.seed_admin --username U --email E
        [--password-stdin | --generate-password] [--json]
        [--endpoint-url URL | --stack-name STACK | --table TABLE] [--region R]

The password comes from a prompt (when run in a terminal), from standard input with
--password-stdin, or is generated and printed once. The otpauth:// URI is printed on
a line of its own, followed by a QR code to scan. Running it again for an existing
username changes nothing and exits with status 1.
"""

from __future__ import annotations

import argparse
import getpass
import json
import secrets
import sys
from dataclasses import dataclass

import segno

from authapi.core import db
from authapi.core.config import Settings
from authapi.core.errors import DomainError, EmailTaken, UsernameTaken
from authapi.security import totp
from authapi.security.keys import load_totp_secret_keys
from authapi.security.recovery_codes import new_recovery_codes
from authapi.users import service
from authapi.users.domain import Role
from infra.target import add_target_arguments, point_at_target

GENERATED_PASSWORD_BYTES = 18  # 24 URL-safe characters, 144 bits


@dataclass(frozen=True)
class SeededAdmin:
    user_id: str
    username: str
    otpauth_uri: str
    recovery_codes: list[str]
    generated_password: str | None


class AlreadyExists(Exception):
    pass


def seed_admin(
    settings: Settings,
    username: str,
    email: str,
    password: str | None,
    full_name: str | None = None,
) -> SeededAdmin:
    """Create the admin in the settings' table (bound here, as at the API's start-up)."""
    db.bind(settings)
    generated = None
    if password is None:
        password = generated = secrets.token_urlsafe(GENERATED_PASSWORD_BYTES)
    secret = totp.new_secret()
    recovery_codes = new_recovery_codes()
    try:
        user = service.create_user(
            settings,
            username=username,
            email=email,
            password=password,
            full_name=full_name,
            role=Role.ADMIN,
            enrollment=service.Enrollment(secret, recovery_codes, load_totp_secret_keys(settings)),
        )
    except (UsernameTaken, EmailTaken) as exc:
        raise AlreadyExists(exc.detail) from exc
    return SeededAdmin(
        user_id=user.id,
        username=user.username,
        otpauth_uri=totp.provisioning_uri(secret, user.username, settings.totp_issuer),
        recovery_codes=recovery_codes,
        generated_password=generated,
    )


def _read_password(args: argparse.Namespace) -> str | None:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if args.generate_password or not sys.stdin.isatty():
        return None
    first = getpass.getpass("Password for the new admin (empty: generate one): ")
    if not first:
        return None
    if getpass.getpass("Repeat the password: ") != first:
        raise SystemExit("The passwords differ; nothing was created.")
    return first


def print_admin(admin: SeededAdmin, as_json: bool) -> None:
    if as_json:
        print(
            json.dumps(
                {
                    "user_id": admin.user_id,
                    "username": admin.username,
                    "otpauth_uri": admin.otpauth_uri,
                    "recovery_codes": admin.recovery_codes,
                    **({"password": admin.generated_password} if admin.generated_password else {}),
                }
            )
        )
        return
    print(f"Created admin {admin.username!r} (id {admin.user_id}).")
    if admin.generated_password:
        print("Generated password (shown once, store it now):")
        print(admin.generated_password)
    print("Add this account to your authenticator app (URI, then QR code):")
    print(admin.otpauth_uri)
    segno.make(admin.otpauth_uri, error="m").terminal(compact=True)
    print("Recovery codes (each works once if the phone is lost; store them now):")
    for code in admin.recovery_codes:
        print(f"  {code}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--username", required=True)
    parser.add_argument("--email", required=True)
    parser.add_argument("--full-name", default=None)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--password-stdin", action="store_true", help="read the password")
    source.add_argument("--generate-password", action="store_true")
    parser.add_argument("--json", action="store_true", help="print a JSON object")
    add_target_arguments(parser)
    args = parser.parse_args(argv)

    point_at_target(args)
    settings = Settings.from_env()
    try:
        admin = seed_admin(
            settings, args.username, args.email, _read_password(args), args.full_name
        )
    except AlreadyExists as exc:
        print(f"Nothing changed: {exc}", file=sys.stderr)
        return 1
    except DomainError as exc:
        print(f"Not created: {exc.detail}", file=sys.stderr)
        return 2
    print_admin(admin, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
