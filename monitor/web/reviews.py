"""The expected-spend review's e-mail links in the browser (issue 18): `/r/<token>`.

They work exactly as the alert action links do (monitor.web.app, `/a/<token>`): the GET only
shows a confirmation page with the entry and what the answer will do, so a mail scanner that
fetches every link changes nothing; only the page's POST button acts, as the recipient (or,
with [web] links_need_login, as the signed-in finance or admin user, with the CSRF token).
A link is refused with a plain page when altered, expired, already used, stale (the entry
was answered or edited since: its review date is no longer the one the e-mail asked about),
or when its recipient is no longer where the entry's reviews go.
"""
from __future__ import annotations

from starlette.requests import Request

from monitor import pipeline
from monitor.alerting import reviews
from monitor.alerting.notify import clean
from monitor.sql import store
from monitor.web import auth
from monitor.web.auth import Refused

DONE = {"still": "kept: its review date is now {date}",
        "ended": "ended: it explains no charge after {date}"}


def _check(web, con, token: str) -> tuple[reviews.ReviewLink, dict]:
    link = auth.open_link(con, reviews.verify, web.secret, token, "review_links_used",
                          "The registry page shows the entry as it is now.")
    found = con.execute("SELECT auth_id, payee, account, expected_amount, tolerance, cadence, "
                        "valid_from, valid_to, approver, reference FROM authorizations "
                        "WHERE auth_id = ?", [link.auth_id]).fetchall()
    if not found:
        raise Refused(410, "This registry entry no longer exists.")
    names = ("auth_id", "payee", "account", "expected_amount", "tolerance", "cadence",
             "valid_from", "valid_to", "approver", "reference")
    entry = dict(zip(names, found[0]))
    if entry["valid_to"] != link.review_date:
        raise Refused(410, f"This entry was answered or changed since the e-mail was sent: "
                           f"its review date is now {entry['valid_to'] or 'none'}. The "
                           "registry page shows it.")
    if link.recipient not in reviews.owner_addresses(web.config, entry):
        raise Refused(403, "This link was sent to an address that no longer receives this "
                           "entry's reviews, so it cannot answer. Open the registry instead.")
    return link, entry


async def link_page(web, request: Request):
    token = request.path_params["token"]

    def read(con, _user=None):
        link, entry = _check(web, con, token)
        return link, entry, reviews.new_review_date(entry, link.answer, store.now().date())
    user = None
    if web.web.links_need_login:
        user, (link, entry, after) = await web.signed_in(request, read)
    else:
        link, entry, after = await web.db(read)
    return web.page("web_review.html.j2", user=user, link=link, entry=entry, after=after,
                    label=reviews.ANSWERS[link.answer], token=token)


async def link_answer(web, request: Request):
    token = request.path_params["token"]
    form = await web.form(request)

    def act(con, user=None):
        link, _ = _check(web, con, token)
        by, via = link.recipient, "e-mail review link"
        if user is not None:
            web.check_csrf(user, form)
            if not user.can_answer:
                raise Refused(403, f"You are signed in as {user.name}, an {user.role}: "
                                   "auditors do not change the registry.")
            by, via = user.name, f"e-mail review link to {link.recipient}"
        after = auth.use_once(
            con, "review_links_used",
            [link.digest, link.recipient, link.auth_id, link.answer, store.now()],
            lambda: pipeline.answer_review(con, web.config, link.auth_id, link.answer,
                                           by=by, via=via))
        return link, by, after
    if web.web.links_need_login:
        user, (link, by, after) = await web.signed_in(request, act)
    else:
        user, (link, by, after) = None, await web.db(act)
    done = DONE[link.answer].format(date=after["valid_to"])
    return web.plain(200, f"Done: registry entry {link.auth_id} ({clean(after['payee'])}) "
                          f"{done}; recorded as {clean(by)}.", user=user)
