// validate.mjs — an independent C2PA check of swaplab outputs: @trustnxt/c2pa-ts (pure TypeScript,
// pinned in package-lock.json) reads the manifest store of each file (PNG caBX, JPEG APP11),
// validates the claim signature, the assertion hashes and the hard binding, and prints one JSON
// line per file: {file, valid, codes: [...], errors: [...], digitalSourceType, generator}.
// Exit status: 0 when every file was read (valid or not); 1 when a file has no manifest store.
import * as fs from 'node:fs/promises';
import { JPEG, PNG } from '@trustnxt/c2pa-ts/asset';
import { SuperBox } from '@trustnxt/c2pa-ts/jumbf';
import { ManifestStore, ValidationResult } from '@trustnxt/c2pa-ts/manifest';

let status = 0;
for (const file of process.argv.slice(2)) {
  const buf = new Uint8Array(await fs.readFile(file));
  let asset;
  if (PNG.canRead(buf)) asset = new PNG(buf);
  else if (JPEG.canRead(buf)) asset = new JPEG(buf);
  else { console.log(JSON.stringify({ file, error: 'not a PNG or JPEG' })); status = 1; continue; }
  const jumbf = asset.getManifestJUMBF();
  if (!jumbf) { console.log(JSON.stringify({ file, error: 'no manifest store' })); status = 1; continue; }
  let result, st, gen;
  try {
    const store = ManifestStore.read(SuperBox.fromBuffer(jumbf));
    const m = store.getActiveManifest();
    gen = m?.claim?.claimGeneratorName;
    for (const a of m?.assertions?.getActionAssertions() ?? [])
      for (const act of a.actions) if (act.action === 'c2pa.created') st = act.digitalSourceType;
    result = await store.validate(asset);
  } catch (e) {
    result = ValidationResult.fromError(e);
  }
  const codes = result.statusEntries.map((e) => e.code);
  const errors = result.statusEntries.filter((e) => !e.success).map((e) => e.code + (e.explanation ? ': ' + e.explanation : ''));
  console.log(JSON.stringify({ file, valid: result.isValid, codes, errors, digitalSourceType: st, generator: gen }));
}
process.exit(status);
