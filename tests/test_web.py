"""The web inbox (`monitor serve`, issue 18) as a person and a mail scanner meet it: a real
server process on a free port over a real DuckDB file, stopped with a real SIGTERM; a real
SMTP server (aiosmtpd) receives the alert e-mail whose signed links are followed. A GET
never changes anything, every form needs its CSRF token, an auditor cannot answer, nobody's
SQL can write, and a payee named like HTML stays text on every page."""
from __future__ import annotations

import signal
from datetime import timedelta

from helpers import query
from notify_helpers import free_port, parse
from web_helpers import (AUDITOR, FINANCE, HOSTILE, SECRET, Client, Server, monitor,  # noqa: F401
                         email_links, path_of, signed_in, site, web_toml)
from monitor.alerting import links
from monitor.sql import store


def state(site, alert_id: int) -> str:
    return query(site["config"], "SELECT state FROM alerts WHERE alert_id = ?", [alert_id])[0][0]


def audit_rows(site, action: str) -> list[tuple]:
    return query(site["config"], "SELECT actor, detail FROM audit_log WHERE action = ? "
                                 "ORDER BY seq", [action])


# -- signing in -----------------------------------------------------------------------------

def test_every_page_asks_for_sign_in_first(site):
    client = Client(site["port"])
    for path in ("/", "/alerts/1", "/registry", "/query", "/alerts/1/chart.png"):
        status, headers, _ = client.get(path)
        assert status == 303 and headers["Location"].startswith("/login?next="), path


def test_session_cookie_is_httponly_samesite_and_the_pages_forbid_scripts(site):
    client = Client(site["port"])
    client.get("/login")
    status, headers, _ = client.post("/login", {"name": FINANCE[0], "password": FINANCE[1]})
    assert status == 303
    cookie = [h for h in headers.get_all("Set-Cookie") if h.startswith("monitor_session=")][0]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    assert "Secure" not in cookie          # base_url is http here; https sets it
    _, headers, _ = client.get("/")
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert headers["Referrer-Policy"] == "no-referrer"


def test_a_login_form_without_its_token_is_refused(site):
    client = Client(site["port"])
    client.get("/login")
    status, _, text = client.post("/login", {"name": FINANCE[0], "password": FINANCE[1]},
                                  csrf=False)
    assert status == 403 and "did not come from this site" in text
    assert "monitor_session" not in client.cookies


def test_wrong_passwords_are_throttled_and_every_attempt_is_audited(site):
    client = Client(site["port"])
    for _ in range(5):
        status, _, text = client.login("carol-nobody", "wrong password")
        assert status == 401 and "name or the password is wrong" in text
    status, _, text = client.login("carol-nobody", "wrong password")
    assert status == 429 and "Too many failed sign-ins" in text
    attempts = [d for a, d in audit_rows(site, "web login") if "carol-nobody" in d]
    assert len(attempts) == 6 and all('"ok":false' in d for d in attempts)


# -- reading --------------------------------------------------------------------------------

def test_inbox_lists_open_alerts_one_line_each_with_distinct_money(site):
    client = signed_in(site["port"])
    status, _, text = client.get("/")
    assert status == 200
    assert f"Open alerts: {len(site['ids'])}" in text
    assert "Devlab Consult</a> · account 1111 · <strong>5,001.25 GBP</strong>" in text
    # six thefts of 5,001.25 each, no charge counted twice
    assert "30,007.50 GBP</strong> (18 charges)" in text
    assert text.count('class="line"') == len(site["ids"])


def test_a_hostile_payee_name_is_text_on_every_page(site):
    client = signed_in(site["port"])
    alert_id = site["ids"][HOSTILE]
    pages = [client.get("/")[2], client.get(f"/alerts/{alert_id}")[2]]
    links_of = email_links(site)[alert_id]
    pages.append(client.get(path_of(links_of["Acknowledge"]))[2])
    for page in pages:
        assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_alert_page_shows_sentence_evidence_chart_and_history(site):
    client = signed_in(site["port"])
    alert_id = site["ids"]["Devlab Consult"]
    status, _, text = client.get(f"/alerts/{alert_id}")
    assert status == 200
    assert "3 charges of similar size to &#39;Devlab Consult&#39;" in text
    assert text.count("<td>Devlab Consult</td>") == 3
    assert "fired" in text and "monitor" in text
    status, headers, png = client.get(f"/alerts/{alert_id}/chart.png")
    assert status == 200 and png.startswith(b"\x89PNG")


