-- family-sync: sync_children_family_id_on_insert
-- AFTER INSERT on users: a row inserted with a family that already has
-- children is queued like a family change, so they follow it. Rows can
-- arrive after their children: a REPLACE of a parent (a delete and an
-- insert), a restore or ETL load with foreign_key_checks=0 that writes
-- children first, a child inserted before its parent in one transaction.
-- Such children took no family from a parent that did not exist yet.
--
-- Only a row whose id was given can have children already: a row whose id
-- the server generates is new to everyone (inherit_parent_family_id_on_insert
-- leaves the given id in @family_sync_inserted_id, NULL for a generated one).
-- So the application's ordinary inserts read nothing here: a read without a
-- lock opens a snapshot in the application's transaction, and on MariaDB
-- 11.8 (innodb_snapshot_isolation) a later write of that transaction to a row
-- another one changed since would then fail with error 1020.
-- For a given id the children are looked for with SELECT ... INTO, a
-- consistent read that takes no lock: inserting a row never waits for
-- transactions holding other rows. It sees children committed before this
-- transaction's snapshot and the transaction's own; a child another session
-- commits later reads this row's family itself (the insert trigger's locking
-- read of its parent). MAX() over the parent_id index reads one entry and
-- costs about half an EXISTS subquery here (the server re-optimizes trigger
-- statements on every row). A row that names itself as parent queues an
-- entry the drain finds nothing to do for.
DELIMITER $$
CREATE TRIGGER sync_children_family_id_on_insert
AFTER INSERT ON users
FOR EACH ROW
IF NEW.family_id IS NOT NULL AND @family_sync_inserted_id <=> NEW.id AND NOT (@family_sync_repairing <=> CONNECTION_ID()) THEN
  BEGIN
    DECLARE a_child BIGINT;
    SELECT MAX(c.id) INTO a_child FROM users c WHERE c.parent_id = NEW.id;
    IF a_child IS NOT NULL THEN
      INSERT INTO family_sync_queue (parent_id, family_id) VALUES (NEW.id, NEW.family_id);
    END IF;
  END;
END IF$$
DELIMITER ;
