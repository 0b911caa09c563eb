-- family-sync: family_sync_move_children
-- For the application's own transaction: called right after it changes a
-- parent's family, it moves that parent's children, and theirs, to the
-- parent's family there and then, with one family_sync_audit row
-- ('transaction') per changed child. The application's later statements in
-- the same transaction see them moved: a family deleted next (a merge: move
-- the parent to F2, delete F1) no longer has them, so an ON DELETE CASCADE
-- key on users.family_id does not delete them and a RESTRICT key does not
-- refuse. Without it the children follow after the commit, by the drain.
--
--   START TRANSACTION;
--   UPDATE users SET family_id = 42 WHERE id = 7;
--   CALL family_sync_move_children(7);
--   DELETE FROM families WHERE id = 41;
--   COMMIT;
--
-- It neither starts nor ends a transaction: it is part of the caller's, and
-- an error rolls back with it. Like the drain it takes one parent at a time,
-- its children in primary key order and a thousand per statement; unlike the
-- drain it waits for their locks, as the application's own UPDATE of them
-- would. The chain is walked breadth first; a parent_id cycle stops as soon
-- as nothing changes. Its statements take the locked children by primary
-- key; their text holds only integers read here. The entry the parent's
-- change queued then finds nothing left to do.
DELIMITER $$
CREATE PROCEDURE family_sync_move_children(IN parent BIGINT)
MODIFIES SQL DATA
BEGIN
  DECLARE pending LONGTEXT;
  DECLARE current_parent BIGINT;
  DECLARE parent_family BIGINT;
  DECLARE next_child BIGINT;
  DECLARE chunk_end BIGINT;
  DECLARE locked_ids LONGTEXT;
  DECLARE concat_len BIGINT UNSIGNED DEFAULT @@SESSION.group_concat_max_len;
  DECLARE EXIT HANDLER FOR SQLEXCEPTION
  BEGIN
    SET @family_sync_repairing = NULL, @family_sync_sql = NULL, @family_sync_parents = NULL;
    SET SESSION group_concat_max_len = concat_len;
    RESIGNAL;
  END;
  -- family-sync's tables must still be tables: a view put under one of
  -- these names would be read and written in the caller's transaction, and
  -- MariaDB 10.11 was seen crashing on such a view in a procedure.
  IF (SELECT COUNT(*) FROM information_schema.TABLES t
      WHERE t.TABLE_SCHEMA = DATABASE() AND t.TABLE_TYPE <> 'BASE TABLE'
        AND t.TABLE_NAME IN ('family_sync_queue', 'family_sync_audit')) > 0 THEN
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'family-sync: family_sync_queue or family_sync_audit is not a table any more (a view in its place?): run family-sync verify';
  END IF;
  IF concat_len < 1048576 THEN
    SET SESSION group_concat_max_len = 1048576;
  END IF;
  SET pending = CAST(parent AS CHAR);
  parents: WHILE pending IS NOT NULL AND pending <> '' DO
    SET current_parent = CAST(SUBSTRING_INDEX(pending, ',', 1) AS SIGNED);
    SET pending = IF(LOCATE(',', pending) > 0, SUBSTRING(pending, LOCATE(',', pending) + 1), NULL);
    SET parent_family = NULL, next_child = -9223372036854775808;
    SELECT MAX(p.family_id) INTO parent_family FROM users p WHERE p.id = current_parent;
    IF parent_family IS NULL THEN
      ITERATE parents;
    END IF;
    chunks: LOOP
      SET chunk_end = NULL;
      SELECT MAX(x.id) INTO chunk_end FROM (
        SELECT c.id FROM users c WHERE c.parent_id = current_parent AND c.id >= next_child
        ORDER BY c.id LIMIT 1 OFFSET 999) x;
      SET locked_ids = (
        SELECT GROUP_CONCAT(c.id ORDER BY c.id) FROM users c
        WHERE c.parent_id = current_parent AND c.id BETWEEN next_child AND COALESCE(chunk_end, 9223372036854775807)
          AND c.id <> current_parent AND NOT (c.family_id <=> parent_family)
        FOR UPDATE);
      IF locked_ids IS NOT NULL THEN
        SET @family_sync_sql = CONCAT(
          'INSERT INTO family_sync_audit (user_id, old_family_id, new_family_id, reason) SELECT c.id, c.family_id, ',
          parent_family, ', ', QUOTE('transaction'), ' FROM users c WHERE c.id IN (', locked_ids, ') ORDER BY c.id');
        PREPARE family_sync_step FROM @family_sync_sql;
        EXECUTE family_sync_step;
        -- A locking read: in a transaction whose snapshot is older, a child committed since must not be missed.
        SET @family_sync_sql = CONCAT(
          'SELECT GROUP_CONCAT(DISTINCT c.id ORDER BY c.id) INTO @family_sync_parents FROM users c JOIN users g ON g.parent_id = c.id AND g.id <> c.id',
          ' WHERE c.id IN (', locked_ids, ') LOCK IN SHARE MODE');
        PREPARE family_sync_step FROM @family_sync_sql;
        EXECUTE family_sync_step;
        IF @family_sync_parents IS NOT NULL THEN
          SET pending = IF(pending IS NULL, @family_sync_parents, CONCAT(pending, ',', @family_sync_parents));
        END IF;
        SET @family_sync_sql = CONCAT('UPDATE users SET family_id = ', parent_family, ' WHERE id IN (', locked_ids, ')');
        PREPARE family_sync_step FROM @family_sync_sql;
        SET @family_sync_repairing = CONNECTION_ID();
        EXECUTE family_sync_step;
        SET @family_sync_repairing = NULL, @family_sync_sql = NULL, @family_sync_parents = NULL;
        DEALLOCATE PREPARE family_sync_step;
      END IF;
      IF chunk_end IS NULL THEN
        LEAVE chunks;
      END IF;
      SET next_child = chunk_end + 1;
    END LOOP chunks;
  END WHILE parents;
  SET SESSION group_concat_max_len = concat_len;
END$$
DELIMITER ;