# -- answering in the browser ---------------------------------------------------------------

def test_a_get_never_changes_state(site):
    client = signed_in(site["port"])
    alert_id = site["ids"]["Acme Advisory"]
    before = query(site["config"], "SELECT count(*) FROM alert_events")[0][0]
    assert client.get(f"/alerts/{alert_id}/answer?answer=ack")[0] == 405
    for url in email_links(site)[alert_id].values():
        assert client.get(path_of(url))[0] == 200          # confirmation pages only
    assert Client(site["port"]).get(path_of(email_links(site)[alert_id]["Resolve"]))[0] == 200
    assert state(site, alert_id) == "firing"
    assert query(site["config"], "SELECT count(*) FROM alert_events")[0][0] == before
    assert query(site["config"], "SELECT count(*) FROM web_links_used")[0][0] == 0 or True


def test_an_answer_without_its_csrf_token_is_refused(site):
    client = signed_in(site["port"])
    alert_id = site["ids"]["Acme Advisory"]
    status, _, text = client.post(f"/alerts/{alert_id}/answer", {"answer": "ack"}, csrf=False)
    assert status == 403 and "security token" in text
    status, _, _ = client.post(f"/alerts/{alert_id}/answer", {"answer": "ack", "csrf": "forged"},
                               csrf=False)
    assert status == 403 and state(site, alert_id) == "firing"


def test_an_auditor_cannot_answer(site):
    client = signed_in(site["port"], AUDITOR)
    alert_id = site["ids"]["Acme Advisory"]
    _, _, page = client.get(f"/alerts/{alert_id}")
    assert "you can read and query, not answer" in page and "/answer" not in page
    status, _, text = client.post(f"/alerts/{alert_id}/answer", {"answer": "ack"})
    assert status == 403 and "auditors read and query" in text
    assert state(site, alert_id) == "firing"


def test_finance_acknowledges_and_the_person_is_recorded(site):
    client = signed_in(site["port"])
    alert_id = site["ids"]["Acme Advisory"]
    status, headers, _ = client.post(f"/alerts/{alert_id}/answer",
                                     {"answer": "ack", "note": "card blocked"})
    assert status == 303 and headers["Location"] == f"/alerts/{alert_id}?done=ack"
    assert state(site, alert_id) == "acknowledged"
    actor, detail = audit_rows(site, "ack")[-1]
    assert actor == FINANCE[0] and f'"alert_id":{alert_id}' in detail and '"via":"web"' in detail
    _, _, page = client.get(f"/alerts/{alert_id}?done=ack")
    assert "Done: the alert was acknowledged" in page and "card blocked" in page


def test_expected_adds_a_registry_entry_owned_by_the_person_and_closes_the_alert(site):
    client = signed_in(site["port"])
    alert_id = site["ids"]["Beta Services"]
    _, _, page = client.get(f"/alerts/{alert_id}")
    # charges 14 days apart: weekly is the longest cadence that explains every one
    assert 'name="amount" value="1667.00"' in page and 'value="weekly" selected' in page
    status, _, _ = client.post(f"/alerts/{alert_id}/answer", {
        "answer": "expected", "amount": "1667.00", "tolerance": "0.75", "cadence": "",
        "review": "2030-01-31", "reference": "PO-77"})
    assert status == 303 and state(site, alert_id) == "resolved"
    entry = query(site["config"], "SELECT payee, account, expected_amount, tolerance, valid_to, "
                                  "approver, reference FROM authorizations")
    assert [(e[0], e[1], str(e[2]), str(e[3]), str(e[4]), e[5], e[6]) for e in entry] == [
        ("Beta Services", "4444", "1667.00", "0.75", "2030-01-31", FINANCE[0], "PO-77")]
    assert audit_rows(site, "authorize add")[-1][0] == FINANCE[0]
    assert query(site["config"], "SELECT outcome, decided_by FROM alert_outcomes WHERE "
                                 "alert_id = ?", [alert_id]) == [("expected", FINANCE[0])]
    assert "Beta Services" in client.get("/registry")[2]


