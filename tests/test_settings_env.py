from __future__ import annotations

import subprocess
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from findlabels.env import env_bool, env_choice, env_int, env_list
from tests.conftest import run_bare


def test_env_bool_reads_common_spellings(monkeypatch: Any) -> None:
    monkeypatch.setenv("X_FLAG", "Yes")
    assert env_bool("X_FLAG", False) is True
    monkeypatch.setenv("X_FLAG", "0")
    assert env_bool("X_FLAG", True) is False


@pytest.mark.parametrize(
    ("reader", "value", "words"),
    [
        (lambda: env_bool("X_VAL", False), "maybe", "X_VAL must be true or false"),
        (lambda: env_int("X_VAL", 1), "lots", "X_VAL must be a whole number"),
        (lambda: env_int("X_VAL", 1, minimum=1), "0", "X_VAL must be at least 1"),
        (lambda: env_int("X_VAL", 1, maximum=100), "101", "X_VAL must be at most 100"),
        (lambda: env_choice("X_VAL", "a", ("a", "b")), "c", "X_VAL='c' is not one of: a, b"),
    ],
)
def test_bad_values_fail_naming_the_variable(
    monkeypatch: Any, reader: Any, value: str, words: str
) -> None:
    monkeypatch.setenv("X_VAL", value)
    with pytest.raises(ImproperlyConfigured, match=words.replace("(", r"\(")):
        reader()


def test_env_list_splits_on_commas(monkeypatch: Any) -> None:
    monkeypatch.setenv("X_LIST", "a.example, b.example,,")
    assert env_list("X_LIST", []) == ["a.example", "b.example"]


def run_check(**env: str) -> subprocess.CompletedProcess[str]:
    return run_bare("manage.py", "check", **env)


def test_a_missing_secret_key_is_an_error_when_debug_is_off() -> None:
    result = run_check()
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


def test_the_wsgi_app_refuses_to_start_without_a_secret_key() -> None:
    """gunicorn runs no system checks, so the WSGI module itself says no."""
    result = run_bare("-c", "import findlabels.wsgi")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_an_unknown_detector_fails_at_start_up_with_a_clear_message() -> None:
    result = run_check(DJANGO_DEBUG="1", FINDLABELS_DETECTOR="magic")
    assert result.returncode != 0
    assert "FINDLABELS_DETECTOR='magic' is not one of: local, rekognition" in result.stderr


def test_debug_mode_starts_with_nothing_else_set() -> None:
    result = run_check(DJANGO_DEBUG="1")
    assert result.returncode == 0, result.stderr


def test_check_deploy_is_clean_with_the_production_environment() -> None:
    """The environment bootstrap.sh writes for an HTTPS site, in AWS mode."""
    import secrets

    result = run_bare(
        "manage.py",
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        **{
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_HTTPS": "1",
            "DJANGO_BEHIND_PROXY": "1",
            "DJANGO_ALLOWED_HOSTS": "photos.example.com",
            "DJANGO_CSRF_TRUSTED_ORIGINS": "https://photos.example.com",
            "FINDLABELS_MODE": "aws",
            "AWS_REGION": "eu-west-1",
            "AWS_STORAGE_BUCKET_NAME": "findlabels-media",
            "COGNITO_USER_POOL_ID": "eu-west-1_example",
            "COGNITO_APP_CLIENT_ID": "exampleclientid",
        },
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def settings_of(*names: str, **env: str) -> dict[str, Any]:
    """Settings as a fresh process reads them from ``env``."""
    import json

    code = (
        "import json, os, django; os.environ['DJANGO_SETTINGS_MODULE'] = 'findlabels.settings'; "
        "django.setup(); from django.conf import settings; "
        f"print(json.dumps({{n: getattr(settings, n) for n in {list(names)!r}}}, default=str))"
    )
    result = run_bare("-c", code, DJANGO_SECRET_KEY="x" * 50, **env)
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout.splitlines()[-1]))


def test_hsts_subdomains_and_preload_are_opt_in() -> None:
    names = ("SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD")
    default = settings_of(*names, DJANGO_HTTPS="1")
    assert default == {
        "SECURE_HSTS_SECONDS": 31_536_000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": False,
        "SECURE_HSTS_PRELOAD": False,
    }
    subdomains = settings_of(*names, DJANGO_HTTPS="1", DJANGO_HSTS_INCLUDE_SUBDOMAINS="1")
    assert subdomains["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert subdomains["SECURE_HSTS_PRELOAD"] is False
    # The preload list requires includeSubDomains: asking for preload brings both.
    preload = settings_of(*names, DJANGO_HTTPS="1", DJANGO_HSTS_PRELOAD="1")
    assert preload["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert preload["SECURE_HSTS_PRELOAD"] is True
    # Never without HTTPS.
    plain = settings_of(*names, DJANGO_HSTS_PRELOAD="1")
    assert plain == {n: v for n, v in zip(names, (0, False, False), strict=True)}


def test_uploads_spool_under_the_state_folder_not_tmp(tmp_path: Any) -> None:
    found = settings_of("FILE_UPLOAD_TEMP_DIR", FINDLABELS_VAR_DIR=str(tmp_path / "state"))
    assert found["FILE_UPLOAD_TEMP_DIR"] == str(tmp_path / "state" / "tmp")
    assert (tmp_path / "state" / "tmp").is_dir()
    chosen = settings_of(
        "FILE_UPLOAD_TEMP_DIR",
        FINDLABELS_VAR_DIR=str(tmp_path / "state"),
        FINDLABELS_UPLOAD_TEMP_DIR=str(tmp_path / "spool"),
    )
    assert chosen["FILE_UPLOAD_TEMP_DIR"] == str(tmp_path / "spool")


def test_database_connections_are_bounded_and_checked() -> None:
    found = settings_of("DATABASES", DATABASE_CONN_MAX_AGE="0")
    assert found["DATABASES"]["default"]["CONN_MAX_AGE"] == 0
    assert found["DATABASES"]["default"]["CONN_HEALTH_CHECKS"] is True
    assert settings_of("DATABASES")["DATABASES"]["default"]["CONN_MAX_AGE"] == 60
