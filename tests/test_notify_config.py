"""[alerts] and [notify] in config.toml: the documented keys work exactly as written,
typos are warned about with file and key, bad values stop with file, key and fix."""
from __future__ import annotations

from datetime import timedelta

import pytest

from helpers import assert_one_line_error
from monitor.settings import config as config_mod
from monitor.errors import ConfigError
from notify_helpers import run_cli

DOCUMENTED = """\
[notify.email]
smtp_host = "127.0.0.1"
smtp_port = 2525
security = "starttls"                 # none | starttls | tls
username = "monitor"                  # optional
password_env = "MONITOR_SMTP_PASSWORD"
sender = "monitor@example.org"
recipients = ["finance@example.org"]
"""

FULL = DOCUMENTED + """\
digest = false
timeout = 20

[alerts]
repeat_interval = "4h"
send_resolved = true

[notify]
digest_hour = 7
retry_for = "2m"
retry_initial = "5s"
retry_max = "10m"

[notify.webhook]
url_env = "MONITOR_WEBHOOK_URL"
min_severity = "high"

[[notify.routes]]
recipients = ["cfo@example.org"]
min_severity = "critical"

[[notify.routes]]
recipients = ["cards@example.org"]
accounts = ["1111", "2222"]
sources = ["pcards"]
detectors = ["new_payee_repeat"]
digest = true
"""


def load(tmp_path, text, warnings=None):
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return config_mod.load(path, warn=(warnings if warnings is not None else []).append)


def test_the_documented_email_keys_work_exactly_as_written(tmp_path):
    warnings = []
    email = load(tmp_path, DOCUMENTED, warnings).notify.email
    assert warnings == []
    assert (email.smtp_host, email.port, email.security, email.username, email.password_env,
            email.sender, email.recipients) == (
        "127.0.0.1", 2525, "starttls", "monitor", "MONITOR_SMTP_PASSWORD",
        "monitor@example.org", ("finance@example.org",))


def test_every_key(tmp_path):
    warnings = []
    cfg = load(tmp_path, FULL, warnings)
    assert warnings == []
    assert cfg.alerts.repeat_interval == timedelta(hours=4) and cfg.alerts.send_resolved
    n = cfg.notify
    assert (n.digest_hour, n.retry_for, n.retry_initial, n.retry_max) == (
        7, timedelta(minutes=2), timedelta(seconds=5), timedelta(minutes=10))
    assert (n.webhook.url_env, n.webhook.min_severity) == ("MONITOR_WEBHOOK_URL", "high")
    cfo, cards = n.routes
    assert (cfo.recipients, cfo.min_severity, cfo.digest) == (("cfo@example.org",), "critical",
                                                              False)
    assert (cards.accounts, cards.sources, cards.detectors, cards.digest) == (
        ("1111", "2222"), ("pcards",), ("new_payee_repeat",), True)


def test_defaults_write_eml_files_and_remind_daily(tmp_path):
    cfg = load(tmp_path, "")
    assert cfg.notify.email.smtp_host is None and cfg.notify.email.recipients
    assert cfg.alerts.repeat_interval == timedelta(hours=24)
    assert cfg.notify.webhook is None and cfg.notify.routes == ()
    assert load(tmp_path, '[alerts]\nrepeat_interval = "0"\n').alerts.repeat_interval is None


def test_unknown_keys_are_warned_about_with_file_line_and_hint(tmp_path):
    warnings = []
    load(tmp_path, DOCUMENTED + "smtp_prot = 25\n\n[alerts]\nrepeat_intervall = \"1h\"\n",
         warnings)
    typo, alerts = sorted(warnings, key=lambda w: "alerts" in w)
    assert f"{tmp_path / 'config.toml'}:9: unknown key 'notify.email.smtp_prot'" in typo
    assert "did you mean 'smtp_port'" in typo
    assert f"{tmp_path / 'config.toml'}:12: unknown key 'alerts.repeat_intervall'" in alerts


@pytest.mark.parametrize("text, key, fix", [
    ('[notify.email]\nsecurity = "ssl"\n', "notify.email.security", "none, starttls, tls"),
    ('[notify.email]\nsmtp_port = "25"\n', "notify.email.smtp_port", "whole number"),
    ('[notify.email]\nusername = "u"\n', "notify.email.password_env", "MONITOR_SMTP_PASSWORD"),
    ('[notify.email]\npassword_env = "my password"\n', "notify.email.password_env",
     "environment variable"),
    ('[notify.email]\nrecipients = ["finance"]\n', "notify.email.recipients", "finance@"),
    ('[notify.email]\nrecipients = "a@b.org\\nBcc: x@y.org"\n', "notify.email.recipients",
     "plain addresses"),
    ('[notify.email]\nsender = "Monitor"\n', "notify.email.sender", "monitor@example.org"),
    ('[notify.email]\nca_file = "missing.pem"\n', "notify.email.ca_file", "PEM"),
    ('[alerts]\nrepeat_interval = "soon"\n', "alerts.repeat_interval", '"4h"'),
    ('[alerts]\nsend_resolved = "yes"\n', "alerts.send_resolved", "true or false"),
    ('[notify]\ndigest_hour = 25\n', "notify.digest_hour", "0 to 23"),
    ('[notify.webhook]\nmin_severity = "high"\n', "notify.webhook.url", "url_env"),
    ('[notify.webhook]\nurl = "ftp://x"\n', "notify.webhook.url", "https://"),
    ('[[notify.routes]]\nmin_severity = "high"\n', "notify.routes[0].recipients", "recipients"),
    ('[[notify.routes]]\nrecipients = ["a@b.org"]\nmin_severity = "urgent"\n',
     "notify.routes[0].min_severity", "warning, high, critical"),
])
def test_invalid_values_name_file_line_key_and_fix(tmp_path, text, key, fix):
    with pytest.raises(ConfigError) as raised:
        load(tmp_path, text)
    message = str(raised.value)
    assert message.startswith(str(tmp_path / "config.toml") + ":") and key in message
    assert fix in message


def test_the_command_line_exits_2_on_a_bad_notify_value(tmp_path):
    (tmp_path / "config.toml").write_text('[notify.email]\nsecurity = "ssl"\n', encoding="utf-8")
    proc = run_cli("--config", str(tmp_path / "config.toml"), "alerts", "list")
    assert "notify.email.security" in assert_one_line_error(proc, 2)