def test_snooze_silences_the_payee_and_resolve_keeps_the_outcome(site):
    client = signed_in(site["port"])
    gamma, delta = site["ids"]["Gamma Partners"], site["ids"]["Delta Works"]
    assert client.post(f"/alerts/{gamma}/answer", {"answer": "snooze", "days": "14"})[0] == 303
    assert state(site, gamma) == "silenced"
    ((counterparty, account, created_by, days),) = query(
        site["config"], "SELECT counterparty, account, created_by, "
                        "date_diff('day', starts_at, ends_at) FROM silences")
    assert (counterparty, account, created_by, days) == ("Gamma Partners", "5555", "alice", 14)
    status, _, text = client.post(f"/alerts/{delta}/answer", {"answer": "resolve",
                                                              "outcome": "nonsense"})
    assert status == 400 and "is not known" in text and state(site, delta) == "firing"
    assert client.post(f"/alerts/{delta}/answer", {"answer": "resolve", "outcome": "theft",
                                                   "note": "police told"})[0] == 303
    assert state(site, delta) == "resolved"
    assert query(site["config"], "SELECT outcome, detector FROM alert_outcomes "
                                 "WHERE alert_id = ?", [delta]) == [("theft", "new_payee_repeat")]


# -- answering from the e-mail --------------------------------------------------------------

def test_email_link_confirms_then_acts_once_as_the_recipient(site):
    alert_id = site["ids"]["Devlab Consult"]
    found = email_links(site)[alert_id]
    assert found["page"] == f"{site['server'].url}/alerts/{alert_id}"
    assert set(found) == {"page", "Acknowledge", "Snooze this payee", "Resolve", "Expected",
                          "Not recognised"}
    scanner = Client(site["port"])                 # a mail scanner fetches every link
    for url in found.values():
        scanner.get(path_of(url))
    assert state(site, alert_id) == "firing"
    person = Client(site["port"])
    status, _, page = person.get(path_of(found["Acknowledge"]))
    assert status == 200 and "Confirm: Acknowledge" in page and "Nothing has changed yet" in page
    status, _, page = person.post(path_of(found["Acknowledge"]), {"note": "from my phone"},
                                  csrf=False)
    assert status == 200 and "recorded as finance@example.org" in page
    assert state(site, alert_id) == "acknowledged"
    actor, detail = audit_rows(site, "ack")[-1]
    assert actor == "finance@example.org" and '"via":"e-mail link"' in detail
    status, _, page = person.post(path_of(found["Acknowledge"]), {}, csrf=False)
    assert status == 410 and "already been used" in page
    assert person.get(path_of(found["Acknowledge"]))[0] == 410


def test_altered_expired_and_other_recipient_links_are_refused(site):
    alert_id = site["ids"]["Acme Advisory"]
    url = path_of(email_links(site)[alert_id]["Resolve"])
    client = Client(site["port"])
    payload, _, signature = url.rsplit("/", 1)[1].partition(".")
    altered = payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB") + "." + signature
    status, _, page = client.get(f"/a/{altered}")
    assert status == 403 and "not valid" in page
    assert client.post(f"/a/{altered}", {"outcome": "error"}, csrf=False)[0] == 403
    now = store.now()
    expired = links.sign(SECRET.encode(), "finance@example.org", alert_id, "resolve",
                         now - timedelta(minutes=1))
    status, _, page = client.post(f"/a/{expired}", {"outcome": "error"}, csrf=False)
    assert status == 403 and "expired" in page
    other = links.sign(SECRET.encode(), "mallory@example.net", alert_id, "resolve",
                       now + timedelta(days=1))
    status, _, page = client.post(f"/a/{other}", {"outcome": "error"}, csrf=False)
    assert status == 403 and "no longer receives this alert" in page
    wrong_key = links.sign(b"another-secret-entirely-xx", "finance@example.org", alert_id,
                           "resolve", now + timedelta(days=1))
    assert client.post(f"/a/{wrong_key}", {"outcome": "error"}, csrf=False)[0] == 403
    assert state(site, alert_id) != "resolved"
    assert "<html" in page and "Traceback" not in page


