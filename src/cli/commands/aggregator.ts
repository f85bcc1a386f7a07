/**
 * `erab aggregator ...`: the resource aggregator's commands. Sub-groups live in their own
 * modules (`aggregator-<sub>.ts`) and attach themselves to the one `aggregator` command:
 *
 *   import { aggregatorCommand } from './aggregator.js';
 *   export function register(program: Command): void {
 *     aggregatorCommand(program).command('dispatch')...;
 *   }
 *
 * then add that module's `register` to ./index.ts.
 */
import type { Command } from 'commander';
import { registerPortfolio } from './aggregator-portfolio.js';

/** The `aggregator` command of `program`, created on first use so every sub-group shares it. */
export function aggregatorCommand(program: Command): Command {
  const existing = program.commands.find((c) => c.name() === 'aggregator');
  if (existing) return existing;
  return program
    .command('aggregator')
    .description('Resource aggregator: portfolio, dispatch, delivery and reporting');
}

export function register(program: Command): void {
  registerPortfolio(aggregatorCommand(program));
}
