// One writer process of the concurrent-ledger test: creates release argv[2] in ledger argv[3], marks
// every phase, then exits at once (as a short `stagecraft` command does).
import { Ledger } from '../../src/state/ledger.js';
import { PHASES, type ReleaseRecord } from '../../src/state/types.js';

const [id, path] = process.argv.slice(2) as [string, string];
const ledger = new Ledger({ projectRoot: '/', path });
const record: ReleaseRecord = {
  id,
  environment: 'production',
  version: id,
  commit_sha: 'abc',
  timestamp: new Date().toISOString(),
  phases: Object.fromEntries(PHASES.map((phase) => [phase, 'pending'])) as ReleaseRecord['phases'],
  kind: 'deploy',
  images: {},
  hosts: {},
  deployer: { user: 'test', machine: 'test', ci: false },
};
await ledger.create(record);
for (const phase of PHASES) await ledger.setPhase(id, phase, 'completed');