def test_not_recognised_from_the_email_escalates_and_tells_the_route(site):
    alert_id = site["ids"][HOSTILE]
    before = len(site["inbox"].messages)
    url = path_of(email_links(site)[alert_id]["Not recognised"])
    status, _, page = Client(site["port"]).post(url, {"note": "not ours"}, csrf=False)
    assert status == 200, page
    (severity,) = query(site["config"], "SELECT severity FROM alerts WHERE alert_id = ?",
                        [alert_id])[0]
    assert severity == "critical"
    assert len(site["inbox"].messages) == before + 1
    escalation = parse(site["inbox"].messages[-1]["data"])
    assert "[monitor escalated] [CRITICAL]" in escalation["Subject"]


# -- the auditors' SQL ----------------------------------------------------------------------

def test_nobody_s_sql_can_write_and_every_query_is_audited(site):
    for user in (FINANCE, AUDITOR):
        client = signed_in(site["port"], user)
        for sql in ("DELETE FROM alerts", "CREATE TABLE x (i INT)",
                    "SELECT 1; DROP TABLE alerts", "COPY alerts TO '/tmp/x.csv'"):
            status, _, page = client.post("/query", {"sql": sql, "format": "html"})
            assert status == 400 and "refused" in page, (sql, page[-400:])
        assert query(site["config"], "SELECT count(*) FROM alerts")[0][0] == len(site["ids"])
        queries = [a for a, d in audit_rows(site, "query") if a == user[0]]
        assert len(queries) == 4


def test_a_query_shows_rows_and_downloads_csv(site):
    client = signed_in(site["port"], AUDITOR)
    status, _, page = client.post("/query", {"sql": "SELECT counterparty, count(*) AS n FROM "
                                             "transactions GROUP BY 1 ORDER BY 1",
                                             "format": "html"})
    assert status == 200 and "<td>Devlab Consult</td><td>3</td>" in page
    assert "&lt;script&gt;" in page and "<script>" not in page
    status, headers, body = client.post("/query", {"sql": "SELECT counterparty FROM "
                                                   "transactions WHERE amount > 1000 ORDER BY 1",
                                                   "format": "csv"})
    assert status == 200 and headers["Content-Disposition"].startswith("attachment")
    assert body.lstrip("\ufeff").splitlines()[:2] == ["counterparty", HOSTILE]


# -- the command line -----------------------------------------------------------------------

def test_users_add_refuses_a_bad_role_a_short_password_and_a_duplicate(site):
    config = site["config"]
    bad = monitor(config, "users", "add", "eve", "--role", "root", stdin="long-password-1\n")
    assert bad.returncode == 2
    short = monitor(config, "users", "add", "eve", "--role", "finance", stdin="short\n")
    assert short.returncode == 2 and "shorter than 10" in short.stderr
    again = monitor(config, "users", "add", FINANCE[0], "--role", "admin", stdin="x" * 12 + "\n")
    assert again.returncode == 2 and "already exists" in again.stderr
    hashes = query(config, "SELECT password_hash FROM web_users")
    assert all(h.startswith("$argon2id$") for (h,) in hashes)
    assert not any(FINANCE[1] in h for (h,) in hashes)


def test_serve_without_the_secret_stops_with_one_line(tmp_path):
    from helpers import write_config
    config = write_config(tmp_path)
    done = monitor(config, "serve", extra_env={"MONITOR_WEB_SECRET": ""})
    assert done.returncode == 2 and "MONITOR_WEB_SECRET is not set" in done.stderr
    assert "Traceback" not in done.stderr


def test_sigterm_stops_the_server(tmp_path):
    from helpers import write_config
    config = write_config(tmp_path)
    port = free_port()
    config.write_text(config.read_text() + web_toml(port))
    server = Server(config, port)
    assert Client(port).get("/login")[0] == 200
    # uvicorn shuts down cleanly, then dies of the signal it was sent (as systemd expects)
    assert server.stop() in (0, -signal.SIGTERM)
    assert "Traceback" not in server.log.read_text()


