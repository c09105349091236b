"""The web inbox: Starlette routes over the same database and use cases as the command line.

Every page is rendered on the server and works without JavaScript. Reads and answers open
the ledger for the length of one request (as a CLI verb does) and close it, so the daemon
and the operator's verbs are kept waiting a moment at most; one lock serialises this
process's requests on it. No GET changes anything: answers, sign-in and sign-out are POSTs
carrying the session's CSRF token; an e-mail link's GET only shows a confirmation page.
"""
from __future__ import annotations

import secrets
import sys
import threading
from datetime import date, timedelta
from functools import cache
from urllib.parse import parse_qs, quote

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from monitor import pipeline
from monitor.alerting import charts, lifecycle, links, notify
from monitor.audit import log as audit
from monitor.errors import InputError, MonitorError
from monitor.ledger import registry
from monitor.settings.config import Config
from monitor.sql import store
from monitor.redact import redact
from monitor.web import auditor, auth, reviews
from monitor.web.auth import Refused

MAX_FORM = 64 * 1024          # bytes of a form body; the biggest is an auditor's SQL
EVIDENCE_ROWS = 200           # evidence charges shown on an alert page
INBOX_ROWS = 1000
LOGIN_NONCE = "monitor_login"
HEADERS = {
    # no script at all, nothing from elsewhere, no framing; a link's token never leaks in
    # a Referer header
    "Content-Security-Policy": "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store", "X-Frame-Options": "DENY",
}
ANSWER_DONE = {"ack": "acknowledged", "snooze": "snoozed", "resolve": "resolved",
               "expected": "recorded as expected (registry entry added)",
               "not_recognised": "escalated as not recognised"}


@cache
def _env():
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
    env = Environment(loader=PackageLoader("monitor", "templates"), undefined=StrictUndefined,
                      autoescape=select_autoescape(["html.j2"]), trim_blocks=True,
                      lstrip_blocks=True)
    env.filters["clean"] = notify.clean
    env.filters["money"] = notify.money
    return env


