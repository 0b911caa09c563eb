/** The bug report's proposed trigger, verbatim but for its name. */
export const reportTrigger = (name = 'sync_children_family_id') => `
CREATE TRIGGER ${name}
AFTER UPDATE ON users
FOR EACH ROW
BEGIN
    -- When a parent's family_id changes, update their children
    IF NEW.is_parent = TRUE AND NEW.family_id != OLD.family_id THEN
        UPDATE users
        SET family_id = NEW.family_id
        WHERE parent_id = NEW.id;
    END IF;
END`
