-- family-sync: inherit_parent_family_id_on_update
-- BEFORE UPDATE on users: a child that is re-parented, or whose family_id is
-- set to anything else, ends with its parent's family when the parent has one
-- (SPEC §5.3, §5.4). A parent whose family_id is NULL constrains nothing.
--
-- Reading users from a trigger on users is allowed; writing it is not (error
-- 1442), which is why this trigger only assigns NEW.family_id.
-- The read is a locking read for the same reason as in the insert trigger.
-- A row that names itself as parent is skipped: reading it would return its
-- old value and freeze its family forever.
DELIMITER $$
CREATE TRIGGER inherit_parent_family_id_on_update
BEFORE UPDATE ON users
FOR EACH ROW
BEGIN
  DECLARE parent_family BIGINT DEFAULT NULL;
  IF NEW.parent_id IS NOT NULL AND NEW.parent_id <> NEW.id THEN
    SET parent_family = (SELECT p.family_id FROM users p WHERE p.id = NEW.parent_id LOCK IN SHARE MODE);
    IF parent_family IS NOT NULL THEN
      SET NEW.family_id = parent_family;
    END IF;
  END IF;
END$$
DELIMITER ;
