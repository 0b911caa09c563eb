-- family-sync: family_sync_drain_every_second
-- Runs the drain every second while the server's event scheduler is ON. Each
-- run keeps looking for work for up to 0.95 s, so a parent's change reaches
-- its children within a fraction of a second, not at the next tick.
--
-- At most one run per database drains at a time: the scheduler starts a run
-- every second whether or not the last one has finished, and runs that pile
-- up behind a slow one (a backlog, locks held by the application) would each
-- take a connection and slow the others down. A run waits up to 0.9 s for
-- the named lock, so it takes over the moment the run before it ends (no
-- second without a drain), and gives up before the next run starts waiting:
-- one run draining and one waiting, never more. Lock names are at most 64
-- characters, hence the MD5 of the database name. `family-sync check` also
-- reads this lock: while it is held, the drain is running.
--
-- The event runs with its definer's privileges, and so does whatever it
-- calls with SQL SECURITY INVOKER. An account that may only replace routines
-- in this database could otherwise put its own code in family_sync_drain and
-- have it run with those privileges. So the procedure is called only when
-- it still belongs to this event's own definer (CURRENT_USER() here) and
-- runs with definer rights: a replacement by anyone else is never run (nor
-- is the lock taken, so `family-sync check` sees that no drain runs), and
-- `family-sync verify` reports it.
-- Without the EVENT privilege, or with the scheduler off, run
-- `family-sync drain --watch` (or `family-sync serve`) instead.
DELIMITER $$
CREATE EVENT family_sync_drain_every_second
ON SCHEDULE EVERY 1 SECOND
ON COMPLETION PRESERVE
ENABLE
COMMENT 'family-sync: applies family_sync_queue to children'
DO BEGIN
  IF (SELECT COUNT(*) FROM information_schema.ROUTINES r
      WHERE r.ROUTINE_SCHEMA = DATABASE() AND r.ROUTINE_NAME = 'family_sync_drain' AND r.ROUTINE_TYPE = 'PROCEDURE'
        AND r.SECURITY_TYPE = 'DEFINER' AND r.DEFINER = CURRENT_USER()) = 1
     AND GET_LOCK(CONCAT('family_sync_drain:', MD5(DATABASE())), 0.9) = 1 THEN
    CALL family_sync_drain(10000, 0.95, @family_sync_applied);
    DO RELEASE_LOCK(CONCAT('family_sync_drain:', MD5(DATABASE())));
  END IF;
END$$
DELIMITER ;
