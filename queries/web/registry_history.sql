-- name: registry_history
-- finds: the latest changes to the expected-charges registry, newest first: who added,
--   removed, reloaded or reviewed (extended or ended by the owner) entries, and what each was (the audit log's detail, JSON).
-- params:
--   $limit  INTEGER  default 50  most rows returned
-- returns: logged_at, actor, action, detail.

SELECT logged_at, actor, action, detail
FROM audit_log
WHERE action IN ('authorize add', 'authorize remove', 'authorize load', 'authorize review')
ORDER BY seq DESC
LIMIT $limit;
