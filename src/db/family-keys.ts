import type { Session } from '../connection/session.js'

export interface FamilyKey {
  name: string
  deleteRule: string
}

/**
 * Foreign keys from users.family_id whose delete rule meets children that
 * have not followed their parent yet: CASCADE deletes them with their old
 * family, RESTRICT (NO ACTION) refuses to delete it. The drain moves
 * children after the parent's transaction commits; within it, only
 * family_sync_move_children does.
 */
export async function familyKeysThatMeetLaggingChildren(session: Session): Promise<FamilyKey[]> {
  return session.query<FamilyKey>(
    `SELECT r.CONSTRAINT_NAME AS name, r.DELETE_RULE AS deleteRule
     FROM information_schema.REFERENTIAL_CONSTRAINTS r
     JOIN information_schema.KEY_COLUMN_USAGE k
       ON k.CONSTRAINT_SCHEMA = r.CONSTRAINT_SCHEMA AND k.CONSTRAINT_NAME = r.CONSTRAINT_NAME AND k.TABLE_NAME = r.TABLE_NAME
     WHERE r.CONSTRAINT_SCHEMA = DATABASE() AND r.TABLE_NAME = 'users' AND LOWER(k.COLUMN_NAME) = 'family_id'
       AND r.DELETE_RULE IN ('CASCADE', 'RESTRICT', 'NO ACTION')`,
  )
}
