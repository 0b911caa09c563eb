-- family-sync: family_sync_drain_every_second
-- Runs the drain every second while the server's event scheduler is ON. Each
-- run keeps polling the queue for up to 0.95 s, so a parent's change reaches
-- its children within a fraction of a second, not at the next tick; the
-- processlist shows such a run as "User sleep" between polls. Overlapping
-- runs are harmless: the drain is safe to run concurrently.
-- Without the EVENT privilege, or with the scheduler off, run
-- `family-sync drain --watch` (or call family_sync_drain) instead.
DELIMITER $$
CREATE EVENT family_sync_drain_every_second
ON SCHEDULE EVERY 1 SECOND
ON COMPLETION PRESERVE
ENABLE
COMMENT 'family-sync: applies family_sync_queue to children'
DO CALL family_sync_drain(10000, 0.95, @family_sync_applied)$$
DELIMITER ;
