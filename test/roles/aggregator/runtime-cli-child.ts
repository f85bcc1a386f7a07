// Launches the erab CLI from this build (the supervisor forks it like bin/erab.js would).
import { main } from '../../../src/cli/main.js';

main(process.argv).then((code) => { process.exitCode = code; });
