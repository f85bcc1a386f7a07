/** Every `erab <group>` registers here; each group is one module with one `register` function. */
import type { Command } from 'commander';
import { register as pki } from './pki.js';
import { register as aggregator } from './aggregator.js';
import { register as aggregatorRun } from './aggregator-run.js';
import { register as audit } from './audit.js';
import { register as device } from './device.js';
import { register as tso } from './tso.js';
import { register as gateway } from './gateway.js';
import { register as demo } from './demo.js';
import { register as openadr } from './openadr.js';
import { register as notify } from './notify.js';
import { register as update } from './update.js';
import { register as compliance } from './compliance.js';
import { register as vuln } from './vuln.js';
import { register as alerts } from './alerts.js';
import { register as incident } from './incident.js';
import { register as drill } from './drill.js';
import { register as config } from './config.js';
import { register as backup } from './backup.js';
import { register as privacy } from './privacy.js';

export type RegisterCommand = (program: Command) => void;

export const commandGroups: RegisterCommand[] = [pki, aggregator, aggregatorRun, audit, device, tso, gateway, demo, openadr, notify, update, compliance, vuln, alerts, incident, drill, config, backup, privacy];
