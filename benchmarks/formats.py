"""Bank-statement ingest throughput (issue 3), run by hand:

    .venv/bin/python benchmarks/formats.py              # 1M transactions per format
    .venv/bin/python benchmarks/formats.py --rows 100000 --formats mt940 camt

For each format (camt.053, MT940, BAI2, OFX) it writes one statement file of N
transactions under benchmarks/out/ (100 statements of N/100 entries, balances
chained so every check passes), then, each in its own child process:
  - read:   monitor.ledger.formats.detect.read (parse to staged rows and statements)
  - ingest: `monitor ingest FILE` into a fresh database (read + normalize + insert +
            statement checks), timed from outside so start-up is included
  - peak memory (max RSS) of the child.
Wall time and CPU time (user + system) are both reported, with the load average:
on a shared machine the CPU figure is the steadier one (DuckDB's threads make an
ingest's CPU time exceed its wall time on an idle machine).
Prints a Markdown table; no target, the figure is what matters.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PYTHON = Path(sys.executable)
STATEMENTS = 100
ACCOUNT = "NL91ABNA0417164300"


def entries(count: int, seed: int):
    """Deterministic entries: (debit, cents, day offset, payee, reference)."""
    rng = random.Random(seed)
    payees = [f"MERCHANT {i} TRADING LTD" for i in range(5000)]
    for i in range(count):
        debit = rng.random() < 0.8
        cents = rng.randint(1, 500_000) if debit else rng.randint(1, 2_000_000)
        yield debit, cents, i * 30 // count, rng.choice(payees), f"R{seed:03d}{i:09d}"


def plan(rows: int):
    """Statements: (number, opening cents, closing cents, start date, entries)."""
    per, balance, start = rows // STATEMENTS, 10_000_000_00, date(2024, 1, 1)
    for number in range(1, STATEMENTS + 1):
        items = list(entries(per, number))
        closing = balance + sum(-c if d else c for d, c, *_ in items)
        yield number, balance, closing, start, items
        balance, start = closing, start + timedelta(days=31)


def money(cents: int, sep: str = ".") -> str:
    return f"{abs(cents) // 100}{sep}{abs(cents) % 100:02d}"


def write_mt940(path: Path, rows: int) -> None:
    with open(path, "w", encoding="utf-8", newline="\r\n") as f:
        for number, opening, closing, start, items in plan(rows):
            end = start + timedelta(days=30)
            f.write(f":20:STMT{number:05d}\n:25:{ACCOUNT}\n:28C:{number}/1\n"
                    f":60F:{'D' if opening < 0 else 'C'}{start:%y%m%d}EUR{money(opening, ',')}\n")
            for debit, cents, day, payee, ref in items:
                when = start + timedelta(days=day)
                f.write(f":61:{when:%y%m%d%m%d}{'D' if debit else 'C'}{money(cents, ',')}"
                        f"NTRFNONREF//{ref}\n:86:/NAME/{payee}/REMI/INVOICE {ref}/\n")
            f.write(f":62F:{'D' if closing < 0 else 'C'}{end:%y%m%d}EUR"
                    f"{money(closing, ',')}\n-\n")


def write_camt(path: Path, rows: int) -> None:
    def bal(code, cents, when):
        return (f"<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp><Amt Ccy=\"EUR\">"
                f"{money(cents)}</Amt><CdtDbtInd>{'DBIT' if cents < 0 else 'CRDT'}</CdtDbtInd>"
                f"<Dt><Dt>{when}</Dt></Dt></Bal>\n")
    with open(path, "w", encoding="utf-8") as f:
        f.write('<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="urn:iso:std:iso:20022:'
                'tech:xsd:camt.053.001.08"><BkToCstmrStmt><GrpHdr><MsgId>BENCH</MsgId>'
                '<CreDtTm>2024-12-31T00:00:00</CreDtTm></GrpHdr>\n')
        for number, opening, closing, start, items in plan(rows):
            f.write(f"<Stmt><Id>S{number}</Id><ElctrncSeqNb>{number}</ElctrncSeqNb><Acct><Id>"
                    f"<IBAN>{ACCOUNT}</IBAN></Id><Ccy>EUR</Ccy></Acct>\n")
            f.write(bal("OPBD", opening, start) + bal("CLBD", closing, start + timedelta(30)))
            for debit, cents, day, payee, ref in items:
                party = ("<Cdtr><Pty><Nm>{}</Nm></Pty></Cdtr><CdtrAcct><Id><IBAN>GB29NWBK6016"
                         "1331926819</IBAN></Id></CdtrAcct>" if debit else
                         "<Dbtr><Pty><Nm>{}</Nm></Pty></Dbtr>").format(payee)
                f.write(f"<Ntry><Amt Ccy=\"EUR\">{money(cents)}</Amt><CdtDbtInd>"
                        f"{'DBIT' if debit else 'CRDT'}</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>"
                        f"<BookgDt><Dt>{start + timedelta(days=day)}</Dt></BookgDt>"
                        f"<AcctSvcrRef>{ref}</AcctSvcrRef><NtryDtls><TxDtls><Refs><EndToEndId>"
                        f"E2E{ref}</EndToEndId></Refs><RltdPties>{party}</RltdPties><RmtInf>"
                        f"<Ustrd>INVOICE {ref}</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>\n")
            f.write("</Stmt>\n")
        f.write("</BkToCstmrStmt></Document>\n")


def write_bai2(path: Path, rows: int) -> None:
    records, total = [], 0
    with open(path, "w", encoding="ascii") as f:
        f.write("01,BANK,CUSTOMER,241231,2359,1,,,2/\n")
        groups = 0
        for number, opening, closing, start, items in plan(rows):
            groups += 1
            as_of = date(2024, 1, 1) + timedelta(days=number - 1)    # BAI2 reports are daily
            f.write(f"02,CUSTOMER,BANK,1,{as_of:%y%m%d},2359,USD,2/\n")
            credits = sum(c for d, c, *_ in items if not d)
            debits = sum(c for d, c, *_ in items if d)
            f.write(f"03,{ACCOUNT},USD,010,{opening},,,015,{closing},,,100,{credits},,,"
                    f"400,{debits},,/\n")
            account_total = opening + closing + credits + debits
            for debit, cents, day, payee, ref in items:
                f.write(f"16,{'475' if debit else '175'},{cents},0,{ref},,{payee}/\n")
                account_total += cents
            count = len(items) + 2
            f.write(f"49,{account_total},{count}/\n98,{account_total},1,{count + 2}/\n")
            total += account_total
            records.append(count + 2)
        f.write(f"99,{total},{groups},{sum(records) + 2}/\n")


def write_ofx(path: Path, rows: int) -> None:
    with open(path, "w", encoding="ascii") as f:
        f.write("OFXHEADER:100\nDATA:OFXSGML\nVERSION:102\nSECURITY:NONE\nENCODING:USASCII\n"
                "CHARSET:1252\nCOMPRESSION:NONE\nOLDFILEUID:NONE\nNEWFILEUID:NONE\n\n<OFX>\n"
                "<SIGNONMSGSRSV1><SONRS><STATUS><CODE>0<SEVERITY>INFO</STATUS>"
                "<DTSERVER>20241231<LANGUAGE>ENG</SONRS></SIGNONMSGSRSV1>\n<BANKMSGSRSV1>\n")
        for number, opening, closing, start, items in plan(rows):
            f.write(f"<STMTTRNRS><TRNUID>{number}<STATUS><CODE>0<SEVERITY>INFO</STATUS><STMTRS>"
                    f"<CURDEF>USD<BANKACCTFROM><BANKID>121000248<ACCTID>{ACCOUNT}<ACCTTYPE>"
                    f"CHECKING</BANKACCTFROM><BANKTRANLIST><DTSTART>{start:%Y%m%d}<DTEND>"
                    f"{start + timedelta(30):%Y%m%d}\n")
            for debit, cents, day, payee, ref in items:
                f.write(f"<STMTTRN><TRNTYPE>{'DEBIT' if debit else 'CREDIT'}<DTPOSTED>"
                        f"{start + timedelta(days=day):%Y%m%d}<TRNAMT>{'-' if debit else ''}"
                        f"{money(cents)}<FITID>{ref}<NAME>{payee}<MEMO>INVOICE {ref}"
                        "</STMTTRN>\n")
            f.write(f"</BANKTRANLIST><LEDGERBAL><BALAMT>{'-' if closing < 0 else ''}"
                    f"{money(closing)}<DTASOF>{start + timedelta(30):%Y%m%d}</LEDGERBAL>"
                    "</STMTRS></STMTTRNRS>\n")
        f.write("</BANKMSGSRSV1>\n</OFX>\n")


WRITERS = {"camt": (write_camt, ".xml"), "mt940": (write_mt940, ".sta"),
           "bai2": (write_bai2, ".bai2"), "ofx": (write_ofx, ".ofx")}


def child_read(fmt: str, path: Path) -> None:
    """In a child process: parse only; prints JSON."""
    sys.path.insert(0, str(ROOT))
    from monitor.ledger.formats import detect as formats
    started, cpu = time.perf_counter(), time.process_time()
    result = formats.read(path, fmt)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    checks = {s["balance_check"] for s in result.statements}
    print(json.dumps({"rows": result.rows.height, "statements": len(result.statements),
                      "checks": sorted(checks), "seconds": seconds, "cpu": cpu,
                      "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def run_ingest(path: Path, folder: Path) -> dict:
    config = folder / "config.toml"
    config.write_text('[database]\npath = "bench.duckdb"\n', encoding="utf-8")
    (folder / "bench.duckdb").unlink(missing_ok=True)
    started = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-f", "%M %U %S", str(PYTHON), "-m", "monitor",
                           "--config", str(config), "ingest", str(path), "--format", "json"],
                          capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"ingest of {path} failed: {proc.stderr[-2000:]}")
    (result,) = json.loads(proc.stdout)["files"]
    rss_kb, user, system = proc.stderr.strip().splitlines()[-1].split()
    return {"loaded": result["loaded"], "balance": result.get("balance", ""),
            "seconds": seconds, "cpu": float(user) + float(system),
            "max_rss_mb": int(rss_kb) / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--formats", nargs="*", default=list(WRITERS))
    parser.add_argument("--out", type=Path, default=HERE / "out" / "formats")
    parser.add_argument("--child-read", nargs=2, metavar=("FORMAT", "PATH"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_read:
        return child_read(args.child_read[0], Path(args.child_read[1]))
    args.out.mkdir(parents=True, exist_ok=True)
    lines = ["| format | file | size | read: wall / CPU | rows per CPU-s | ingest (CLI, end to "
             "end): wall / CPU | rows per CPU-s | peak RSS read / ingest | load avg | checks |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for fmt in args.formats:
        writer, suffix = WRITERS[fmt]
        path = args.out / f"bench_{args.rows}{suffix}"
        if not path.exists():
            started = time.perf_counter()
            writer(path, args.rows)
            print(f"{fmt}: wrote {path} in {time.perf_counter() - started:.1f} s",
                  file=sys.stderr)
        load = os.getloadavg()[0]     # other work on the machine skews the figures
        proc = subprocess.run([str(PYTHON), __file__, "--child-read", fmt, str(path)],
                              capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
        if proc.returncode != 0:
            raise SystemExit(proc.stderr[-2000:])
        read = json.loads(proc.stdout)
        done = run_ingest(path, args.out)
        assert read["rows"] == done["loaded"] == args.rows // STATEMENTS * STATEMENTS, (read, done)
        size = path.stat().st_size / 1e6
        lines.append(
            f"| {fmt} | {path.name} | {size:,.0f} MB | {read['seconds']:.1f} / "
            f"{read['cpu']:.1f} s | {read['rows'] / read['cpu']:,.0f} | {done['seconds']:.1f} / "
            f"{done['cpu']:.1f} s | {done['loaded'] / done['cpu']:,.0f} | {read['max_rss_mb']:,.0f} / "
            f"{done['max_rss_mb']:,.0f} MB | {load:.1f} | {done['balance']} |")
        print(lines[-1], file=sys.stderr)
    print(f"\n{args.rows:,} transactions per file, {STATEMENTS} statements; "
          f"{platform.python_version()}, {os.cpu_count()} cores\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
