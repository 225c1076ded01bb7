/** The package version, in a module of its own so the CLI can print it without loading the clients. */
export const VERSION = "0.1.0";
