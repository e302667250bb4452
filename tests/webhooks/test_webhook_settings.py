"""The asyncbdd.webhooks.* settings: defaults, conversion, validation, and the secret kept
out of reprs."""

from __future__ import annotations

import pytest

from asyncbdd.config import Settings, load_settings
from asyncbdd.errors import ConfigurationError


def test_webhook_defaults_listen_on_loopback_and_check_no_signature() -> None:
    """Unconfigured: 127.0.0.1, a free port, no public URL, no secret, 1 MiB bodies."""
    settings = load_settings(environ={})
    assert settings.webhooks_host == "127.0.0.1"
    assert settings.webhooks_port == 0
    assert settings.webhooks_public_url is None
    assert settings.webhooks_secret is None
    assert settings.webhooks_signature_header == "X-Signature"
    assert settings.webhooks_signature_algorithm == "sha256"
    assert settings.webhooks_max_body_size == 1024 * 1024
    assert settings.webhooks_correlation == "off"


@pytest.mark.parametrize(
    ("key", "value", "field", "expected"),
    [
        ("asyncbdd.webhooks.host", " 0.0.0.0 ", "webhooks_host", "0.0.0.0"),
        ("asyncbdd.webhooks.port", "8099", "webhooks_port", 8099),
        (
            "asyncbdd.webhooks.public_url",
            "http://host.docker.internal:8099/",
            "webhooks_public_url",
            "http://host.docker.internal:8099",
        ),
        ("asyncbdd.webhooks.public_url", " ", "webhooks_public_url", None),
        ("asyncbdd.webhooks.secret", "s3cret", "webhooks_secret", "s3cret"),
        ("asyncbdd.webhooks.signature_header", "X-Hub-Signature-256", "webhooks_signature_header",
         "X-Hub-Signature-256"),
        ("asyncbdd.webhooks.signature_algorithm", "SHA512", "webhooks_signature_algorithm",
         "sha512"),
        ("asyncbdd.webhooks.max_body_size", "512 KiB", "webhooks_max_body_size", 524288),
        ("asyncbdd.webhooks.max_body_size", "2 MB", "webhooks_max_body_size", 2_000_000),
        ("asyncbdd.webhooks.max_body_size", "100", "webhooks_max_body_size", 100),
        ("asyncbdd.webhooks.correlation", " header:X-Correlation-Id ", "webhooks_correlation",
         "header:X-Correlation-Id"),
        ("asyncbdd.webhooks.correlation", "field:meta.correlation_id", "webhooks_correlation",
         "field:meta.correlation_id"),
    ],
)  # fmt: skip
def test_webhook_values_are_converted(key: str, value: str, field: str, expected: object) -> None:
    """Ports become numbers, sizes bytes, algorithms lower case, a public URL loses its slash."""
    assert getattr(load_settings(environ={}, overrides={key: value}), field) == expected


def test_webhook_settings_come_from_the_environment_too() -> None:
    """ASYNCBDD_WEBHOOKS_* variables set the webhook settings."""
    settings = load_settings(
        environ={"ASYNCBDD_WEBHOOKS_PORT": "8099", "ASYNCBDD_WEBHOOKS_SECRET": "s3cret"}
    )
    assert (settings.webhooks_port, settings.webhooks_secret) == (8099, "s3cret")


@pytest.mark.parametrize(
    ("key", "value", "fix"),
    [
        ("asyncbdd.webhooks.host", "http://localhost", "write a host name or address"),
        ("asyncbdd.webhooks.port", "70000", "write a TCP port from 1 to 65535, or 0"),
        ("asyncbdd.webhooks.port", "any", "write a TCP port"),
        ("asyncbdd.webhooks.public_url", "localhost:8099", "write the base URL"),
        ("asyncbdd.webhooks.public_url", "http://x:1/?a=1", "(http or https, no query)"),
        ("asyncbdd.webhooks.signature_header", "X Signature", "write an HTTP header name"),
        ("asyncbdd.webhooks.signature_algorithm", "sha257", "e.g. sha1, sha256, sha512"),
        ("asyncbdd.webhooks.max_body_size", "0", "a whole number of bytes above zero"),
        ("asyncbdd.webhooks.max_body_size", "1 parsec", "e.g. 512 KiB, 1 MiB"),
        ("asyncbdd.webhooks.correlation", "attribute:id", "write header:NAME, field:PATH or off"),
        ("asyncbdd.webhooks.correlation", "header:", "e.g. header:X-Correlation-Id"),
    ],
)
def test_invalid_webhook_values_say_what_to_write(key: str, value: str, fix: str) -> None:
    """A malformed webhook setting names the key, the value and what to write instead."""
    with pytest.raises(ConfigurationError) as raised:
        load_settings(environ={}, overrides={key: value})
    message = str(raised.value)
    assert message.startswith(f"Setting -D {key} = {value!r} is invalid: ")
    assert fix in message


def test_the_secret_is_not_shown_in_the_settings_repr() -> None:
    """Printing the settings does not print the webhook secret."""
    settings = Settings(webhooks_secret="s3cret")
    assert "s3cret" not in repr(settings)
    assert settings.webhooks_secret == "s3cret"
