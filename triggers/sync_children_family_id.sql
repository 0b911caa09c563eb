-- family-sync: sync_children_family_id
-- AFTER UPDATE on users: when a row's family_id changes to a non-NULL value
-- and it has children, record the change in family_sync_queue. The queue row
-- is written in the application's own transaction, so a rolled-back change
-- leaves no work behind; family_sync_drain applies it to the children.
--
-- This replaces the bug report's trigger, which
--   * compared NEW.family_id != OLD.family_id, which is NULL (never true) for
--     the NULL -> family change the bug is about: <=> is the NULL-safe form;
--   * updated users from a trigger on users, which MySQL and MariaDB refuse
--     with error 1442, failing the application's own UPDATE.
-- family-sync's own repair settles chains pass by pass and needs no queue
-- entry; only its own connection's id in @family_sync_repairing skips this.
-- The children lookup has an IF of its own: the server prepares a
-- condition's subqueries on every row even when an earlier term is false,
-- and most updates (other columns) stop at the first IF.
DELIMITER $$
CREATE TRIGGER sync_children_family_id
AFTER UPDATE ON users
FOR EACH ROW
IF NOT (NEW.family_id <=> OLD.family_id) AND NEW.family_id IS NOT NULL
   AND NOT (@family_sync_repairing <=> CONNECTION_ID()) THEN
  IF EXISTS (SELECT 1 FROM users c WHERE c.parent_id = NEW.id AND c.id <> NEW.id) THEN
    INSERT INTO family_sync_queue (parent_id, family_id) VALUES (NEW.id, NEW.family_id);
  END IF;
END IF$$
DELIMITER ;
