-- family-sync: family_sync_drain_every_second
-- Keeps the drain running while the server's event scheduler is ON. A run
-- starts every 10 seconds and drains for as long as there is work, then
-- keeps looking for more, every 0.1 s, for 10.5 s: a parent's change reaches
-- its children within a fraction of a second. (The name is from when a run
-- started every second: starting an event run costs the server tens of
-- milliseconds of CPU, a few percent of a core per database at one a second,
-- idle; so runs are now long and few.)
--
-- At most one run per database drains at a time: the scheduler starts a run
-- on time whether or not the last one has finished, and runs piling up
-- behind a slow one (a backlog, locks held by the application) would each
-- take a connection and slow the others down. A run waits up to 9.9 s for
-- the named lock: it takes over the moment the run before it ends (each run
-- outlasts the interval, so one is always waiting by then), and gives up
-- before the next run starts waiting: one run draining and one waiting, never
-- more. Lock names are at most 64 characters, hence a SHA-256 prefix of the
-- database name (SHA2: MySQL 9 has no MD5 any more, and a name the server
-- does not know as a function would call a stored function of that name in
-- this database). `family-sync check` also reads this lock: while it is held, the drain
-- is running. A run stops looking as soon as the scheduler is turned off
-- (@family_sync_event_run tells the drain it was started by this event), so
-- `check` sees a stopped scheduler as soon as it would have with short runs.
--
-- The event runs with its definer's privileges, and so does whatever it
-- calls with SQL SECURITY INVOKER. An account that may only replace routines
-- in this database could otherwise put its own code in family_sync_drain and
-- have it run with those privileges. So the procedure is called only when
-- it still belongs to this event's own definer (CURRENT_USER() here) and
-- runs with definer rights: a replacement by anyone else is never run (the
-- lock is then held only for that check, so `family-sync check` sees that no
-- drain runs), and `family-sync verify` reports it. The check comes after
-- the lock: a run may wait seconds for it, and what it saw before waiting
-- could be stale by then.
-- Without the EVENT privilege, or with the scheduler off, run
-- `family-sync drain --watch` (or `family-sync serve`) instead.
DELIMITER $$
CREATE EVENT family_sync_drain_every_second
ON SCHEDULE EVERY 10 SECOND
ON COMPLETION PRESERVE
ENABLE
COMMENT 'family-sync: applies family_sync_queue to children'
DO BEGIN
  IF GET_LOCK(CONCAT('family_sync_drain:', LEFT(SHA2(DATABASE(), 256), 40)), 9.9) = 1 THEN
    IF (SELECT COUNT(*) FROM information_schema.ROUTINES r
        WHERE r.ROUTINE_SCHEMA = DATABASE() AND r.ROUTINE_NAME = 'family_sync_drain' AND r.ROUTINE_TYPE = 'PROCEDURE'
          AND r.SECURITY_TYPE = 'DEFINER' AND r.DEFINER = CURRENT_USER()) = 1 THEN
      SET @family_sync_event_run = TRUE;
      CALL family_sync_drain(1000000, 10.5, @family_sync_applied);
    END IF;
    DO RELEASE_LOCK(CONCAT('family_sync_drain:', LEFT(SHA2(DATABASE(), 256), 40)));
  END IF;
END$$
DELIMITER ;
