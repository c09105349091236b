"""[web] in config.toml: `monitor serve`, the browser inbox, and the links in the e-mails.

    [web]
    listen = "127.0.0.1:8080"                  # host:port the server binds (loopback by default)
    base_url = "https://monitor.example.org"   # the address e-mail links point to
    secret_env = "MONITOR_WEB_SECRET"          # signs sessions and e-mail action links
    link_expiry = "7d"                         # how long an e-mail action link works
    links_need_login = false                   # true: a link answers only once signed in
    user_header = "X-Remote-User"              # single sign-on: the proxy names the user...
    trusted_proxies = ["127.0.0.1"]            # ...and only these addresses are believed

Without base_url the e-mails carry no links (the command-line answers only). The secret is
read from the environment when it is used, never from the file: the config is often in a
repository, the secret must not be.
"""
from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from monitor.errors import ConfigError
from monitor.settings.validator import (Validator, boolean, duration, env_name, strings,
                                        subtable)

DEFAULT_LISTEN = "127.0.0.1:8080"
DEFAULT_SECRET_ENV = "MONITOR_WEB_SECRET"
DEFAULT_LINK_EXPIRY = timedelta(days=7)
MIN_SECRET = 16         # characters: a short secret can be guessed from one signed link
HEADER = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,63}$")
LISTEN = re.compile(r"^(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(?P<port>\d{1,5})$")


@dataclass(frozen=True)
class WebSettings:
    host: str = "127.0.0.1"
    port: int = 8080
    base_url: str | None = None
    secret_env: str = DEFAULT_SECRET_ENV
    link_expiry: timedelta = DEFAULT_LINK_EXPIRY
    links_need_login: bool = False
    user_header: str | None = None
    trusted_proxies: tuple[str, ...] = ()
    where: str = "config.toml"      # file:line of [web], for the secret's error message

    @property
    def secure(self) -> bool:
        """Cookies get the Secure flag when the public address is https."""
        return bool(self.base_url) and self.base_url.startswith("https://")

    def secret(self) -> bytes:
        """The signing secret from the environment; ConfigError when missing or short."""
        value = os.environ.get(self.secret_env, "")
        if len(value) < MIN_SECRET:
            state = "is not set" if not value else f"is shorter than {MIN_SECRET} characters"
            raise ConfigError(
                f"{self.where}: web.secret_env: the environment variable {self.secret_env} "
                f"{state}; set it to a long random text (e.g. `export {self.secret_env}="
                "$(openssl rand -hex 32)`) before `monitor serve` or a scan that e-mails links")
        return value.encode("utf-8")


def web_settings(v: Validator, data: dict) -> WebSettings:
    p = "web."
    table = subtable(v, data, "web")
    v.unknown(table, ("listen", "base_url", "secret_env", "link_expiry", "links_need_login",
                      "user_header", "trusted_proxies"), p)
    listen = v.string(table, "listen", p + "listen", default=DEFAULT_LISTEN)
    match = LISTEN.match(listen)
    if not match or not 0 < int(match["port"]) < 65536:
        raise v.error(p + "listen", f"= '{listen}' is not host:port",
                      'write it like "127.0.0.1:8080"')
    base_url = v.string(table, "base_url", p + "base_url")
    if base_url is not None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query \
                or parts.fragment:
            raise v.error(p + "base_url", f"= '{base_url}' is not a web address",
                          'write it like "https://monitor.example.org" (a path is allowed)')
        base_url = base_url.rstrip("/")
    secret = env_name(v, table, "secret_env", p) or DEFAULT_SECRET_ENV
    expiry = duration(v, table, "link_expiry", p, DEFAULT_LINK_EXPIRY)
    if expiry <= timedelta(0):
        raise v.error(p + "link_expiry", "= \"0\" would make every link expire at once",
                      'write how long links work, like "7d"')
    header = v.string(table, "user_header", p + "user_header")
    if header is not None and not HEADER.match(header):
        raise v.error(p + "user_header", f"= '{header}' is not a header name",
                      'write it like "X-Remote-User"')
    proxies = strings(v, table, "trusted_proxies", p)
    for proxy in proxies:
        try:
            ipaddress.ip_address(proxy)
        except ValueError:
            raise v.error(p + "trusted_proxies", f"holds '{proxy}', which is not an IP address",
                          'list the proxies\' addresses, like ["127.0.0.1"]') from None
    if bool(header) != bool(proxies):
        raise v.error(p + ("trusted_proxies" if header else "user_header"), "is missing",
                      "single sign-on needs both user_header and trusted_proxies")
    return WebSettings(host=match["host"].strip("[]"), port=int(match["port"]),
                       base_url=base_url, secret_env=secret, link_expiry=expiry,
                       links_need_login=boolean(v, table, "links_need_login", p, False),
                       user_header=header, trusted_proxies=proxies,
                       where=v.where("web"))
