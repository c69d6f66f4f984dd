/** The settings window's zoom as data: the menu that gives Ctrl+Plus/Minus/0 on every platform, and Ctrl+wheel steps. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ZOOM_MAX, ZOOM_MIN, appMenuTemplate, nextZoomLevel, type MenuTemplateItem } from '../../../electron/desktop/zoom';

const roles = (items: readonly MenuTemplateItem[]): string[] =>
  items.flatMap((item) => [...(item.role ? [item.role] : []), ...roles(item.submenu ?? [])]);

describe('window zoom', () => {
  for (const platform of ['linux', 'win32', 'darwin'] as const) {
    it(`${platform}: the application menu carries the zoom roles, so Ctrl+Plus, Ctrl+Minus and Ctrl+0 work`, () => {
      const template = appMenuTemplate(platform);
      const all = roles(template);
      for (const role of ['zoomIn', 'zoomOut', 'resetZoom']) assert.ok(all.includes(role), `${role} in ${JSON.stringify(template)}`);
      const view = template.find((item) => item.label === 'View')!;
      assert.ok(view, 'a View menu');
      const visible = view.submenu!.filter((item) => item.visible !== false).map((item) => item.role);
      assert.deepEqual(visible, ['resetZoom', 'zoomIn', 'zoomOut']);
      assert.deepEqual(view.submenu!.filter((item) => item.accelerator).map((item) => [item.role, item.accelerator]), [['zoomIn', 'CommandOrControl+=']]);
    });
  }

  it('macOS keeps its app, Edit and Window menus (Cmd+C/V/X in fields); Linux and Windows get only View', () => {
    assert.deepEqual(appMenuTemplate('darwin').map((item) => item.role ?? item.label), ['appMenu', 'editMenu', 'View', 'windowMenu']);
    assert.deepEqual(appMenuTemplate('linux').map((item) => item.role ?? item.label), ['View']);
  });

  it('Ctrl+wheel steps half a level (about 10%) and stops at the bounds', () => {
    assert.equal(nextZoomLevel(0, 'in'), 0.5);
    assert.equal(nextZoomLevel(0, 'out'), -0.5);
    let level = 0;
    for (let i = 0; i < 8; i++) level = nextZoomLevel(level, 'in');
    assert.ok(1.2 ** level >= 2, `200% reachable by wheel: ${level}`);
    for (let i = 0; i < 100; i++) level = nextZoomLevel(level, 'in');
    assert.equal(level, ZOOM_MAX);
    for (let i = 0; i < 100; i++) level = nextZoomLevel(level, 'out');
    assert.equal(level, ZOOM_MIN);
  });
});
