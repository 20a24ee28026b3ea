import { BlockList, isIP } from 'node:net';

/**
 * Whether `ip` is in `block`: a CIDR (`10.0.0.0/8`, `fd00::/8`) or a single address, as
 * Istio's ipBlocks and destinationSubnets write them. An address of the other family, or
 * one that is no address at all, is never in it.
 */
export function ipInBlock(block: string, ip: string): boolean {
  const family = isIP(ip);
  if (family === 0) return false;
  const [address = '', bits] = block.split('/');
  const type = isIP(address) === 6 ? 'ipv6' : 'ipv4';
  if ((family === 6 ? 'ipv6' : 'ipv4') !== type) return false;
  const list = new BlockList();
  if (bits === undefined) list.addAddress(address, type);
  else list.addSubnet(address, Number(bits), type);
  return list.check(ip, type);
}
