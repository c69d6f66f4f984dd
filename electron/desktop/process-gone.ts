/** Log lines for Electron's render-process-gone and child-process-gone, which otherwise leave no trace. */
export interface GoneDetails {
  reason: string;
  exitCode: number;
  /** child-process-gone: 'GPU', 'Utility', ...; and the service or process name when Electron knows it. */
  type?: string;
  serviceName?: string;
  name?: string;
}

export function processGoneLine(what: 'settings window' | 'child process', details: GoneDetails): { level: 'info' | 'error'; message: string } {
  const named = [details.type, details.serviceName ?? details.name].filter(Boolean).join(' ');
  const subject = what === 'child process' && named ? `${what} (${named})` : what;
  const message = `${subject} ended: ${details.reason}, exit code ${details.exitCode}`;
  return { level: details.reason === 'clean-exit' ? 'info' : 'error', message };
}
