/**
 * The decisions behind "retry at once when the network returns or the computer wakes", without Electron: a hand-
 * driven clock stands in for the timers, a variable for net.isOnline(), a listener list for powerMonitor 'resume'.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_POLL_MS, watchNetwork, type WatchClock } from '../../../electron/desktop/network-watch';

/** Timers that run only when the test advances time; counts what is pending so a leak shows. */
function manualClock() {
  let now = 0;
  let nextId = 1;
  const timers = new Map<number, { at: number; run: () => void }>();
  const clock: WatchClock = {
    setTimeout: (run, ms) => {
      const id = nextId++;
      timers.set(id, { at: now + ms, run });
      return id;
    },
    clearTimeout: (handle) => {
      timers.delete(handle as number);
    },
  };
  const advance = (ms: number) => {
    const end = now + ms;
    for (;;) {
      const due = [...timers.entries()].filter(([, timer]) => timer.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      timers.delete(due[0]);
      now = due[1].at;
      due[1].run();
    }
    now = end;
  };
  return { clock, advance, pending: () => timers.size };
}

/** A computer as the watch sees it: a network that comes and goes, a wake from sleep, and the watch's calls. */
function computer() {
  const time = manualClock();
  const resumeListeners: (() => void)[] = [];
  const network = { online: true };
  const calls: string[] = [];
  const watch = watchNetwork({
    isOnline: () => network.online,
    onResume: (listener) => resumeListeners.push(listener),
    onBack: (why) => calls.push(why),
    pollMs: 1000,
    clock: time.clock,
  });
  return { ...time, network, calls, watch, resumeListeners, wake: () => resumeListeners.forEach((listener) => listener()) };
}

describe('network watch', () => {
  it('calls back once per offline → online transition, not while the state stays the same', () => {
    const { clock, advance } = manualClock();
    let online = true;
    let probes = 0;
    const calls: string[] = [];
    const watch = watchNetwork({ isOnline: () => (probes++, online), onBack: (why) => calls.push(why), pollMs: 1000, clock });
    advance(5000);
    assert.deepEqual(calls, [], 'online all along: nothing to retry');
    online = false;
    advance(3000);
    assert.deepEqual(calls, []);
    online = true;
    advance(1000);
    assert.deepEqual(calls, ['online']);
    advance(10_000);
    assert.deepEqual(calls, ['online'], 'once per return, not once per poll');
    online = false;
    advance(1000);
    online = true;
    advance(1000);
    assert.deepEqual(calls, ['online', 'online']);
    // One probe at start, then one per period: 21 s went by.
    assert.equal(probes, 1 + 21);
    watch.stop();
  });

  it('starting offline and coming online counts as a return', () => {
    const { clock, advance } = manualClock();
    let online = false;
    const calls: string[] = [];
    const watch = watchNetwork({ isOnline: () => online, onBack: (why) => calls.push(why), clock });
    advance(DEFAULT_POLL_MS * 3);
    online = true;
    advance(DEFAULT_POLL_MS);
    assert.deepEqual(calls, ['online']);
    watch.stop();
  });

  it('a wake from sleep calls back at once, online or not; a return right after it is reported too', () => {
    const { advance, network, calls, watch, resumeListeners, wake } = computer();
    assert.equal(resumeListeners.length, 1);
    network.online = false; // the lid closed: the network went with it
    advance(1000);
    wake();
    assert.deepEqual(calls, ['resume']);
    network.online = true; // the Wi-Fi reconnects a few seconds after the wake
    advance(1000);
    assert.deepEqual(calls, ['resume', 'online']);
    watch.stop();
  });

  it('a probe that throws changes nothing; the polling goes on', () => {
    const { clock, advance } = manualClock();
    let mode: 'online' | 'offline' | 'throw' = 'offline';
    const calls: string[] = [];
    const watch = watchNetwork({
      isOnline: () => {
        if (mode === 'throw') throw new Error('not ready');
        return mode === 'online';
      },
      onBack: (why) => calls.push(why),
      pollMs: 1000,
      clock,
    });
    mode = 'throw';
    advance(3000);
    assert.deepEqual(calls, [], 'an error is not a return');
    mode = 'online';
    advance(1000);
    assert.deepEqual(calls, ['online'], 'still offline before the errors, so this is a return');
    watch.stop();
  });

  it('stop() cancels the poll and ignores later wakes; at most one poll is ever pending', () => {
    const { advance, pending, network, calls, watch, wake } = computer();
    for (let i = 0; i < 5; i += 1) {
      advance(1000);
      assert.equal(pending(), 1);
    }
    watch.stop();
    assert.equal(pending(), 0);
    network.online = false;
    advance(2000);
    network.online = true;
    advance(2000);
    wake();
    assert.deepEqual(calls, []);
  });

  it('the poll period has a floor, so a zero cannot make it spin', () => {
    const { clock, advance } = manualClock();
    let probes = 0;
    const watch = watchNetwork({ isOnline: () => (probes++, true), onBack: () => undefined, pollMs: 0, clock });
    advance(5000);
    assert.equal(probes, 1 + 10, 'one probe at start, then one per 500 ms');
    watch.stop();
  });

  it('with the real timers it polls by itself', async () => {
    let online = false;
    const calls: string[] = [];
    const watch = watchNetwork({ isOnline: () => online, onBack: (why) => calls.push(why), pollMs: 500 });
    online = true;
    const deadline = Date.now() + 5000;
    while (calls.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(calls, ['online']);
    watch.stop();
  });
});
