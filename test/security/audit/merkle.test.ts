import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CompactRange, compactRangeSpans, EMPTY_ROOT, leafHash, MerkleTree, nodeHash, verifyConsistency, verifyInclusion } from '../../../src/security/audit/merkle.js';
import { naiveLeaf, naiveRoot, rfcVerifyConsistency, rfcVerifyInclusion } from './rfc9162.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const unhex = (s: string): Buffer => Buffer.from(s, 'hex');
const flip = (b: Buffer, i: number): void => {
  b.writeUInt8(b.readUInt8(i) ^ 0x01, i);
};

// The Certificate Transparency reference data (leaves and tree heads for sizes 0..8), the test
// vectors every RFC 6962/9162 implementation checks itself against.
const CT_ENTRIES = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map(unhex);
const CT_ROOTS = [
  'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];

test('roots of the Certificate Transparency reference tree match for every size 0..8', () => {
  assert.equal(hex(EMPTY_ROOT), CT_ROOTS[0]);
  const range = new CompactRange();
  const tree = new MerkleTree();
  assert.equal(hex(range.root()), CT_ROOTS[0]);
  CT_ENTRIES.forEach((e, i) => {
    range.append(leafHash(e));
    tree.appendLeaf(leafHash(e));
    assert.equal(hex(range.root()), CT_ROOTS[i + 1], `compact range root at size ${i + 1}`);
  });
  for (let n = 1; n <= 8; n++) assert.equal(hex(tree.rootAt(n)), CT_ROOTS[n], `tree root at size ${n}`);
});

test('inclusion and consistency proofs equal the published CT vectors', () => {
  const tree = new MerkleTree();
  for (const e of CT_ENTRIES) tree.appendLeaf(leafHash(e));
  assert.deepEqual(tree.inclusionPath(0, 8).map(hex), [
    '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
    '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
    '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
  ]);
  assert.deepEqual(tree.inclusionPath(5, 8).map(hex), [
    'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
    'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  ]);
  assert.deepEqual(tree.consistencyProof(1, 8).map(hex), [
    '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
    '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
    '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
  ]);
  assert.deepEqual(tree.consistencyProof(2, 5).map(hex), [
    '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
    'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
  ]);
});

const leavesOf = (n: number): Buffer[] => Array.from({ length: n }, (_, i) => naiveLeaf(Buffer.from(`record ${i}`)));

test('MTH of every tree size up to 70 equals the naive recursive definition (compact range and full tree)', () => {
  const leaves = leavesOf(70);
  const range = new CompactRange();
  const tree = new MerkleTree();
  for (let n = 1; n <= leaves.length; n++) {
    range.append(leaves[n - 1]!);
    tree.appendLeaf(leaves[n - 1]!);
    const want = hex(naiveRoot(leaves.slice(0, n)));
    assert.equal(hex(range.root()), want, `compact range, size ${n}`);
    assert.equal(range.nodes().length, compactRangeSpans(n).length);
  }
  for (let n = 0; n <= leaves.length; n++) assert.equal(hex(tree.rootAt(n)), hex(naiveRoot(leaves.slice(0, n))), `tree, size ${n}`);
  // leaf hash is SHA-256(0x00 || entry), node hash SHA-256(0x01 || l || r)
  assert.equal(hex(leafHash(Buffer.from('x'))), hex(naiveLeaf(Buffer.from('x'))));
  assert.equal(hex(nodeHash(leaves[0]!, leaves[1]!)), hex(naiveRoot(leaves.slice(0, 2))));
});

test('every inclusion proof (all sizes ≤ 33, all leaves) passes the independent RFC 9162 §2.1.3.2 verifier, and altered ones fail', () => {
  const leaves = leavesOf(33);
  const tree = new MerkleTree();
  for (const l of leaves) tree.appendLeaf(l);
  for (let n = 1; n <= 33; n++) {
    const root = naiveRoot(leaves.slice(0, n));
    for (let m = 0; m < n; m++) {
      const path = tree.inclusionPath(m, n);
      assert.ok(rfcVerifyInclusion(m, n, leaves[m]!, path, root), `inclusion ${m} in ${n}`);
      assert.ok(verifyInclusion(m, n, leaves[m]!, path, root));
      assert.ok(!rfcVerifyInclusion(m, n, naiveLeaf(Buffer.from('not in the log')), path, root), `wrong leaf accepted ${m}/${n}`);
      if (path.length > 0) {
        const bad = path.map((p) => Buffer.from(p));
        flip(bad[0]!, 0);
        assert.ok(!rfcVerifyInclusion(m, n, leaves[m]!, bad, root));
        assert.ok(!verifyInclusion(m, n, leaves[m]!, bad, root));
      }
    }
  }
});

test('every consistency proof (all 0 < m < n ≤ 33) passes the independent RFC 9162 §2.1.4.2 verifier, and altered ones fail', () => {
  const leaves = leavesOf(33);
  const tree = new MerkleTree();
  for (const l of leaves) tree.appendLeaf(l);
  for (let n = 2; n <= 33; n++) {
    const rootN = naiveRoot(leaves.slice(0, n));
    for (let m = 1; m < n; m++) {
      const rootM = naiveRoot(leaves.slice(0, m));
      const proof = tree.consistencyProof(m, n);
      assert.ok(rfcVerifyConsistency(m, n, rootM, rootN, proof), `consistency ${m} → ${n}`);
      assert.ok(verifyConsistency(m, n, rootM, rootN, proof));
      const otherM = naiveRoot(leaves.slice(0, m - 1));
      assert.ok(!rfcVerifyConsistency(m, n, otherM, rootN, proof), `wrong old root accepted ${m} → ${n}`);
      assert.ok(!verifyConsistency(m, n, otherM, rootN, proof));
      const bad = proof.map((p) => Buffer.from(p));
      flip(bad[bad.length - 1]!, 5);
      assert.ok(!rfcVerifyConsistency(m, n, rootM, rootN, bad));
      assert.ok(!verifyConsistency(m, n, rootM, rootN, bad));
    }
  }
});

test('a tree started from a compact range (archived prefix) gives the same roots and proofs for sizes ≥ the prefix', () => {
  const leaves = leavesOf(45);
  const full = new MerkleTree();
  for (const l of leaves) full.appendLeaf(l);
  for (const base of [1, 5, 6, 8, 13, 16, 31]) {
    const spans = compactRangeSpans(base);
    const prefix = new CompactRange(base, spans.map((s) => full.hash(s.start, s.start + s.size)));
    assert.equal(hex(prefix.root()), hex(naiveRoot(leaves.slice(0, base))));
    const t = new MerkleTree(prefix);
    for (const l of leaves.slice(base)) t.appendLeaf(l);
    for (let n = base; n <= 45; n++) {
      assert.equal(hex(t.rootAt(n)), hex(full.rootAt(n)), `base ${base} root ${n}`);
      for (let m = base; m < n; m++) {
        const proof = t.consistencyProof(m, n);
        assert.deepEqual(proof.map(hex), full.consistencyProof(m, n).map(hex));
        assert.ok(rfcVerifyConsistency(m, n, full.rootAt(m), full.rootAt(n), proof));
      }
      for (let i = base; i < n; i++) assert.ok(rfcVerifyInclusion(i, n, leaves[i]!, t.inclusionPath(i, n), full.rootAt(n)));
    }
    if (base > 1) assert.throws(() => t.inclusionPath(0, 45), /archived/);
  }
});
