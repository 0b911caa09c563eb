import type { Session } from '../connection/session.js'
import { FamilySyncError } from '../errors.js'
import { readIsReplica, type ServerInfo } from './introspect.js'

/**
 * Refuses to write on a read-only server or a replica unless forced: rows
 * written there collide with what replication brings (error 1062) or put its
 * GTIDs out of order (error 1950), and replication stops.
 */
export async function refuseReadOnly(session: Session, server: ServerInfo, force: boolean | undefined, command: string): Promise<void> {
  if (force) return
  if (server.readOnly) throw new FamilySyncError(`${server.node} is read-only (read_only or super_read_only is on): run ${command} on the primary, or pass --force`)
  if (await readIsReplica(session)) throw new FamilySyncError(`${server.node} is a replica (SHOW REPLICA STATUS lists a source): run ${command} on the primary, or pass --force`)
}
