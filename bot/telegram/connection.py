"""Telegram's rules for the connection settings: the token's form, the Bot API address, and a
webhook's address, port and secret.

Kept here, at the Telegram edge, and used both by the settings (so `check` and start-up reject bad
values with exit status 2) and by the service (which can be configured without the settings, as
the tests do). No message here ever holds the token.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from pydantic import SecretStr

TOKEN = re.compile(r"^[0-9]+:[A-Za-z0-9_-]+$")  # 123456789:AAHk3... (BotFather's form)
WEBHOOK_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
WEBHOOK_PORTS = (443, 80, 88, 8443)  # the ports Telegram posts updates to
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*$")


def token_problem(token: SecretStr | None) -> str | None:
    """Why `token` cannot be a bot token, or None (also None when there is no token)."""
    if token is None:
        return None
    value = token.get_secret_value()
    if value != value.strip() or any(c.isspace() for c in value):
        return ("BOT_TOKEN holds spaces or a line break (copied with the end of the line?); remove them, "
                "leaving only the token, like 123456789:AAHk3...")
    if not TOKEN.match(value):
        return ("BOT_TOKEN does not look like a bot token (digits, a colon, then letters, digits, _ and -, "
                "like 123456789:AAHk3...); copy it again from @BotFather")
    return None


def base_url_problem(url: str, token: SecretStr | None) -> str | None:
    """Why `url` cannot be the Bot API server's address, or None. The address is only echoed when it
    does not hold the token."""
    secret = token.get_secret_value() if token else ""
    if secret and (secret in url or secret.partition(":")[2] in url):
        return ("BOT_API_BASE_URL holds the bot token: give the server's address only, like "
                "https://api.telegram.org; the bot adds /bot<token> itself")
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return (f"BOT_API_BASE_URL must be a full http:// or https:// address, like https://api.telegram.org "
                f"(got {url!r})")
    if parts.path.rstrip("/").lower().endswith("/bot"):
        return (f"BOT_API_BASE_URL ends in /bot (got {url!r}): give the server's root only, like "
                "https://api.telegram.org; the bot adds /bot<token> itself")
    return None


def webhook_problem(url: str | None, secret: SecretStr | None, listen: str = "127.0.0.1") -> str | None:
    """Why these webhook settings cannot work, or None (also None when no webhook is set)."""
    if not url:
        return None
    parts = urlsplit(url)
    try:
        port = parts.port or 443
    except ValueError:
        port = -1
    if parts.scheme != "https" or not parts.hostname or port < 0:
        return f"BOT_WEBHOOK_URL must be a full https:// address, like https://bot.example.org/telegram (got {url!r})"
    if port not in WEBHOOK_PORTS:
        return (f"BOT_WEBHOOK_URL uses port {port}, but Telegram only posts to ports 443, 80, 88 and 8443 "
                f"(got {url!r}); let your HTTPS proxy listen on one of them")
    if not secret:
        return (
            "BOT_WEBHOOK_URL is set but BOT_WEBHOOK_SECRET is not. The webhook needs a secret so that only "
            "Telegram can post updates: put a random string of letters, digits, _ and - (up to 256) in .env, "
            "e.g. BOT_WEBHOOK_SECRET=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    if not WEBHOOK_SECRET.match(secret.get_secret_value()):
        return "BOT_WEBHOOK_SECRET may only hold 1-256 characters A-Z, a-z, 0-9, _ and -"
    return listen_problem(listen)


def listen_problem(listen: str) -> str | None:
    """Why the webhook server cannot listen on `listen`, or None: an IP address or a host name."""
    try:
        ipaddress.ip_address(listen)
        return None
    except ValueError:
        pass
    if HOSTNAME.match(listen) and not re.fullmatch(r"[0-9.]+", listen):
        return None
    return (f"BOT_WEBHOOK_LISTEN must be an IP address or host name to listen on, like 127.0.0.1 or 0.0.0.0 "
            f"(got {listen!r})")


def connection_problem(token: SecretStr | None, api_base_url: str, webhook_url: str | None,
                       webhook_secret: SecretStr | None, webhook_listen: str) -> str | None:
    """The first reason these settings cannot connect to Telegram, or None."""
    return (token_problem(token) or base_url_problem(api_base_url, token)
            or webhook_problem(webhook_url, webhook_secret, webhook_listen))
