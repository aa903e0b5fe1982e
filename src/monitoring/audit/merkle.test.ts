import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  emptyRoot,
  leafHash,
  MerkleTree,
  nodeHash,
  rootFromLeaves,
  verifyConsistency,
  verifyInclusion,
} from "./merkle.ts";

const hex = (s: string): Buffer => Buffer.from(s, "hex");
const hexList = (list: Buffer[]): string[] => list.map((b) => b.toString("hex"));

// Known-answer vectors from transparency-dev/merkle (the Go library behind Trillian/Tessera; Apache-2.0):
// proof/verify_test.go (leaves, roots for sizes 1..8, inclusion and consistency proofs; its inclusion
// vectors number leaves from 1, converted to 0-based indices here) and rfc6962/rfc6962_test.go (hasher).
const RFC6962_LEAVES = [
  "",
  "00",
  "10",
  "2021",
  "3031",
  "40414243",
  "5051525354555657",
  "606162636465666768696a6b6c6d6e6f",
].map(hex);

const RFC6962_ROOTS = [
  "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
  "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
  "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
  "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
  "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
  "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
  "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
  "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

const INCLUSION_VECTORS: { index: number; size: number; proof: string[] }[] = [
  { index: 0, size: 1, proof: [] },
  {
    index: 0,
    size: 8,
    proof: [
      "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
  },
  {
    index: 5,
    size: 8,
    proof: [
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
      "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
  },
  { index: 2, size: 3, proof: ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"] },
  {
    index: 1,
    size: 5,
    proof: [
      "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ],
  },
];

const CONSISTENCY_VECTORS: { oldSize: number; newSize: number; proof: string[] }[] = [
  { oldSize: 1, newSize: 1, proof: [] },
  {
    oldSize: 1,
    newSize: 8,
    proof: [
      "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
  },
  {
    oldSize: 6,
    newSize: 8,
    proof: [
      "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
      "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
  },
  {
    oldSize: 2,
    newSize: 5,
    proof: [
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ],
  },
  {
    oldSize: 6,
    newSize: 7,
    proof: [
      "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
      "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
  },
];

const EMPTY_TREE = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const SOME_HASH = hex("abacaba000000000000000000000000000000000000000000060061e00123456");

function vectorTree(): MerkleTree {
  const tree = new MerkleTree();
  tree.appendMany(RFC6962_LEAVES.map(leafHash));
  return tree;
}

// Naive reference written straight from RFC 6962 §2.1 (MTH, PATH, PROOF/SUBPROOF) over arrays.
function largestPow2Below(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}
function refMth(d: Buffer[]): Buffer {
  if (d.length === 0) return createHash("sha256").digest();
  if (d.length === 1) return d[0] as Buffer;
  const k = largestPow2Below(d.length);
  return nodeHash(refMth(d.slice(0, k)), refMth(d.slice(k)));
}
function refPath(m: number, d: Buffer[]): Buffer[] {
  if (d.length <= 1) return [];
  const k = largestPow2Below(d.length);
  return m < k
    ? [...refPath(m, d.slice(0, k)), refMth(d.slice(k))]
    : [...refPath(m - k, d.slice(k)), refMth(d.slice(0, k))];
}
function refSubproof(m: number, d: Buffer[], b: boolean): Buffer[] {
  if (m === d.length) return b ? [] : [refMth(d)];
  const k = largestPow2Below(d.length);
  return m <= k
    ? [...refSubproof(m, d.slice(0, k), b), refMth(d.slice(k))]
    : [...refSubproof(m - k, d.slice(k), false), refMth(d.slice(0, k))];
}
function refProof(m: number, d: Buffer[]): Buffer[] {
  return m === 0 ? [] : refSubproof(m, d, true);
}

/** Distinct leaf hashes (duplicates would let swapped siblings verify, which is not what these tests probe). */
function distinctLeaves(n: number, seed: number): Buffer[] {
  return Array.from({ length: n }, (_, i) => leafHash(Buffer.from(`leaf ${seed} ${i}`)));
}

function flipped(proof: Buffer[], element: number, byte: number, bit: number): Buffer[] {
  return proof.map((p, i) => {
    if (i !== element) return p;
    const copy = Buffer.from(p);
    copy[byte] = (copy[byte] as number) ^ (1 << bit);
    return copy;
  });
}

describe("RFC 6962 hashing", () => {
  it("matches the known answers", () => {
    expect(emptyRoot().toString("hex")).toBe(EMPTY_TREE);
    expect(leafHash(new Uint8Array(0)).toString("hex")).toBe(
      "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    );
    expect(leafHash(Buffer.from("L123456")).toString("hex")).toBe(
      "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56",
    );
    const [a, b] = [leafHash(Buffer.from("a")), leafHash(Buffer.from("b"))];
    expect(nodeHash(a, b)).toEqual(
      createHash("sha256")
        .update(Buffer.from([1]))
        .update(a)
        .update(b)
        .digest(),
    );
    expect(nodeHash(a, b)).not.toEqual(nodeHash(b, a));
    expect(() => nodeHash(a, Buffer.alloc(31))).toThrow(RangeError);
  });

  it("empty root is a fresh copy each time", () => {
    const r = emptyRoot();
    r[0] = 0;
    expect(emptyRoot().toString("hex")).toBe(EMPTY_TREE);
  });
});

describe("MerkleTree known answers (transparency-dev/merkle vectors)", () => {
  it("computes the roots of sizes 0..8", () => {
    const tree = vectorTree();
    expect(tree.size).toBe(8);
    expect(tree.root(0).toString("hex")).toBe(EMPTY_TREE);
    expect(new MerkleTree().root().toString("hex")).toBe(EMPTY_TREE);
    for (let n = 1; n <= 8; n++) {
      expect(tree.root(n).toString("hex"), `root(${n})`).toBe(RFC6962_ROOTS[n - 1]);
      expect(rootFromLeaves(RFC6962_LEAVES.slice(0, n).map(leafHash)).toString("hex")).toBe(
        RFC6962_ROOTS[n - 1],
      );
    }
    expect(tree.root().toString("hex")).toBe(RFC6962_ROOTS[7]);
    expect(rootFromLeaves([]).toString("hex")).toBe(EMPTY_TREE);
  });

  it("grows leaf by leaf with the same roots", () => {
    const tree = new MerkleTree();
    RFC6962_LEAVES.forEach((leaf, i) => {
      expect(tree.append(leafHash(leaf))).toBe(i);
      expect(tree.root().toString("hex")).toBe(RFC6962_ROOTS[i]);
    });
  });

  it.each(INCLUSION_VECTORS)(
    "inclusion proof of leaf $index in tree size $size",
    ({ index, size, proof }) => {
      const tree = vectorTree();
      const got = tree.inclusionProof(index, size);
      expect(hexList(got)).toEqual(proof);
      const root = hex(RFC6962_ROOTS[size - 1] as string);
      const leaf = leafHash(RFC6962_LEAVES[index] as Buffer);
      expect(verifyInclusion(leaf, index, size, got, root)).toBe(true);

      // The probes transparency-dev uses to check a verifier rejects what it must.
      const p = proof.map(hex);
      const bad: [string, number, number, Buffer[], Buffer, Buffer][] = [
        ["index - 1", index - 1, size, p, root, leaf],
        ["index + 1", index + 1, size, p, root, leaf],
        ["index ^ 2", index ^ 2, size, p, root, leaf],
        ["size * 2", index, size * 2, p, root, leaf],
        ["size / 2", index, Math.floor(size / 2), p, root, leaf],
        ["wrong leaf", index, size, p, root, leafHash(Buffer.from("WrongLeaf"))],
        ["empty root", index, size, p, hex(EMPTY_TREE), leaf],
        ["random root", index, size, p, SOME_HASH, leaf],
        ["trailing garbage", index, size, [...p, Buffer.alloc(0)], root, leaf],
        ["trailing root", index, size, [...p, root], root, leaf],
        ["preceding garbage", index, size, [Buffer.alloc(0), ...p], root, leaf],
        ["preceding root", index, size, [root, ...p], root, leaf],
      ];
      for (let i = 0; i < p.length; i++)
        bad.push([`modified proof[${i}]`, index, size, flipped(p, i, 0, 3), root, leaf]);
      if (p.length > 0) bad.push(["removed component", index, size, p.slice(0, -1), root, leaf]);
      if (p.length > 1)
        bad.push(["inserted component", index, size, [p[0] as Buffer, SOME_HASH, ...p.slice(1)], root, leaf]);
      for (const [desc, i, n, pr, r, l] of bad) {
        expect(verifyInclusion(l, i, n, pr, r), desc).toBe(false);
      }
    },
  );

  it.each(CONSISTENCY_VECTORS)("consistency proof $oldSize → $newSize", ({ oldSize, newSize, proof }) => {
    const tree = vectorTree();
    const got = tree.consistencyProof(oldSize, newSize);
    expect(hexList(got)).toEqual(proof);
    const oldRoot = hex(RFC6962_ROOTS[oldSize - 1] as string);
    const newRoot = hex(RFC6962_ROOTS[newSize - 1] as string);
    expect(verifyConsistency(oldSize, newSize, oldRoot, newRoot, got)).toBe(true);
    if (proof.length === 0) return;

    const p = proof.map(hex);
    const wrong = Buffer.alloc(32, 7);
    const bad: [string, number, number, Buffer, Buffer, Buffer[]][] = [
      ["oldSize - 1", oldSize - 1, newSize, oldRoot, newRoot, p],
      ["oldSize + 1", oldSize + 1, newSize, oldRoot, newRoot, p],
      ["oldSize ^ 2", oldSize ^ 2, newSize, oldRoot, newRoot, p],
      ["newSize * 2", oldSize, newSize * 2, oldRoot, newRoot, p],
      ["newSize / 2", oldSize, Math.floor(newSize / 2), oldRoot, newRoot, p],
      ["wrong old root", oldSize, newSize, wrong, newRoot, p],
      ["wrong new root", oldSize, newSize, oldRoot, wrong, p],
      ["swapped roots", oldSize, newSize, newRoot, oldRoot, p],
      ["empty proof", oldSize, newSize, oldRoot, newRoot, []],
      ["trailing garbage", oldSize, newSize, oldRoot, newRoot, [...p, Buffer.alloc(0)]],
      ["trailing old root", oldSize, newSize, oldRoot, newRoot, [...p, oldRoot]],
      ["trailing new root", oldSize, newSize, oldRoot, newRoot, [...p, newRoot]],
      ["preceding garbage", oldSize, newSize, oldRoot, newRoot, [Buffer.alloc(0), ...p]],
      ["preceding old root", oldSize, newSize, oldRoot, newRoot, [oldRoot, ...p]],
      ["preceding new root", oldSize, newSize, oldRoot, newRoot, [newRoot, ...p]],
      ["preceding proof[0]", oldSize, newSize, oldRoot, newRoot, [p[0] as Buffer, ...p]],
      ["truncated proof", oldSize, newSize, oldRoot, newRoot, p.slice(0, -1)],
    ];
    for (let i = 0; i < p.length; i++)
      bad.push([`modified proof[${i}]`, oldSize, newSize, oldRoot, newRoot, flipped(p, i, 0, 4)]);
    for (const [desc, m, n, r1, r2, pr] of bad) {
      expect(verifyConsistency(m, n, r1, r2, pr), desc).toBe(false);
    }
  });
});

describe("verifier edge cases", () => {
  const empty = hex(EMPTY_TREE);
  it("rejects inclusion in impossible positions and with malformed hashes", () => {
    for (const [index, size] of [
      [0, 0],
      [1, 0],
      [2, 1],
      [1, 1],
      [-1, 2],
      [0.5, 2],
      [0, Number.NaN],
      [0, 2 ** 53],
    ] as const) {
      expect(verifyInclusion(SOME_HASH, index, size, [], SOME_HASH), `${index}/${size}`).toBe(false);
    }
    const h = leafHash(Buffer.from("data"));
    expect(verifyInclusion(h, 0, 1, [], h)).toBe(true);
    expect(verifyInclusion(h, 0, 1, [], Buffer.alloc(0))).toBe(false);
    expect(verifyInclusion(Buffer.alloc(0), 0, 1, [], h)).toBe(false);
    expect(verifyInclusion(h, 0, 1, [h], h)).toBe(false);
    // Not arrays of hashes at all (inputs from the wire must not throw).
    expect(verifyInclusion(h, 0, 2, "nope" as unknown as Buffer[], h)).toBe(false);
    expect(verifyInclusion(h, 0, 2, [null] as unknown as Buffer[], h)).toBe(false);
  });

  it("handles the trivial consistency cases", () => {
    const a = Buffer.alloc(32, 1);
    const b = Buffer.alloc(32, 2);
    const cases: [number, number, Buffer, Buffer, Buffer[], boolean][] = [
      [0, 0, empty, empty, [], true],
      [0, 5, empty, b, [], true],
      [1, 1, a, a, [], true],
      [5, 5, b, b, [], true],
      [0, 0, a, a, [], false], // a size-0 tree has exactly one root
      [0, 0, empty, b, [], false],
      [0, 5, a, b, [], false],
      [0, 0, empty, empty, [empty], false],
      [0, 5, empty, b, [empty], false],
      [1, 1, a, b, [], false],
      [1, 1, a, a, [a], false],
      [1, 0, a, b, [], false], // going back in time
      [2, 1, a, b, [a], false],
      [1, 2, a, b, [], false], // empty proof for a real extension
      [1, 2, a, b, [Buffer.alloc(31)], false],
      [-1, 2, a, b, [a], false],
      [1, 2 ** 53, a, b, [a], false],
    ];
    for (const [m, n, r1, r2, p, want] of cases) {
      expect(verifyConsistency(m, n, r1, r2, p), `${m}→${n} want ${want}`).toBe(want);
    }
  });

  it("verifies with sizes beyond 32 bits (no bitwise-operator truncation)", () => {
    // Tree of 2^40 + 1 leaves: leaf 2^40 sits alone on the right; its path is the single left subtree hash.
    const left = Buffer.alloc(32, 9);
    const leaf = leafHash(Buffer.from("last"));
    const size = 2 ** 40 + 1;
    expect(verifyInclusion(leaf, 2 ** 40, size, [left], nodeHash(left, leaf))).toBe(true);
    expect(verifyInclusion(leaf, 2 ** 40, size + 1, [left], nodeHash(left, leaf))).toBe(false);
    // Consistency 2^40 → 2^40 + 1: the proof is the new leaf (old root is a power-of-two subtree).
    expect(verifyConsistency(2 ** 40, size, left, nodeHash(left, leaf), [leaf])).toBe(true);
    expect(verifyConsistency(2 ** 40 - 1, size, left, nodeHash(left, leaf), [leaf])).toBe(false);
  });
});

describe("MerkleTree arguments", () => {
  it("throws RangeError with a clear message", () => {
    const tree = vectorTree();
    expect(() => tree.root(9)).toThrow(/size 9 must be an integer between 0 and the tree size 8/);
    expect(() => tree.root(-1)).toThrow(RangeError);
    expect(() => tree.root(1.5)).toThrow(RangeError);
    expect(() => tree.leafHashAt(8)).toThrow(/leaf index 8 is out of range for a tree of 8 leaves/);
    expect(() => tree.inclusionProof(3, 3)).toThrow(/leaf index 3 is out of range for tree size 3/);
    expect(() => tree.inclusionProof(0, 0)).toThrow(RangeError);
    expect(() => tree.inclusionProof(0, 9)).toThrow(/size 9 must be/);
    expect(() => tree.consistencyProof(5, 4)).toThrow(/oldSize 5 must be an integer between 0 and newSize 4/);
    expect(() => tree.consistencyProof(1, 9)).toThrow(/newSize 9 must be/);
    expect(() => tree.append(Buffer.alloc(31))).toThrow(/leaf hash must be 32 bytes, got 31 bytes/);
    expect(() => tree.append("x" as unknown as Buffer)).toThrow(RangeError);
  });

  it("appendMany is all-or-nothing", () => {
    const tree = vectorTree();
    const good = leafHash(Buffer.from("x"));
    expect(() => tree.appendMany([good, good, Buffer.alloc(33)])).toThrow(/leaf hash \[2\] must be 32 bytes/);
    expect(tree.size).toBe(8);
    expect(tree.appendMany(new Set([good]))).toBe(9);
  });

  it("hands out copies, never views of its storage", () => {
    const tree = vectorTree();
    const before = tree.root().toString("hex");
    tree.root().fill(0);
    tree.leafHashAt(3).fill(0);
    for (const p of tree.inclusionProof(3)) p.fill(0);
    for (const p of tree.consistencyProof(3)) p.fill(0);
    expect(tree.root().toString("hex")).toBe(before);
    expect(tree.leafHashAt(3)).toEqual(leafHash(RFC6962_LEAVES[3] as Buffer));
  });

  it("copies appended input, so the caller may reuse its buffer", () => {
    const tree = new MerkleTree();
    const scratch = Buffer.alloc(32);
    const leaves = distinctLeaves(5, 1);
    for (const l of leaves) {
      l.copy(scratch);
      tree.append(scratch);
    }
    expect(tree.root()).toEqual(rootFromLeaves(leaves));
  });
});

describe("MerkleTree against the RFC reference", () => {
  it("matches every root, path and consistency proof for trees up to 40 leaves", () => {
    const leaves = distinctLeaves(40, 2);
    const tree = new MerkleTree();
    tree.appendMany(leaves);
    for (let n = 0; n <= leaves.length; n++) {
      const d = leaves.slice(0, n);
      const root = refMth(d);
      expect(tree.root(n)).toEqual(root);
      for (let i = 0; i < n; i++) {
        const proof = tree.inclusionProof(i, n);
        expect(proof).toEqual(refPath(i, d));
        expect(verifyInclusion(leaves[i] as Buffer, i, n, proof, root)).toBe(true);
      }
      for (let m = 0; m <= n; m++) {
        const proof = tree.consistencyProof(m, n);
        expect(proof).toEqual(refProof(m, d));
        expect(verifyConsistency(m, n, refMth(leaves.slice(0, m)), root, proof), `${m}→${n}`).toBe(true);
      }
    }
  });

  it("subtreeHash gives the MTH of every aligned range and refuses the rest", () => {
    const leaves = distinctLeaves(40, 3);
    const tree = new MerkleTree();
    tree.appendMany(leaves);
    let checked = 0;
    for (let start = 0; start < 40; start++) {
      for (let count = 1; start + count <= 40; count++) {
        let span = 1;
        while (span < count) span *= 2;
        if (start % span === 0) {
          expect(tree.subtreeHash(start, count), `[${start}, +${count})`).toEqual(
            refMth(leaves.slice(start, start + count)),
          );
          checked++;
        } else {
          expect(() => tree.subtreeHash(start, count)).toThrow(/not a subtree: start must be a multiple of/);
        }
      }
    }
    expect(checked).toBeGreaterThan(100);
    expect(() => tree.subtreeHash(32, 9)).toThrow(/are not a non-empty range of the 40 leaves/);
    expect(() => tree.subtreeHash(0, 0)).toThrow(RangeError);
    expect(() => tree.subtreeHash(-1, 1)).toThrow(RangeError);
  });

  const treeAndPoints = fc
    .integer({ min: 1, max: 300 })
    .chain((n) =>
      fc.record({
        n: fc.constant(n),
        seed: fc.integer(),
        index: fc.nat({ max: n - 1 }),
        m: fc.integer({ min: 0, max: n }),
      }),
    )
    .chain((r) => fc.record({ r: fc.constant(r), size: fc.integer({ min: r.index + 1, max: r.n }) }));

  it("property: proofs equal the reference and verify against rootFromLeaves", () => {
    fc.assert(
      fc.property(treeAndPoints, ({ r: { n, seed, index, m }, size }) => {
        const leaves = distinctLeaves(n, seed);
        const tree = new MerkleTree();
        tree.appendMany(leaves);
        const root = rootFromLeaves(leaves.slice(0, size));
        expect(tree.root(size)).toEqual(root);
        const path = tree.inclusionProof(index, size);
        expect(path).toEqual(refPath(index, leaves.slice(0, size)));
        expect(verifyInclusion(leaves[index] as Buffer, index, size, path, root)).toBe(true);

        const oldRoot = rootFromLeaves(leaves.slice(0, m));
        const proof = tree.consistencyProof(m, n);
        expect(proof).toEqual(refProof(m, leaves));
        expect(verifyConsistency(m, n, oldRoot, tree.root(), proof)).toBe(true);
      }),
      { numRuns: 150 },
    );
  });

  it("property: any tampering with an inclusion proof fails", () => {
    fc.assert(
      fc.property(
        treeAndPoints,
        fc.nat(),
        fc.integer({ min: 0, max: 31 }),
        fc.integer({ min: 0, max: 7 }),
        fc.integer({ min: 1, max: 299 }),
        ({ r: { n, seed, index }, size }, element, byte, bit, delta) => {
          const leaves = distinctLeaves(n, seed);
          const tree = new MerkleTree();
          tree.appendMany(leaves);
          const root = tree.root(size);
          const leaf = leaves[index] as Buffer;
          const path = tree.inclusionProof(index, size);
          if (path.length > 0) {
            expect(
              verifyInclusion(leaf, index, size, flipped(path, element % path.length, byte, bit), root),
            ).toBe(false);
            expect(verifyInclusion(leaf, index, size, path.slice(1), root)).toBe(false);
          }
          expect(verifyInclusion(leaf, index, size, [...path, SOME_HASH], root)).toBe(false);
          const otherIndex = (index + delta) % size;
          if (otherIndex !== index) expect(verifyInclusion(leaf, otherIndex, size, path, root)).toBe(false);
          expect(verifyInclusion(leaf, index, size, path, flipped([root], 0, byte, bit)[0] as Buffer)).toBe(
            false,
          );
          expect(verifyInclusion(flipped([leaf], 0, byte, bit)[0] as Buffer, index, size, path, root)).toBe(
            false,
          );
        },
      ),
      { numRuns: 150 },
    );
  });

  it("property: any tampering with a consistency proof fails", () => {
    fc.assert(
      fc.property(
        treeAndPoints,
        fc.nat(),
        fc.integer({ min: 0, max: 31 }),
        fc.integer({ min: 0, max: 7 }),
        ({ r: { n, seed, m } }, element, byte, bit) => {
          fc.pre(m > 0 && m < n);
          const leaves = distinctLeaves(n, seed);
          const tree = new MerkleTree();
          tree.appendMany(leaves);
          const oldRoot = tree.root(m);
          const newRoot = tree.root();
          const proof = tree.consistencyProof(m);
          const flip = (h: Buffer): Buffer => flipped([h], 0, byte, bit)[0] as Buffer;
          expect(
            verifyConsistency(m, n, oldRoot, newRoot, flipped(proof, element % proof.length, byte, bit)),
          ).toBe(false);
          expect(verifyConsistency(m, n, flip(oldRoot), newRoot, proof)).toBe(false);
          expect(verifyConsistency(m, n, oldRoot, flip(newRoot), proof)).toBe(false);
          expect(verifyConsistency(m, n, oldRoot, newRoot, proof.slice(0, -1))).toBe(false);
          expect(verifyConsistency(m, n, oldRoot, newRoot, [...proof, SOME_HASH])).toBe(false);
          expect(verifyConsistency(m - 1, n, oldRoot, newRoot, proof)).toBe(false);
          if (m + 1 < n) expect(verifyConsistency(m + 1, n, oldRoot, newRoot, proof)).toBe(false);
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe("MerkleTree at scale", () => {
  it("appends a million leaves and proves inclusion in well under a millisecond", () => {
    const n = 1_000_000;
    // Any 32 bytes are a valid leaf hash; make them cheaply and distinct.
    const packed = Buffer.alloc(n * 32);
    for (let i = 0; i < n; i++) packed.writeUInt32BE(i, i * 32);
    const leaves = Array.from({ length: n }, (_, i) => packed.subarray(i * 32, i * 32 + 32));

    const tree = new MerkleTree();
    let t = performance.now();
    tree.appendMany(leaves);
    const appendMs = performance.now() - t;
    expect(tree.size).toBe(n);

    const root = tree.root();
    const rounds = 2000;
    let ok = 0;
    t = performance.now();
    for (let k = 0; k < rounds; k++) {
      const index = (k * 7919 + 13) % n;
      ok += tree.inclusionProof(index).length > 0 ? 1 : 0;
    }
    const proofMs = (performance.now() - t) / rounds;
    for (const index of [0, 1, 524_287, 524_288, 999_999]) {
      expect(verifyInclusion(leaves[index] as Buffer, index, n, tree.inclusionProof(index), root)).toBe(true);
    }
    expect(verifyConsistency(777_777, n, tree.root(777_777), root, tree.consistencyProof(777_777))).toBe(
      true,
    );
    expect(ok).toBe(rounds);
    console.info(
      `MerkleTree 1M: appendMany ${appendMs.toFixed(0)} ms, inclusionProof ${(proofMs * 1000).toFixed(1)} µs`,
    );
    // Loose bounds so a busy CI box does not flake; the measured figures are printed above.
    expect(proofMs).toBeLessThan(1);
    expect(appendMs).toBeLessThan(6000);
  });
});
