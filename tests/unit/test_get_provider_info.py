"""Provider registration and the connection form, kept in sync from one definition."""

from __future__ import annotations

import json
from importlib import import_module
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from airflow_provider_connectsafely import __version__, defaults
from airflow_provider_connectsafely.connection_form import EXTRA_FIELDS
from airflow_provider_connectsafely.get_provider_info import get_provider_info
from airflow_provider_connectsafely.hooks.connectsafely import ConnectSafelyHook
from airflow_provider_connectsafely.settings import ConnectionSettings


def import_string(dotted: str):
    module, _, name = dotted.rpartition(".")
    return getattr(import_module(module), name)


def test_entry_point_is_registered():
    [entry] = [e for e in entry_points(group="apache_airflow_provider") if "connectsafely" in e.value]
    assert entry.load() is get_provider_info


def _airflows_schema() -> dict:
    """provider_info.schema.json as shipped in the installed Airflow (3.1 and 3.3 alike)."""
    import airflow

    path = Path(airflow.__file__).parent / "provider_info.schema.json"
    assert path.is_file(), f"no {path.name} in the installed Airflow"
    return json.loads(path.read_text())


def test_provider_info_validates_against_airflows_schema():
    import jsonschema

    schema = _airflows_schema()
    info = get_provider_info()
    jsonschema.validators.validator_for(schema)(schema).validate(info)
    # Every key is one Airflow knows (the schema itself leaves additionalProperties open).
    assert set(info) - {"versions"} <= set(schema["properties"])
    assert info["package-name"] == "airflow-provider-connectsafely"
    assert info["versions"] == [__version__]


def test_airflows_own_validator_accepts_it():
    from airflow.providers_manager import _create_provider_info_schema_validator

    _create_provider_info_schema_validator().validate(get_provider_info())


def test_config_section_is_in_airflows_shape_from_the_defaults():
    option_schema = _airflows_schema()["definitions"]["option"]
    [(section, body)] = get_provider_info()["config"].items()
    assert section == defaults.CONFIG_SECTION == "connectsafely"
    assert set(body) == {"description", "options"}
    options = body["options"]
    assert list(options) == [
        defaults.CONFIG_LEDGER_CONN_ID,
        defaults.CONFIG_AUTO_MIGRATE,
        defaults.CONFIG_ERASURE_SECRET,
        defaults.CONFIG_RETAIN_TEXT_DAYS,
    ]
    for option in options.values():
        # The schema's "additional_properties" is misspelt there, so it checks no extra key.
        assert set(option) <= set(option_schema["properties"]), option
        assert set(option_schema["required"]) <= set(option)
        assert option["version_added"] in ("0.2.0", "0.3.0")
    ledger, migrate, secret, retain = options.values()
    assert (secret["type"], secret["default"], secret["sensitive"]) == ("string", "", True)
    assert (retain["type"], retain["default"]) == ("integer", "")
    assert (ledger["type"], ledger["default"]) == ("string", defaults.LEDGER_CONN_ID)
    assert (migrate["type"], migrate["default"]) == ("boolean", str(defaults.AUTO_MIGRATE))
    assert (defaults.LEDGER_CONN_ID, defaults.AUTO_MIGRATE) == ("", True)
    assert "connectsafely-ledger upgrade" in migrate["description"]
    assert "connectsafely_ledger.sqlite" in ledger["description"]


def test_airflow_configuration_reads_the_section(monkeypatch):
    from airflow.configuration import conf
    from airflow.providers_manager import ProvidersManager

    # What Airflow's commands do first. Airflow 3.1 knows a provider's defaults only after it
    # (a task process may not have run it: code reads with fallback=defaults.*); 3.3 on demand.
    ProvidersManager().initialize_providers_configuration()
    assert conf.get(defaults.CONFIG_SECTION, defaults.CONFIG_LEDGER_CONN_ID) == ""
    assert conf.getboolean(defaults.CONFIG_SECTION, defaults.CONFIG_AUTO_MIGRATE) is True
    monkeypatch.setenv("AIRFLOW__CONNECTSAFELY__LEDGER_CONN_ID", "ledger_pg")
    monkeypatch.setenv("AIRFLOW__CONNECTSAFELY__AUTO_MIGRATE", "False")
    assert conf.get(defaults.CONFIG_SECTION, defaults.CONFIG_LEDGER_CONN_ID) == "ledger_pg"
    assert conf.getboolean(defaults.CONFIG_SECTION, defaults.CONFIG_AUTO_MIGRATE) is False


def test_plugin_is_declared_as_the_entry_point_loads_it():
    from airflow_provider_connectsafely.plugins.ui import ConnectSafelyPlugin

    [plugin] = get_provider_info()["plugins"]
    assert set(plugin) == {"name", "plugin-class"}
    assert plugin["name"] == ConnectSafelyPlugin.name
    assert import_string(plugin["plugin-class"]) is ConnectSafelyPlugin
    [entry] = [e for e in entry_points(group="airflow.plugins") if e.name == "connectsafely"]
    assert entry.load() is ConnectSafelyPlugin


