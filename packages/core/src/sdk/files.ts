/**
 * Sandboxed file access for nodes. Reads are allowed only inside the allowed folders (the workflow's folder,
 * `inputs/` and folders the user allowed); writes go into the run's output folder, atomically.
 */
export interface FileAccess {
  /** Absolute folders reads may come from. */
  readonly allowedFolders: readonly string[];
  /** Absolute folder outputs are written to. */
  readonly outputFolder: string;
  /**
   * Resolves a user-given path for reading (relative paths against the workflow's folder, then `inputs/`),
   * following symlinks. Throws `PATH_OUTSIDE_ALLOWED` for escapes and `FILE_NOT_FOUND` for missing files.
   */
  resolveRead(path: string): Promise<string>;
  /** Reads a file inside the allowed folders. */
  read(path: string): Promise<Uint8Array>;
  /**
   * Writes a file into the output folder under a name (no folders above it) without ever leaving a
   * half-written file: data goes to a temporary file that is renamed into place. Returns the absolute path.
   */
  writeOutput(name: string, data: Uint8Array | ((tmpPath: string) => Promise<void>)): Promise<string>;
  /** Paths written so far by this run. */
  readonly written: readonly string[];
}
