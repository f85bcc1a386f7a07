/**
 * The project's error hierarchy. Every error erab throws on purpose is an ErabError,
 * so callers can tell "a peer sent us garbage" from "our own bug" from "policy said no".
 */

/** Root of every intentional error in erab. `code` is a stable machine-readable tag. */
export class ErabError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Bad input from outside: a peer's frame or payload, a file, a CLI argument. Never our bug. */
export class InvalidInputError extends ErabError {
  constructor(message: string, options?: { cause?: unknown; code?: string }) {
    super(options?.code ?? 'invalid_input', message, options);
  }
}

/** Configuration that fails validation; the message names the file, the field and the rule. */
export class ConfigError extends ErabError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('invalid_config', message, options);
  }
}

/** The request was understood but a policy (command limits, allow-list, hours...) refuses it. */
export class PolicyRefusedError extends ErabError {
  constructor(message: string, options?: { cause?: unknown; code?: string }) {
    super(options?.code ?? 'policy_refused', message, options);
  }
}

/** The peer or operator is not who they must be (certificate, signature, allow-list). */
export class NotAuthorizedError extends ErabError {
  constructor(message: string, options?: { cause?: unknown; code?: string }) {
    super(options?.code ?? 'not_authorized', message, options);
  }
}

/** Tampering or corruption detected in data we own (audit log, store). Never silently repaired. */
export class IntegrityError extends ErabError {
  constructor(message: string, options?: { cause?: unknown; code?: string }) {
    super(options?.code ?? 'integrity', message, options);
  }
}

/** A condition that should be impossible: a bug in erab. */
export class InternalError extends ErabError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('internal', message, options);
  }
}

/** A short human-readable description of any thrown value, for logs and CLI output. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
