/** The renderer asked for something it may not: wrong sender, unknown method, or input of the wrong shape. */
export class IpcRejected extends Error {
  override name = 'IpcRejected';
}
