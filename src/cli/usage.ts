import { ErabError, type Explained } from '../core/errors.js';

/** A wrong combination of CLI arguments that commander cannot detect; exits with code 2. */
export class UsageError extends ErabError {
  constructor(message: string | Explained) {
    super('usage', message);
  }
}
