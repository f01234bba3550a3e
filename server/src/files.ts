import { stat } from 'node:fs/promises';

/** True when `file` exists and is a regular file (following links); false on any error. */
export async function isFile(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}
