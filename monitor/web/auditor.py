"""The auditors' page of the web inbox: read-only SQL, typed or saved (with a form for the
saved query's parameters), shown as a table or downloaded as CSV, XLSX or Parquet.

It is `monitor query` through a browser: the same enforcement (monitor.audit.log: one SELECT
on the published snapshot, through a connection DuckDB keeps read-only with no file access,
within the configured memory, temp-space and time limits), the same writers
(monitor.audit.export) and an audit entry for every attempt, refused ones too, with the
signed-in person as the actor.
"""
from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from monitor.audit import export, log as audit
from monitor.errors import MonitorError

QUERY_ROWS = 500              # rows the page shows (a download has them all)
DOWNLOADS = {"csv": "text/csv; charset=utf-8",
             "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
             "parquet": "application/vnd.apache.parquet"}


def _saved_list() -> list[dict]:
    return audit.listing()


def _context(request: Request, **more) -> dict:
    name = more.pop("saved_name", None) or request.query_params.get("saved") or ""
    spec = None
    if name:
        try:
            spec = audit.saved(name)
        except MonitorError:
            name = ""
    return {"saved": _saved_list(), "saved_name": name, "spec": spec, "sql": "",
            "columns": None, "rows": None, "more": False, "error": None, "values": {}} | more


async def query_page(web, request: Request):
    user, _ = await web.signed_in(request)
    return web.page("web_query.html.j2", user=user, **_context(request))


async def query(web, request: Request):
    form = await web.form(request)
    user, _ = await web.signed_in(request, lambda con, user: web.check_csrf(user, form))
    fmt = form.get("format", "html")
    name = form.get("saved") or ""
    values = {k[2:]: v for k, v in form.items() if k.startswith("p_") and v != ""}
    sql = form.get("sql") or ""
    detail = {"saved": name or None, "sql": None if name else sql, "params": values,
              "via": "web", "format": fmt}
    database, config = web.config.database, web.config

    def run_query():
        if name:
            spec = audit.saved(name)
            text, bound = spec["sql"], audit.bind([f"{k}={v}" for k, v in values.items()],
                                                  spec["params"])
        else:
            text, bound = sql, {}
        detail["params"] = bound
        con, snap, _fresh = audit.open_reader(database, config)
        detail["snapshot"] = str(snap)
        try:
            with audit.guarded(con, audit.query_timeout(config)):
                if fmt == "csv":
                    buffer = io.StringIO()
                    written = export.write(con, text, bound, "csv", stream=buffer)
                    return None, buffer.getvalue().encode("utf-8-sig"), written.rows, \
                        written.sha256
                if fmt in DOWNLOADS:        # xlsx, parquet: written to a file, then sent
                    with tempfile.TemporaryDirectory(prefix="monitor-web-") as folder:
                        out = Path(folder) / f"query.{fmt}"
                        written = export.write(con, text, bound, fmt, out=out)
                        return None, out.read_bytes(), written.rows, written.sha256
                rel = export.relation(con, text, bound)
                columns, rows = rel.columns, rel.limit(QUERY_ROWS + 1).fetchall()
                return columns, rows, len(rows), audit.rows_hash(columns, rows)
        finally:
            con.close()
    try:
        columns, result, count, sha = await run_in_threadpool(run_query)
    except MonitorError as e:       # refused, failed, timed out: logged too
        await run_in_threadpool(audit.record_at, database, "query",
                                detail | {"error": str(e)}, None, user.name)
        return web.page("web_query.html.j2", 400, user=user, **_context(
            request, saved_name=name, sql=sql, error=str(e), values=values))
    await run_in_threadpool(audit.record_at, database, "query", detail | {"rows": count},
                            sha, user.name)
    if fmt in DOWNLOADS:
        filename = f"{name or 'query'}.{fmt}"
        return Response(result, media_type=DOWNLOADS[fmt], headers=web.headers | {
            "Content-Disposition": f'attachment; filename="{filename}"'})
    return web.page("web_query.html.j2", user=user, **_context(
        request, saved_name=name, sql=sql, columns=columns, rows=result[:QUERY_ROWS],
        more=len(result) > QUERY_ROWS, values=values))


async def evidence(web, request: Request):
    """An alert's evidence pack (`monitor evidence`) as a zip: alert.json, evidence.csv, the
    query and parameters, and the manifest with every file's SHA-256 and the data version;
    `monitor evidence --verify` checks the unzipped folder. A POST: it writes the audit log."""
    form = await web.form(request)
    user, _ = await web.signed_in(request, lambda con, user: web.check_csrf(user, form))
    alert_id = int(request.path_params["alert_id"]) if request.path_params["alert_id"] \
        .isdigit() else 0
    database, config = web.config.database, web.config

    def export():
        with tempfile.TemporaryDirectory(prefix="monitor-evidence-") as folder:
            out = Path(folder) / f"alert-{alert_id}"
            con, snap, _fresh = audit.open_reader(database, config)
            try:
                manifest = audit.export_evidence(con, alert_id, out, snapshot_path=snap,
                                                 timeout=audit.query_timeout(config),
                                                 who=user.name)
            finally:
                con.close()
            sha = audit.file_sha256(out / "manifest.json")
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
                for path in sorted(out.iterdir()):
                    archive.write(path, f"alert-{alert_id}/{path.name}")
            return manifest, sha, buffer.getvalue()
    manifest, sha, data = await run_in_threadpool(export)
    await run_in_threadpool(audit.record_at, database, "evidence", {
        "alert_id": alert_id, "out": "web download", "rows": manifest["rows"],
        "data_version": manifest["data_version"]}, sha, user.name)
    return Response(data, media_type="application/zip", headers=web.headers | {
        "Content-Disposition": f'attachment; filename="alert-{alert_id}-evidence.zip"'})
