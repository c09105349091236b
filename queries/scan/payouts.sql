-- name: payouts
-- finds: the payout accounts the payout detectors judge (changed_payout_account,
--   shared_payout_account): a valid IBAN (its check digits verified here, in SQL, so both
--   engines agree), an e-mail address (a wallet such as PayPal), or any account a bank
--   statement format gives (camt, MT940, BAI2, OFX). A CSV column of merchant or tax
--   numbers names the payee, not where the money goes, and is not judged, unless its
--   source says the column holds payout accounts (counterparty_accounts = "payout":
--   domestic account numbers, which no check digit tells from other numbers). One place
--   for this decision, run before the detectors by both engines.
-- reads: temp table `charges`.
-- params:
--   $payout_sources  VARCHAR[]  sources whose every counterparty_account is a payout
--                               account (config: [[sources]] counterparty_accounts)
-- returns (temp table `payouts`): source, counterparty_account (as written), payout
--   (upper case, without spaces, dots, slashes or dashes).

CREATE OR REPLACE TEMP TABLE payouts AS
    SELECT source, counterparty_account, payout
    FROM (SELECT *,      -- an IBAN's digits, letters as numbers (A = 10 .. Z = 35), its first
                         -- four characters moved to the end, zeros before (mod 97 is the
                         -- same): read nine digits at a time, the remainder stays small
              lpad(CASE WHEN regexp_matches(payout, '^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$')
                   THEN
                    replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(
                    replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(
                    replace(replace(replace(replace(replace(replace(substr(payout, 5) || left(payout, 4),
                    'A', '10'), 'B', '11'), 'C', '12'), 'D', '13'), 'E', '14'), 'F', '15'), 'G', '16'),
                    'H', '17'), 'I', '18'), 'J', '19'), 'K', '20'), 'L', '21'), 'M', '22'), 'N', '23'),
                    'O', '24'), 'P', '25'), 'Q', '26'), 'R', '27'), 'S', '28'), 'T', '29'), 'U', '30'),
                    'V', '31'), 'W', '32'), 'X', '33'), 'Y', '34'), 'Z', '35')
                   ELSE '' END, 72, '0') AS d
          FROM (SELECT DISTINCT source, counterparty_account,
                    upper(regexp_replace(counterparty_account, '[\s./-]+', '', 'g')) AS payout
                FROM charges WHERE counterparty_account IS NOT NULL) v) v
    WHERE source IN (SELECT source FROM files WHERE format IN ('camt', 'mt940', 'bai2', 'ofx'))
       OR list_contains($payout_sources, source)
       OR strpos(counterparty_account, '@') > 1
       OR (d <> lpad('', 72, '0')
           AND (((((((CAST(substr(d, 1, 9) AS BIGINT) % 97
                * 1000000000 + CAST(substr(d, 10, 9) AS BIGINT)) % 97
                * 1000000000 + CAST(substr(d, 19, 9) AS BIGINT)) % 97
                * 1000000000 + CAST(substr(d, 28, 9) AS BIGINT)) % 97
                * 1000000000 + CAST(substr(d, 37, 9) AS BIGINT)) % 97
                * 1000000000 + CAST(substr(d, 46, 9) AS BIGINT)) % 97
                * 1000000000 + CAST(substr(d, 55, 9) AS BIGINT)) % 97
                * 1000000000 + CAST(substr(d, 64, 9) AS BIGINT)) % 97 = 1);
