import { dirname, join } from 'node:path';
import { UserFileError } from './errors.js';
import { makeDirectory } from './make-dir.js';
import { pathEntry } from './user-file.js';

/**
 * Writes a file so that a crash at any moment leaves either the old content or the new one:
 * write a temp file beside it, fsync, rename over, fsync the folder. Something at `path` that is not
 * a regular file (a folder, a device such as /dev/null, a FIFO) is refused with UserFileError, never
 * replaced: the rename would put a file in place of a device node.
 */
export async function writeFileAtomic(path: string, content: string | Buffer, mode = 0o644): Promise<void> {
  const entry = pathEntry(path);
  if (entry.kind === 'other') {
    throw new UserFileError(path, `${path} ${entry.why}: nothing was written`, {
      hint: 'name a regular file (or a path where none exists yet)',
    });
  }
  // Loaded here, not at the top: commands that only read state (config) never pay for them.
  const [{ randomBytes }, { open, rename, rm }] = await Promise.all([
    import('node:crypto'),
    import('node:fs/promises'),
  ]);
  const folder = dirname(path);
  await makeDirectory(folder);
  const temp = join(folder, `.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temp, 'w', mode);
  try {
    await handle.writeFile(content);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(temp, { force: true });
    throw error;
  }
  await handle.close();
  try {
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  const dir = await open(folder, 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
