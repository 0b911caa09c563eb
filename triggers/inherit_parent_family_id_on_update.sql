-- family-sync: inherit_parent_family_id_on_update
-- BEFORE UPDATE on users: a child that is re-parented, or whose family_id is
-- set to anything else, ends with its parent's family when the parent has one
-- (SPEC §5.3, §5.4). A parent whose family_id is NULL constrains nothing.
--
-- Reading users from a trigger on users is allowed; writing it is not (error
-- 1442), which is why this trigger only assigns NEW.family_id.
-- The read is a locking read for the same reason as in the insert trigger.
-- Only a change of parent_id or family_id can break the invariant, so other
-- updates (an e-mail, a password) skip the parent lookup.
-- A row that names itself as parent is skipped: reading it would return its
-- old value and freeze its family forever.
-- @family_sync_repairing is set by family-sync's own repair, and only inside
-- its batch transaction: it has already locked the rows and computed each
-- child's value from its parent, so the per-row lookup would be done twice.
-- IF ... THEN SET rather than one SET with IF(): MariaDB prepares every
-- expression of a trigger statement on each row, subqueries included, even
-- in a branch it does not take; here the lookup is prepared only when it
-- runs, which took about a third off this trigger's server time for
-- updates of other columns.
DELIMITER $$
CREATE TRIGGER inherit_parent_family_id_on_update
BEFORE UPDATE ON users
FOR EACH ROW
IF @family_sync_repairing IS NULL
   AND NEW.parent_id IS NOT NULL AND NEW.parent_id <> NEW.id
   AND (NOT (NEW.parent_id <=> OLD.parent_id) OR NOT (NEW.family_id <=> OLD.family_id)) THEN
  SET NEW.family_id = COALESCE((SELECT p.family_id FROM users p WHERE p.id = NEW.parent_id LOCK IN SHARE MODE), NEW.family_id);
END IF$$
DELIMITER ;