class Web:
    def __init__(self, config: Config):
        self.config, self.web = config, config.web
        self.secret = self.web.secret()          # refuse to start without it
        self.lock = threading.Lock()
        # per name: a guessed password; per address: many names tried from one place (an
        # office behind one address signs in often, so it is allowed more)
        self.by_name, self.by_client = auth.Throttle(5), auth.Throttle(20)
        self.money_cache = (None, [])
        self.headers = HEADERS

    # -- plumbing ---------------------------------------------------------------------------

    def _with_db(self, work):
        with self.lock:
            con = store.connect(self.config.database, memory_limit=self.config.memory_limit,
                                wait=store.LOCK_WAIT)
            try:
                return work(con)
            finally:
                con.close()

    async def db(self, work):
        return await run_in_threadpool(self._with_db, work)

    def page(self, name: str, status: int = 200, user=None, **context) -> HTMLResponse:
        html = _env().get_template(name).render(user=user, **context)
        return HTMLResponse(html, status_code=status, headers=HEADERS)

    def plain(self, status: int, message: str, user=None) -> HTMLResponse:
        return self.page("web_message.html.j2", status, user=user, message=message)

    async def form(self, request: Request) -> dict:
        body = b""
        async for chunk in request.stream():      # never more than MAX_FORM in memory
            body += chunk
            if len(body) > MAX_FORM:
                raise Refused(413, "The form is too large.")
        try:
            pairs = parse_qs(body.decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError:
            raise Refused(400, "The form is not UTF-8 text.") from None
        return {k: v[0] for k, v in pairs.items()}

    async def signed_in(self, request: Request, work=None) -> tuple[auth.User, object]:
        """The signed-in user and what `work(con, user)` returns, on one connection of the
        ledger (opening one costs more than the rest of most pages); to the sign-in page
        when there is no live session."""
        token, proxied = request.cookies.get(auth.COOKIE), self._proxied(request)
        if not token and not proxied:
            raise Refused(303, request.url.path)

        def run(con):
            user = auth.session_user(con, token) if token else None
            if user is None and proxied:
                user = auth.proxy_user(con, proxied, self.secret)
            return user, (work(con, user) if user is not None and work else None)
        user, result = await self.db(run)
        if user is None:
            raise Refused(303, request.url.path)
        return user, result

    def _proxied(self, request: Request) -> str | None:
        """The user a trusted reverse proxy names (single sign-on): only when the
        connection comes from one of [web] trusted_proxies; anyone else's header is
        ignored. The name must be a user added with `monitor users add` (for the role)."""
        if not self.web.user_header or request.client is None \
                or request.client.host not in self.web.trusted_proxies:
            return None
        return (request.headers.get(self.web.user_header) or "").strip() or None

    def check_csrf(self, user: auth.User, form: dict) -> None:
        if not auth.same(user.csrf, form.get("csrf")):
            raise Refused(403, "This form has expired or did not come from this site "
                               "(its security token is missing or wrong). Go back, reload "
                               "the page and try again.")

    def cookie_options(self) -> dict:
        return {"httponly": True, "samesite": "lax", "secure": self.web.secure, "path": "/"}

    # -- sign in and out --------------------------------------------------------------------

    async def login_page(self, request: Request, error: str | None = None, status: int = 200):
        nonce = secrets.token_urlsafe(16)
        response = self.page("web_login.html.j2", status, error=error,
                             csrf=auth.login_csrf(self.secret, nonce),
                             next=_local(request.query_params.get("next", "/")))
        response.set_cookie(LOGIN_NONCE, nonce, max_age=3600, **self.cookie_options())
        return response

    async def login(self, request: Request):
        form = await self.form(request)
        nonce = request.cookies.get(LOGIN_NONCE, "")
        if not nonce or not auth.same(auth.login_csrf(self.secret, nonce), form.get("csrf")):
            raise Refused(403, "This sign-in form has expired or did not come from this site. "
                               "Reload the sign-in page and try again.")
        name, password = (form.get("name") or "").strip(), form.get("password") or ""
        client = request.client.host if request.client else "unknown"
        keys = (name.lower(), client)
        wait = max(self.by_name.wait(keys[0]), self.by_client.wait(keys[1]))
        if wait:
            await self.db(lambda con: audit.record(con, "web login", {
                "name": name, "ok": False, "client": client, "throttled": True}, who=name or "?"))
            return await self.login_page(request, f"Too many failed sign-ins. Try again in "
                                                  f"{(wait + 59) // 60} minute(s).", 429)

        def attempt(con):
            found = auth.check_password(con, name, password)
            audit.record(con, "web login", {"name": name, "ok": found is not None,
                                            "client": client}, who=name or "?")
            return (found, auth.start_session(con, found)) if found else (None, None)
        found, token = await self.db(attempt)
        if found is None:
            self.by_name.failed(keys[0])
            self.by_client.failed(keys[1])
            return await self.login_page(request, "The name or the password is wrong.", 401)
        self.by_name.succeeded(keys[0])
        response = RedirectResponse(_local(form.get("next", "/")), status_code=303,
                                    headers=HEADERS)
        response.set_cookie(auth.COOKIE, token, max_age=int(auth.SESSION_LIFE.total_seconds()),
                            **self.cookie_options())
        response.delete_cookie(LOGIN_NONCE, path="/")
        return response

    async def logout(self, request: Request):
        form, token = await self.form(request), request.cookies.get(auth.COOKIE)

        def end(con, user):
            self.check_csrf(user, form)
            auth.end_session(con, token)
            audit.record(con, "web logout", {"name": user.name}, who=user.name)
        await self.signed_in(request, end)
        response = RedirectResponse("/login", status_code=303, headers=HEADERS)
        response.delete_cookie(auth.COOKIE, path="/")
        return response

    # -- reading ----------------------------------------------------------------------------

    async def inbox(self, request: Request):
        def read(con, _user):      # readers write nothing: states are the last scan's or answer's
            found = store.rows(con, "web/inbox", {
                "limit": INBOX_ROWS, "aggregate": list(lifecycle.AGGREGATE_DETECTORS)})
            return found, self._money(con), store.rows(con, "web/precision")
        user, (alerts, money, precision) = await self.signed_in(request, read)
        return self.page("web_inbox.html.j2", user=user, alerts=[_line(a) for a in alerts],
                         money=money, limit=INBOX_ROWS, precision=precision)

    def _money(self, con) -> list[dict]:
        """The distinct money at risk of the open alerts, from the amounts each alert keeps
        (alerts.evidence_money: no pass over the ledger). Still kept until the set of open
        alerts or their evidence changes (a scan updates last_seen_at; an acknowledgement
        changes neither, a resolution the set): the check costs less than the sum."""
        version = con.execute(
            "SELECT count(*), max(last_seen_at), bit_xor(hash(alert_id)) FROM alerts "
            "WHERE state <> 'resolved'").fetchone()
        if self.money_cache[0] != version:
            ids = [i for (i,) in con.execute(
                "SELECT alert_id FROM alerts WHERE state <> 'resolved'").fetchall()]
            self.money_cache = (version, lifecycle.money_at_risk(con, ids))
        return self.money_cache[1]

    async def alert_page(self, request: Request):
        alert_id = _int(request.path_params["alert_id"])
        user, facts = await self.signed_in(request, lambda con, _: self._facts(con, alert_id))
        return self.page("web_alert.html.j2", user=user, done=ANSWER_DONE.get(
            request.query_params.get("done", "")), **facts)

    def _facts(self, con, alert_id: int) -> dict:
        found = lifecycle.get(con, alert_id)
        charges = lifecycle.evidence(con, found)
        return {"alert": _line(found), "evidence": charges[:EVIDENCE_ROWS],
                "evidence_count": len(charges),
                "history": lifecycle.history(con, alert_id),
                "related": [r | {"sentence": notify.clean(r["sentence"])} for r in
                            store.rows(con, "web/related_alerts", {"alert_id": alert_id})],
                "outcomes": lifecycle.outcomes(con, alert_id),
                "proposal": registry.propose(charges),
                "review": date.today() + timedelta(days=365),
                "cadences": registry.CADENCES, "outcome_names": lifecycle.OUTCOMES,
                "can_answer": found["state"] != "resolved"}

    async def chart(self, request: Request):
        alert_id = _int(request.path_params["alert_id"])

        def draw(con, _user):
            found = lifecycle.get(con, alert_id)
            points = tuple((r["posted_at"], r["amount"]) for r in lifecycle.evidence(con, found))
            line = _line(found)
            return notify.chart_png(line["payee"][:60], line["where"], points,
                                    charts.tiers(self.config, found["detector"])) if points else None
        _, png = await self.signed_in(request, draw)
        if png is None:
            raise Refused(404, "This alert has no charges to draw.")
        return Response(png, media_type="image/png", headers=HEADERS)

    async def registry_page(self, request: Request):
        def read(con, _user):
            return registry.entries(con), store.rows(con, "web/registry_history", {"limit": 50})
        user, (entries, history) = await self.signed_in(request, read)
        return self.page("web_registry.html.j2", user=user, entries=entries, history=history,
                         managed=registry.managed_by(self.config), cadences=registry.CADENCES,
                         review=date.today() + timedelta(days=365),
                         done=request.query_params.get("done"))

    async def registry_change(self, request: Request):
        """Add or remove an entry (finance, admin), as `monitor authorize add/remove` do,
        with the person in the audit log; a change is a removal and an addition."""
        form, kind = await self.form(request), request.path_params["change"]

        def change(con, user):
            self.check_csrf(user, form)
            if not user.can_answer:
                raise Refused(403, f"You are signed in as {user.name}, an {user.role}: "
                                   "auditors do not change the registry.")
            registry.refuse_if_managed(self.config, kind)
            if kind == "remove":
                return registry.withdraw(con, _int(form.get("auth_id"), "the entry number"),
                                         who=user.name, via="web")
            entry = {"payee": form.get("payee"), "account": form.get("account"),
                     "expected_amount": form.get("amount"), "tolerance": form.get("tolerance"),
                     "cadence": form.get("cadence"), "valid_from": form.get("valid_from"),
                     "valid_to": form.get("review"), "approver": user.name,
                     "reference": form.get("reference")}
            return registry.approve(con, registry.validate(entry, "the new entry"),
                                    who=user.name, via="web")
        if kind not in ("add", "remove"):
            raise Refused(404, "There is no such page.")
        await self.signed_in(request, change)
        return RedirectResponse(f"/registry?done={kind}", status_code=303, headers=HEADERS)

    # -- answering --------------------------------------------------------------------------

    async def answer(self, request: Request):
        form = await self.form(request)
        alert_id = _int(request.path_params["alert_id"])
        kind = form.get("answer", "")

        def act(con, user):
            self.check_csrf(user, form)
            if not user.can_answer:
                raise Refused(403, f"You are signed in as {user.name}, an {user.role}: "
                                   "auditors read and query; they do not answer alerts.")
            return self._answer(con, alert_id, kind, form, user.name, "web")
        await self.signed_in(request, act)
        return RedirectResponse(f"/alerts/{alert_id}?done={quote(kind)}", status_code=303,
                                headers=HEADERS)

    def _answer(self, con, alert_id: int, kind: str, form: dict, by: str, via: str) -> dict:
        options = {"note": form.get("note")}
        if kind == "snooze":
            options["days"] = _int(form.get("days") or "0", "the number of days")
        elif kind == "resolve":
            options["outcome"] = form.get("outcome")
        elif kind == "expected":
            found = lifecycle.get(con, alert_id)
            options["entry"] = {
                "payee": found["counterparty"], "account": found["account"],
                "expected_amount": form.get("amount"), "tolerance": form.get("tolerance"),
                "cadence": form.get("cadence"), "valid_to": form.get("review"),
                "reference": form.get("reference") or f"alert {alert_id}"}
        return pipeline.answer(con, self.config, alert_id, kind, by=by, via=via, **options)

    # -- e-mail action links ----------------------------------------------------------------

    def _link(self, con, token: str) -> tuple[links.Link, dict]:
        link = auth.open_link(con, links.verify, self.secret, token, "web_links_used",
                              "Open the alert from the inbox to see what was done.")
        found = lifecycle.get(con, link.alert_id)
        if ("email", link.recipient) not in notify.destinations(self.config, found) + \
                notify.destinations(self.config, found, digest=True):
            raise Refused(403, "This link was sent to an address that no longer receives "
                               "this alert, so it cannot answer it. Open the alert from the "
                               "inbox instead.")
        return link, found

    async def link_page(self, request: Request):
        token = request.path_params["token"]

        def read(con, _user=None):
            link, _ = self._link(con, token)
            return link, self._facts(con, link.alert_id)
        user = None
        if self.web.links_need_login:       # the switch: a link answers only once signed in
            user, (link, facts) = await self.signed_in(request, read)
        else:
            link, facts = await self.db(read)
        return self.page("web_confirm.html.j2", user=user, link=link,
                         label=links.ANSWERS[link.answer], token=token, **facts)

    async def link_answer(self, request: Request):
        token = request.path_params["token"]
        form = await self.form(request)

        def act(con, user=None):
            link, _ = self._link(con, token)
            by, via = link.recipient, "e-mail link"
            if user is not None:
                self.check_csrf(user, form)
                if not user.can_answer:
                    raise Refused(403, f"You are signed in as {user.name}, an {user.role}: "
                                       "auditors do not answer alerts.")
                by, via = user.name, f"e-mail link to {link.recipient}"
            auth.use_once(con, "web_links_used", [link.digest, link.recipient, link.alert_id,
                                                   link.answer, store.now()],
                          lambda: self._answer(con, link.alert_id, link.answer, form, by, via))
            return link, by
        if self.web.links_need_login:
            user, (link, by) = await self.signed_in(request, act)
        else:
            user, (link, by) = None, await self.db(act)
        return self.plain(200, f"Done: alert {link.alert_id} {ANSWER_DONE[link.answer]}, "
                               f"recorded as {notify.clean(by)}.", user=user)


def _line(alert: dict) -> dict:
    """What a person reads about an alert, outside text cleaned of control characters (the
    templates escape it)."""
    where = (f"account {notify.clean(alert['account'])}" if alert["account"]
             else f"initiator {notify.clean(alert['initiator'])}" if alert["initiator"]
             else "all accounts")
    payee = notify.clean(alert["counterparty"]) or (
        "several payees" if alert["initiator"] else "(no payee)")
    return alert | {"payee": payee, "where": where,
                    "money": f"{notify.money(alert['exposure'])} {notify.clean(alert['currency'])}"
                    .strip(), "sentence": notify.clean(alert["sentence"])}


def _int(text: str, what: str = "the alert number") -> int:
    try:
        return int(text)
    except (TypeError, ValueError):
        raise InputError(f"{what} '{notify.clean(text)}' is not a whole number") from None


def _local(path: str) -> str:
    """A redirect target on this site only (never //elsewhere or a scheme)."""
    return path if path.startswith("/") and not path.startswith("//") and "\\" not in path \
        else "/"


def create_app(config: Config) -> Starlette:
    web = Web(config)
    try:              # the inbox's first load is then as quick as the next
        web._with_db(web._money)
    except MonitorError:      # the daemon holds the ledger for long: the first load pays
        pass

    def guard(handler):
        async def endpoint(request: Request):
            try:
                return await handler(request)
            except Refused as e:
                if e.status == 303:       # not signed in: to the sign-in page and back
                    return RedirectResponse(f"/login?next={quote(str(e))}", status_code=303,
                                            headers=HEADERS)
                return web.plain(e.status, str(e))
            except MonitorError as e:      # InputError, ConfigError, a busy database
                return web.plain(400 if isinstance(e, InputError) else 503,
                                 notify.clean(str(e)))
            except Exception as e:         # a bug: one line in the server's log, a plain page
                print(f"error: internal: {request.method} {request.url.path}: "
                      f"{type(e).__name__}: {redact(' '.join(str(e).split()))}", file=sys.stderr)
                return web.plain(500, "Something went wrong on the server (the server's "
                                      "log says what); try again or tell the operator.")
        return endpoint

    routes = [
        Route("/", guard(web.inbox)),
        Route("/login", guard(web.login_page), methods=["GET"]),
        Route("/login", guard(web.login), methods=["POST"]),
        Route("/logout", guard(web.logout), methods=["POST"]),
        Route("/alerts/{alert_id}", guard(web.alert_page)),
        Route("/alerts/{alert_id}/chart.png", guard(web.chart)),
        Route("/alerts/{alert_id}/answer", guard(web.answer), methods=["POST"]),
        Route("/alerts/{alert_id}/evidence", guard(lambda request: auditor.evidence(web, request)),
              methods=["POST"]),
        Route("/a/{token}", guard(web.link_page), methods=["GET"]),
        Route("/a/{token}", guard(web.link_answer), methods=["POST"]),
        Route("/r/{token}", guard(lambda request: reviews.link_page(web, request)),
              methods=["GET"]),
        Route("/r/{token}", guard(lambda request: reviews.link_answer(web, request)),
              methods=["POST"]),
        Route("/registry", guard(web.registry_page)),
        Route("/registry/{change}", guard(web.registry_change), methods=["POST"]),
        Route("/query", guard(lambda request: auditor.query_page(web, request)),
              methods=["GET"]),
        Route("/query", guard(lambda request: auditor.query(web, request)), methods=["POST"]),
    ]
    return Starlette(routes=routes)
