/** The timers the watch runs on; tests pass a clock they advance by hand. */
export interface WatchClock {
  setTimeout(run: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface NetworkWatchOptions {
  /** Whether the computer has a network connection now (Electron's net.isOnline()). */
  isOnline(): boolean;
  /** Calls its argument each time the computer wakes from sleep (Electron's powerMonitor 'resume'). */
  onResume?(listener: () => void): void;
  /** The network came back (offline → online) or the computer woke. */
  onBack(why: 'online' | 'resume'): void;
  /** How often isOnline() is asked: one cheap call per period, never more. */
  pollMs?: number;
  clock?: WatchClock;
}

export const DEFAULT_POLL_MS = 5000;

const realClock: WatchClock = {
  setTimeout: (run, ms) => {
    const timer = setTimeout(run, ms);
    timer.unref(); // the watch alone must not keep the process alive
    return timer;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/**
 * Tells when kept mail is worth trying at once: the network returned, or the computer woke (its network usually
 * returns a moment later, which the polling then sees too). One poll at a time, each scheduled after the last.
 */
export function watchNetwork(options: NetworkWatchOptions): { stop(): void } {
  const clock = options.clock ?? realClock;
  const pollMs = Math.max(500, options.pollMs ?? DEFAULT_POLL_MS);
  let online = probe(() => options.isOnline(), true);
  let timer: unknown = null;
  let stopped = false;

  const poll = () => {
    timer = null;
    if (stopped) return;
    const now = probe(() => options.isOnline(), online);
    if (now && !online) options.onBack('online');
    online = now;
    timer = clock.setTimeout(poll, pollMs);
  };
  timer = clock.setTimeout(poll, pollMs);
  options.onResume?.(() => {
    if (!stopped) options.onBack('resume');
  });

  return {
    stop() {
      stopped = true;
      if (timer !== null) clock.clearTimeout(timer);
      timer = null;
    },
  };
}

/** A probe that throws says nothing new: the last known state stands. */
function probe(isOnline: () => boolean, fallback: boolean): boolean {
  try {
    return isOnline();
  } catch {
    return fallback;
  }
}
