/**
 * Long options the way glibc's getopt_long reads them, because msmtpd users paste command lines that rely on it:
 * `--opt=value` and `--opt value`, unambiguous prefixes (`--por=25`), the last occurrence wins, and its error texts.
 * (node's util.parseArgs knows neither prefixes nor getopt's way of taking the next word as the value.)
 */
export interface LongOption {
  readonly name: string;
  readonly takesValue: boolean;
}

export class UsageError extends Error {
  override name = 'UsageError';
}

/** Each option's last value, in a map keyed by the full name; flags map to ''. */
export function getoptLong(args: readonly string[], options: readonly LongOption[]): Map<string, string> {
  const found = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') {
      if (i + 1 < args.length) throw new UsageError('too many arguments');
      break;
    }
    if (!arg.startsWith('-') || arg === '-') throw new UsageError('too many arguments');
    if (!arg.startsWith('--')) throw new UsageError(`invalid option -- '${arg[1]}'`);
    const equals = arg.indexOf('=');
    const given = arg.slice(2, equals < 0 ? undefined : equals);
    const option = lookup(given, options);
    if (!option.takesValue) {
      if (equals >= 0) throw new UsageError(`option '--${option.name}' doesn't allow an argument`);
      found.set(option.name, '');
      continue;
    }
    let value: string;
    if (equals >= 0) {
      value = arg.slice(equals + 1);
    } else if (i + 1 < args.length) {
      value = args[++i]!; // getopt takes the next word whatever it looks like: `--command --x` means command "--x"
    } else {
      throw new UsageError(`option '--${option.name}' requires an argument`);
    }
    if (value === '') throw new UsageError(`option '--${option.name}' requires non-empty argument`);
    found.set(option.name, value);
  }
  return found;
}

function lookup(given: string, options: readonly LongOption[]): LongOption {
  const exact = options.find((option) => option.name === given);
  if (exact) return exact;
  const candidates = given === '' ? [] : options.filter((option) => option.name.startsWith(given));
  if (candidates.length === 1) return candidates[0]!;
  if (candidates.length > 1) {
    const names = candidates.map((option) => `'--${option.name}'`).join(' ');
    throw new UsageError(`option '--${given}' is ambiguous; possibilities: ${names}`);
  }
  throw new UsageError(`unrecognized option '--${given}'`);
}
