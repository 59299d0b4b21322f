"""Settings: environment (BOT_ prefix) over .env over the settings file over defaults; readable
errors naming the setting; the token is a secret and never printed."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from bot import cli
from bot.settings import Settings, SettingsError, load_settings
from conftest import CORPUS, DEFAULTS, ROOT, run_bot

TOKEN = "123456789:AAE-very-secret-token-value_xyz"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# --- sources and their priority ---------------------------------------------------------------


def test_defaults_without_any_source(workdir):
    settings = load_settings()
    assert settings.corpus_dir == Path("corpus")
    assert settings.top_k == DEFAULTS.top_k
    assert settings.min_match == DEFAULTS.min_match
    assert settings.token is None
    assert settings.allowed_chat_ids == () and settings.admin_ids == ()


def test_environment_variables_use_the_bot_prefix(workdir, monkeypatch):
    monkeypatch.setenv("BOT_TOP_K", "5")
    monkeypatch.setenv("TOP_K", "9")  # without the prefix: not ours
    monkeypatch.setenv("BOT_CORPUS_DIR", "/srv/articles")
    settings = load_settings()
    assert settings.top_k == 5
    assert settings.corpus_dir == Path("/srv/articles")


def test_dotenv_file_in_the_working_directory_is_read(workdir):
    write(workdir / ".env", "BOT_TOP_K=4\nBOT_MIN_MATCH=0.5\n# a comment\nOTHER_TOOL_SETTING=1\n")
    settings = load_settings()
    assert (settings.top_k, settings.min_match) == (4, 0.5)


def test_settings_file_given_with_config(workdir):
    config = write(workdir / "elsewhere" / "my.toml", 'top_k = 6\ncorpus_dir = "articles"\nlog_level = "DEBUG"\n')
    settings = load_settings(config)
    assert (settings.top_k, settings.corpus_dir, settings.log_level) == (6, Path("articles"), "DEBUG")


def test_default_settings_file_is_config_bot_toml_in_the_working_directory(workdir):
    write(workdir / "config" / "bot.toml", "top_k = 7\n")
    assert load_settings().top_k == 7


def test_priority_environment_then_dotenv_then_file(workdir, monkeypatch):
    config = write(workdir / "bot.toml", "top_k = 6\nmin_match = 0.6\nmax_file_bytes = 5000\n")
    write(workdir / ".env", "BOT_TOP_K=4\nBOT_MIN_MATCH=0.5\n")
    monkeypatch.setenv("BOT_TOP_K", "2")
    settings = load_settings(config)
    assert settings.top_k == 2  # environment beats .env and file
    assert settings.min_match == 0.5  # .env beats file
    assert settings.max_file_bytes == 5000  # file beats default


def test_shipped_settings_file_is_valid_and_documents_the_real_defaults(workdir, monkeypatch):
    """config/bot.toml lists every setting commented out; uncommented, they must load, and the
    ones it presents as defaults must be the defaults in the code."""
    monkeypatch.setenv("BOT_WEBHOOK_SECRET", "secret-from-env")  # the example webhook needs one
    shipped = (ROOT / "config" / "bot.toml").read_text(encoding="utf-8")
    assert load_settings(ROOT / "config" / "bot.toml").model_dump() == load_settings().model_dump()
    lines = re.findall(r"(?m)^# ?([a-z_]+ = .+)$", shipped)
    uncommented = write(workdir / "all.toml", "\n".join(lines) + "\n")
    settings = load_settings(uncommented)
    values = tomllib.loads(uncommented.read_text(encoding="utf-8"))
    for name in ("corpus_dir", "top_k", "min_match", "max_file_bytes", "log_level", "api_base_url",
                 "user_questions_per_minute", "webhook_listen", "webhook_port"):
        assert name in values, f"config/bot.toml does not document {name}"
        assert getattr(settings, name) == getattr(DEFAULTS, name), name
    documented = set(values) | {"token", "webhook_secret"}  # secrets belong in .env, not the file
    assert documented == set(Settings.model_fields)


def test_a_webhook_needs_https_and_a_secret_before_anything_starts(workdir, monkeypatch):
    monkeypatch.setenv("BOT_WEBHOOK_URL", "https://bot.example.org/telegram")
    with pytest.raises(SettingsError, match="BOT_WEBHOOK_SECRET is not"):
        load_settings()
    monkeypatch.setenv("BOT_WEBHOOK_SECRET", "s3cret_value")
    monkeypatch.setenv("BOT_WEBHOOK_URL", "http://bot.example.org/telegram")
    with pytest.raises(SettingsError, match="https://") as raised:
        load_settings()
    assert "s3cret_value" not in str(raised.value)
    monkeypatch.setenv("BOT_WEBHOOK_URL", "https://bot.example.org/telegram")
    assert load_settings().webhook_secret.get_secret_value() == "s3cret_value"


# --- id lists ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "ids"),
    [("1,2,3", (1, 2, 3)), ("1, 2", (1, 2)), (" 12345 ", (12345,)), ("-1001234567890,42", (-1001234567890, 42)),
     ("", ())],
)
def test_id_lists_from_the_environment(workdir, monkeypatch, raw, ids):
    monkeypatch.setenv("BOT_ALLOWED_CHAT_IDS", raw)
    monkeypatch.setenv("BOT_ALLOWED_USER_IDS", raw)
    monkeypatch.setenv("BOT_ADMIN_IDS", raw)
    settings = load_settings()
    assert settings.allowed_chat_ids == settings.allowed_user_ids == settings.admin_ids == ids


def test_id_lists_from_the_settings_file(workdir):
    config = write(workdir / "ids.toml", "allowed_chat_ids = [-100123, 5]\nadmin_ids = 7\n")
    settings = load_settings(config)
    assert settings.allowed_chat_ids == (-100123, 5)
    assert settings.admin_ids == (7,)


def test_id_list_with_a_non_number_names_the_setting(workdir, monkeypatch):
    monkeypatch.setenv("BOT_ADMIN_IDS", "12, bob")
    with pytest.raises(SettingsError, match="BOT_ADMIN_IDS"):
        load_settings()


# --- bad values: a readable one-line error naming the setting; exit code 2 from the CLI ------


BAD = [
    ("BOT_TOP_K", "0"),
    ("BOT_TOP_K", "11"),
    ("BOT_TOP_K", "three"),
    ("BOT_MIN_MATCH", "1.5"),
    ("BOT_MIN_MATCH", "-0.1"),
    ("BOT_MAX_FILE_BYTES", "10"),
    ("BOT_USER_QUESTIONS_PER_MINUTE", "0"),
    ("BOT_WEBHOOK_PORT", "70000"),
    ("BOT_LOG_LEVEL", "LOUD"),
]


@pytest.mark.parametrize(("name", "value"), BAD, ids=[f"{n}={v}" for n, v in BAD])
def test_bad_value_gives_an_error_naming_the_setting_and_the_value(workdir, monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as raised:
        load_settings()
    message = str(raised.value)
    assert name in message and value in message
    assert "\n" not in message


@pytest.mark.parametrize(("name", "value"), BAD[:4], ids=[f"{n}={v}" for n, v in BAD[:4]])
def test_cli_exits_2_with_one_error_line_for_a_bad_value(workdir, monkeypatch, capsys, name, value):
    monkeypatch.setenv("BOT_CORPUS_DIR", str(CORPUS))
    monkeypatch.setenv(name, value)
    assert cli.main(["check"]) == 2
    out, err = capsys.readouterr()
    assert err.startswith("error: ") and err.count("\n") == 1 and name in err
    assert out == ""


def test_bad_value_in_the_settings_file_names_the_setting(workdir, capsys):
    config = write(workdir / "bot.toml", "top_k = 50\n")
    assert cli.main(["--config", str(config), "check"]) == 2
    assert "BOT_TOP_K" in capsys.readouterr().err


def test_several_bad_values_are_all_named(workdir, monkeypatch):
    monkeypatch.setenv("BOT_TOP_K", "0")
    monkeypatch.setenv("BOT_WEBHOOK_PORT", "0")
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert "BOT_TOP_K" in str(raised.value) and "BOT_WEBHOOK_PORT" in str(raised.value)


@pytest.mark.parametrize("text", ["top_k = \n", "top_k = 3\ntop_k = 4\n", "[unclosed\n", "top_k: 3\n"])
def test_malformed_settings_file_names_the_file_and_exits_2(workdir, capsys, text):
    config = write(workdir / "broken.toml", text)
    with pytest.raises(SettingsError, match=r"broken\.toml"):
        load_settings(config)
    assert cli.main(["--config", str(config), "check"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "broken.toml" in err and err.count("\n") == 1
    assert "Traceback" not in err


def test_malformed_default_settings_file_is_an_error_too(workdir, capsys):
    write(workdir / "config" / "bot.toml", "top_k = = 3\n")
    assert cli.main(["check"]) == 2
    assert "config/bot.toml" in capsys.readouterr().err


def test_missing_settings_file_given_with_config(workdir, capsys):
    assert cli.main(["--config", "nope.toml", "check"]) == 2
    err = capsys.readouterr().err
    assert "nope.toml" in err and "--config" in err


# --- the token is a secret --------------------------------------------------------------------


def test_token_is_a_secret_and_not_shown_by_repr(workdir, monkeypatch):
    monkeypatch.setenv("BOT_TOKEN", TOKEN)
    settings = load_settings()
    assert isinstance(settings.token, SecretStr)
    assert settings.token.get_secret_value() == TOKEN
    assert TOKEN not in repr(settings) and TOKEN not in str(settings)
    assert TOKEN not in str(settings.model_dump())


def test_blank_token_means_no_token(workdir, monkeypatch):
    monkeypatch.setenv("BOT_TOKEN", "  ")
    assert load_settings().token is None


def test_token_of_the_wrong_type_is_not_echoed_in_the_error(workdir):
    config = write(workdir / "bot.toml", "token = 123456789\nwebhook_secret = [\"s3cr3t-value\"]\n")
    with pytest.raises(SettingsError) as raised:
        load_settings(config)
    message = str(raised.value)
    assert "BOT_TOKEN" in message and "BOT_WEBHOOK_SECRET" in message
    assert "123456789" not in message and "s3cr3t-value" not in message


def test_check_reports_the_token_as_set_without_printing_it(tmp_path):
    result = run_bot("check", cwd=tmp_path, env={"BOT_TOKEN": TOKEN, "BOT_CORPUS_DIR": str(CORPUS),
                                                 "BOT_LOG_LEVEL": "DEBUG"})
    assert result.returncode == 0, result.stderr
    assert TOKEN not in result.stdout + result.stderr
    assert "AAE-very-secret" not in result.stdout + result.stderr
    assert "token set" in result.stdout


def test_settings_are_read_only(workdir):
    settings = load_settings()
    with pytest.raises(ValidationError):
        settings.top_k = 5  # type: ignore[misc]


# --- unknown keys, strict id lists, an empty corpus folder -------------------------------------------


@pytest.mark.parametrize(("text", "says"), [
    ("alowed_user_ids = [5]\n", "alowed_user_ids is not a setting; did you mean allowed_user_ids?"),
    ("topk = 5\n", "topk is not a setting; did you mean top_k?"),
    ("[telegram]\nallowed_user_ids = [5]\n", "[telegram] is a table, but settings are not grouped"),
], ids=["misspelt", "topk", "table"])
def test_an_unknown_key_in_the_settings_file_is_an_error_naming_it_and_the_nearest_setting(workdir, text, says):
    """A misspelt allowed_user_ids, or the right key under a [telegram] table, used to leave the bot
    open to everyone without a word."""
    write(workdir / "config" / "bot.toml", text)
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert says in str(raised.value) and "config/bot.toml" in str(raised.value)
    assert cli.main(["check"]) == 2


def test_an_unknown_bot_variable_is_a_warning(workdir, monkeypatch, capsys):
    monkeypatch.setenv("BOT_TOPK", "5")
    write(workdir / ".env", "BOT_ALOWED_USER_IDS=5\nOTHER_TOOL=1\n")
    monkeypatch.setenv("BOT_CORPUS_DIR", str(CORPUS))
    assert cli.main(["check"]) == 0
    err = capsys.readouterr().err
    assert "warning: BOT_TOPK is not a setting (did you mean BOT_TOP_K?)" in err
    assert "warning: BOT_ALOWED_USER_IDS is not a setting (did you mean BOT_ALLOWED_USER_IDS?)" in err
    assert "OTHER_TOOL" not in err


@pytest.mark.parametrize("raw", [",", " , ; ", "1_000", "١٢٣", "12,bob", "1.5"])
def test_an_id_list_that_is_not_plainly_ids_is_an_error(workdir, monkeypatch, raw):
    """`,` used to mean an empty list (everyone allowed); 1_000 and other digits were read as numbers."""
    monkeypatch.setenv("BOT_ALLOWED_USER_IDS", raw)
    with pytest.raises(SettingsError, match="BOT_ALLOWED_USER_IDS"):
        load_settings()


@pytest.mark.parametrize("value", ["true", "[true]", "[1.5]", '"x"'])
def test_an_id_list_in_the_settings_file_takes_whole_numbers_only(workdir, value):
    config = write(workdir / "ids.toml", f"allowed_user_ids = {value}\n")
    with pytest.raises(SettingsError, match="BOT_ALLOWED_USER_IDS"):
        load_settings(config)


def test_an_empty_corpus_folder_setting_is_an_error_not_the_working_folder(workdir, monkeypatch):
    monkeypatch.setenv("BOT_CORPUS_DIR", "")
    with pytest.raises(SettingsError, match="BOT_CORPUS_DIR"):
        load_settings()


def test_config_can_come_after_the_command(workdir, capsys):
    config = write(workdir / "other.toml", f'corpus_dir = "{CORPUS.as_posix()}"\ntop_k = 1\n')
    assert cli.main(["ask", "--config", str(config), "--json", "Why did Russia deploy border guards in Syunik?"]) == 0
    assert len(json.loads(capsys.readouterr().out)["excerpts"]) == 1
    assert cli.main(["--config", str(config), "check"]) == 0
