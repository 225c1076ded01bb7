/** v2 → v3 migration: the library the `etcd-ts migrate v2-to-v3` command calls. */
export { migrateV2ToV3, verifyV2ToV3, type MigrateV2ToV3Options, type MigrationConflict, type MigrationPhase, type MigrationProgress, type MigrationReport } from "./migrate.js";
export type { Difference } from "./verify.js";
export type { SkippedKey } from "./dest.js";
