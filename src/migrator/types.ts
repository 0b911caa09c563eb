import type { MigrationContext } from './context.js'

export interface FamilySyncMigration {
  name: string
  up(ctx: MigrationContext): Promise<void>
  down(ctx: MigrationContext): Promise<void>
}
