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
  sessionEnding(reason: string): Promise<void> {
    this.deps.log('info', `${reason}: stopping the relay; mails in flight get the stop grace to finish`);
    return this.quit(reason);
  }

  /** Starts the one stop (later calls join it); resolves after exit() was called. */
  quit(reason: string): Promise<void> {
    if (this.stopping) return this.stopping;
    this.phase = 'stopping';
    this.stopping = this.stopThenExit(reason);
    return this.stopping;
  }

  private async stopThenExit(reason: string): Promise<void> {
    let code = 0;
    let timedOut = false;
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        timedOut = true;
        resolve();
      }, this.deps.limitMs);
      this.deps.shutdown().then(resolve, (error: unknown) => {
        code = 1;
        this.deps.log('error', `the relay did not stop cleanly: ${(error as Error)?.message ?? String(error)}`);
        resolve();
      });
    });
    clearTimeout(timer);
    if (timedOut) {
      code = 1;
      this.deps.log('error', `the relay did not stop within ${this.deps.limitMs} ms; quitting anyway`);
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
