/**
 * Why an address may not reach the command's argv, or null when it may. The command runs without a shell, so
 * msmtpd's character whitelist is not needed; what stays is what an argv still cares about: no option look-alikes
 * and no control characters.
 */
export function addressProblem(address: string): string | null {
  if (address.startsWith('-')) return 'an address may not start with "-"';
  // C0, DEL and C1 (U+0080-U+009F: U+0085 is a line end, U+009B a terminal's CSI) would forge log lines.
  if (/[\x00-\x1f\x7f-\x9f]/.test(address)) return 'an address may not contain control characters';
  if (/[\s<>]/.test(address)) return 'an address may not contain spaces or angle brackets';
  if (Buffer.byteLength(address) > 256) return 'address too long';
  return null;
}

/** RFC 5321 4.1.2: a source route (@a,@b:user@c) is accepted and ignored. */
export function stripSourceRoute(path: string): string {
  const match = /^@[^:]*:(.*)$/.exec(path);
  return match ? match[1]! : path;
}
