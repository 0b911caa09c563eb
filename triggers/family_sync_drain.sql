-- family-sync: family_sync_drain
-- Applies queued work: for each family_sync_queue entry, the parent's current
-- family is copied to its children, with one family_sync_audit row for every
-- child it changes. A changed child that has children of its own is queued in
-- turn, so chains follow level by level, and a parent_id cycle stops as soon
-- as nothing changes.
--
-- max_entries bounds one call; applied returns how many entries it applied.
-- With poll_seconds > 0 the call keeps looking for new entries, every 0.1 s,
-- for about that long once nothing is ready, so the event's run picks up a
-- change within a tenth of a second. An idle look is one probe of the queue:
-- no lock, no transaction, nothing written. A call made by the drain event
-- stops looking once the event scheduler is turned off.
--
-- It never waits for a row lock the application holds, so it is never part
-- of a deadlock, and the application's statements never wait long for it:
--   * transactions are READ COMMITTED: the parent's family is read as last
--     committed, without a lock, so the parent's own UPDATE never waits;
--   * an entry is taken with FOR UPDATE SKIP LOCKED, so concurrent drains
--     never apply the same entry at once;
--   * children are locked with FOR UPDATE SKIP LOCKED: a child another
--     transaction holds is left, and the entry comes back for it a moment
--     later; only an entry whose every child was applied is deleted;
--   * the family row the children will point at is share-locked before any
--     child is, so the foreign key check never waits while children are held.
-- A single UPDATE users JOIN family_sync_queue would fail with error 1442 (the
-- AFTER UPDATE trigger writes the queue that statement reads), hence one
-- entry at a time. The locked children travel as a list of ids into
-- single-table statements by primary key: MariaDB does not pass a multi-table
-- UPDATE's errors (a duplicate key) to the procedure's handler.
--
-- A big family is applied a thousand children per transaction: no
-- application write waits long behind it. The entry records how far it got
-- (resume_from_child) and is claimed for 30 s meanwhile.
--
-- An entry that fails for a reason of the application's (a constraint) is
-- rolled back, retried after 1, 2, 4 and 8 s, and parked after the fifth
-- failure with its error: `family-sync check` names it. A parked entry is
-- still retried on its own, the pause doubling up to ten minutes, so the
-- sync heals once the cause is gone. Deadlocks, lock wait timeouts, Galera
-- and Group Replication conflicts, MariaDB 11.8's snapshot isolation (1020:
-- a row changed since the read view), a server turning read-only, and a
-- statement interrupted (KILL QUERY, a statement time limit: a handler sees
-- those too, and the call goes on) are ordinary waits, retried at once
-- without counting. So is error 1064
-- "Trigger ... has an error in its body": MariaDB reports it for a statement
-- interrupted (a Galera conflict, KILL QUERY) while it loaded the triggers of
-- users, though they are intact, and can keep that failed load in its table
-- cache, failing every later write on users. When applying an entry meets
-- it, and the definer has the RELOAD privilege, users is flushed from this
-- server's table cache (waiting at most a second for it), which cures it; the
-- entry is retried a second later, the error kept in last_error.
--
-- On a read-only server (a replica, a demoted primary) it does nothing: the
-- primary drains and its changes replicate.
-- Liveness: family_sync_drain_runs records when this server drained, after
-- a call that applied something and otherwise every 50 s (in a long idle
-- call too), so an idle database writes, and replicates, one small row a
-- minute at most, and the record is never much more than a minute old.
-- family_sync_drain_log records what became of each entry (applied, with the
-- time from enqueued to applied; failed; parked) in the entry's own
-- transaction, for `family-sync serve`'s metrics; it keeps an hour.
DELIMITER $$
CREATE PROCEDURE family_sync_drain(IN max_entries INT, IN poll_seconds DECIMAL(6,3), OUT applied INT)
MODIFIES SQL DATA
drain: BEGIN
  DECLARE this_node VARCHAR(255) DEFAULT CONCAT(@@hostname, ':', @@port);
  DECLARE polls_left INT DEFAULT FLOOR(GREATEST(COALESCE(poll_seconds, 0), 0) / 0.1);
  DECLARE lock_wait INT DEFAULT @@SESSION.innodb_lock_wait_timeout;
  DECLARE concat_len BIGINT UNSIGNED DEFAULT @@SESSION.group_concat_max_len;
  DECLARE entry_id BIGINT UNSIGNED;
  DECLARE entry_parent BIGINT;
  DECLARE next_child BIGINT;
  DECLARE chunk_end BIGINT;
  DECLARE parent_family BIGINT;
  DECLARE family_rows INT;
  DECLARE locked_ids LONGTEXT;
  DECLARE locked_count INT;
  DECLARE differing INT;
  DECLARE held_elsewhere INT;
  DECLARE failed_errno INT;
  DECLARE failed_text VARCHAR(512);
  DECLARE record_failed BOOLEAN DEFAULT FALSE;
  DECLARE last_beat TIMESTAMP(3);
  DECLARE oldest_log TIMESTAMP(3);
  DECLARE not_tables INT DEFAULT 0;
  SET applied = 0;
  IF @@global.read_only THEN
    LEAVE drain;
  END IF;
  -- Family-sync's tables must still be tables before anything here reads or
  -- writes them. Whoever may create objects in this schema can put a view
  -- under one of these names; this call would then read and write whatever
  -- it stands for, and MariaDB 10.11 was seen crashing (signal 11, every
  -- tenant's connections gone) optimizing this procedure's statements over a
  -- view swapped in for the queue. So they are looked up here, and again
  -- before an entry is claimed or a run recorded; the queue's idle probe
  -- guards itself (below). `family-sync verify` names what it finds.
  SELECT COUNT(*) INTO not_tables FROM information_schema.TABLES t
    WHERE t.TABLE_SCHEMA = DATABASE() AND t.TABLE_TYPE <> 'BASE TABLE'
      AND t.TABLE_NAME IN ('family_sync_queue', 'family_sync_audit', 'family_sync_drain_log', 'family_sync_drain_runs');
  IF not_tables > 0 THEN
    LEAVE drain;
  END IF;
  -- A lock the application holds is never waited for long: such an entry is retried, not stuck.
  SET SESSION innodb_lock_wait_timeout = 1;
  -- A chunk's ids travel as a GROUP_CONCAT list, which group_concat_max_len bounds. (An IF
  -- statement, not an IF() or GREATEST(): MySQL 9 refuses the DECIMAL those make of these types.)
  IF concat_len < 1048576 THEN
    SET SESSION group_concat_max_len = 1048576;
  END IF;
  beat_read: BEGIN
    DECLARE CONTINUE HANDLER FOR SQLEXCEPTION BEGIN END;
    SELECT MAX(r.last_run_at) INTO last_beat FROM family_sync_drain_runs r WHERE r.node = this_node;
  END beat_read;
  entries: WHILE applied < max_entries DO
    SET entry_id = NULL, failed_errno = NULL;
    -- An empty queue, the idle case, costs one index probe. A plain read, and
    -- never an IF EXISTS (SELECT ...): MariaDB 10.11 runs that as a locking
    -- read once this call has claimed an entry FOR UPDATE SKIP LOCKED, so it
    -- would wait for the entry another drain holds instead of passing it by.
    -- FORCE INDEX makes it fail (1176) on a view put in the queue's place
    -- before anything is optimized or run: the probe guards itself every time
    -- round at no cost, where a lookup in information_schema would double an
    -- idle poll's.
    probe: BEGIN
      DECLARE EXIT HANDLER FOR 1176 SET not_tables = 1;
      SELECT MIN(x.id) INTO entry_id FROM (
        SELECT q.id FROM family_sync_queue q FORCE INDEX (PRIMARY)
        WHERE (q.retry_at IS NULL OR q.retry_at <= NOW(3)) AND (q.claimed_until IS NULL OR q.claimed_until <= NOW(3))
        ORDER BY q.id LIMIT 1) x;
    END probe;
    IF not_tables > 0 THEN
      LEAVE entries;
    END IF;
    IF entry_id IS NOT NULL OR last_beat IS NULL OR last_beat < NOW(3) - INTERVAL 50 SECOND THEN
      SELECT COUNT(*) INTO not_tables FROM information_schema.TABLES t
        WHERE t.TABLE_SCHEMA = DATABASE() AND t.TABLE_TYPE <> 'BASE TABLE'
          AND t.TABLE_NAME IN ('family_sync_audit', 'family_sync_drain_log', 'family_sync_drain_runs');
      IF not_tables > 0 THEN
        LEAVE entries;
      END IF;
    END IF;
    IF entry_id IS NOT NULL THEN
      SET TRANSACTION ISOLATION LEVEL READ COMMITTED;
      START TRANSACTION;
      SET entry_id = (
        SELECT q.id FROM family_sync_queue q
        WHERE (q.retry_at IS NULL OR q.retry_at <= NOW(3)) AND (q.claimed_until IS NULL OR q.claimed_until <= NOW(3))
        ORDER BY q.id LIMIT 1
        FOR UPDATE SKIP LOCKED);
      IF entry_id IS NULL THEN
        COMMIT;
      END IF;
    END IF;
    IF entry_id IS NULL THEN
      IF polls_left <= 0 OR (@family_sync_event_run AND @@GLOBAL.event_scheduler <> 'ON') THEN
        LEAVE entries;
      END IF;
      SET polls_left = polls_left - 1;
      -- A long idle call records itself too, so the record is never much more than a minute old.
      IF last_beat IS NULL OR last_beat < NOW(3) - INTERVAL 50 SECOND THEN
        idle_beat: BEGIN
          DECLARE CONTINUE HANDLER FOR SQLEXCEPTION BEGIN END;
          INSERT INTO family_sync_drain_runs (node, last_run_at, last_applied) VALUES (this_node, NOW(3), applied)
            ON DUPLICATE KEY UPDATE last_run_at = NOW(3), last_applied = applied;
        END idle_beat;
        SET last_beat = NOW(3);
      END IF;
      DO SLEEP(0.1);
      ITERATE entries;
    END IF;
    -- MAX() reads a missing row as NULL: nothing below acts on a value left over from another entry.
    SET entry_parent = NULL, next_child = NULL;
    SELECT MAX(q.parent_id), MAX(COALESCE(q.resume_from_child, -9223372036854775808)) INTO entry_parent, next_child
      FROM family_sync_queue q WHERE q.id = entry_id;
    IF entry_parent IS NULL THEN
      ROLLBACK;
      ITERATE entries;
    END IF;
    SET held_elsewhere = 0;
    apply_entry: BEGIN
      DECLARE EXIT HANDLER FOR SQLEXCEPTION
      BEGIN
        GET DIAGNOSTICS CONDITION 1 failed_errno = MYSQL_ERRNO, failed_text = MESSAGE_TEXT;
        ROLLBACK;
        SET @family_sync_repairing = NULL, @family_sync_sql = NULL;
      END;
      chunks: LOOP
        SET parent_family = NULL, chunk_end = NULL, locked_ids = NULL, differing = 0;
        SELECT MAX(p.family_id) INTO parent_family FROM users p WHERE p.id = entry_parent;
        IF parent_family IS NOT NULL THEN
          SET family_rows = (SELECT COUNT(*) FROM families f WHERE f.id = parent_family LOCK IN SHARE MODE);
          SELECT MAX(x.id) INTO chunk_end FROM (
            SELECT c.id FROM users c WHERE c.parent_id = entry_parent AND c.id >= next_child
            ORDER BY c.id LIMIT 1 OFFSET 999) x;
          SET locked_ids = (
            SELECT GROUP_CONCAT(c.id ORDER BY c.id) FROM users c
            WHERE c.parent_id = entry_parent AND c.id BETWEEN next_child AND COALESCE(chunk_end, 9223372036854775807)
              AND c.id <> entry_parent AND NOT (c.family_id <=> parent_family)
            FOR UPDATE SKIP LOCKED);
          SELECT COUNT(*) INTO differing FROM users c
            WHERE c.parent_id = entry_parent AND c.id BETWEEN next_child AND COALESCE(chunk_end, 9223372036854775807)
              AND c.id <> entry_parent AND NOT (c.family_id <=> parent_family);
          SET locked_count = IF(locked_ids IS NULL, 0, 1 + LENGTH(locked_ids) - LENGTH(REPLACE(locked_ids, ',', '')));
          SET held_elsewhere = held_elsewhere + GREATEST(differing - locked_count, 0);
          IF locked_count > 0 THEN
            -- Statements on exactly the locked rows, by primary key; their text holds only integers read above.
            SET @family_sync_sql = CONCAT(
              'INSERT INTO family_sync_audit (user_id, old_family_id, new_family_id, reason) SELECT c.id, c.family_id, ',
              parent_family, ', ', QUOTE('drain'), ' FROM users c WHERE c.id IN (', locked_ids, ') ORDER BY c.id');
            PREPARE family_sync_step FROM @family_sync_sql;
            EXECUTE family_sync_step;
            SET @family_sync_sql = CONCAT(
              'INSERT INTO family_sync_queue (parent_id, family_id) SELECT c.id, ', parent_family,
              ' FROM users c WHERE c.id IN (', locked_ids, ') AND EXISTS (SELECT 1 FROM users g WHERE g.parent_id = c.id AND g.id <> c.id) ORDER BY c.id');
            PREPARE family_sync_step FROM @family_sync_sql;
            EXECUTE family_sync_step;
            SET @family_sync_sql = CONCAT('UPDATE users SET family_id = ', parent_family, ' WHERE id IN (', locked_ids, ')');
            PREPARE family_sync_step FROM @family_sync_sql;
            SET @family_sync_repairing = CONNECTION_ID();
            EXECUTE family_sync_step;
            SET @family_sync_repairing = NULL, @family_sync_sql = NULL;
            DEALLOCATE PREPARE family_sync_step;
          END IF;
        END IF;
        IF parent_family IS NULL OR chunk_end IS NULL THEN
          IF held_elsewhere > 0 THEN
            -- Children other transactions hold: back for them shortly, from the start (only those left differ).
            UPDATE family_sync_queue
              SET resume_from_child = NULL, claimed_until = NULL, retry_at = NOW(3) + INTERVAL 0.2 SECOND
              WHERE id = entry_id;
          ELSE
            log_applied: BEGIN
              DECLARE CONTINUE HANDLER FOR 1146 BEGIN END;
              INSERT INTO family_sync_drain_log (outcome, delay_ms)
                SELECT 'applied', TIMESTAMPDIFF(MICROSECOND, q.enqueued_at, NOW(3)) DIV 1000 FROM family_sync_queue q WHERE q.id = entry_id;
            END log_applied;
            DELETE FROM family_sync_queue WHERE id = entry_id;
          END IF;
          COMMIT;
          LEAVE chunks;
        END IF;
        SET next_child = chunk_end + 1;
        UPDATE family_sync_queue
          SET resume_from_child = next_child, claimed_until = NOW(3) + INTERVAL 30 SECOND
          WHERE id = entry_id;
        COMMIT;
        SET TRANSACTION ISOLATION LEVEL READ COMMITTED;
        START TRANSACTION;
      END LOOP chunks;
      IF held_elsewhere = 0 THEN
        SET applied = applied + 1;
      END IF;
    END apply_entry;
    IF applied > 0 AND applied % 1000 = 0 AND failed_errno IS NULL THEN
      busy_beat: BEGIN
        DECLARE CONTINUE HANDLER FOR SQLEXCEPTION BEGIN END;
        INSERT INTO family_sync_drain_runs (node, last_run_at, last_applied) VALUES (this_node, NOW(3), applied)
          ON DUPLICATE KEY UPDATE last_run_at = NOW(3), last_applied = applied;
      END busy_beat;
    END IF;
    IF failed_errno IS NOT NULL THEN
      record_failure: BEGIN
        DECLARE EXIT HANDLER FOR SQLEXCEPTION SET record_failed = TRUE;
        IF failed_errno IN (1020, 1047, 1205, 1213, 1290, 1317, 1412, 1467, 1792, 1836, 1969, 3024, 3101) THEN
          UPDATE family_sync_queue SET retry_at = NOW(3) + INTERVAL 0.1 SECOND, claimed_until = NULL WHERE id = entry_id;
        ELSEIF failed_errno = 1064 AND failed_text LIKE '%has an error in its body%' THEN
          heal: BEGIN
            DECLARE mdl_wait BIGINT DEFAULT @@SESSION.lock_wait_timeout;
            DECLARE CONTINUE HANDLER FOR SQLEXCEPTION BEGIN END;
            SET SESSION lock_wait_timeout = 1;
            FLUSH NO_WRITE_TO_BINLOG TABLES users;
            SET SESSION lock_wait_timeout = mdl_wait;
          END heal;
          UPDATE family_sync_queue
            SET retry_at = NOW(3) + INTERVAL 1 SECOND,
                last_error = LEFT(CONCAT('error ', failed_errno, ': ', COALESCE(failed_text, '')), 512),
                claimed_until = NULL
            WHERE id = entry_id;
        ELSE
          UPDATE family_sync_queue
            SET retry_at = NOW(3) + INTERVAL LEAST(600, POW(2, attempts)) SECOND,
                parked_at = IF(attempts + 1 >= 5, COALESCE(parked_at, NOW(3)), NULL),
                last_error = LEFT(CONCAT('error ', failed_errno, ': ', COALESCE(failed_text, '')), 512),
                claimed_until = NULL,
                attempts = attempts + 1
            WHERE id = entry_id;
          log_failed: BEGIN
            DECLARE CONTINUE HANDLER FOR 1146 BEGIN END;
            INSERT INTO family_sync_drain_log (outcome)
              SELECT IF(q.attempts = 5, 'parked', 'failed') FROM family_sync_queue q WHERE q.id = entry_id;
          END log_failed;
        END IF;
      END record_failure;
      -- The entry could not even be marked: stop here rather than pick it again.
      IF record_failed THEN
        LEAVE entries;
      END IF;
    END IF;
  END WHILE entries;
  SET SESSION innodb_lock_wait_timeout = lock_wait, group_concat_max_len = concat_len;
  beat: BEGIN
    DECLARE CONTINUE HANDLER FOR SQLEXCEPTION BEGIN END;
    IF not_tables = 0 AND (applied > 0 OR last_beat IS NULL OR last_beat < NOW(3) - INTERVAL 50 SECOND) THEN
      INSERT INTO family_sync_drain_runs (node, last_run_at, last_applied) VALUES (this_node, NOW(3), applied)
        ON DUPLICATE KEY UPDATE last_run_at = NOW(3), last_applied = applied;
      -- The log keeps an hour; a read first, so that nothing is written when nothing is old.
      SELECT MIN(l.logged_at) INTO oldest_log FROM family_sync_drain_log l;
      IF oldest_log < NOW(3) - INTERVAL 1 HOUR THEN
        DELETE FROM family_sync_drain_log WHERE logged_at < NOW(3) - INTERVAL 1 HOUR ORDER BY id LIMIT 10000;
      END IF;
    END IF;
  END beat;
END$$
DELIMITER ;
