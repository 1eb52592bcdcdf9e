"""Serverless user-management API with TOTP two-factor authentication.

This runs before any module of the app, so it is where third-party modules that other
libraries import without using them at import are registered to run on first use
(core/lazy_imports.py). Each would otherwise run on every cold start:

* email-validator: FastAPI imports it when it is installed, to choose a type for the
  e-mail field of its OpenAPI models; importing it compiles regular expressions over
  the whole of Unicode (~30 ms). The app validates addresses with it where one is set
  (users/domain.py), and that first use runs it.
* cryptography's X.509 package: PyJWT imports it for keys given as certificates, which
  this service never uses (its signing keys are Ed25519, security/keys.py); importing
  it compiles X.509's name parsers (~15-25 ms). Passkey attestation (webauthn) reads it.
"""

from authapi.core.lazy_imports import imported_on_first_use

for _name in ("email_validator", "cryptography.x509"):
    imported_on_first_use(_name)