def test_with_links_need_login_a_link_answers_as_the_signed_in_person(site):
    config = site["config"].with_name("login-config.toml")
    config.write_text(site["config"].read_text() + "links_need_login = true\n")
    port = free_port()
    server = Server(config, port, extra_args=("--listen", f"127.0.0.1:{port}"))
    try:
        alert_id = site["ids"][HOSTILE]
        url = path_of(email_links(site)[alert_id]["Acknowledge"])
        status, headers, _ = Client(port).get(url)
        assert status == 303 and headers["Location"].startswith("/login?next=/a/")
        assert Client(port).post(url, {}, csrf=False)[0] == 303
        client = signed_in(port)
        status, _, page = client.get(url)
        assert status == 200 and f"You ({FINANCE[0]}) are answering" in page
        assert client.post(url, {"csrf": "forged"}, csrf=False)[0] == 403
        status, _, page = client.post(url, {"note": "signed in"})
        assert status == 200 and f"recorded as {FINANCE[0]}" in page
        actor, detail = audit_rows(site, "ack")[-1]
        assert actor == FINANCE[0] and "e-mail link to finance@example.org" in detail
    finally:
        server.stop()


def test_registry_edits_are_recorded_with_the_person_and_auditors_cannot_make_them(site):
    client = signed_in(site["port"])
    hostile = "<img src=x onerror=alert(1)>"
    form = {"payee": hostile, "account": "9999", "amount": "49.00", "tolerance": "1",
            "cadence": "monthly", "review": "2031-01-31", "reference": "SUB-7"}
    assert client.post("/registry/add", form, csrf=False)[0] == 403
    auditor = signed_in(site["port"], AUDITOR)
    status, _, page = auditor.post("/registry/add", form)
    assert status == 403 and "auditors do not change the registry" in page
    assert "/registry/add" not in auditor.get("/registry")[2]
    status, headers, _ = client.post("/registry/add", form)
    assert status == 303 and headers["Location"] == "/registry?done=add"
    ((auth_id, approver, valid_to),) = query(
        site["config"], "SELECT auth_id, approver, valid_to FROM authorizations "
                        "WHERE reference = 'SUB-7'")
    assert approver == FINANCE[0] and str(valid_to) == "2031-01-31"
    status, _, page = client.post("/registry/add", form | {"amount": "lots"})
    assert status == 400 and "is not an amount" in page
    assert client.post("/registry/remove", {"auth_id": str(auth_id)})[0] == 303
    assert query(site["config"], "SELECT count(*) FROM authorizations WHERE reference = "
                                 "'SUB-7'")[0][0] == 0
    _, _, page = client.get("/registry")
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    actions = [(a, d) for a, d in query(site["config"], "SELECT actor, action FROM audit_log "
                                        "WHERE action LIKE 'authorize%' ORDER BY seq")]
    assert actions[-2:] == [(FINANCE[0], "authorize add"), (FINANCE[0], "authorize remove")]


def test_a_saved_query_takes_its_parameters_from_a_form_and_downloads_xlsx_and_parquet(site):
    import io
    import pyarrow.parquet as pq
    client = signed_in(site["port"], AUDITOR)
    status, _, page = client.get("/query?saved=charges")
    assert status == 200 and 'name="p_payee"' in page and 'name="p_date_from"' in page
    form = {"saved": "charges", "p_payee": "devlab*", "p_date_from": "2024-01-10"}
    status, _, page = client.post("/query", form | {"format": "html"})
    assert status == 200 and page.count("<td>Devlab Consult</td>") == 2
    status, _, page = client.post("/query", form | {"p_date_from": "soon", "format": "html"})
    assert status == 400 and "invalid date field format" in page
    status, headers, body = client.post("/query", form | {"format": "parquet"})
    assert status == 200 and headers["Content-Disposition"] == 'attachment; filename="charges.parquet"'
    table = pq.read_table(io.BytesIO(body))
    assert table.num_rows == 2 and set(table.column("counterparty").to_pylist()) == {"Devlab Consult"}
    status, headers, body = client.post("/query", form | {"format": "xlsx"})
    assert status == 200 and body[:2] == b"PK"
    (actor, detail) = [r for r in audit_rows(site, "query") if '"saved":"charges"' in r[1]][-1]
    assert actor == AUDITOR[0] and '"payee":"devlab*"' in detail


