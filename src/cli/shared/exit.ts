/**
 * The two ways a command stops early, shared by the v2 and v3 command sets: a mistake in the
 * command line (its one line is printed by the runner) and an exit once the command has printed
 * what it had to say.
 */

/** A mistake in the command line: printed as one line on stderr, exit code 1 unless told. */
export class UsageError extends Error {
  /** The exit code to end with. */
  readonly exitCode: number;

  /** Builds the error with the exact line to print. */
  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = "UsageError";
    this.exitCode = exitCode;
  }
}

/** Ends a command with an exit code once its output is written. */
export class CliExit extends Error {
  /** The process exit code. */
  readonly code: number;

  /** Builds the signal to stop with `code`. */
  constructor(code: number) {
    super(`exit ${code}`);
    this.name = "CliExit";
    this.code = code;
  }
}
