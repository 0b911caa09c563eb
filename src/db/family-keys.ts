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
  // Two flat reads rather than a join of information_schema tables (see indexes.ts).
  const columns = await session.query<{ name: string }>(
    `SELECT CONSTRAINT_NAME AS name FROM information_schema.KEY_COLUMN_USAGE
     WHERE CONSTRAINT_SCHEMA = DATABASE() AND TABLE_NAME = 'users' AND LOWER(COLUMN_NAME) = 'family_id' AND REFERENCED_TABLE_NAME IS NOT NULL`,
  )
  if (columns.length === 0) return []
  const names = new Set(columns.map((c) => c.name))
  const rules = await session.query<FamilyKey>(
    `SELECT CONSTRAINT_NAME AS name, DELETE_RULE AS deleteRule FROM information_schema.REFERENTIAL_CONSTRAINTS
     WHERE CONSTRAINT_SCHEMA = DATABASE() AND TABLE_NAME = 'users' AND DELETE_RULE IN ('CASCADE', 'RESTRICT', 'NO ACTION')`,
  )
  return rules.filter((rule) => names.has(rule.name))
}
