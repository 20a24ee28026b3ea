// @peculiar/x509 relies on decorator metadata and a WebCrypto provider; both are set up here,
// once, and every module that needs the library imports it from this file.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export { x509 };
