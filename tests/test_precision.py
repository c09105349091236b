"""Each detector's precision from the outcomes people gave (issue 18): six thefts scanned,
three resolved (theft confirmed, honest expected, honest error) and one answered Not
recognised; the HTML report and `monitor backtest` (text and JSON) then say
new_payee_repeat: 2 theft of 4 judged (50%)."""
from __future__ import annotations

import json

import pytest

from helpers import run
from notify_helpers import load, project, scan
from web_helpers import theft_rows
from monitor import pipeline
from monitor.report import report
from monitor.sql import store

LINE = "new_payee_repeat: 2 theft of 4 judged (50%; 2 honest)"


@pytest.fixture(scope="module")
def judged(tmp_path_factory):
    config = project(tmp_path_factory.mktemp("precision"), rows=theft_rows())
    scan(config, store.now(), notify=False)
    cfg = load(config)
    con = store.connect(cfg.database)
    try:
        ids = [i for (i,) in con.execute("SELECT alert_id FROM alerts WHERE detector = "
                                         "'new_payee_repeat' ORDER BY alert_id").fetchall()]
        assert len(ids) >= 4, ids
        for alert_id, outcome in zip(ids, ("theft", "expected", "error")):
            pipeline.answer(con, cfg, alert_id, "resolve", by="alice", outcome=outcome)
        pipeline.answer(con, cfg, ids[3], "not_recognised", by="alice")
        html = report.render(report.build(con, cfg))
    finally:
        con.close()
    return {"config": str(config), "html": html}


def test_the_report_shows_each_detectors_precision(judged):
    html = judged["html"]
    assert "precision, from the outcomes people gave" in html
    row = html.split('<table class="precision">', 1)[1].split("</table>", 1)[0]
    assert "<td>new_payee_repeat</td>" in row
    cells = [c.split("<", 1)[0] for c in row.split('<td class="num">')[1:]]
    assert cells == ["4", "2", "2", "50%"]


def test_backtest_says_each_detectors_precision(judged, capsys):
    code, out, _ = run(capsys, "--config", judged["config"], "backtest", "--from",
                       "2023-12-01", "--to", "2024-02-01")
    assert code == 0 and "Precision per detector" in out and LINE in out
    code, out, _ = run(capsys, "--config", judged["config"], "backtest", "--from",
                       "2023-12-01", "--to", "2024-02-01", "--format", "json")
    (found,) = [p for p in json.loads(out)["precision"] if p["detector"] == "new_payee_repeat"]
    assert (found["judged"], found["theft"], found["honest"]) == (4, 2, 2)
    assert float(found["precision"]) == 0.5
