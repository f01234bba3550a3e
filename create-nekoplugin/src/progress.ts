import kleur from 'kleur';

/** A running progress indicator. */
export interface Progress {
  /** Stops it and prints how it ended, with the time taken. */
  stop(ok: boolean): void;
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

function seconds(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(1)} s`;
}

/**
 * Shows that `label` is under way: a spinner with the seconds elapsed on a
 * terminal; elsewhere (CI, a pipe) a line now and a line every 10 seconds.
 */
export function startProgress(label: string, stream: NodeJS.WriteStream): Progress {
  const started = Date.now();
  if (stream.isTTY === true) {
    let frame = 0;
    const draw = (): void => {
      stream.write(
        `\r${kleur.cyan(FRAMES[frame++ % FRAMES.length]!)} ${label} ${kleur.dim(seconds(started))}\x1b[K`,
      );
    };
    draw();
    const timer = setInterval(draw, 80);
    timer.unref();
    return {
      stop(ok) {
        clearInterval(timer);
        const mark = ok ? kleur.green('✔') : kleur.red('✖');
        stream.write(`\r${mark} ${label} ${kleur.dim(seconds(started))}\x1b[K\n`);
      },
    };
  }
  stream.write(`${label}…\n`);
  const timer = setInterval(() => stream.write(`  still working (${seconds(started)})\n`), 10_000);
  timer.unref();
  return {
    stop(ok) {
      clearInterval(timer);
      stream.write(`  ${ok ? 'done' : 'failed'} after ${seconds(started)}\n`);
    },
  };
}
