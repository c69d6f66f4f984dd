/**
 * Which msmtp account a From address goes out through. msmtp compares an account's `from` with the envelope sender
 * without regard to case, as a pattern when it holds glob characters (fnmatch: `*`, `?`, `[...]`); the first account
 * in its order wins, and a sender no account matches goes through the default account.
 */

/** True when msmtp would pick an account with this `from` for the address. */
export function fromMatches(pattern: string, address: string): boolean {
  const wanted = address.toLowerCase();
  const glob = pattern.toLowerCase();
  if (!/[*?[]/.test(glob)) return glob === wanted;
  return globToRegExp(glob).test(wanted);
}

function globToRegExp(glob: string): RegExp {
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') source += '.*';
    else if (c === '?') source += '.';
    else if (c === '[') {
      const close = glob.indexOf(']', i + 2);
      if (close < 0) {
        source += '\\[';
        continue;
      }
      let set = glob.slice(i + 1, close);
      if (set.startsWith('!')) set = `^${set.slice(1)}`;
      source += `[${set.replace(/\\/g, '\\\\')}]`;
      i = close;
    } else source += c.replace(/[.+^${}()|\\\]]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

/** The senders no account's `from` matches, each once (the first place it was seen). */
export function unmatchedSenders<T extends { address: string }>(
  accounts: readonly { from: readonly string[] }[], senders: readonly T[],
): T[] {
  const seen = new Set<string>();
  const unmatched: T[] = [];
  for (const sender of senders) {
    const key = sender.address.toLowerCase();
    if (seen.has(key)) continue;
    seen.add(key);
    if (!accounts.some((account) => account.from.some((from) => fromMatches(from, sender.address)))) unmatched.push(sender);
  }
  return unmatched;
}
