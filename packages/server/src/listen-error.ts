import { MeridianError } from '@meridian/model';

/**
 * A port that cannot be opened, said so that the reader knows which setting to change
 * (grpc-js says "No address added out of total 1 resolved errors: [listen EADDRINUSE…]").
 */
export function listenError(err: Error & { code?: string }, key: string, address: string): MeridianError {
  const text = `${err.code ?? ''} ${err.message}`;
  const why = /EADDRINUSE/.test(text)
    ? 'is already in use by another process (stop it, or set another port)'
    : /EACCES/.test(text)
      ? 'needs privileges this process lacks (ports below 1024 need root or CAP_NET_BIND_SERVICE)'
      : /EADDRNOTAVAIL|ENOTFOUND|EAI_AGAIN/.test(text)
        ? 'is not an address of this host'
        : `cannot be opened: ${err.message}`;
  return new MeridianError('SERVER_ERR_LISTEN', `${key}: ${address} ${why}`, { cause: err });
}
