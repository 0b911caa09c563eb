-- family-sync: inherit_parent_family_id_on_update
-- BEFORE UPDATE on users: a child that is re-parented, or whose family_id is
-- set to anything else, ends with its parent's family when the parent has
-- one. A parent whose family_id is NULL constrains nothing.
--
-- Reading users from a trigger on users is allowed; writing it is not (error
-- 1442), which is why this trigger only assigns NEW.family_id. The parent is
-- read with a locking read for the same reason as in the insert trigger.
-- Only a change of parent_id or family_id can break the invariant, so the
-- other updates (an e-mail, a password) stop at the first condition.
-- A row that names itself as parent is skipped: reading it would return its
-- old value and freeze its family forever.
-- family-sync's repair has already locked the rows it writes and computed
-- each child's value from its parent, so for its own connection only
-- (@family_sync_repairing holds that connection's id, inside its batch
-- transaction) the lookup is skipped. Any other value disables nothing.
-- IF ... THEN SET rather than one SET with IF(): the server prepares every
-- expression of a trigger statement on each row, subqueries in branches it
-- does not take included; here the lookup is prepared only when it runs.
DELIMITER $$
CREATE TRIGGER inherit_parent_family_id_on_update
BEFORE UPDATE ON users
FOR EACH ROW
IF (NOT (NEW.parent_id <=> OLD.parent_id) OR NOT (NEW.family_id <=> OLD.family_id))
   AND NEW.parent_id IS NOT NULL AND NEW.parent_id <> NEW.id
   AND NOT (@family_sync_repairing <=> CONNECTION_ID()) THEN
  SET NEW.family_id = COALESCE((SELECT p.family_id FROM users p WHERE p.id = NEW.parent_id LOCK IN SHARE MODE), NEW.family_id);
END IF$$
DELIMITER ;
