/**
 * Nothing half-written: the project is generated, installed and put under
 * git in a staging folder on the target's file system (inside the target
 * when it exists, else beside it), and only moved into place once every
 * step succeeded. A failure or an interrupt removes the staging folder, and
 * the parent folders this run created.
 */
import { lstat, mkdir, mkdtemp, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { NekoCreateError } from './errors.js';

/** What the target folder is now. */
export type TargetState = 'missing' | 'empty' | 'not-empty';

function errnoCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The nearest existing ancestor of `path` (or `path` itself), and whether it is a folder. */
async function nearestExisting(path: string): Promise<{ path: string; isDir: boolean }> {
  for (let current = path; ; current = dirname(current)) {
    try {
      return { path: current, isDir: (await stat(current)).isDirectory() };
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT' && errnoCode(err) !== 'ENOTDIR') throw err;
      if (dirname(current) === current) throw err;
    }
  }
}

/**
 * What `target` is: missing, an empty folder (a lone `.git` counts as
 * empty), or a folder with files.
 * @throws NekoCreateError `NEKO_ERR_CREATE_TARGET` when it is a file, or a file
 *   is where one of its parent folders should be.
 */
export async function inspectTarget(target: string): Promise<{ state: TargetState; entries: string[] }> {
  let isDir: boolean;
  try {
    isDir = (await lstat(target)).isDirectory();
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT' && errnoCode(err) !== 'ENOTDIR') throw targetError(target, err);
    const existing = await nearestExisting(target).catch((e: unknown) => {
      throw targetError(target, e);
    });
    if (!existing.isDir) {
      throw new NekoCreateError(
        'NEKO_ERR_CREATE_TARGET',
        `cannot create ${target}: ${existing.path} is a file, not a folder`,
        {
          hint: 'pick a folder whose parents are folders',
        },
      );
    }
    return { state: 'missing', entries: [] };
  }
  if (!isDir) {
    throw new NekoCreateError(
      'NEKO_ERR_CREATE_TARGET',
      `cannot create ${target}: a file with that name is in the way`,
      {
        hint: 'pick another folder name, or move the file away',
      },
    );
  }
  const entries = (await readdir(target)).filter((e) => e !== '.git').sort();
  return { state: entries.length === 0 ? 'empty' : 'not-empty', entries };
}

function targetError(target: string, err: unknown): NekoCreateError {
  const code = errnoCode(err);
  const why =
    code === 'EACCES' || code === 'EPERM'
      ? 'permission denied'
      : code === 'EROFS'
        ? 'the file system is read-only'
        : code === 'ENOSPC'
          ? 'the disk is full'
          : describe(err);
  return new NekoCreateError('NEKO_ERR_CREATE_TARGET', `cannot write ${target}: ${why}`, {
    cause: err,
    hint: 'pick a folder you can write to',
  });
}

/** A staging folder for one target. */
export class Staging {
  /** `.create-nekoplugin-XXXXXX` in the target or beside it: removed at the end, whatever happens. */
  readonly root: string;
  /** `<root>/<target name>`: where the project is built. */
  readonly project: string;
  readonly target: string;
  /** The first parent folder this run created, if any: removed on failure. */
  readonly #createdParent: string | undefined;

  private constructor(target: string, root: string, createdParent: string | undefined) {
    this.target = target;
    this.root = root;
    this.project = join(root, basename(target));
    this.#createdParent = createdParent;
  }

  /**
   * Makes the staging folder: inside `target` when it exists (so only the
   * target need be writable), else beside it, creating the parent folders.
   * @throws NekoCreateError `NEKO_ERR_CREATE_TARGET` when that is not possible.
   */
  static async create(target: string, state: TargetState): Promise<Staging> {
    const parent = state === 'missing' ? dirname(target) : target;
    let createdParent: string | undefined;
    try {
      createdParent = await mkdir(parent, { recursive: true });
      const root = await mkdtemp(join(parent, '.create-nekoplugin-'));
      return new Staging(target, root, createdParent);
    } catch (err) {
      if (createdParent !== undefined) await rm(createdParent, { recursive: true, force: true });
      throw targetError(target, err);
    }
  }

  /**
   * Moves the project into the target: a missing target is the project
   * folder renamed; into an existing folder each entry moves in, replacing
   * one of the same name (which is put back if a later move fails).
   * @throws NekoCreateError `NEKO_ERR_CREATE_TARGET`; the target is then as it was.
   */
  async commit(): Promise<void> {
    try {
      const exists = await stat(this.target).then(
        () => true,
        () => false,
      );
      if (exists) await this.#moveEntries();
      else await rename(this.project, this.target);
    } catch (err) {
      throw err instanceof NekoCreateError ? err : targetError(this.target, err);
    }
    await rm(this.root, { recursive: true, force: true });
  }

  async #moveEntries(): Promise<void> {
    const moved: Array<[from: string, to: string]> = [];
    const replaced: Array<[original: string, backup: string]> = [];
    const backups = join(this.root, 'replaced');
    try {
      for (const name of (await readdir(this.project)).sort()) {
        const to = join(this.target, name);
        const exists = await lstat(to).then(
          () => true,
          () => false,
        );
        if (exists) {
          await mkdir(backups, { recursive: true });
          await rename(to, join(backups, name));
          replaced.push([to, join(backups, name)]);
        }
        await rename(join(this.project, name), to);
        moved.push([join(this.project, name), to]);
      }
    } catch (err) {
      for (const [from, to] of moved.reverse()) await rename(to, from).catch(() => {});
      for (const [original, backup] of replaced.reverse()) await rename(backup, original).catch(() => {});
      throw err;
    }
  }

  /** Removes everything this run wrote: the staging folder, and the parent folders it created. */
  async rollback(): Promise<void> {
    await rm(this.root, { recursive: true, force: true });
    if (this.#createdParent !== undefined) await rm(this.#createdParent, { recursive: true, force: true });
  }
}
