/**
 * The two words `etcd-ts --version` prints besides the package version, in a module with no
 * imports, so that answer loads nothing else (globals.ts re-exports them for everyone else).
 */

/** The program's name, where etcdctl prints "etcdctl". */
export const PROGRAM_NAME = "etcd-ts";
/** The etcd API version this command line speaks (the newest it was checked against). */
export const API_VERSION = "3.5";
