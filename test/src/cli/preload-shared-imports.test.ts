import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { preloadSharedImports } from '../../../src/cli/preload-shared-imports.js';

describe('preloadSharedImports', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-preload-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('follows local imports (a `.js` specifier to its `.ts` source) and loads what they name, without throwing', async () => {
    writeFileSync(join(dir, 'schemas.ts'), "import { z } from 'zod';\nexport const S = z.string();\n");
    writeFileSync(join(dir, 'topology.ts'), "import type { Topology } from 'sluice';\nimport { S } from './schemas.js';\nimport { map } from 'rxjs';\n");
    await expect(preloadSharedImports(join(dir, 'topology.ts'))).resolves.toBeUndefined();
  });

  it('is best effort: a missing file, an unknown package or a broken import changes nothing', async () => {
    writeFileSync(join(dir, 'odd.ts'), "import x from 'no-such-package';\nimport './missing.js';\n");
    await expect(preloadSharedImports(join(dir, 'nope.ts'))).resolves.toBeUndefined();
    await expect(preloadSharedImports(join(dir, 'odd.ts'))).resolves.toBeUndefined();
  });
});
