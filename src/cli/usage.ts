import { ErabError } from '../core/errors.js';

/** A wrong combination of CLI arguments that commander cannot detect; exits with code 2. */
export class UsageError extends ErabError {
  constructor(message: string) {
    super('usage', message);
  }
}