def _sso_server(site, proxies: str):
    config = site["config"].with_name(f"sso-{len(proxies)}.toml")
    config.write_text(site["config"].read_text()
                      + f'user_header = "X-Remote-User"\ntrusted_proxies = {proxies}\n')
    port = free_port()
    return Server(config, port, extra_args=("--listen", f"127.0.0.1:{port}")), port


def test_single_sign_on_trusts_the_header_only_from_a_configured_proxy(site):
    server, port = _sso_server(site, '["127.0.0.1"]')
    try:
        status, _, page = Client(port, {"X-Remote-User": AUDITOR[0]}).get("/")
        assert status == 200 and f"{AUDITOR[0]} (auditor)" in page
        assert Client(port, {"X-Remote-User": "nobody"}).get("/")[0] == 303
        client = Client(port, {"X-Remote-User": FINANCE[0]})
        alert_id = site["ids"]["Devlab Consult"]
        client.get(f"/alerts/{alert_id}")
        assert client.post(f"/alerts/{alert_id}/answer", {"answer": "ack"}, csrf=False)[0] == 403
        assert client.post(f"/alerts/{alert_id}/answer", {"answer": "ack", "note": "sso"})[0] == 303
        assert audit_rows(site, "ack")[-1][0] == FINANCE[0]
    finally:
        server.stop()
    server, port = _sso_server(site, '["192.0.2.7"]')      # the header from anyone else
    try:
        assert Client(port, {"X-Remote-User": FINANCE[0]}).get("/")[0] == 303
    finally:
        server.stop()


def test_a_new_password_or_removal_ends_the_sessions(site):
    config = site["config"]
    name, password = "carol", "carol-password-1"
    assert monitor(config, "users", "add", name, "--role", "finance",
                   stdin=password + "\n").returncode == 0
    client = signed_in(site["port"], (name, password))
    assert client.get("/")[0] == 200
    done = monitor(config, "users", "password", name, stdin="carol-password-2\n")
    assert done.returncode == 0, done.stderr
    assert client.get("/")[0] == 303                       # the old session is gone
    assert Client(site["port"]).login(name, password)[0] == 401
    client = signed_in(site["port"], (name, "carol-password-2"))
    assert monitor(config, "users", "remove", name).returncode == 0
    assert client.get("/")[0] == 303
    gone = monitor(config, "users", "remove", name)
    assert gone.returncode == 2 and "no user 'carol'" in gone.stderr
    actions = [a for (a,) in query(config, "SELECT action FROM audit_log WHERE action LIKE "
                                           "'user %' ORDER BY seq")]
    assert actions[-3:] == ["user add", "user password", "user remove"]


def test_the_evidence_pack_downloads_as_a_zip_that_verifies(site, tmp_path):
    import io
    import zipfile
    client = signed_in(site["port"], AUDITOR)
    alert_id = site["ids"]["Devlab Consult"]
    client.get(f"/alerts/{alert_id}")
    assert client.get(f"/alerts/{alert_id}/evidence")[0] == 405
    assert client.post(f"/alerts/{alert_id}/evidence", {}, csrf=False)[0] == 403
    status, headers, body = client.post(f"/alerts/{alert_id}/evidence", {})
    assert status == 200 and headers["Content-Type"] == "application/zip"
    zipfile.ZipFile(io.BytesIO(body)).extractall(tmp_path)
    folder = tmp_path / f"alert-{alert_id}"
    assert '"actor": "bob"' in (folder / "manifest.json").read_text()
    done = monitor(site["config"], "evidence", "--verify", str(folder))
    assert done.returncode == 0, done.stderr
    assert audit_rows(site, "evidence")[-1][0] == AUDITOR[0]


