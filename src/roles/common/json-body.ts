/**
 * Reading a bounded JSON request body for the operator endpoints (TSO/retailer API, aggregator
 * console). A body over the bound is cut off (413), one that is not JSON is refused (400), an
 * empty body reads as `{}`.
 */
import type { IncomingMessage } from 'node:http';
import { InvalidInputError, explain, type Explained } from '../../core/errors.js';

/** Bad request body, with the HTTP status to answer (keyed: the console says it in the operator's language). */
export class RequestBodyError extends InvalidInputError {
  constructor(readonly status: 400 | 413, message: string | Explained) {
    super(message);
  }
}

export function readJsonBody(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > maxBytes) {
        // Not destroyed: the client is owed its 413. The rest is read and dropped (bounded by the
        // server's request timeout), and the answer closes the connection.
        req.removeAllListeners('data');
        req.resume();
        reject(new RequestBodyError(413, explain('request.bodyTooLarge', { max: maxBytes })));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (size === 0) return resolve({});
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown);
      } catch (err) {
        reject(new RequestBodyError(400, explain('request.bodyNotJson', { why: (err as Error).message })));
      }
    });
    req.on('error', reject);
  });
}
