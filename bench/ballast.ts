/**
 * Makes this process the size of the desktop app's main process: Electron's main process holds some 150-200 MiB,
 * and what fork() (Node's spawn) costs grows with the memory a process has mapped and touched. The ballast is
 * retained for the life of the process, as the app's own heap is.
 */
const retained: unknown[] = [];

/** Allocates and keeps about `mib` MiB of JS heap: arrays of numbers (1 MiB each) and small objects. */
export function addBallast(mib: number): void {
  const DOUBLES_PER_MIB = (1024 * 1024) / 8;
  for (let i = 0; i < mib; i++) {
    if (i % 4 === 3) {
      // A quarter as many small objects, as an app's heap is mostly: the garbage collector has them to trace.
      const objects: { index: number; name: string }[] = [];
      for (let j = 0; j < 16 * 1024; j++) objects.push({ index: j, name: `entry ${i}.${j}` });
      retained.push(objects);
    } else {
      retained.push(new Array<number>(DOUBLES_PER_MIB).fill(i + 0.5));
    }
  }
}
