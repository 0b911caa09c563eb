-- family-sync: sync_children_family_id
-- AFTER UPDATE on users: when a row's family_id changes to a non-NULL value,
-- record the change in family_sync_queue. The queue row is written in the
-- application's own transaction, so a rolled-back change leaves no work
-- behind; family_sync_drain applies it to the children, if there are any.
--
-- This replaces the bug report's trigger, which
--   * compared NEW.family_id != OLD.family_id, which is NULL (never true) for
--     the NULL -> family change the bug is about: <=> is the NULL-safe form;
--   * updated users from a trigger on users, which MySQL and MariaDB refuse
--     with error 1442, failing the application's own UPDATE.
--
-- It does not look for children. Inside an UPDATE at REPEATABLE READ that
-- lookup reads with shared locks, so the parent's own UPDATE would wait for
-- (or deadlock with) any transaction holding one of its children; a lookup
-- without locks could miss a child committed after the transaction's
-- snapshot. A family change of a row is rare; an entry for a row without
-- children costs the drain one index lookup.
-- family-sync's drain and repair queue the chains they settle themselves;
-- only their own connection's id in @family_sync_repairing skips this.
DELIMITER $$
CREATE TRIGGER sync_children_family_id
AFTER UPDATE ON users
FOR EACH ROW
IF NOT (NEW.family_id <=> OLD.family_id) AND NEW.family_id IS NOT NULL
   AND NOT (@family_sync_repairing <=> CONNECTION_ID()) THEN
  INSERT INTO family_sync_queue (parent_id, family_id) VALUES (NEW.id, NEW.family_id);
END IF$$
DELIMITER ;
