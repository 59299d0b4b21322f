"""Telegram's rules for a webhook: an https address and a secret of the characters Telegram accepts.

Kept here, at the Telegram edge, and used both by the settings (to reject bad values at start-up)
and by the service (which can be configured without the settings, as the tests do)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from pydantic import SecretStr

WEBHOOK_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


def webhook_problem(url: str | None, secret: SecretStr | None) -> str | None:
    """Why these webhook settings cannot work, or None (also None when no webhook is set)."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        return f"BOT_WEBHOOK_URL must be a full https:// address, like https://bot.example.org/telegram (got {url!r})"
    if not secret:
        return (
            "BOT_WEBHOOK_URL is set but BOT_WEBHOOK_SECRET is not. The webhook needs a secret so that only "
            "Telegram can post updates: put a random string of letters, digits, _ and - (up to 256) in .env, "
            "e.g. BOT_WEBHOOK_SECRET=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    if not WEBHOOK_SECRET.match(secret.get_secret_value()):
        return "BOT_WEBHOOK_SECRET may only hold 1-256 characters A-Z, a-z, 0-9, _ and -"
    return None
