// A process that does what `meridian serve` will do at start: load or create the self-signed CA.
// Used by ca-store.test.ts to race real processes and to crash one mid-write.
// argv: <dir> [crash-before-commit | slow-commit]
import { loadOrCreateSelfSignedCa } from '../ca-store.ts';

const [dir, mode] = process.argv.slice(2);
if (dir === undefined) throw new Error('usage: start-ca.ts <dir> [crash-before-commit | slow-commit]');
const ca = await loadOrCreateSelfSignedCa({
  dir,
  trustDomain: 'cluster.local',
  ...(mode === 'crash-before-commit'
    ? {
        beforeCommit: async () => {
          process.kill(process.pid, 'SIGKILL');
          await new Promise((r) => setTimeout(r, 10_000));
        },
      }
    : {}),
});
console.log(JSON.stringify({ created: ca.created, fingerprint: ca.authority.cert.fingerprint256 }));
