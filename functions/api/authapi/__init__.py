"""Serverless user-management API with TOTP two-factor authentication."""
