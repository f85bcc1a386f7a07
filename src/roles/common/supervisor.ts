/**
 * Starts role processes (`erab <role> ...`) as children, waits for each to report ready, relays
 * their status, and stops every one of them on failure or at the end. Used by `erab demo`.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
import { ErabError } from '../../core/errors.js';
import type { ChildMessage, ParentMessage } from './lifecycle.js';

/** Path of the `erab` launcher (bin/erab.js), resolved from this compiled file (dist/src/roles/common). */
export const erabBin = fileURLToPath(new URL('../../../../bin/erab.js', import.meta.url));

export class ParticipantStartError extends ErabError {
  constructor(message: string) {
    super('participant_start', message);
  }
}

export interface Participant {
  name: string;
  child: ChildProcess;
  info: Record<string, unknown>;
}

export interface StartOptions {
  readyTimeoutMs?: number;
  /** Module to fork instead of the erab launcher (tests). */
  modulePath?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** Emits 'status' (name, status) and 'exit' (name, code) for every supervised child. */
export class Supervisor extends EventEmitter {
  private readonly children = new Map<string, ChildProcess>();
  private readonly stderrTail = new Map<string, string[]>();
  private stopping = false;
  private nextRequestId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();

  /** Forks `erab <args...>` and resolves once it reports ready; rejects with its last stderr lines if it does not. */
  start(name: string, args: string[], opts: StartOptions = {}): Promise<Participant> {
    if (this.children.has(name)) throw new ParticipantStartError(`participant ${name} is already running`);
    const child = fork(opts.modulePath ?? erabBin, args, {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: { ...process.env, ...opts.env },
      cwd: opts.cwd,
    });
    this.children.set(name, child);
    const tail: string[] = [];
    this.stderrTail.set(name, tail);
    const keep = (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line.trim()) continue;
        tail.push(line);
        if (tail.length > 20) tail.shift();
      }
    };
    child.stderr?.on('data', keep);
    child.stdout?.on('data', keep);
    return new Promise<Participant>((resolve, reject) => {
      let settled = false;
      const timeoutMs = opts.readyTimeoutMs ?? 30_000;
      const timer = setTimeout(() => fail(`did not become ready within ${timeoutMs} ms`), timeoutMs);
      const fail = (why: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        const last = tail.slice(-5).map((l) => `    ${l}`).join('\n');
        reject(new ParticipantStartError(`participant ${name} failed to start: ${why}${last ? `\n  last output:\n${last}` : ''}`));
      };
      child.on('message', (msg: ChildMessage) => {
        if (!msg || typeof msg !== 'object') return;
        if (msg.type === 'ready' && !settled) {
          settled = true;
          clearTimeout(timer);
          resolve({ name, child, info: msg.info ?? {} });
        } else if (msg.type === 'status') {
          this.emit('status', name, msg.status);
        } else if (msg.type === 'failed') {
          fail(msg.error);
        } else if (msg.type === 'reply') {
          const p = this.pending.get(msg.id);
          if (!p) return;
          this.pending.delete(msg.id);
          clearTimeout(p.timer);
          if (msg.ok) p.resolve(msg.result);
          else p.reject(new ErabError('participant_command', `${name}: ${msg.error ?? 'command failed'}`));
        }
      });
      child.on('error', (err) => fail(err.message));
      child.on('exit', (code, signal) => {
        this.children.delete(name);
        this.emit('exit', name, code ?? signal);
        fail(`exited with ${code ?? signal} before it was ready`);
      });
    });
  }

  /** Sends a command to a participant and resolves with its reply (rejects with its error message). */
  request<T = unknown>(name: string, command: string, args: Record<string, unknown> = {}, timeoutMs = 30_000): Promise<T> {
    const child = this.children.get(name);
    if (!child || !child.connected) return Promise.reject(new ErabError('participant_command', `${name} is not running`));
    const id = this.nextRequestId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new ErabError('participant_command', `${name} did not answer ${command} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      child.send({ type: 'command', id, command, args } satisfies ParentMessage);
    });
  }

  send(name: string, msg: ParentMessage): boolean {
    const child = this.children.get(name);
    if (!child || !child.connected) return false;
    child.send(msg);
    return true;
  }

  /** The last lines a participant wrote (for error messages). */
  lastOutput(name: string): string[] {
    return [...(this.stderrTail.get(name) ?? [])];
  }

  running(): string[] {
    return [...this.children.keys()];
  }

  /** Asks every child to stop, then kills any that have not exited within `graceMs`. */
  async stopAll(graceMs = 5000): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    const waits = [...this.children.entries()].map(([, child]) => new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const kill = setTimeout(() => child.kill('SIGKILL'), graceMs);
      child.once('exit', () => { clearTimeout(kill); resolve(); });
      if (child.connected) child.send({ type: 'stop' } satisfies ParentMessage);
      else child.kill('SIGTERM');
    }));
    await Promise.all(waits);
    this.children.clear();
  }
}
