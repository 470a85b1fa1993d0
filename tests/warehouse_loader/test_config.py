"""The loader's settings (no services)."""

from __future__ import annotations

import pytest

from warehouse_loader.config import ConfigError, load

WHERE = {"TOTESYS_CDC_WAREHOUSE_DSN": "host=127.0.0.1"}


def test_history_is_on_unless_turned_off():
    assert load(WHERE).history is True
    assert load({**WHERE, "TOTESYS_CDC_HISTORY": "off"}).history is False
    assert load({**WHERE, "TOTESYS_CDC_HISTORY": " On "}).history is True
    with pytest.raises(ConfigError, match="TOTESYS_CDC_HISTORY"):
        load({**WHERE, "TOTESYS_CDC_HISTORY": "no"})


def test_the_warehouse_must_be_named():
    with pytest.raises(ConfigError, match="WAREHOUSE_DSN"):
        load({})