def test_airflow_providers_manager_sees_config_plugin_and_asset_handler():
    from airflow.providers_manager import ProvidersManager

    from airflow_provider_connectsafely.assets import sanitize_uri

    manager = ProvidersManager()
    configs = dict(manager.provider_configs)
    assert configs["airflow-provider-connectsafely"] == get_provider_info()["config"]
    assert [p.plugin_class for p in manager.plugins if p.name == "connectsafely"] == [
        "airflow_provider_connectsafely.plugins.ui.ConnectSafelyPlugin"
    ]
    try:  # where Airflow >= 3.2 looks handlers up (airflow.sdk Asset); 3.1: ProvidersManager
        from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime as Runtime
    except ImportError:
        Runtime = ProvidersManager
    assert Runtime().asset_uri_handlers["connectsafely"] is sanitize_uri


def test_connection_type_metadata():
    [conn] = get_provider_info()["connection-types"]
    assert conn["connection-type"] == "connectsafely"
    assert conn["hook-name"] == "ConnectSafely"
    assert conn["hook-class-name"].endswith("ConnectSafelyHook")
    behaviour = conn["ui-field-behaviour"]
    assert set(behaviour["hidden-fields"]) == {"login", "schema", "port", "extra"}
    assert behaviour["relabeling"] == {"password": "API Key", "host": "Base URL"}
    assert behaviour["placeholders"]["host"] == "https://api.connectsafely.ai"
    assert set(conn["conn-fields"]) == {"account_id", "timeout", "daily_limit", "ledger_conn_id"}
    assert conn["conn-fields"]["timeout"]["schema"] == {"type": ["integer", "null"]}


def test_hook_methods_match_provider_info():
    [conn] = get_provider_info()["connection-types"]
    hook_behaviour = ConnectSafelyHook.get_ui_field_behaviour()
    kebab = conn["ui-field-behaviour"]
    assert hook_behaviour["hidden_fields"] == kebab["hidden-fields"]
    assert hook_behaviour["relabeling"] == kebab["relabeling"]
    assert hook_behaviour["placeholders"] == kebab["placeholders"]
    labels = {name: field["label"] for name, field in conn["conn-fields"].items()}
    assert labels == {name: f.label for name, f in EXTRA_FIELDS.items()}


def test_form_widgets_for_airflow_3_1():
    pytest.importorskip("wtforms")
    widgets = ConnectSafelyHook.get_connection_form_widgets()
    assert set(widgets) == set(EXTRA_FIELDS)


def test_airflow_providers_manager_sees_the_connection_type():
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    assert "airflow-provider-connectsafely" in manager.providers
    hooks = manager.hooks
    assert hooks["connectsafely"].hook_name == "ConnectSafely"
    widgets = manager.connection_form_widgets
    assert "extra__connectsafely__account_id" in widgets
    assert manager.field_behaviours["connectsafely"]["relabeling"]["password"] == "API Key"


@pytest.mark.parametrize(
    ("host", "schema", "port", "expected"),
    [
        (None, None, None, "https://api.connectsafely.ai"),
        ("", None, None, "https://api.connectsafely.ai"),
        ("api.connectsafely.ai", None, None, "https://api.connectsafely.ai"),
        ("https://api.connectsafely.ai/", None, None, "https://api.connectsafely.ai"),
        ("sandbox.api.connectsafely.ai", None, 443, "https://sandbox.api.connectsafely.ai:443"),
        ("http://127.0.0.1:8099", None, None, "http://127.0.0.1:8099"),
        ("localhost", "http", 8099, "http://localhost:8099"),
        ("http://[::1]:8099", None, None, "http://[::1]:8099"),
    ],
)
def test_settings_base_url(host, schema, port, expected):
    settings = ConnectionSettings.from_fields(
        "c", password="k" * 10, host=host, port=port, schema=schema, extra={}
    )
    assert settings.base_url == expected


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"timeout": "soon"}, "positive number"),
        ({"timeout": 0}, "positive number"),
        ({"verify": 3}, "verify"),
    ],
)
def test_settings_reject_bad_extras(extra, message):
    from airflow_provider_connectsafely.errors import ConnectSafelyConfigError

    with pytest.raises(ConnectSafelyConfigError, match=message):
        ConnectionSettings.from_fields("c", password="k" * 10, host=None, port=None, schema=None, extra=extra)


def test_settings_read_plain_and_prefixed_extras():
    settings = ConnectionSettings.from_fields(
        "c",
        password=" key-with-spaces-around ",
        host=None,
        port=None,
        schema=None,
        extra={"extra__connectsafely__account_id": "abc", "timeout": "12", "verify": "false"},
    )
    assert settings.account_id == "abc"
    assert settings.timeout == 12
    assert settings.verify is False
    assert settings.api_key == "key-with-spaces-around"
    assert "key-with" not in repr(settings)
    assert json.dumps(settings.base_url)


@pytest.mark.parametrize("host", ["http://api.example.com", "ftp://x", "https://user:pw@host"])
def test_settings_refuse_unsafe_urls(host):
    from airflow_provider_connectsafely.errors import ConnectSafelyConfigError

    with pytest.raises(ConnectSafelyConfigError, match="Connection 'c'"):
        ConnectionSettings.from_fields("c", password="k" * 10, host=host, port=None, schema=None, extra={})


def test_every_operator_module_is_registered():
    from pathlib import Path

    import airflow_provider_connectsafely.operators as operators

    folder = Path(operators.__file__).parent
    expected = {
        f"airflow_provider_connectsafely.operators.{p.stem}"
        for p in folder.glob("*.py")
        if p.stem not in ("__init__", "base", "inputs", "links")  # shared helpers, no operator
    }
    info = get_provider_info()
    registered = {m for entry in info["operators"] for m in entry["python-modules"]}
    assert registered == expected
