/**
 * How the desktop app ends, without Electron. Every way out (tray Quit, Cmd+Q, Dock -> Quit, SIGTERM at logout,
 * the OS shutting down, closing the window where there is no tray) goes through one QuitPolicy, so the relay is
 * stopped once, mails in flight may finish, and the process really ends afterwards.
 *
 * Why not app.quit() again once the relay has stopped: when the stop resolves inside the same native quit (nothing in
 * flight), the nested quit closes everything and the outer one then clears Electron's quitting flag, leaving a process
 * with no tray and no window. So the end is app.exit(), which emits no second before-quit and closes windows as is.
 */

export interface QuitDeps {
  /** Stops the relay; mails in flight may finish within the engine's stop grace. */
  shutdown(): Promise<void>;
  /** Ends the process now (Electron's app.exit): no before-quit, no window close handlers. */
  exit(code: number): void;
  log(level: 'info' | 'error', message: string): void;
  /** The stop is given this long before the process ends regardless: a hung stop must not keep a logout waiting. */
  limitMs: number;
}

/**
 * What the OS gives a session end. Linux: Electron holds a shutdown with a logind "delay" inhibitor
 * (electron shell/browser/lib/power_observer_linux.cc BlockShutdown), which logind honours for InhibitDelayMaxSec,
 * 5 s by default (logind.conf(5)); a logout sends no PrepareForShutdown at all. Windows ends the process soon after
 * 'session-end'. So a session end gets 4 s, under logind's default, and the app ends by itself before it is killed.
 */
export const SESSION_END_LIMIT_MS = 4000;

export type QuitPhase = 'running' | 'stopping' | 'exited';

export class QuitPolicy {
  private phase: QuitPhase = 'running';
  private stopping: Promise<void> | null = null;

  constructor(private readonly deps: QuitDeps) {}

  get state(): QuitPhase {
    return this.phase;
  }

  /** True from the first quit request on: a window closed now is closed, not hidden. */
  get quitting(): boolean {
    return this.phase !== 'running';
  }

  /**
   * Electron's before-quit: the default (closing windows, then quitting) is always prevented; the policy stops the
   * relay and then exits by itself.
   */
  beforeQuit(event: { preventDefault(): void }): void {
    event.preventDefault();
    void this.quit('quit requested');
  }

  /**
   * The session ends (logout, shutdown, restart). On Windows Electron emits no before-quit then, so this is the only
   * place where the mails in flight get their log line.
   */
  sessionEnding(reason: string, osLimitMs = SESSION_END_LIMIT_MS): Promise<void> {
    const limitMs = Math.min(osLimitMs, this.deps.limitMs);
    this.deps.log('info', `${reason}: the relay stops listening now; mails in flight get up to ${limitMs} ms, then the app ends`);
    return this.quit(reason, limitMs);
  }

  /**
   * Starts the one stop (later calls join it, and a shorter limit applies to it from then on); resolves after
   * exit() was called. The relay stops listening at once: shutdown() closes the listener before it waits.
   */
  quit(reason: string, limitMs = this.deps.limitMs): Promise<void> {
    if (this.stopping) {
      this.shorten?.(limitMs);
      return this.stopping;
    }
    this.phase = 'stopping';
    this.stopping = this.stopThenExit(reason, limitMs);
    return this.stopping;
  }

  private shorten: ((limitMs: number) => void) | null = null;

  private async stopThenExit(reason: string, firstLimitMs: number): Promise<void> {
    let code = 0;
    let timedOut = false;
    let timer: NodeJS.Timeout | undefined;
    const started = Date.now();
    let limitMs = firstLimitMs;
    await new Promise<void>((resolve) => {
      const arm = () => {
        clearTimeout(timer);
        timer = setTimeout(() => {
          timedOut = true;
          resolve();
        }, Math.max(0, started + limitMs - Date.now()));
      };
      this.shorten = (next) => {
        if (next >= limitMs) return;
        limitMs = next;
        arm();
      };
      arm();
      this.deps.shutdown().then(resolve, (error: unknown) => {
        code = 1;
        this.deps.log('error', `the relay did not stop cleanly: ${(error as Error)?.message ?? String(error)}`);
        resolve();
      });
    });
    clearTimeout(timer);
    if (timedOut) {
      code = 1;
      this.deps.log('error', `the relay did not stop within ${limitMs} ms; quitting anyway`);
    }
    this.deps.log('info', `msmtp Relay quit (${reason})`);
    this.phase = 'exited';
    this.deps.exit(code);
  }
}

/** What closing the settings window does. Without a tray a hidden window would leave the app out of reach. */
export function closeAction(options: { quitting: boolean; trayShown: boolean }): 'close' | 'hide' | 'quit' {
  if (options.quitting) return 'close';
  return options.trayShown ? 'hide' : 'quit';
}
