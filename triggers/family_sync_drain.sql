-- family-sync: family_sync_drain
-- Applies queued work: for each family_sync_queue entry, the parent's current
-- family is copied to its children, one entry per short transaction, with one
-- family_sync_audit row for every child it changes. A child that has children
-- of its own is queued in turn by sync_children_family_id, so chains follow
-- level by level, and a parent_id cycle stops as soon as nothing changes.
--
-- Safe to run concurrently: an entry is taken with FOR UPDATE SKIP LOCKED, so
-- two drains never hold the same entry. Locks are taken children first, then
-- the parent, the same order as the application's child writes (whose
-- triggers lock the parent after the child), so the two do not deadlock.
-- The queue row is deleted in the transaction that applied it: an entry is
-- applied once or, after a failure, still there.
--
-- max_entries bounds one call; applied returns how many entries it applied.
-- A single UPDATE users JOIN family_sync_queue would fail with error 1442 on
-- MariaDB (the AFTER UPDATE trigger writes the queue that statement reads),
-- hence one entry at a time.
DELIMITER $$
CREATE PROCEDURE family_sync_drain(IN max_entries INT, OUT applied INT)
MODIFIES SQL DATA
BEGIN
  DECLARE entry_id BIGINT DEFAULT NULL;
  DECLARE entry_parent BIGINT DEFAULT NULL;
  DECLARE parent_family BIGINT DEFAULT NULL;
  DECLARE locked_children BIGINT DEFAULT 0;
  DECLARE EXIT HANDLER FOR SQLEXCEPTION
  BEGIN
    ROLLBACK;
    RESIGNAL;
  END;
  SET applied = 0;
  drain_loop: WHILE applied < max_entries DO
    START TRANSACTION;
    SET entry_id = (SELECT q.id FROM family_sync_queue q ORDER BY q.id LIMIT 1 FOR UPDATE SKIP LOCKED);
    IF entry_id IS NULL THEN
      COMMIT;
      LEAVE drain_loop;
    END IF;
    SET entry_parent = (SELECT q.parent_id FROM family_sync_queue q WHERE q.id = entry_id);
    SET locked_children = (SELECT COUNT(*) FROM users c WHERE c.parent_id = entry_parent FOR UPDATE);
    SET parent_family = (SELECT p.family_id FROM users p WHERE p.id = entry_parent LOCK IN SHARE MODE);
    IF parent_family IS NOT NULL AND locked_children > 0 THEN
      INSERT INTO family_sync_audit (user_id, old_family_id, new_family_id, reason)
        SELECT c.id, c.family_id, parent_family, 'drain'
        FROM users c
        WHERE c.parent_id = entry_parent AND c.id <> entry_parent
          AND NOT (c.family_id <=> parent_family);
      UPDATE users c
        SET c.family_id = parent_family
        WHERE c.parent_id = entry_parent AND c.id <> entry_parent
          AND NOT (c.family_id <=> parent_family);
    END IF;
    DELETE FROM family_sync_queue WHERE id = entry_id;
    COMMIT;
    SET applied = applied + 1;
  END WHILE;
END$$
DELIMITER ;
