import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { createLogger } from '@meridian/model';
import { changeLogLevel, resolveLogFormat, textLogStream } from './logging.ts';

describe('log format and level', () => {
  it('chooses text on a terminal and JSON in a pipe when the format is auto; an explicit one wins', () => {
    assert.equal(resolveLogFormat('auto', true), 'text');
    assert.equal(resolveLogFormat('auto', false), 'json');
    assert.equal(resolveLogFormat('json', true), 'json');
    assert.equal(resolveLogFormat('text', false), 'text');
  });

  it('writes one readable line per entry in text, with the fields after it', () => {
    const out = new PassThrough();
    const logger = createLogger({ destination: textLogStream({ colorize: false, destination: out }) });
    logger.child({ component: 'push' }).info({ connections: 3 }, 'push');
    const text = String(out.read());
    assert.match(text, /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: push\n/);
    assert.match(text, /component: "push"/);
    assert.match(text, /connections: 3/);
    assert.throws(() => JSON.parse(text.split('\n')[0] ?? ''));
  });

  it('changes the level of children made before the change, and refuses an unknown level', () => {
    const lines: string[] = [];
    const out = new PassThrough();
    out.on('data', (c: Buffer) => lines.push(...String(c).trim().split('\n')));
    const logger = createLogger({ level: 'info', destination: out });
    const child = logger.child({ component: 'discovery' }).child({ cluster: 'east' });
    child.debug('hidden');
    assert.equal(changeLogLevel(logger, 'debug'), undefined);
    child.debug('shown');
    assert.match(changeLogLevel(logger, 'loud') ?? '', /unknown level loud \(one of trace, debug, info/);
    assert.equal(logger.level, 'debug');
    changeLogLevel(logger, 'warn');
    child.info('hidden too');
    child.warn('warned');
    assert.deepEqual(lines.map((l) => (JSON.parse(l) as { msg: string }).msg), ['shown', 'warned']);
  });
});
