/**
 * The plugin of the cluster benchmark (bench/cluster.js):
 *
 *   op 1  publish: broadcasts the data (op 2) to every member of the plugin on
 *         every process of the cluster but the sender, and answers (op 1) how
 *         many members of this process it reached
 *   op 3  join: answers op 3 with the pid of the process serving the session (a
 *         member from its first packet on), which tells workers sharing a port apart
 */
export class Logic {
  recv(ctx) {
    if (ctx.op === 1) {
      const local = ctx.broadcast(ctx.data, { op: 2, except: ctx.session.id });
      ctx.send(String(local), { op: 1 });
    } else if (ctx.op === 3) {
      ctx.send(String(process.pid), { op: 3 });
    } else {
      ctx.send(`unknown op ${ctx.op}`, { op: 9 });
    }
  }
}
