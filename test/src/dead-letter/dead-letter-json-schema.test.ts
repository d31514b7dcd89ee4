import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { deadLetterJsonSchema, replayMarkerJsonSchema } from '../../../src/dead-letter/dead-letter-json-schema.js';
import { deadLetterPayloadSchema, replayMarkerPayloadSchema } from '../../../src/dead-letter/dead-letter-payload-schema.js';

describe('dead-letter JSON Schemas', () => {
  const fromZod = (s: z.ZodType) => z.toJSONSchema(s, { io: 'input', unrepresentable: 'any' });

  it('are what zod derives from the zod definitions (copy the new output after changing them)', () => {
    expect(deadLetterJsonSchema()).toEqual(fromZod(deadLetterPayloadSchema));
    expect(replayMarkerJsonSchema()).toEqual(fromZod(replayMarkerPayloadSchema));
  });

  it('are fresh copies, so a caller that edits one does not change the next contract', () => {
    const a = deadLetterJsonSchema();
    (a as Record<string, unknown>).type = 'changed';
    expect(deadLetterJsonSchema()).toMatchObject({ type: 'object' });
  });
});
