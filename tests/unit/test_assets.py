"""The ``connectsafely://`` asset URIs: the sanitizer alone, and as Airflow calls it."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

import pytest
from helpers.paths import REPO

from airflow_provider_connectsafely.assets import SCHEME, sanitize_uri
from airflow_provider_connectsafely.get_provider_info import get_provider_info

GOOD = [
    ("connectsafely://replies/default", "connectsafely://replies/default"),
    ("connectsafely://replies/65f1c0ffee0123456789abcd", "connectsafely://replies/65f1c0ffee0123456789abcd"),
    ("connectsafely://campaign/spring-2026", "connectsafely://campaign/spring-2026"),
    ("connectsafely://campaign/Spring%20Launch", "connectsafely://campaign/Spring%20Launch"),
    ("connectsafely://Replies/acc-1", "connectsafely://replies/acc-1"),
    ("connectsafely://replies/acc-1/", "connectsafely://replies/acc-1"),
    ("ConnectSafely://CAMPAIGN/Q3", "connectsafely://campaign/Q3"),
]

# (URI, what the error names)
MALFORMED = [
    ("connectsafely:///default", "no kind"),
    ("connectsafely://", "no kind"),
    ("connectsafely://reply/default", "unknown kind 'reply'"),
    ("connectsafely://campaigns/spring", "unknown kind 'campaigns'"),
    ("connectsafely://replies", "no account"),
    ("connectsafely://replies/", "no account"),
    ("connectsafely://campaign/", "no name"),
    ("connectsafely://replies/acc-1/extra", "one path segment"),
    ("connectsafely://replies//acc-1", "one path segment"),
    ("connectsafely://replies/acc-1?since=2026-01-01", "query string"),
    ("connectsafely://replies/acc-1#latest", "fragment"),
    ("connectsafely://user@replies/acc-1", "user, password or port"),
    ("connectsafely://replies:8080/acc-1", "user, password or port"),
    ("https://replies/acc-1", "scheme"),
]


@pytest.mark.parametrize(("uri", "expected"), GOOD)
def test_good_uris_are_kept_and_normalised(uri, expected):
    assert urlunsplit(sanitize_uri(urlsplit(uri))) == expected


@pytest.mark.parametrize(("uri", "names"), MALFORMED)
def test_malformed_uris_are_refused_with_a_clear_error(uri, names):
    with pytest.raises(ValueError, match=names) as caught:
        sanitize_uri(urlsplit(uri))
    message = str(caught.value)
    assert message.startswith("Asset URI '")
    assert "expected connectsafely://replies/<account> or connectsafely://campaign/<name>" in message


def test_the_handler_is_registered_for_the_scheme():
    [entry] = get_provider_info()["asset-uris"]
    assert entry["schemes"] == [SCHEME]
    module, _, name = entry["handler"].rpartition(".")
    assert (module, name) == (sanitize_uri.__module__, sanitize_uri.__name__)


@pytest.mark.parametrize(("uri", "expected"), GOOD)
def test_airflow_asset_uses_the_sanitizer(uri, expected):
    from airflow.sdk import Asset

    assert Asset(uri).uri == expected


@pytest.mark.parametrize(("uri", "names"), [(u, n) for u, n in MALFORMED if n not in ("fragment", "scheme")])
def test_airflow_asset_refuses_malformed_uris(uri, names):
    from airflow.sdk import Asset

    with pytest.raises(ValueError, match=names):
        Asset(uri)


def test_airflow_drops_a_fragment_before_asking():
    # Airflow strips the fragment of every asset URI before it calls the scheme's handler.
    from airflow.sdk import Asset

    assert Asset("connectsafely://replies/acc-1#latest").uri == "connectsafely://replies/acc-1"


def test_every_asset_uri_in_the_docs_and_examples_is_accepted():
    sources = [
        REPO / "README.md",
        *REPO.glob("docs/*.md"),
        *REPO.glob("example_dags/*.py"),
        *(REPO / "airflow_provider_connectsafely").rglob("*.py"),
    ]
    found = {
        uri
        for path in sources
        for uri in re.findall(r'Asset\(\s*"(connectsafely://[^"]*)"', path.read_text())
        if "..." not in uri and "<" not in uri  # placeholders in prose
    }
    assert "connectsafely://replies/default" in found
    for uri in found:
        assert urlunsplit(sanitize_uri(urlsplit(uri))) == uri
