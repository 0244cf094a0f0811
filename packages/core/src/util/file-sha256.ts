import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';

/**
 * The sha256 (hex) of a file's bytes, read in 1 MiB pieces. For checking large files against a recorded
 * digest: model packs against their manifest, cached optimised models against their record.
 */
export async function fileSha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  // One 1 MiB buffer, reused: a read stream allocates and copies every chunk (≈ a third of the time of
  // hashing a 16 MB pack, in allocation and garbage collection).
  const buffer = Buffer.allocUnsafe(1 << 20);
  const file = await open(path, 'r');
  try {
    for (;;) {
      const { bytesRead } = await file.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
    }
  } finally {
    await file.close();
  }
  return hash.digest('hex');
}
