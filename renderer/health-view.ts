import type { HealthFix, HealthProblem, RendererApi } from '../electron/contract/api';
import { busy, toast } from './dom.js';

/**
 * The health problems at the top of the window: what is wrong on this machine, the steps, a sample file when one
 * helps, and the one-click fix. `onFixed` runs after a fix worked (a new port changes the setup pane).
 */
export function renderProblems(
  box: HTMLElement, problems: readonly HealthProblem[], api: RendererApi, onFixed: () => void,
  onOpen: (opens: NonNullable<HealthProblem['opens']>) => void = () => undefined,
): void {
  for (const problem of problems) {
    const card = document.createElement('section');
    card.className = 'problem';
    card.dataset.kind = problem.kind;
    card.dataset.key = problem.kind;
    const title = document.createElement('h3');
    title.textContent = problem.title;
    const detail = document.createElement('p');
    detail.textContent = problem.detail;
    card.append(title, detail);
    if (problem.steps.length > 0) {
      const steps = document.createElement('ol');
      for (const step of problem.steps) {
        const item = document.createElement('li');
        // Commands are shown as code, to be copied as they are.
        if (/^(sudo |brew |chmod |gnome-|echo |Create |Edit )/.test(step) && !step.includes(': ')) item.className = 'mono';
        item.textContent = step;
        steps.append(item);
      }
      card.append(steps);
    }
    if (problem.sample && !problem.opens) {
      const sample = document.createElement('pre');
      sample.className = 'sample';
      sample.textContent = problem.sample;
      card.append(sample);
    }
    const opens = problem.opens;
    const fix = problem.fix;
    if (fix || opens) {
      const row = document.createElement('div');
      row.className = 'row';
      card.append(row);
      if (opens) {
        const open = document.createElement('button');
        open.type = 'button';
        open.className = 'primary opens';
        open.textContent = opens.label;
        open.addEventListener('click', () => onOpen(opens));
        row.append(open);
      }
    }
    if (fix) {
      const row = card.querySelector<HTMLElement>('.row')!;
      const button = document.createElement('button');
      button.type = 'button';
      button.className = opens ? 'fix' : 'primary fix';
      button.dataset.action = 'fix';
      button.textContent = fix.label;
      button.addEventListener('click', () => {
        void busy(button, async () => {
          const action: HealthFix = fix.action === 'use-port' ? { action: 'use-port', port: fix.port } : { action: fix.action };
          const result = await api.applyFix(action);
          if (result.ok) {
            toast(result.message ?? 'Done');
            onFixed();
          } else {
            toast(result.error, 'error');
          }
        });
      });
      row.append(button);
    }
    box.append(card);
  }
}
