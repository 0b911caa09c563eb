-- family-sync: inherit_parent_family_id_on_insert
-- BEFORE INSERT on users: a new child takes its parent's family in the same
-- statement (SPEC §5.2). A parent whose family_id is NULL constrains nothing.
--
-- Why a locking read: a plain read could see a parent's family that another
-- transaction is changing right now; the child would commit the old family and
-- the queue entry of that change (already drained) would never reach it.
-- LOCK IN SHARE MODE waits for such a change to commit and reads its result.
-- It is the form both MySQL 8 and MariaDB accept inside a subquery.
-- One SET with a scalar subquery rather than a BEGIN ... END block: it runs on
-- every insert, and the compound block measurably costs more per row. A
-- missing parent gives NULL here, without a "no data" warning.
-- The IF ... THEN form the update trigger uses buys nothing here: a child
-- insert runs the lookup anyway, and parent inserts are the rare case.
CREATE TRIGGER inherit_parent_family_id_on_insert
BEFORE INSERT ON users
FOR EACH ROW
SET NEW.family_id = IF(
  NEW.parent_id IS NULL,
  NEW.family_id,
  COALESCE((SELECT p.family_id FROM users p WHERE p.id = NEW.parent_id LOCK IN SHARE MODE), NEW.family_id)
);
