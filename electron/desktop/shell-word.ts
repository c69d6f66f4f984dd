/**
 * Words for a command the user pastes into a POSIX shell (bash's interactive mode included): single quotes, where
 * nothing is expanded (not `$`, not backticks, not even bash's history `!`), a single quote as '\''. Plain words
 * stay bare for readability.
 */
export function shellWord(text: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(text) && !text.startsWith('-')) return text;
  return `'${text.replace(/'/g, "'\\''")}'`;
}

/** A path as one shell word; a leading `~/` stays outside the quotes, so the shell still makes it the home folder. */
export function shellPath(path: string): string {
  return path.startsWith('~/') ? `~/${shellWord(path.slice(2))}` : shellWord(path);
}
