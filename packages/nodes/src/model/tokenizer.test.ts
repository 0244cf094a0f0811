import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PromptTokenizer } from './tokenizer.js';

// Written by training/tokenizer.py (`make -C training fixtures`): the ids the model was trained on.
const fixture = JSON.parse(
  readFileSync(new URL('../../../../training/fixtures/tokenizer_fixture.json', import.meta.url), 'utf8'),
) as {
  max_length: number;
  cases: Array<{ text: string; ids: number[] }>;
};
const pack = new URL('../../../../models/kinegraph-tiny/', import.meta.url);
const manifest = JSON.parse(readFileSync(new URL('manifest.json', pack), 'utf8')) as {
  tokenizer: { file: string; pad_id: number; unk_id: number };
};
const tokenizer = new PromptTokenizer(
  JSON.parse(readFileSync(new URL(manifest.tokenizer.file, pack), 'utf8')) as object,
  fixture.max_length,
  manifest.tokenizer.pad_id,
  manifest.tokenizer.unk_id,
);

describe('PromptTokenizer vs the training tokenizer', () => {
  for (const c of fixture.cases) {
    it(`"${c.text}"`, () => {
      expect(Array.from(tokenizer.encode(c.text).ids, Number)).toEqual(c.ids);
    });
  }

  it('names the unknown words and the cut-off tail', () => {
    const encoded = tokenizer.encode(
      'a purple hexagon moving left on a black background and a red circle moving up on a gray background',
    );
    expect(encoded.unknownWords).toEqual(['purple', 'hexagon']);
    expect(encoded.truncatedWords).toEqual(['a', 'gray', 'background']);
  });
});
