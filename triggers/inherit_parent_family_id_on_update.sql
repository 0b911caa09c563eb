-- family-sync: inherit_parent_family_id_on_update
-- BEFORE UPDATE on users: a child that is re-parented, or whose family_id is
-- set to anything else, ends with its parent's family when the parent has
-- one. A parent whose family_id is NULL constrains nothing.
--
-- Reading users from a trigger on users is allowed; writing it is not (error
-- 1442), which is why this trigger only assigns NEW.family_id.
--
-- Locks. Inside an UPDATE at REPEATABLE READ, a subquery reads with a shared
-- lock, held until commit. On the parent that would turn "update a child,
-- then update its parent" in two concurrent transactions into a deadlock
-- (both hold the shared lock, both want the exclusive one), which the
-- application never had without family-sync. So:
--   * re-parenting reads the new parent with a shared lock, the lock the
--     foreign key check on parent_id takes anyway: it waits for a family
--     change of that parent in progress and takes its result;
--   * a family_id change of a child reads the parent with SELECT ... INTO, a
--     consistent read that takes no lock, and takes the family it finds there
--     (in the application's own transaction, the parent's change it just
--     made). The child's own row is already locked and current (OLD), and
--     while the invariant holds it equals the parent's family. When the two
--     differ (the parent changed and the drain has not reached this child
--     yet, or the drain has and the read is older than that, or the child
--     was out of step already), no read without a lock can tell which is
--     current, so the parent is queued as well: the drain applies its latest
--     family to this child right after the transaction commits.
-- A row that names itself as parent is skipped: reading it would return its
-- old value and freeze its family forever.
-- family-sync's drain and repair have already locked the rows they write and
-- computed each child's value from its parent, so for their own connection
-- only (@family_sync_repairing holds that connection's id) the lookup is
-- skipped. Any other value disables nothing.
-- MAX() makes a missing parent read as NULL rather than "no data".
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
    BEGIN
      DECLARE parent_family BIGINT;
      SELECT MAX(p.family_id) INTO parent_family FROM users p WHERE p.id = NEW.parent_id;
      SET NEW.family_id = COALESCE(parent_family, NEW.family_id);
      IF NOT (parent_family <=> OLD.family_id) THEN
        INSERT INTO family_sync_queue (parent_id, family_id) VALUES (NEW.parent_id, COALESCE(parent_family, NEW.family_id, 0));
      END IF;
    END;
  END IF;
END IF$$
DELIMITER ;
