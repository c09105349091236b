-- name: insert_statement
-- Finds: nothing; records one bank statement of an ingested file with its checks.
-- Parameters: $file_id, $position and every column of `statements` by name.
-- Returns: nothing.

INSERT INTO statements (file_id, position, kind, account, currency, reference, number, page,
    from_date, to_date, opening, opening_date, closing, closing_date, credits, debits,
    entries, set_aside, balance_check, check_basis, difference, problems, notes)
VALUES ($file_id, $position, $kind, $account, $currency, $reference, $number, $page,
    $from_date, $to_date, $opening, $opening_date, $closing, $closing_date, $credits, $debits,
    $entries, $set_aside, $balance_check, $check_basis, $difference, $problems, $notes);
