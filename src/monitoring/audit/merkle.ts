// RFC 6962 / RFC 9162 Merkle tree: hashing, an append-only in-memory tree with proofs, and pure verifiers.
// Sizes and indices are plain numbers (safe integers); arithmetic avoids 32-bit bit operators on purpose.
import { hash } from "node:crypto";

/** Size in bytes of every hash in the tree (SHA-256). */
export const HASH_SIZE = 32;

// Digests come back as "binary" (latin1) strings and are copied into place: measured ~3x faster than asking
// crypto.hash for a Buffer, which allocates a fresh ArrayBuffer per call (it dominates appends).
function sha256(input: Uint8Array): Buffer {
  return Buffer.from(hash("sha256", input, "binary"), "latin1");
}

const EMPTY_ROOT: Buffer = sha256(new Uint8Array(0));
// One scratch buffer for node hashing: 0x01 ‖ left ‖ right. Safe because hashing is synchronous.
const nodeScratch = Buffer.alloc(1 + 2 * HASH_SIZE, 0x01);

/** RFC 6962 leaf hash: SHA-256(0x00 ‖ data). */
export function leafHash(data: Uint8Array): Buffer {
  const input = Buffer.allocUnsafe(1 + data.length);
  input[0] = 0x00;
  input.set(data, 1);
  return sha256(input);
}

/** RFC 6962 interior node hash: SHA-256(0x01 ‖ left ‖ right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  if (left.length !== HASH_SIZE || right.length !== HASH_SIZE) {
    throw new RangeError(
      `nodeHash needs two ${HASH_SIZE}-byte hashes, got ${left.length} and ${right.length}`,
    );
  }
  nodeScratch.set(left, 1);
  nodeScratch.set(right, 1 + HASH_SIZE);
  return sha256(nodeScratch);
}

/** Root of the empty tree: SHA-256(""). Returns a fresh copy. */
export function emptyRoot(): Buffer {
  return Buffer.from(EMPTY_ROOT);
}

/** floor(log2(n)) for a positive safe integer, exact (Math.log2 alone can be off by one ulp near powers of two). */
function floorLog2(n: number): number {
  let e = Math.floor(Math.log2(n));
  if (2 ** e > n) e--;
  else if (2 ** (e + 1) <= n) e++;
  return e;
}

/** Largest power of two strictly below n (n ≥ 2): the RFC 6962 split point. */
function splitPoint(n: number): number {
  return 2 ** floorLog2(n - 1);
}

function isPowerOfTwo(n: number): boolean {
  return 2 ** floorLog2(n) === n;
}

function isSize(n: unknown): n is number {
  return Number.isSafeInteger(n) && (n as number) >= 0;
}

/** A growable array of 32-byte hashes packed into one Buffer. */
class HashColumn {
  #buf: Buffer = Buffer.allocUnsafe(HASH_SIZE * 16);
  count = 0;

