-- family-sync: inherit_parent_family_id_on_update
-- BEFORE UPDATE on users: a child that is re-parented takes its new parent's
-- family in the same statement, when that parent has one. A child whose
-- family_id is set to anything else keeps that value for now, and its parent
-- is queued: the drain, right after the transaction commits, gives it the
-- parent's family as it then stands. A parent whose family_id is NULL
-- constrains nothing.
--
-- Reading users from a trigger on users is allowed; writing it is not (error
-- 1442), which is why this trigger only assigns NEW.family_id.
--
-- Locks and snapshots. The trigger must add no lock wait, deadlock or
-- snapshot error that the application's own statements would not meet:
--   * re-parenting reads the new parent with a shared lock, the lock the
--     foreign key check on parent_id takes anyway: it waits for a family
--     change of that parent in progress and takes its result;
--   * a family_id change of a child reads nothing. A shared lock on the
--     parent would turn "update a child, then update its parent" in two
--     concurrent transactions into a deadlock (both hold the shared lock,
--     both want the exclusive one). A read without a lock opens a snapshot in
--     the application's transaction, and at REPEATABLE READ with
--     innodb_snapshot_isolation (MariaDB 11.8's default) a later write of
--     that transaction to a row another one changed since fails with error
--     1020. So the parent is queued and the drain decides after the commit.
-- A row that names itself as parent is skipped: reading it would return its
-- old value and freeze its family forever.
-- family-sync's drain and repair have already locked the rows they write and
-- computed each child's value from its parent, so for their own connection
-- only (@family_sync_repairing holds that connection's id) the trigger does
-- nothing. Any other value disables nothing.
DELIMITER $$
CREATE TRIGGER inherit_parent_family_id_on_update
BEFORE UPDATE ON users
FOR EACH ROW
IF (NOT (NEW.parent_id <=> OLD.parent_id) OR NOT (NEW.family_id <=> OLD.family_id))
   AND NEW.parent_id IS NOT NULL AND NEW.parent_id <> NEW.id
   AND NOT (@family_sync_repairing <=> CONNECTION_ID()) THEN
  IF NOT (NEW.parent_id <=> OLD.parent_id) THEN
    SET NEW.family_id = COALESCE((SELECT p.family_id FROM users p WHERE p.id = NEW.parent_id LOCK IN SHARE MODE), NEW.family_id);
  ELSE
    INSERT INTO family_sync_queue (parent_id, family_id) VALUES (NEW.parent_id, COALESCE(NEW.family_id, 0));
  END IF;
END IF$$
DELIMITER ;
