"""The end users' account page (`GET /account`): sign-in, TOTP enrollment and profile.

Plain HTML, CSS and JavaScript shipped inside the package: no CDN, no build step.
"""
