-- family-sync: sync_children_family_id
-- AFTER UPDATE on users: when a row's family_id changes to a non-NULL value
-- and it has children, record the change in family_sync_queue. The queue row
-- is written in the application's own transaction, so a rollback leaves no
-- work behind (SPEC §5.6); family_sync_drain applies it to the children.
--
-- This replaces the bug report's trigger, which
--   * compared NEW.family_id != OLD.family_id, which is NULL (never true) for
--     the NULL -> family change the bug is about: <=> is the NULL-safe form;
--   * updated users from a trigger on users, which MySQL and MariaDB refuse
--     with error 1442, failing the application's own UPDATE.
-- family-sync's own repair (@family_sync_repairing, set only inside its
-- batch transaction) settles chains pass by pass and needs no queue entry.
-- The children lookup has an IF of its own: MariaDB prepares a condition's
-- subqueries on every row even when an earlier AND term is false, and most
-- updates (other columns, repair's batches) stop at the first IF.
DELIMITER $$
CREATE TRIGGER sync_children_family_id
AFTER UPDATE ON users
FOR EACH ROW
IF @family_sync_repairing IS NULL
   AND NEW.family_id IS NOT NULL
   AND NOT (NEW.family_id <=> OLD.family_id) THEN
  IF EXISTS (SELECT 1 FROM users c WHERE c.parent_id = NEW.id AND c.id <> NEW.id) THEN
    INSERT INTO family_sync_queue (parent_id, family_id) VALUES (NEW.id, NEW.family_id);
  END IF;
END IF$$
DELIMITER ;