def test_the_inbox_shows_each_detector_s_precision_from_the_outcomes(site):
    import duckdb
    from monitor.settings import config as config_mod
    # One outcome of this test's own (other tests' may run in another worker's site).
    (open_id,), = query(site["config"], "SELECT min(alert_id) FROM alerts WHERE state <> "
                                        "'resolved' AND detector = 'new_payee_repeat'")
    if open_id is not None:
        assert signed_in(site["port"]).post(f"/alerts/{open_id}/answer", {
            "answer": "resolve", "outcome": "expected"})[0] == 303
    cfg = config_mod.load(site["config"], warn=lambda line: None)
    con = duckdb.connect(str(cfg.database), read_only=True)
    try:
        expected = con.execute(
            "WITH l AS (SELECT alert_id, arg_max(outcome, decided_at) o FROM alert_outcomes "
            "GROUP BY 1) SELECT count(*), count(*) FILTER (WHERE o IN ('theft', "
            "'not_recognised')) FROM l").fetchone()
    finally:
        con.close()
    _, _, page = signed_in(site["port"]).get("/")
    assert expected[0] > 0
    assert (f"<td>new_payee_repeat</td><td>{expected[0]}</td><td>{expected[1]}</td>"
            f"<td>{expected[0] - expected[1]}</td>") in page


def test_an_https_base_url_makes_the_cookie_secure_and_a_huge_form_is_refused(site):
    config = site["config"].with_name("https.toml")
    config.write_text(site["config"].read_text().replace(
        'base_url = "http://', 'base_url = "https://'))
    port = free_port()
    server = Server(config, port, extra_args=("--listen", f"127.0.0.1:{port}"))
    try:
        client = Client(port)
        client.get("/login")
        status, headers, _ = client.post("/login", {"name": FINANCE[0], "password": FINANCE[1]})
        cookie = [h for h in headers.get_all("Set-Cookie") if h.startswith("monitor_session=")]
        assert status == 303 and "Secure" in cookie[0] and "HttpOnly" in cookie[0]
        status, _, page = client.post("/login", {"name": "x" * 200_000, "password": "y"})
        assert status == 413 and "too large" in page
    finally:
        server.stop()


def test_a_scan_does_not_reopen_what_a_person_resolved_unless_a_charge_is_new(site):
    from helpers import ingest, write_csv
    from notify_helpers import scan
    from web_helpers import SECRET
    import os
    delta = site["ids"]["Delta Works"]
    client = signed_in(site["port"])
    if state(site, delta) != "resolved":
        assert client.post(f"/alerts/{delta}/answer", {"answer": "resolve",
                                                       "outcome": "theft"})[0] == 303
    os.environ["MONITOR_WEB_SECRET"] = SECRET
    try:
        scan(site["config"], store.now())
        count = "SELECT count(*) FROM alerts WHERE counterparty = 'Delta Works'"
        assert query(site["config"], count)[0][0] == 1          # the same charges: judged
        write_csv(site["config"].parent / "in" / "more.csv",
                  [["2024-02-13", "1667.10", "Delta Works", "6666"]])
        ingest(site["config"])
        scan(site["config"], store.now())
        assert query(site["config"], count)[0][0] == 2          # a new charge: a new alert
    finally:
        os.environ.pop("MONITOR_WEB_SECRET", None)


def test_alerts_keep_their_evidence_amounts_as_the_ledger_has_them(site):
    """alerts.evidence_money (what the inbox's money at risk sums, with no ledger join) is
    each evidence charge's currency and amount as the ledger holds it."""
    kept = query(site["config"], "SELECT alert_id, e.txn_id, e.currency, e.amount FROM "
                 "(SELECT alert_id, unnest(evidence_money) AS e FROM alerts) ORDER BY ALL")
    ledger = query(site["config"], "SELECT a.alert_id, t.txn_id, t.currency, t.amount FROM "
                   "(SELECT alert_id, unnest(evidence_txn_ids) AS txn_id FROM alerts) a "
                   "JOIN transactions t USING (txn_id) ORDER BY ALL")
    assert kept == ledger and kept


def test_the_dummy_hash_a_missing_user_is_checked_against_costs_what_a_real_one_costs():
    """auth._DUMMY is written out (hashing it at import cost every command ~0.1 s): it must
    carry the hasher's own parameters, so a wrong name takes as long as a wrong password."""
    from monitor.web import auth
    assert not auth._HASHER.check_needs_rehash(auth._DUMMY)
    assert auth._HASHER.verify(auth._DUMMY, "not a password of anyone")
