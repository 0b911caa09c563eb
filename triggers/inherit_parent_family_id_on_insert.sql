-- family-sync: inherit_parent_family_id_on_insert
-- BEFORE INSERT on users: a new child takes its parent's family in the same
-- statement (SPEC §5.2).
--
-- Why a locking read: a plain read could see a parent's family that another
-- transaction is changing right now; the child would commit the old family and
-- the queue entry of that change (already drained) would never reach it.
-- LOCK IN SHARE MODE waits for such a change to commit and reads its result.
-- It is the form both MySQL 8 and MariaDB accept inside a subquery.
-- A scalar subquery (not SELECT ... INTO) so that a missing parent gives NULL
-- without raising a "no data" warning into the application's statement.
DELIMITER $$
CREATE TRIGGER inherit_parent_family_id_on_insert
BEFORE INSERT ON users
FOR EACH ROW
BEGIN
  DECLARE parent_family BIGINT DEFAULT NULL;
  IF NEW.parent_id IS NOT NULL THEN
    SET parent_family = (SELECT p.family_id FROM users p WHERE p.id = NEW.parent_id LOCK IN SHARE MODE);
    IF parent_family IS NOT NULL THEN
      SET NEW.family_id = parent_family;
    END IF;
  END IF;
END$$
DELIMITER ;
