"""cost_model/page.py: the generated part of docs/sizing.md."""

from __future__ import annotations

from cost_model.inputs import Prices, price_check_summary
from cost_model.page import BEGIN, END, render
from tests.cost_model.fixtures import inputs
from tests.fixtures import ROOT


def test_the_markdown_shows_every_cell_with_its_arithmetic_and_the_inputs():
    text = render(inputs())
    assert "| Kinesis shards | 2 (4 on demand) | 15 | 143 |" in text
    for rate in ("1,000", "10,000", "100,000"):
        assert f"### {rate} changes/s: the arithmetic" in text
    assert "max(1,000 ÷ 1,000 records/s = 1.00" in text
    assert "### Cost per month at 1,000 changes/s" in text
    assert '"Quotas and limits", Amazon Kinesis Data Streams Developer Guide' in text
    assert '"AWS Database Migration Service pricing"' in text
    assert "| dms_instance_hour[dms.c5.large] | $0.154 |" in text
    assert text.count("not confirmed: check the page") >= 10  # every price says what it is
    summary = price_check_summary(Prices())
    assert summary in text and "eu-west-2" in summary
    assert "Confirmed by an AWS document: `lambda_requests_million`, `lambda_gb_second`" in summary
    assert "`dms_instance_hour`" in summary.split("Not confirmed:")[1]


def test_the_sizing_page_has_a_generated_block():
    text = (ROOT / "docs" / "sizing.md").read_text()
    assert text.count(BEGIN) == 1 and text.count(END) == 1
    block = text.split(BEGIN)[1].split(END)[0]
    assert "### The table" in block and "### Cost per month" in block
