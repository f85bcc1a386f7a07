/** Runs the erab CLI from this build in a child process: `node portfolio-cli-runner.js <args...>`. */
import { main } from '../../../src/cli/main.js';

process.exitCode = await main(process.argv);
