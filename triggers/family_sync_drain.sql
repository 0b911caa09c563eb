-- family-sync: family_sync_drain
-- Applies queued work: for each family_sync_queue entry, the parent's current
-- family is copied to its children, with one family_sync_audit row for every
-- child it changes. A child that has children of its own is queued in turn by
-- sync_children_family_id, so chains follow level by level, and a parent_id
-- cycle stops as soon as nothing changes.
--
-- max_entries bounds one call; applied returns how many entries it applied.
-- With poll_seconds > 0 the call keeps looking for new entries (every 20 ms)
-- for about that long once the queue is empty, so the every-second event
-- picks up a change within milliseconds instead of at its next tick.
--
-- Safe to run concurrently: an entry is taken with FOR UPDATE SKIP LOCKED, so
-- two drains never apply the same entry at once. Locks are taken children
-- first, then the parent: the order of the application's child writes (their
-- triggers lock the parent after the child), so the two do not deadlock.
-- A single UPDATE users JOIN family_sync_queue would fail with error 1442 (the
-- AFTER UPDATE trigger writes the queue that statement reads), hence one
-- entry at a time.
--
-- A big family is applied a thousand children per transaction: no
-- application write waits long behind it. The entry records how far it got
-- (resume_from_child) and is claimed for 30 s meanwhile; it is deleted in the
-- transaction that applies its last children, so it is applied once or,
-- after a failure, still there.
--
-- An entry that fails (a constraint of the application's, a lock wait
-- timeout) is rolled back, retried after 1, 2, 4 and 8 s, and parked after
-- the fifth failure with its error: later drains skip it, so it never holds
-- up another entry, and `family-sync check` names it. A deadlock, a Galera
-- certification conflict or a server turning read-only is not the entry's
-- fault: it is retried at the next call without counting. Nor is error 1064
-- "Trigger ... has an error in its body": MariaDB reports that for a statement
-- interrupted (by a Galera conflict, KILL QUERY) while it loaded the triggers
-- of users, though the triggers are intact; it is retried after a second
-- without counting, and kept in last_error, so a trigger that really does
-- not load shows in `family-sync check` as a queue that stopped moving.
--
-- Each call first checks that the server will run the triggers of users, by
-- a no-op update of one row nobody holds, rolled back: MariaDB keeps a failed
-- trigger load in its table cache when a statement is interrupted while
-- loading them (a Galera conflict, KILL QUERY, max_statement_time), and from
-- then on every write on users fails with error 1064 "Trigger ... has an
-- error in its body" although the trigger is intact. If so, and its definer
-- has the RELOAD privilege, the call flushes users from the table cache on
-- this server only, which cures it; without RELOAD, `family-sync verify`
-- reports it with the FLUSH TABLES users that cures it.
--
-- On a read-only server (a replica, a demoted primary) it does nothing: the
-- primary drains and its changes replicate; writing here would break
-- replication for an account that may write despite read_only.
-- Each call records in family_sync_drain_runs when it ran on this server.
DELIMITER $$
CREATE PROCEDURE family_sync_drain(IN max_entries INT, IN poll_seconds DECIMAL(6,3), OUT applied INT)
MODIFIES SQL DATA
drain: BEGIN
  DECLARE this_node VARCHAR(255) DEFAULT CONCAT(@@hostname, ':', @@port);
  DECLARE polls_left INT DEFAULT CEIL(GREATEST(COALESCE(poll_seconds, 0), 0) / 0.02);
  DECLARE entry_id BIGINT UNSIGNED;
  DECLARE entry_parent BIGINT;
  DECLARE next_child BIGINT;
  DECLARE chunk_end BIGINT;
  DECLARE parent_family BIGINT;
  DECLARE locked_children BIGINT;
  DECLARE failed_errno INT;
  DECLARE failed_text VARCHAR(512);
  DECLARE record_failed BOOLEAN DEFAULT FALSE;
  DECLARE probe_id BIGINT;
  DECLARE probe_errno INT;
  DECLARE probe_text VARCHAR(512);
  SET applied = 0;
  IF @@global.read_only THEN
    LEAVE drain;
  END IF;
  probe: BEGIN
    DECLARE EXIT HANDLER FOR SQLEXCEPTION
    BEGIN
      GET DIAGNOSTICS CONDITION 1 probe_errno = MYSQL_ERRNO, probe_text = MESSAGE_TEXT;
      ROLLBACK;
    END;
    START TRANSACTION;
    SET probe_id = (SELECT u.id FROM users u ORDER BY u.id LIMIT 1 FOR UPDATE SKIP LOCKED);
    UPDATE users SET family_id = family_id WHERE id = probe_id;
    ROLLBACK;
  END probe;
  IF probe_errno = 1064 AND probe_text LIKE '%has an error in its body%' THEN
    heal: BEGIN
      DECLARE CONTINUE HANDLER FOR SQLEXCEPTION BEGIN END;
      FLUSH NO_WRITE_TO_BINLOG TABLES users;
    END heal;
  END IF;
  entries: WHILE applied < max_entries DO
    SET failed_errno = NULL;
    START TRANSACTION;
    SET entry_id = (
      SELECT q.id FROM family_sync_queue q
      WHERE q.parked_at IS NULL
        AND (q.retry_at IS NULL OR q.retry_at <= NOW(3))
        AND (q.claimed_until IS NULL OR q.claimed_until <= NOW(3))
      ORDER BY q.id LIMIT 1
      FOR UPDATE SKIP LOCKED);
    IF entry_id IS NULL THEN
      COMMIT;
      IF polls_left <= 0 THEN
        LEAVE entries;
      END IF;
      SET polls_left = polls_left - 1;
      DO SLEEP(0.02);
      ITERATE entries;
    END IF;
    SELECT q.parent_id, COALESCE(q.resume_from_child, -9223372036854775808) INTO entry_parent, next_child
      FROM family_sync_queue q WHERE q.id = entry_id;
    apply_entry: BEGIN
      DECLARE EXIT HANDLER FOR SQLEXCEPTION
      BEGIN
        GET DIAGNOSTICS CONDITION 1 failed_errno = MYSQL_ERRNO, failed_text = MESSAGE_TEXT;
        ROLLBACK;
      END;
      chunks: LOOP
        SET chunk_end = (
          SELECT c.id FROM users c WHERE c.parent_id = entry_parent AND c.id >= next_child
          ORDER BY c.id LIMIT 1 OFFSET 999);
        SET locked_children = (
          SELECT COUNT(*) FROM users c
          WHERE c.parent_id = entry_parent AND c.id BETWEEN next_child AND COALESCE(chunk_end, 9223372036854775807)
          FOR UPDATE);
        SET parent_family = (SELECT p.family_id FROM users p WHERE p.id = entry_parent LOCK IN SHARE MODE);
        IF parent_family IS NOT NULL AND locked_children > 0 THEN
          INSERT INTO family_sync_audit (user_id, old_family_id, new_family_id, reason)
            SELECT c.id, c.family_id, parent_family, 'drain'
            FROM users c
            WHERE c.parent_id = entry_parent AND c.id BETWEEN next_child AND COALESCE(chunk_end, 9223372036854775807)
              AND c.id <> entry_parent AND NOT (c.family_id <=> parent_family)
            ORDER BY c.id;
          UPDATE users c
            SET c.family_id = parent_family
            WHERE c.parent_id = entry_parent AND c.id BETWEEN next_child AND COALESCE(chunk_end, 9223372036854775807)
              AND c.id <> entry_parent AND NOT (c.family_id <=> parent_family);
        END IF;
        IF chunk_end IS NULL THEN
          DELETE FROM family_sync_queue WHERE id = entry_id;
          COMMIT;
          LEAVE chunks;
        END IF;
        SET next_child = chunk_end + 1;
        UPDATE family_sync_queue
          SET resume_from_child = next_child, claimed_until = NOW(3) + INTERVAL 30 SECOND
          WHERE id = entry_id;
        COMMIT;
        START TRANSACTION;
      END LOOP chunks;
      SET applied = applied + 1;
    END apply_entry;
    IF failed_errno IS NOT NULL THEN
      record_failure: BEGIN
        DECLARE EXIT HANDLER FOR SQLEXCEPTION SET record_failed = TRUE;
        IF failed_errno IN (1213, 1047, 1290, 1792, 1836) THEN
          UPDATE family_sync_queue SET retry_at = NOW(3) + INTERVAL 0.001 SECOND, claimed_until = NULL WHERE id = entry_id;
        ELSEIF failed_errno = 1064 AND failed_text LIKE '%has an error in its body%' THEN
          UPDATE family_sync_queue
            SET retry_at = NOW(3) + INTERVAL 1 SECOND,
                last_error = LEFT(CONCAT('error ', failed_errno, ': ', COALESCE(failed_text, '')), 512),
                claimed_until = NULL
            WHERE id = entry_id;
        ELSE
          UPDATE family_sync_queue
            SET retry_at = NOW(3) + INTERVAL LEAST(60, POW(2, attempts)) SECOND,
                parked_at = IF(attempts + 1 >= 5, NOW(3), NULL),
                last_error = LEFT(CONCAT('error ', failed_errno, ': ', COALESCE(failed_text, '')), 512),
                claimed_until = NULL,
                attempts = attempts + 1
            WHERE id = entry_id;
        END IF;
      END record_failure;
      -- The entry could not even be marked: stop here rather than pick it again.
      IF record_failed THEN
        LEAVE entries;
      END IF;
    END IF;
    IF applied > 0 AND applied % 1000 = 0 THEN
      record_run: BEGIN
        DECLARE CONTINUE HANDLER FOR SQLEXCEPTION BEGIN END;
        INSERT INTO family_sync_drain_runs (node, last_run_at, last_applied) VALUES (this_node, NOW(3), applied)
          ON DUPLICATE KEY UPDATE last_run_at = NOW(3), last_applied = applied;
      END record_run;
    END IF;
  END WHILE entries;
  last_run: BEGIN
    DECLARE CONTINUE HANDLER FOR SQLEXCEPTION BEGIN END;
    INSERT INTO family_sync_drain_runs (node, last_run_at, last_applied) VALUES (this_node, NOW(3), applied)
      ON DUPLICATE KEY UPDATE last_run_at = NOW(3), last_applied = applied;
  END last_run;
END$$
DELIMITER ;
