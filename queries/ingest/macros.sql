-- name: macros
-- finds: nothing; defines helpers the ingest queries share.
-- money_canon / parse_money (below): an amount's text as money.
--   Accepts thousands separators ("1,234.50", "1.234,50", "1 234,50"), a leading or
--   trailing minus, accounting brackets "(12.50)", and currency symbols or codes.
--   A comma followed by one or two final digits is a decimal comma.

CREATE OR REPLACE TEMP MACRO money_clean(text) AS
    regexp_replace(trim(text), '[\s £$€¥''’]|GBP|EUR|USD', '', 'g');

CREATE OR REPLACE TEMP MACRO money_is_negative(s) AS
    (s LIKE '(%)' OR s LIKE '%-' OR s LIKE '-%');

CREATE OR REPLACE TEMP MACRO money_unsigned(s) AS
    regexp_replace(s, '^[(+-]|[)-]$', '', 'g');

-- The cleaned text as a plain signed decimal ('-1234.50'), NULL when it is no amount.
CREATE OR REPLACE TEMP MACRO money_canon_clean(s) AS
    CASE WHEN money_is_negative(s) THEN '-' ELSE '' END || CASE
        WHEN regexp_full_match(money_unsigned(s), '[0-9]+([.][0-9]+)?|[.][0-9]+')
            THEN money_unsigned(s)
        WHEN regexp_full_match(money_unsigned(s), '[0-9]{1,3}(,[0-9]{3})+([.][0-9]+)?')
            THEN replace(money_unsigned(s), ',', '')
        WHEN regexp_full_match(money_unsigned(s), '([0-9]{1,3}([.][0-9]{3})+|[0-9]+),[0-9]{1,2}')
            THEN replace(replace(money_unsigned(s), '.', ''), ',', '.')
    END;

-- money_canon(text VARCHAR) -> the amount as a plain signed decimal text, NULL when the
--   text is not an amount. Plain numbers take the fast path (a cheap character check, so
--   that the cast's own extras, '1e5' and '1_000', never pass as money); only the rest go
--   through the patterns. (CASE, not coalesce: coalesce evaluated the patterns for every
--   row, 7x slower on 10M plain amounts.) A plain number too long for DECIMAL(18,2) takes
--   the patterns and stays text, so it is reported as too large, not as no number.
--   The character check is a regex: ltrim(text, '0123456789.+-') = '' says the same and
--   cost 5.5x more (DuckDB's trim with a character list: 0.82 s against 0.15 s of CPU on
--   2M amounts, the largest single cost of ingest).
CREATE OR REPLACE TEMP MACRO money_canon(text) AS
    CASE WHEN regexp_full_match(text, '[0-9.+-]*') AND try_cast(text AS DECIMAL(18,2)) IS NOT NULL
            THEN text
         ELSE money_canon_clean(money_clean(text)) END;

-- money_places(canon VARCHAR) -> decimals a plain decimal text carries, trailing zeros
--   not counted ('12.50' -> 1, '12.345' -> 3): money is never rounded to fit.
--   canon is ASCII (digits, '.', '-'), so bytes (strlen) are characters; only a text
--   ending in 0 pays the regex (rtrim(canon, '0') for every row cost 2.3x as much).
CREATE OR REPLACE TEMP MACRO money_places(canon) AS
    CASE WHEN strpos(canon, '.') = 0 THEN 0
         WHEN NOT suffix(canon, '0') THEN strlen(canon) - strpos(canon, '.')
         ELSE strlen(regexp_replace(canon, '0+$', '')) - strpos(canon, '.') END;

-- parse_money(text VARCHAR) -> DECIMAL(18,2), or NULL when the text is not an amount
--   (or has more integer digits than DECIMAL(18,2) holds).
CREATE OR REPLACE TEMP MACRO parse_money(text) AS
    try_cast(money_canon(text) AS DECIMAL(18,2));

-- clean_text(text VARCHAR) -> the text without surrounding spaces, NULL when empty.
-- trim() copies every string; most values need nothing, and LIKE checks cost 1/9 of it.
CREATE OR REPLACE TEMP MACRO clean_text(text) AS
    CASE WHEN text LIKE ' %' OR text LIKE '% ' THEN nullif(trim(text), '')
         WHEN text = '' THEN NULL ELSE text END;