  push(h: Uint8Array): void {
    if ((this.count + 1) * HASH_SIZE > this.#buf.length) this.reserve(this.count + 1);
    this.#buf.set(h, this.count * HASH_SIZE);
    this.count++;
  }

  /** Appends SHA-256(0x01 ‖ below[i] ‖ below[i+1]), the parent of two adjacent nodes of the level below. */
  pushParentOf(below: HashColumn, i: number): void {
    below.#buf.copy(nodeScratch, 1, i * HASH_SIZE, (i + 2) * HASH_SIZE);
    if ((this.count + 1) * HASH_SIZE > this.#buf.length) this.reserve(this.count + 1);
    this.#buf.write(hash("sha256", nodeScratch, "binary"), this.count * HASH_SIZE, HASH_SIZE, "latin1");
    this.count++;
  }

  reserve(count: number): void {
    if (count * HASH_SIZE <= this.#buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(count * HASH_SIZE, this.#buf.length * 2));
    this.#buf.copy(next, 0, 0, this.count * HASH_SIZE);
    this.#buf = next;
  }

  /** A view (not a copy) of hash i; callers copy before handing it out. */
  view(i: number): Buffer {
    return this.#buf.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE);
  }
}

/**
 * Append-only RFC 6962 Merkle tree held in memory. Level k keeps the hash of every complete
 * subtree of 2^k leaves (level 0 = leaf hashes), so roots and proofs for any past size are O(log n).
 */
export class MerkleTree {
  readonly #levels: HashColumn[] = [new HashColumn()];
  #size = 0;

  /** Number of leaves appended so far. */
  get size(): number {
    return this.#size;
  }

  /** Appends one 32-byte leaf hash (see `leafHash`); returns its index. */
  append(leafHashValue: Uint8Array): number {
    checkHash(leafHashValue, "leaf hash");
    return this.#push(leafHashValue);
  }

  /** Appends leaf hashes in order, all or none (every hash is checked first); returns the new size. */
  appendMany(leafHashes: Iterable<Uint8Array>): number {
    const list = Array.isArray(leafHashes) ? (leafHashes as readonly Uint8Array[]) : [...leafHashes];
    for (let i = 0; i < list.length; i++) checkHash(list[i], `leaf hash [${i}]`);
    this.#levels[0]?.reserve(this.#size + list.length);
    for (const h of list) this.#push(h);
    return this.#size;
  }

  /** Root hash (MTH) of the first `size` leaves; any size up to the current one. */
  root(size: number = this.#size): Buffer {
    this.#checkSize(size, "size");
    if (size === 0) return emptyRoot();
    return Buffer.from(this.#rangeHash(0, size));
  }

  /** The stored leaf hash at `index`. */
  leafHashAt(index: number): Buffer {
    if (!isSize(index) || index >= this.#size) {
      throw new RangeError(`leaf index ${index} is out of range for a tree of ${this.#size} leaves`);
    }
    return Buffer.from(this.#node(0, index));
  }

  /**
   * MTH of the `count` leaves from `start` where that range is a subtree the RFC 6962 split visits:
   * start must be a multiple of the smallest power of two ≥ count (e.g. for range proofs over a slice).
   */
  subtreeHash(start: number, count: number): Buffer {
    if (!isSize(start) || !isSize(count) || count === 0 || start + count > this.#size) {
      throw new RangeError(
        `leaves [${start}, ${start}+${count}) are not a non-empty range of the ${this.#size} leaves`,
      );
    }
    const span = count === 1 ? 1 : 2 ** (floorLog2(count - 1) + 1);
    if (start % span !== 0) {
      throw new RangeError(
        `leaves [${start}, ${start}+${count}) are not a subtree: start must be a multiple of ${span}`,
      );
    }
    return Buffer.from(this.#rangeHash(start, count));
  }

  /** RFC 6962 audit path (PATH) for leaf `index` in the tree of the first `size` leaves, leaf-side first. */
  inclusionProof(index: number, size: number = this.#size): Buffer[] {
    this.#checkSize(size, "size");
    if (!isSize(index) || index >= size) {
      throw new RangeError(`leaf index ${index} is out of range for tree size ${size}`);
    }
    const path: Buffer[] = [];
    let offset = 0;
    let n = size;
    let m = index;
    while (n > 1) {
      const k = splitPoint(n);
      if (m < k) {
        path.push(Buffer.from(this.#rangeHash(offset + k, n - k)));
        n = k;
      } else {
        path.push(Buffer.from(this.#rangeHash(offset, k)));
        offset += k;
        m -= k;
        n -= k;
      }
    }
    return path.reverse();
  }

  /** RFC 6962 consistency proof (PROOF, RFC 9162 §2.1.4.1) that the first `oldSize` leaves prefix the first `newSize`. */
  consistencyProof(oldSize: number, newSize: number = this.#size): Buffer[] {
    this.#checkSize(newSize, "newSize");
    if (!isSize(oldSize) || oldSize > newSize) {
      throw new RangeError(`oldSize ${oldSize} must be an integer between 0 and newSize ${newSize}`);
    }
    if (oldSize === 0 || oldSize === newSize) return [];
    const proof: Buffer[] = [];
    let offset = 0;
    let n = newSize;
    let m = oldSize;
    let oldIsWholeSubtree = true;
    while (m !== n) {
      const k = splitPoint(n);
      if (m <= k) {
        proof.push(Buffer.from(this.#rangeHash(offset + k, n - k)));
        n = k;
      } else {
        proof.push(Buffer.from(this.#rangeHash(offset, k)));
        offset += k;
        m -= k;
        n -= k;
        oldIsWholeSubtree = false;
      }
    }
    // SUBPROOF(m, D[m], false) contributes MTH(D[m]); when b stayed true the verifier already knows it (old root).
    if (!oldIsWholeSubtree) proof.push(Buffer.from(this.#rangeHash(offset, n)));
    return proof.reverse();
  }

  #push(h: Uint8Array): number {
    const index = this.#size;
    (this.#levels[0] as HashColumn).push(h);
    // Each time an index at level k becomes odd-completed, a complete subtree at level k+1 appears.
    let i = index;
    let level = 0;
    while (i % 2 === 1) {
      const column = this.#levels[level] as HashColumn;
      level++;
      let up = this.#levels[level];
      if (up === undefined) {
        up = new HashColumn();
        this.#levels.push(up);
      }
      up.pushParentOf(column, i - 1);
      i = (i - 1) / 2;
    }
    this.#size = index + 1;
    return index;
  }

  /** View of the complete subtree hash of 2^level leaves starting at leaf j·2^level. */
  #node(level: number, j: number): Buffer {
    return (this.#levels[level] as HashColumn).view(j);
  }

  /**
   * MTH of leaves [start, start + count). Valid when start is a multiple of a power of two ≥ count,
   * which holds for every range the RFC 6962 recursion visits: the range splits into complete subtrees
   * by the binary digits of count, combined right to left.
   */
  #rangeHash(start: number, count: number): Buffer {
    const pieces: Buffer[] = [];
    let level = floorLog2(count);
    let p = 2 ** level;
    let offset = start;
    let rest = count;
    while (rest > 0) {
      if (rest >= p) {
        pieces.push(this.#node(level, offset / p));
        offset += p;
        rest -= p;
      }
      p /= 2;
      level--;
    }
    let acc = pieces.pop() as Buffer;
    for (let i = pieces.length - 1; i >= 0; i--) acc = nodeHash(pieces[i] as Buffer, acc);
    return acc;
  }

  #checkSize(size: number, what: string): void {
    if (!isSize(size) || size > this.#size) {
      throw new RangeError(`${what} ${size} must be an integer between 0 and the tree size ${this.#size}`);
    }
  }
}

function checkHash(h: unknown, what: string): void {
  if (!(h instanceof Uint8Array) || h.length !== HASH_SIZE) {
    const got = h instanceof Uint8Array ? `${h.length} bytes` : typeof h;
    throw new RangeError(`${what} must be ${HASH_SIZE} bytes, got ${got}`);
  }
}

function isHash(h: unknown): h is Uint8Array {
  return h instanceof Uint8Array && h.length === HASH_SIZE;
}

function isProof(proof: unknown): proof is readonly Uint8Array[] {
  return Array.isArray(proof) && proof.every(isHash);
}

function sameHash(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}

/** Checks an RFC 6962 inclusion proof (RFC 9162 §2.1.3.2) of `leafHash` at `index` in the tree of `size` with `root`. */
export function verifyInclusion(
  leafHashValue: Uint8Array,
  index: number,
  size: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  if (!isSize(index) || !isSize(size) || index >= size) return false;
  if (!isHash(leafHashValue) || !isHash(root) || !isProof(proof)) return false;
  let fn = index;
  let sn = size - 1;
  let r: Uint8Array = leafHashValue;
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      while (fn % 2 === 0 && fn !== 0) {
        fn /= 2;
        sn = Math.floor(sn / 2);
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && sameHash(r, root);
}

/**
 * Checks an RFC 6962 consistency proof (RFC 9162 §2.1.4.2) between (oldSize, oldRoot) and (newSize, newRoot).
 * Stricter than the RFC at the edges: equal sizes need an empty proof and equal roots, and size 0 needs the empty-tree root.
 */
export function verifyConsistency(
  oldSize: number,
  newSize: number,
  oldRoot: Uint8Array,
  newRoot: Uint8Array,
  proof: readonly Uint8Array[],
): boolean {
  if (!isSize(oldSize) || !isSize(newSize) || oldSize > newSize) return false;
  if (!isHash(oldRoot) || !isHash(newRoot) || !isProof(proof)) return false;
  if (oldSize === 0) {
    const newOk = newSize > 0 || sameHash(newRoot, EMPTY_ROOT);
    return proof.length === 0 && sameHash(oldRoot, EMPTY_ROOT) && newOk;
  }
  if (oldSize === newSize) return proof.length === 0 && sameHash(oldRoot, newRoot);
  if (proof.length === 0) return false;

  // When oldSize is a power of two the old root is itself a node of the new tree and starts the path.
  const path = isPowerOfTwo(oldSize) ? [oldRoot, ...proof] : proof;
  let fn = oldSize - 1;
  let sn = newSize - 1;
  while (fn % 2 === 1) {
    fn = (fn - 1) / 2;
    sn = Math.floor(sn / 2);
  }
  let fr: Uint8Array = path[0] as Uint8Array;
  let sr: Uint8Array = fr;
  for (let i = 1; i < path.length; i++) {
    const c = path[i] as Uint8Array;
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      while (fn % 2 === 0 && fn !== 0) {
        fn /= 2;
        sn = Math.floor(sn / 2);
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && sameHash(fr, oldRoot) && sameHash(sr, newRoot);
}

/** Reference MTH over a list of leaf hashes (plain recursion, O(n) hashes); for checking, not for big trees. */
export function rootFromLeaves(leafHashes: readonly Uint8Array[]): Buffer {
  for (let i = 0; i < leafHashes.length; i++) checkHash(leafHashes[i], `leaf hash [${i}]`);
  const mth = (from: number, to: number): Buffer => {
    const n = to - from;
    if (n === 1) return Buffer.from(leafHashes[from] as Uint8Array);
    const k = splitPoint(n);
    return nodeHash(mth(from, from + k), mth(from + k, to));
  };
  return leafHashes.length === 0 ? emptyRoot() : mth(0, leafHashes.length);
}
