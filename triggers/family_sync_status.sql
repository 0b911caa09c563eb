-- family-sync: family_sync_status
-- What `family-sync verify` reads from information_schema, for accounts that
-- may not read it there. information_schema shows a table's triggers only to
-- accounts with TRIGGER on it, events only with EVENT, and a routine's body
-- only to its definer; a monitoring account should hold none of those (with
-- TRIGGER or EVENT it could drop what it monitors). This procedure runs with
-- its definer's rights (the account the objects were installed for) and
-- returns the same rows, so an account with SELECT and EXECUTE on the
-- database gets a complete verify, check --prometheus and /readyz.
--
-- It reads only. Five result sets: the triggers of this database, the
-- family_sync_* procedures, their parameters, the family_sync_* events, and
-- the account it runs as (which therefore exists: a routine whose definer is
-- gone cannot run). verify run by the account that installed the objects
-- reads information_schema itself and does not rely on this procedure.
DELIMITER $$
CREATE PROCEDURE family_sync_status()
READS SQL DATA
BEGIN
  SELECT TRIGGER_NAME AS name, EVENT_OBJECT_TABLE AS `table`, ACTION_TIMING AS timing, EVENT_MANIPULATION AS event,
         ACTION_STATEMENT AS body, DEFINER AS definer, SQL_MODE AS sqlMode
    FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() ORDER BY ACTION_ORDER;
  SELECT ROUTINE_NAME AS name, ROUTINE_DEFINITION AS body, DEFINER AS definer, SQL_MODE AS sqlMode, SECURITY_TYPE AS securityType
    FROM information_schema.ROUTINES
    WHERE ROUTINE_SCHEMA = DATABASE() AND ROUTINE_TYPE = 'PROCEDURE' AND ROUTINE_NAME LIKE 'family\_sync\_%';
  SELECT SPECIFIC_NAME AS name, PARAMETER_MODE AS mode, PARAMETER_NAME AS pname, DTD_IDENTIFIER AS dtd
    FROM information_schema.PARAMETERS
    WHERE SPECIFIC_SCHEMA = DATABASE() AND SPECIFIC_NAME LIKE 'family\_sync\_%' AND ORDINAL_POSITION > 0
    ORDER BY SPECIFIC_NAME, ORDINAL_POSITION;
  SELECT EVENT_NAME AS name, EVENT_DEFINITION AS body, DEFINER AS definer, STATUS AS status, INTERVAL_VALUE AS iv,
         INTERVAL_FIELD AS field, SQL_MODE AS sqlMode, LAST_ALTERED AS lastAltered
    FROM information_schema.EVENTS WHERE EVENT_SCHEMA = DATABASE() AND EVENT_NAME LIKE 'family\_sync\_%';
  SELECT CURRENT_USER() AS runsAs;
END$$
DELIMITER ;
