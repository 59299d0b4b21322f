"""Settings, read once at the entry point (`bot.cli`) and passed down as plain values.

Sources, highest priority first: environment variables (prefix ``BOT_``), a
``.env`` file in the working directory, the settings file (``config/bot.toml``
by default, or ``--config FILE``), then the defaults below. README.md lists
every setting; `config/bot.toml` documents each one in a comment.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from dotenv import dotenv_values
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)
from pydantic_settings import SettingsError as PydanticSettingsError

from bot.answers import MIN_MATCH
from bot.retrieval.library import DEFAULT_ENGINE, SPARSE_FROM, Engine
from bot.telegram.connection import connection_problem

DEFAULT_CONFIG_FILE = Path("config/bot.toml")
ENV_PREFIX = "BOT_"

IdList = Annotated[tuple[int, ...], NoDecode]
AddressList = Annotated[tuple[str, ...], NoDecode]


class SettingsError(Exception):
    """Settings are invalid; the message names each bad setting and how to fix it."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
        toml_file=DEFAULT_CONFIG_FILE,
    )

    # The corpus and answers
    corpus_dir: Path = Field(Path("corpus"), description="Folder holding the article files (.md or .txt).")
    top_k: int = Field(3, ge=1, le=10, description="Most excerpts in one answer.")
    min_match: float = Field(
        MIN_MATCH,
        ge=0.0,
        le=1.0,
        description="Share of a question's term weight an excerpt must hold for a confident answer; below it "
        "the bot quotes the closest passages as such, or says the corpus has nothing on it. Lower answers "
        "more confidently, higher hedges more.",
    )
    max_file_bytes: int = Field(
        2_000_000, ge=1_000, le=100_000_000, description="Corpus files larger than this are skipped with a warning."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Logging level.")
    log_format: Literal["text", "json"] = Field(
        "text", description="Log lines as text, or json: one JSON object a line with the same fields (time, level, "
        "logger, message, exception), for a log collector.",
    )
    engine: Engine = Field(
        DEFAULT_ENGINE,
        description="Ranking engine: rank-bm25 (the reference), sparse (the same scores, fast on large corpora) "
        "or auto (sparse from BOT_SPARSE_FROM passages on).",
    )
    sparse_from: int = Field(
        SPARSE_FROM, ge=1, le=1_000_000_000,
        description="With engine auto: corpus size (passages) from which the sparse engine ranks.",
    )
    index_cache_dir: Path | None = Field(
        Path(".cache/index"),
        description="Folder where the index is kept between runs, so a restart reads no article and a changed "
        "corpus analyzes only the changed files; empty: no cache.",
    )

    # The operator's view: the question log, health and metrics
    log_questions: bool = Field(
        True, description="Keep the question log (README: What the bot stores): each question, its outcome, quoted "
        "passages, latency and feedback, for /stats, python -m bot stats and feedback export. false: no log and no "
        "feedback buttons.",
    )
    log_db: Path = Field(
        Path("data/questions.sqlite3"), description="The question log's SQLite file (made at start; its salt is kept "
        "beside it in <file>.salt).",
    )
    log_days: int = Field(90, ge=1, le=3650, description="Days a question (and its feedback) is kept in the log.")
    health_port: int | None = Field(
        None, ge=1, le=65535, description="Port of the HTTP endpoint with /healthz and /metrics (Prometheus); unset: "
        "no endpoint.",
    )
    health_listen: str = Field("127.0.0.1", description="Address the health and metrics endpoint listens on.")

    # Adding articles (python -m bot add, and feeds the running bot follows)
    fetch_timeout: float = Field(
        20.0, ge=1.0, le=600.0, description="Seconds one download (a page, a PDF, a feed) may take, connecting "
        "included, before it is given up.",
    )
    fetch_max_bytes: int = Field(
        20_000_000, ge=10_000, le=1_000_000_000, description="Largest page, PDF or feed to download or read; a "
        "larger one is reported and left out.",
    )
    feeds: AddressList = Field(
        (), description="RSS or Atom feed addresses the running bot follows, adding their new articles to the "
        "corpus (separated by spaces or commas). Needs the ingest extra.",
    )
    feed_interval: int = Field(
        1800, ge=60, le=604_800, description="Seconds between two checks of BOT_FEEDS.",
    )

    # Telegram
    token: SecretStr | None = Field(None, description="Bot token from @BotFather. Without it the bot runs locally.")
    api_base_url: str = Field(
        "https://api.telegram.org",
        description="Bot API server; point it at a self-hosted telegram-bot-api server if you run one.",
    )
    allowed_chat_ids: IdList = Field((), description="If set, only these chats get answers (comma-separated ids).")
    allowed_user_ids: IdList = Field((), description="If set, only these users get answers (comma-separated ids).")
    admin_ids: IdList = Field((), description="Users who may run admin commands such as /reload (comma-separated).")
    user_questions_per_minute: int = Field(
        20, ge=1, le=1000, description="Questions one user may ask per minute before being asked to slow down; "
        "commands and button presses have a limit of the same size of their own."
    )
    example_questions: tuple[str, ...] = Field(
        (
            "Why did Russia deploy border guards in Syunik?",
            "Who is the commander of Russia's Southern Military District?",
            "When did Pashinyan and Putin meet in Moscow?",
        ),
        max_length=10,
        description="Example questions /start and /help suggest (those the corpus cannot answer are left out; "
        "article titles fill in). In the environment, a JSON list.",
    )
    webhook_url: str | None = Field(
        None, description="Public HTTPS URL Telegram should post updates to; unset means long polling."
    )
    webhook_listen: str = Field("127.0.0.1", description="Address the webhook server listens on.")
    webhook_port: int = Field(8443, ge=1, le=65535, description="Port the webhook server listens on.")
    update_store: Path | None = Field(
        Path(".cache/updates.sqlite3"),
        description="SQLite file where each received update is kept until it is answered, so that a crash or "
        "kill loses no question (what is pending is answered at the next start); empty: not kept.",
    )
    stop_timeout: float = Field(
        10.0, ge=0, le=3600, description="Seconds the bot takes after SIGTERM to finish the answers under way; "
        "what is left is kept in BOT_UPDATE_STORE and answered at the next start.",
    )
    webhook_secret: SecretStr | None = Field(
        None,
        description="Secret Telegram sends in the X-Telegram-Bot-Api-Secret-Token header; required with "
        "BOT_WEBHOOK_URL (1-256 characters A-Z a-z 0-9 _ -).",
    )

    @field_validator("allowed_chat_ids", "allowed_user_ids", "admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        """Ids written `1,2,3` (or a TOML list, or one number). Strict, since a list read wrong can open
        the bot to everyone: only ASCII digits with an optional minus (no `1_000`, no `true`), and a
        value of separators only (`,`) is an error, not an empty list."""
        if isinstance(value, str):
            if not value.strip():
                return ()
            parts = [part for part in re.split(r"[,;\s]+", value) if part]
            if not parts:
                raise ValueError("holds no id, only separators; leave it empty to allow everyone, or list ids "
                                 "like 12345,-100987")
            return tuple(_id(part) for part in parts)
        if isinstance(value, (list, tuple)):
            return tuple(_id(part) for part in value)
        return (_id(value),)

    @field_validator("corpus_dir", mode="before")
    @classmethod
    def _corpus_dir_is_named(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            raise ValueError("is empty (it would read the working folder); name the folder holding the articles, "
                             "or leave it unset for corpus")
        return value

    @field_validator("feeds", mode="before")
    @classmethod
    def _split_addresses(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.replace(",", " ").split()
        if isinstance(value, (list, tuple)):
            bad = [v for v in value if not isinstance(v, str) or not v.lower().startswith(("http://", "https://"))]
            if bad:
                raise ValueError(f"feed addresses must start with http:// or https:// (not {bad[0]!r})")
        return value

    @field_validator("token", "webhook_secret", "index_cache_dir", "update_store", "health_port", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _telegram_is_reachable(self) -> Settings:
        problem = connection_problem(self.token, self.api_base_url, self.webhook_url, self.webhook_secret,
                                     self.webhook_listen)
        if problem:
            raise ValueError(problem)
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, dotenv_settings, TomlConfigSettingsSource(settings_cls))


_SECRET_FIELDS = frozenset({"token", "webhook_secret"})
_ID = re.compile(r"-?[0-9]+")


def _id(value: object) -> int:
    """One chat or user id: an int (not a bool or float), or a string of ASCII digits."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _ID.fullmatch(value.strip()):
        return int(value)
    raise ValueError(f"{value!r} is not an id: expected whole numbers separated by commas, like 12345,-100987")


def unknown_keys_problem(config_file: Path) -> str | None:
    """Why the settings file has keys that are no setting (a misspelt key, or a [table]: settings are
    top-level), or None. A misspelt allowed_user_ids would otherwise leave the bot open to everyone."""
    try:
        data = tomllib.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None  # reported by the settings source, with its reason
    known = list(Settings.model_fields)
    problems = []
    for key, value in data.items():
        if key in known:
            continue
        if isinstance(value, dict):
            inner = ", ".join(sorted(value))
            problems.append(f"[{key}] is a table, but settings are not grouped: write its keys ({inner}) at the top "
                            f"of the file, before any [table]")
            continue
        nearest = difflib.get_close_matches(key.lower(), known, n=1, cutoff=0.6)
        hint = f"; did you mean {nearest[0]}?" if nearest else ""
        problems.append(f"{key} is not a setting{hint}")
    if not problems:
        return None
    return f"unknown settings in {config_file}: " + "; ".join(problems) + " (README: Settings lists them all)"


def environment_warnings(environ: Mapping[str, str] | None = None, dotenv: Path = Path(".env")) -> list[str]:
    """`BOT_` variables (in the environment or .env) that are no setting: ignored, but worth a warning."""
    environ = os.environ if environ is None else environ
    names = {name for name in environ if name.upper().startswith(ENV_PREFIX)}
    with contextlib.suppress(OSError, UnicodeDecodeError):
        names |= {name for name in dotenv_values(dotenv) if name.upper().startswith(ENV_PREFIX)}
    known = [ENV_PREFIX + field.upper() for field in Settings.model_fields]
    warnings = []
    for name in sorted(names):
        if name.upper() in known:
            continue
        nearest = difflib.get_close_matches(name.upper(), known, n=1, cutoff=0.6)
        hint = f" (did you mean {nearest[0]}?)" if nearest else ""
        warnings.append(f"{name} is not a setting{hint}; it is ignored")
    return warnings


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Read settings from all sources; raise SettingsError with a readable message."""
    if config_file is not None and not config_file.is_file():
        raise SettingsError(f"settings file {config_file} does not exist; check the --config path")
    file = config_file or DEFAULT_CONFIG_FILE
    problem = unknown_keys_problem(file) if file.is_file() else None
    if problem:
        raise SettingsError(problem)
    try:
        return _settings_reading(config_file)(**overrides)
    except ValidationError as error:
        lines = []
        for detail in error.errors():
            field = "_".join(str(part) for part in detail["loc"])
            if not field:  # a check over several settings: its message names them
                lines.append(detail["msg"].removeprefix("Value error, "))
                continue
            name = ENV_PREFIX + field.upper()
            # Never echo a secret's value, not even a mistyped one.
            got = "" if field in _SECRET_FIELDS else f" (got {detail.get('input')!r})"
            lines.append(f"{name}: {detail['msg']}{got}")
        # One line, like every other error the CLI prints.
        raise SettingsError(
            "invalid settings: " + "; ".join(lines) + "; fix them in the environment, .env or the settings file"
        ) from None
    except PydanticSettingsError as error:  # a value no source could parse, e.g. a list from the environment
        raise SettingsError(f"cannot read the settings: {error}") from None
    except Exception as error:  # a malformed TOML or .env file
        source = config_file or f"{DEFAULT_CONFIG_FILE} or .env"
        raise SettingsError(f"cannot read the settings in {source}: {error}") from None


def _settings_reading(config_file: Path | None) -> type[Settings]:
    """`Settings`, or (given `--config FILE`) a subclass whose settings file is FILE: the TOML source
    takes its file from the class's config, and pydantic merges a subclass's config over its parent's."""
    if config_file is None:
        return Settings

    class SettingsFromFile(Settings):
        model_config = SettingsConfigDict(toml_file=config_file)

    return SettingsFromFile
