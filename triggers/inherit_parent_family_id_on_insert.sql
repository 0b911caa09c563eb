-- family-sync: inherit_parent_family_id_on_insert
-- BEFORE INSERT on users: a new child takes its parent's family in the same
-- statement. A parent whose family_id is NULL constrains nothing, so the
-- child keeps the value it was inserted with.
--
-- The parent is read with LOCK IN SHARE MODE, the lock the foreign key check
-- on parent_id takes anyway. A read without it could see a family that
-- another transaction is changing right now, and the new child, which no
-- drain can see before it commits, would keep the old family after that
-- change's queue entry had already been applied. The locking read waits for
-- such a change to commit and reads its result. LOCK IN SHARE MODE is the
-- spelling both MySQL 8 and MariaDB accept inside a subquery. A missing
-- parent reads as NULL, with no "no data" warning.
--
-- @family_sync_inserted_id tells sync_children_family_id_on_insert whether
-- the row's id was given (a restore, a REPLACE: such a row can have children
-- already) or is being generated (0 here: a new row, which cannot).
-- One SET rather than a BEGIN ... END block: it runs for every inserted row.
CREATE TRIGGER inherit_parent_family_id_on_insert
BEFORE INSERT ON users
FOR EACH ROW
SET NEW.family_id = IF(
  NEW.parent_id IS NULL,
  NEW.family_id,
  COALESCE((SELECT p.family_id FROM users p WHERE p.id = NEW.parent_id LOCK IN SHARE MODE), NEW.family_id)
), @family_sync_inserted_id = IF(NEW.id = 0, NULL, NEW.id);
