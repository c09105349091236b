-- name: statement_gaps
-- finds: Gaps in bank statement sequences, per account: a statement number that does not
--   follow the previous one (a missing or repeated statement), and days between one
--   statement's end and the next one's start that no statement covers.
-- params:
--   $account   VARCHAR  default NULL  only this account (NULL: all)
--   $max_days  INTEGER  default 1     a stretch of more uncovered days than this is a gap
-- returns: account, kind, previous_number, number, missing_numbers, previous_to_date,
--   from_date, uncovered_days, problem, statement_id.

WITH ordered AS (
    SELECT s.*, try_cast(regexp_extract(s.number, '(\d+)$', 1) AS BIGINT) AS seq_no
    FROM statements s
    WHERE ($account IS NULL OR s.account = $account)
),
paired AS (
    SELECT *,
           lag(number) OVER w AS previous_number,
           lag(seq_no) OVER w AS previous_seq,
           lag(to_date) OVER w AS previous_to_date
    FROM ordered
    WINDOW w AS (PARTITION BY account ORDER BY coalesce(from_date, to_date), seq_no, statement_id)
)
SELECT account, kind, previous_number, number,
       CASE WHEN seq_no IS NOT NULL AND previous_seq IS NOT NULL THEN seq_no - previous_seq - 1 END AS missing_numbers,
       previous_to_date, from_date,
       CASE WHEN from_date IS NOT NULL AND previous_to_date IS NOT NULL
            THEN greatest(date_diff('day', previous_to_date, from_date) - 1, 0) END AS uncovered_days,
       concat_ws('; ',
           CASE WHEN seq_no IS NOT NULL AND previous_seq IS NOT NULL AND seq_no > previous_seq + 1
                THEN format('{} statement number(s) missing', seq_no - previous_seq - 1) END,
           CASE WHEN seq_no IS NOT NULL AND previous_seq IS NOT NULL AND seq_no <= previous_seq
                  AND NOT (previous_seq > 1 AND seq_no = 1)
                THEN 'number repeated or out of order' END,
           CASE WHEN from_date IS NOT NULL AND previous_to_date IS NOT NULL
                  AND date_diff('day', previous_to_date, from_date) - 1 > $max_days
                THEN format('{} day(s) no statement covers', date_diff('day', previous_to_date, from_date) - 1) END
       ) AS problem,
       statement_id
FROM paired
WHERE (seq_no IS NOT NULL AND previous_seq IS NOT NULL
       AND (seq_no > previous_seq + 1 OR (seq_no <= previous_seq AND NOT (previous_seq > 1 AND seq_no = 1))))
   OR (from_date IS NOT NULL AND previous_to_date IS NOT NULL
       AND date_diff('day', previous_to_date, from_date) - 1 > $max_days)
ORDER BY account, from_date, statement_id;
