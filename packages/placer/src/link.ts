/**
 * Greedy path linking (the Neuralink paper's Hamiltonian-path heuristic): edges are
 * taken in a given order, and an edge (i, j) becomes a link when both i and j are
 * path ends (degree < 2) of *different* paths. Paths are tracked with union-find.
 * The result is a set of disjoint paths covering the nodes it was given.
 */

const NONE = -1;

export class PathLinker {
  readonly n: number;
  /** The two path neighbours of each node (-1 = none). */
  readonly nb0: Int32Array;
  readonly nb1: Int32Array;
  private readonly parent: Int32Array;
  links = 0;

  constructor(n: number) {
    this.n = n;
    this.nb0 = new Int32Array(n).fill(NONE);
    this.nb1 = new Int32Array(n).fill(NONE);
    this.parent = new Int32Array(n);
    for (let i = 0; i < n; i++) this.parent[i] = i;
  }

  private find(x: number): number {
    const p = this.parent;
    while (p[x] !== x) {
      p[x] = p[p[x]];
      x = p[x];
    }
    return x;
  }

  /** Links i and j if both are path ends of different paths; returns whether it did. */
  tryLink(i: number, j: number): boolean {
    if (i === j || this.nb1[i] !== NONE || this.nb1[j] !== NONE) return false;
    const ri = this.find(i);
    const rj = this.find(j);
    if (ri === rj) return false;
    this.parent[ri] = rj;
    if (this.nb0[i] === NONE) this.nb0[i] = j;
    else this.nb1[i] = j;
    if (this.nb0[j] === NONE) this.nb0[j] = i;
    else this.nb1[j] = i;
    this.links++;
    return true;
  }

  /**
   * The paths over the nodes with include[i] (all when omitted), each as a list of
   * nodes from one end to the other; a path starts at its smaller end id, and paths
   * are listed by that id, so the output is deterministic.
   */
  paths(include?: Uint8Array): Int32Array[] {
    const out: Int32Array[] = [];
    const done = new Uint8Array(this.n);
    const buf = new Int32Array(this.n);
    for (let s = 0; s < this.n; s++) {
      if (done[s] || (include && !include[s]) || this.nb1[s] !== NONE) continue; // start at ends only
      let len = 0;
      let prev = NONE;
      let cur = s;
      while (cur !== NONE) {
        done[cur] = 1;
        buf[len++] = cur;
        const nx = this.nb0[cur] !== prev ? this.nb0[cur] : this.nb1[cur];
        prev = cur;
        cur = nx === NONE || done[nx] ? NONE : nx;
      }
      out.push(buf.slice(0, len));
    }
    return out;
  }
}

/** Concatenates paths into one order. */
export function concatPaths(paths: Int32Array[], n: number): Uint32Array {
  const order = new Uint32Array(n);
  let k = 0;
  for (const p of paths) for (let i = 0; i < p.length; i++) order[k++] = p[i];
  return order.subarray(0, k);
}
