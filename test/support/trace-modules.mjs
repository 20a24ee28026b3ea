// `node --import <this file>`: every module URL resolved that contains MODULE_TRACE is written
// to stderr as `module-trace <url>`, so a test can tell which dependencies a process loaded.
import { register } from 'node:module';

register('./trace-modules-hook.mjs', import.meta.url, { data: { needle: process.env.MODULE_TRACE ?? '' } });
